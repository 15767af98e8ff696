package ldapside

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// A user's groups without the memberof overlay. The shipped OpenLDAP users
// table reads a user's groups from memberOf, which only slapd's memberof
// overlay (or AD) keeps; on a directory without it the attribute does not
// exist and every user's groups would read as none. With Config.Groups the
// LDAP side fills that attribute itself from the groups' member lists:
// one search of the groups container for (member=<dn>) per entry read, and
// for a page of users one search per groupsChunk users, an OR of their DNs,
// with the Matched Values control so that a large group's member list is
// not read whole. Filters on the attribute (SCIM groups.value eq "<id>")
// become the group's member list; see groupFilter.

// GroupsLookup says where a user's groups are found when the directory does
// not keep them in the user's entry.
type GroupsLookup struct {
	// Attr is the user attribute the groups table reads: memberOf.
	Attr string
	// Base is the groups' container, Filter the groups table's object
	// filter (nil: every entry) and MemberAttr its member attribute
	// ("member" when empty).
	Base       string
	Filter     *bridge.Filter
	MemberAttr string
	// Auto searches only when the directory's schema has no attribute type
	// Attr (no memberof overlay); otherwise Attr is read as stored.
	Auto bool
}

func (g *GroupsLookup) validate() []error {
	var errs []error
	if !bridge.ValidAttrDescription(g.Attr) {
		errs = append(errs, fmt.Errorf("groups: attribute %q is not an attribute name", g.Attr))
	}
	if _, err := parseDN(g.Base); err != nil || strings.TrimSpace(g.Base) == "" {
		errs = append(errs, fmt.Errorf("groups: container %q is not a DN", g.Base))
	}
	if g.MemberAttr != "" && !bridge.ValidAttrDescription(g.MemberAttr) {
		errs = append(errs, fmt.Errorf("groups: member attribute %q is not an attribute name", g.MemberAttr))
	}
	return errs
}

func (g *GroupsLookup) memberAttr() string {
	if g.MemberAttr == "" {
		return "member"
	}
	return g.MemberAttr
}

const (
	// groupsChunk bounds the OR of one search for a page's groups: a few
	// kilobytes of filter, well inside every server's request limits.
	groupsChunk = 50
	// maxGroupFilterMembers bounds what a filter on a user's groups may
	// turn into (an OR of the group's members). Beyond it the filter is
	// refused: the directory should keep memberOf for such groups.
	maxGroupFilterMembers = 1000
)

// The states of Conn.groupsMode.
const (
	groupsUnknown  int32 = iota
	groupsStored         // the directory keeps Attr
	groupsSearched       // the gateway searches the groups
)

// GroupsBySearch reports whether a user's groups come from searches of the
// groups (Config.Groups, with Auto: when the schema lacks the attribute).
// It may read the directory's schema.
func (c *Conn) GroupsBySearch(ctx context.Context) (bool, error) {
	const op = "ldapside.(*Conn).GroupsBySearch"
	if c.cfg.Groups == nil {
		return false, nil
	}
	var out bool
	err := c.with(ctx, nil, func(pc *pconn) error {
		out = c.groupsBySearch(pc)
		return nil
	})
	return out, translate(op, err)
}

func (c *Conn) groupsBySearch(pc *pconn) bool {
	g := c.cfg.Groups
	if g == nil {
		return false
	}
	if !g.Auto {
		return true
	}
	switch c.groupsMode.Load() {
	case groupsStored:
		return false
	case groupsSearched:
		return true
	}
	has, err := hasAttributeType(pc, g.Attr)
	if err != nil {
		// Searching is right with or without the attribute, only
		// costlier; try the schema again on the next request.
		c.log.Warn("cannot read the directory's schema to tell whether it keeps a user's groups; searching the groups", "attribute", g.Attr, "error", err)
		return true
	}
	if has {
		c.groupsMode.Store(groupsStored)
		return false
	}
	if c.groupsMode.CompareAndSwap(groupsUnknown, groupsSearched) {
		c.log.Info("the directory's schema has no "+g.Attr+" (no memberof overlay): a user's groups come from searches of the groups' "+g.memberAttr()+" values",
			"attribute", g.Attr, "groups", g.Base)
	}
	return true
}

// fillGroups sets, in each of entries, the groups attribute from searches
// of the groups, when that attribute was asked for and the directory does
// not keep it.
func (c *Conn) fillGroups(pc *pconn, entries []*bridge.Entry, asked []string) error {
	g := c.cfg.Groups
	if g == nil || len(entries) == 0 || !askedFor(asked, g.Attr) || !c.groupsBySearch(pc) {
		return nil
	}
	objFilter, err := renderFilter(c.d, g.Filter)
	if err != nil {
		return err
	}
	member := g.memberAttr()
	for start := 0; start < len(entries); start += groupsChunk {
		chunk := entries[start:min(start+groupsChunk, len(entries))]
		byDN := make(map[string]*bridge.Entry, len(chunk))
		var or strings.Builder
		dns := make([]string, 0, len(chunk))
		for _, e := range chunk {
			for k := range e.Attrs {
				if strings.EqualFold(k, g.Attr) {
					delete(e.Attrs, k)
				}
			}
			byDN[dnKey(e.DN)] = e
			dns = append(dns, e.DN)
			or.WriteString("(" + member + "=" + ldap.EscapeFilter(e.DN) + ")")
		}
		filter := "(&" + objFilter + "(|" + or.String() + "))"
		var ctrls []ldap.Control
		if pc.caps.matchedValues {
			vrf, err := newValuesReturnFilter(map[string][]string{member: dns})
			if err == nil {
				ctrls = append(ctrls, vrf)
			}
		}
		c.groupSearches.Add(1)
		err := c.eachPage(pc, g.Base, filter, []string{member}, ctrls, func(ge *ldap.Entry) {
			for _, v := range ge.GetEqualFoldAttributeValues(member) {
				if e := byDN[dnKey(v)]; e != nil {
					e.Attrs[g.Attr] = append(e.Attrs[g.Attr], ge.DN)
				}
			}
		})
		if err != nil {
			var le *ldap.Error
			if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultNoSuchObject {
				continue // no groups container: no groups
			}
			return err
		}
	}
	return nil
}

// eachPage runs a subtree search, in pages where the server offers them.
func (c *Conn) eachPage(pc *pconn, base, filter string, attrs []string, ctrls []ldap.Control, fn func(*ldap.Entry)) error {
	var paging *ldap.ControlPaging
	if pc.caps.paged {
		paging = ldap.NewControlPaging(maxServerPage)
		ctrls = append(ctrls, paging)
	}
	for {
		res, err := pc.l.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, ctrls))
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			fn(e)
		}
		if paging == nil {
			return nil
		}
		resp, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(resp.Cookie) == 0 {
			return nil
		}
		paging.SetCookie(resp.Cookie)
	}
}

// dnKey is a DN in a form two spellings of one DN share (case, spaces).
func dnKey(dn string) string {
	if d, err := parseDN(dn); err == nil {
		return strings.ToLower(d.String())
	}
	return strings.ToLower(dn)
}

// mentions reports whether f compares attr anywhere.
func mentions(f *bridge.Filter, attr string) bool {
	if f == nil {
		return false
	}
	if strings.EqualFold(f.Attr, attr) {
		return true
	}
	for _, k := range f.Kids {
		if mentions(k, attr) {
			return true
		}
	}
	return false
}

// groupFilter rewrites the comparisons of f with the groups attribute
// (which the directory does not have) into comparisons of the entry's own
// DN with the group's members: (memberOf=<group>) becomes an OR of
// (entryDN=<member>) (AD: distinguishedName), read from the group. Only
// equality can be rewritten; a group of more than maxGroupFilterMembers
// members is refused, as "groups pr" is, with a 400 that says why.
func (c *Conn) groupFilter(pc *pconn, f *bridge.Filter) (*bridge.Filter, error) {
	const op = "ldapside.(*Conn).groupFilter"
	g := c.cfg.Groups
	if f == nil {
		return nil, nil
	}
	if !strings.EqualFold(f.Attr, g.Attr) {
		if len(f.Kids) == 0 {
			return f, nil
		}
		out := *f
		out.Kids = make([]*bridge.Filter, len(f.Kids))
		for i, k := range f.Kids {
			var err error
			if out.Kids[i], err = c.groupFilter(pc, k); err != nil {
				return nil, err
			}
		}
		return &out, nil
	}
	if f.Op != bridge.FilterEqual {
		return nil, bridge.Errorf(op, bridge.KindInvalidFilter, "without the directory's memberOf a user's groups can only be filtered with eq (or ne) and a group's id")
	}
	e, err := c.findOne(pc, f.Value, ldap.ScopeBaseObject, filterAll, []string{g.memberAttr()})
	if bridge.KindOf(err) == bridge.KindNotFound {
		return bridge.MatchNone(), nil
	}
	if err != nil {
		return nil, err
	}
	members := e.GetEqualFoldAttributeValues(g.memberAttr())
	if len(members) > maxGroupFilterMembers {
		return nil, bridge.Errorf(op, bridge.KindInvalidFilter, "the group has more than %d members: filtering users by it needs the directory's memberOf (the memberof overlay)", maxGroupFilterMembers)
	}
	dnAttr := "entryDN"
	if _, ad := c.d.(activeDirectory); ad {
		dnAttr = "distinguishedName"
	}
	kids := make([]*bridge.Filter, 0, len(members))
	for _, m := range members {
		kids = append(kids, bridge.Eq(dnAttr, m))
	}
	if len(kids) == 0 {
		return bridge.MatchNone(), nil
	}
	return bridge.Or(kids...), nil
}
