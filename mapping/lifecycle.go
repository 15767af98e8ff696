package mapping

import (
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// Lifecycle is how a users table disables accounts ([lifecycle]).
type Lifecycle = bridge.Lifecycle

// The values of groups_from.
const (
	GroupsFromAuto     = "auto"     // memberof when the directory's schema has the row's attribute, else search
	GroupsFromMemberOf = "memberof" // the attribute the directory keeps (memberof overlay, AD)
	GroupsFromSearch   = "search"   // a search of the groups for member=<user>
)

// The ppolicy lock that OpenLDAP's ppolicy overlay reads as "locked until an
// administrator unlocks": what dirbridge has always written.
const (
	ppolicyAttr   = "pwdAccountLockedTime"
	ppolicyLocked = "000001010000Z"
	adAttr        = "userAccountControl"
)

func (t *Table) compileLifecycle(ft fileTable, pos *positions, add func(int, string, ...any)) {
	t.groupsFrom = GroupsFromAuto
	t.groupsLine = pos.key("", "groups_from")
	switch g := strings.ToLower(strings.TrimSpace(ft.GroupsFrom)); g {
	case "":
	case GroupsFromAuto, GroupsFromMemberOf, GroupsFromSearch:
		t.groupsFrom = g
	default:
		add(t.groupsLine, "groups_from %q: must be %q, %q or %q", ft.GroupsFrom, GroupsFromAuto, GroupsFromMemberOf, GroupsFromSearch)
	}
	if ft.GroupsFrom != "" && t.resource != "User" {
		add(t.groupsLine, "groups_from is for a users table")
	}
	fl := ft.Lifecycle
	if fl == nil {
		return
	}
	line := pos.key("lifecycle", "disable")
	if line == 0 {
		line = sectionLine(pos, "lifecycle")
	}
	t.lifecycleLine = line
	if t.resource != "User" {
		add(line, "[lifecycle] is for a users table")
		return
	}
	lc := Lifecycle{Disable: strings.ToLower(strings.TrimSpace(fl.Disable)), Attribute: strings.TrimSpace(fl.Attribute), DisabledValue: fl.DisabledValue}
	if fl.EnabledValue != nil {
		lc.EnabledValue = *fl.EnabledValue
	}
	attrLine := pos.key("lifecycle", "attribute")
	if attrLine == 0 {
		attrLine = line
	}
	switch lc.Disable {
	case "", bridge.LifecyclePPolicy, bridge.LifecycleAD:
		if lc.Attribute != "" || lc.DisabledValue != "" || fl.EnabledValue != nil {
			add(attrLine, "lifecycle: attribute, disabled_value and enabled_value are for disable = %q", bridge.LifecycleAttribute)
		}
	case bridge.LifecycleAttribute:
		switch {
		case lc.Attribute == "":
			add(line, `lifecycle: disable = "attribute" needs attribute, the attribute that marks a disabled account (389 DS, FreeIPA: "nsAccountLock")`)
		case !bridge.ValidAttrDescription(lc.Attribute) || strings.HasPrefix(lc.Attribute, "@"):
			add(attrLine, "lifecycle: attribute %q is not an attribute name", lc.Attribute)
		case strings.EqualFold(lc.Attribute, "userPassword") || strings.EqualFold(lc.Attribute, "objectClass"):
			add(attrLine, "lifecycle: attribute %q cannot hold the account's state", lc.Attribute)
		}
		if lc.DisabledValue == "" {
			add(lineOr(pos.key("lifecycle", "disabled_value"), line), `lifecycle: disable = "attribute" needs disabled_value, the value that marks a disabled account (389 DS, FreeIPA: "TRUE")`)
		} else if strings.EqualFold(lc.DisabledValue, lc.EnabledValue) {
			add(lineOr(pos.key("lifecycle", "enabled_value"), line), "lifecycle: enabled_value must differ from disabled_value")
		}
	default:
		add(line, "lifecycle: disable %q: must be %q, %q or %q", fl.Disable, bridge.LifecyclePPolicy, bridge.LifecycleAttribute, bridge.LifecycleAD)
	}
	t.lifecycle = lc
}

// checkLifecycleRows refuses a row that writes the attribute the lifecycle
// keeps the account's state in: two writers of one attribute in one modify.
func (t *Table) checkLifecycleRows(add func(int, string, ...any)) {
	if t.lifecycle.Disable != bridge.LifecycleAttribute {
		return
	}
	for _, r := range t.rows {
		if r.owner != ownerDirectory && strings.EqualFold(r.ldap, t.lifecycle.Attribute) {
			add(r.line, "attribute %d: %s holds the account's state ([lifecycle]); SCIM sets it through active, so the row must be owner = \"directory\"", r.n, r.ldap)
		}
	}
}

func lineOr(l, dflt int) int {
	if l > 0 {
		return l
	}
	return dflt
}

// sectionLine is the first line of a key of the [name] table (positions
// records the headers of array tables only).
func sectionLine(pos *positions, name string) int {
	first := 0
	for k, lines := range pos.keyAny {
		if strings.HasPrefix(k, name+".") && len(lines) > 0 && (first == 0 || lines[0] < first) {
			first = lines[0]
		}
	}
	return first
}

// Lifecycle returns the table's [lifecycle] as written: Disable is "" when
// the table leaves the choice to the dialect (see LifecycleFor).
func (t *Table) Lifecycle() Lifecycle { return t.lifecycle }

// LifecycleFor returns the lifecycle on a directory of dialect ("openldap",
// "" meaning it, or "ad") with the defaults filled in, Attribute and
// DisabledValue included, so that a caller (check, the LDAP side) knows
// what is written. A choice the dialect cannot carry out is an error that
// names the table's file and line.
func (t *Table) LifecycleFor(dialect string) (Lifecycle, error) {
	const op = "mapping.(*Table).LifecycleFor"
	lc := t.lifecycle
	ad := strings.EqualFold(dialect, "ad")
	bad := func(format string, args ...any) (Lifecycle, error) {
		le := &LoadError{File: t.file, Problems: []Problem{{Line: t.lifecycleLine, Msg: fmt.Sprintf(format, args...)}}}
		return Lifecycle{}, bridge.E(op, bridge.KindInvalidValue, "the mapping table's lifecycle does not fit the directory", le)
	}
	switch lc.Disable {
	case "":
		if ad {
			lc.Disable = bridge.LifecycleAD
		} else {
			lc.Disable = bridge.LifecyclePPolicy
		}
	case bridge.LifecycleAD:
		if !ad {
			return bad(`lifecycle: disable = "ad" (userAccountControl) needs ldap.dialect = "ad"; on OpenLDAP use "ppolicy" or "attribute"`)
		}
	case bridge.LifecyclePPolicy, bridge.LifecycleAttribute:
		if ad {
			return bad(`lifecycle: disable = %q does not apply to Active Directory, which disables accounts by userAccountControl: use "ad" or leave disable out`, lc.Disable)
		}
	}
	switch lc.Disable {
	case bridge.LifecyclePPolicy:
		lc.Attribute, lc.DisabledValue, lc.EnabledValue = ppolicyAttr, ppolicyLocked, ""
	case bridge.LifecycleAD:
		lc.Attribute, lc.DisabledValue, lc.EnabledValue = adAttr, "", ""
	}
	return lc, nil
}

// GroupsFrom returns groups_from: "auto", "memberof" or "search".
func (t *Table) GroupsFrom() string { return t.groupsFrom }

// GroupsAttr returns the directory attribute of the row that reads a
// user's groups (memberOf in the shipped tables), or "" when the table maps
// none. Nested rows read through bridge.VirtualNestedGroups instead.
func (t *Table) GroupsAttr() string {
	for _, r := range t.rows {
		if r.kind == kindRef && r.owner == ownerDirectory && !r.nested && strings.EqualFold(r.path.urn, bridge.UserSchema) && r.path.attr == "groups" {
			return r.ldap
		}
	}
	return ""
}
