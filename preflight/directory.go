package preflight

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/ldapside"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/go-ldap/ldap/v3"
)

// Inspector is what the preflight asks of the directory (*ldapside.Conn).
type Inspector interface {
	CheckURL(ctx context.Context, url string) error
	RootDSE(ctx context.Context) (ldapside.RawEntry, error)
	ReadSchema(ctx context.Context, dn string) (*ldapside.Schema, []error, error)
	ReadEntry(ctx context.Context, dn string, attrs []string) (ldapside.RawEntry, error)
	FindEntry(ctx context.Context, base string, objectClasses, attrs []string) (ldapside.RawEntry, bool, error)
	ADSearchFlags(ctx context.Context, schemaNC string, names []string) (map[string]int, error)
	ProbeWrite(ctx context.Context, dn string, attrs map[string][]string) error
}

// Lifecycle is how the users table disables an account: its [lifecycle]
// with the dialect's defaults filled in (Tables.Lifecycle).
type Lifecycle = bridge.Lifecycle

// DefaultLifecycle is what the gateway does without a [lifecycle] section.
func DefaultLifecycle(dialect string) Lifecycle {
	if dialect == "ad" {
		return Lifecycle{Disable: "ad"}
	}
	return Lifecycle{Disable: "ppolicy"}
}

// Options say what to check.
type Options struct {
	URLs      []string
	Dialect   string // "ad" or "openldap"
	CAFile    string // for messages about certificates
	LeaversDN string
	Lifecycle Lifecycle
	// WriteProbe (OpenLDAP) adds and deletes a probe entry in every
	// container: the only way to learn the service account's write rights
	// there.
	WriteProbe bool
}

// Directory checks the directory behind dir against the tables. It never
// writes, except the probes WriteProbe asks for. Unreachable tells that no
// server answered, so nothing past the servers was checked.
func Directory(ctx context.Context, dir Inspector, t Tables, o Options) (r Report, unreachable bool) {
	c := &checker{ctx: ctx, dir: dir, t: t, o: o, r: &r}
	if !c.servers() {
		return r, true
	}
	root, err := dir.RootDSE(ctx)
	if err != nil {
		if bridge.KindOf(err) == bridge.KindUnavailable {
			c.r.err(SectionServers, "", "the directory stopped answering during the check: %v", err)
			return r, true
		}
		c.r.err(SectionServers, "root DSE", "cannot be read by the service account (%s): nothing past the servers was checked", bridge.SafeMessage(err))
		return r, false
	}
	c.root = root
	c.controls()
	c.schema()
	c.lifecycle()
	c.containers()
	c.rights()
	c.indexes()
	return r, false
}

type checker struct {
	ctx  context.Context
	dir  Inspector
	t    Tables
	o    Options
	r    *Report
	root ldapside.RawEntry
	s    *ldapside.Schema // nil when the subschema could not be read
	// exists is what containers() found: DN (lower case) → exists.
	exists map[string]bool
}

func (c *checker) ad() bool { return c.o.Dialect == "ad" }

func (c *checker) tables() []*mapping.Table {
	var out []*mapping.Table
	for _, tb := range []*mapping.Table{c.t.Users, c.t.Groups} {
		if tb != nil {
			out = append(out, tb)
		}
	}
	return out
}

// servers dials every URL of ldap.urls on its own; it reports whether any
// answered with a working bind.
func (c *checker) servers() bool {
	any := false
	for i, u := range c.o.URLs {
		where := fmt.Sprintf("ldap.urls[%d] %s", i, u)
		err := c.dir.CheckURL(c.ctx, u)
		if err == nil {
			c.r.ok(SectionServers, where, "reachable, TLS as configured, service bind works")
			any = true
			continue
		}
		var ue *ldapside.URLError
		if !errors.As(err, &ue) {
			c.r.err(SectionServers, where, "%v", err)
			continue
		}
		switch ue.Stage {
		case ldapside.StageTLS:
			ca := "the system's CA pool"
			if c.o.CAFile != "" {
				ca = fmt.Sprintf("ldap.ca_file %q", c.o.CAFile)
			}
			c.r.err(SectionServers, where, "the TLS handshake fails (%v): the server's certificate must verify against %s and name the URL's host; set ldap.ca_file to the PEM of the CA that signed it", ue.Err, ca)
		case ldapside.StageBind:
			c.r.err(SectionServers, where, "the service bind is refused (%v): check ldap.bind_dn and its password (ldap.bind_password, ldap.bind_password_file or DIRBRIDGE_LDAP_BIND_PASSWORD)", ue.Err)
		default:
			more := ""
			if i == 0 && len(c.o.URLs) > 1 {
				more = "; every new connection tries it first and waits ldap.dial_timeout before failing over"
			}
			c.r.err(SectionServers, where, "cannot be reached (%v): fix the URL or remove it from ldap.urls%s", ue.Err, more)
		}
	}
	return any
}

// Controls the gateway uses, and what their absence costs.
var controls = []struct{ oid, name, without string }{
	{"2.16.840.1.113730.3.4.9", "VLV", "lists fall back to the paged-results control: a jump to startIndex N reads the N entries before it, and totalResults costs a count (OpenLDAP: load the sssvlv overlay)"},
	{"1.2.840.113556.1.4.473", "server-side sort", "lists cannot be ordered by the directory: no VLV, and pages of a paged walk come in the directory's order (OpenLDAP: the sssvlv overlay)"},
	{"1.2.840.113556.1.4.319", "paged results", "without it and without VLV, a list reads every entry in one search, limited by the server's size limit"},
	{"1.3.6.1.1.12", "Assertion", "a PUT or PATCH reads the entry again before its modify instead of asserting the version it read: one more search per write"},
	{"1.3.6.1.1.13.2", "Post-Read", "every write is followed by a search to return the resource: one more round trip per write"},
	{"1.2.826.0.1.3344810.2.3", "Matched Values", "a membership change reads the group's whole member list first: large groups cost more per change"},
	{"1.2.840.113556.1.4.1413", "Permissive Modify", "adding a member already there or removing one already gone is checked with a read first"},
}

func (c *checker) controls() {
	have := map[string]bool{}
	for _, oid := range c.root.Get("supportedControl") {
		have[oid] = true
	}
	missing := 0
	for _, ctl := range controls {
		if !have[ctl.oid] {
			c.r.warn(SectionControls, ctl.oid, "the %s control is not supported: %s", ctl.name, ctl.without)
			missing++
		}
	}
	if missing == 0 {
		c.r.ok(SectionControls, "", "VLV, sort, paged results, Assertion, Post-Read, Matched Values and Permissive Modify are supported")
	}
}

// Syntax OIDs the preflight knows values of.
const (
	syntaxBoolean  = "1.3.6.1.4.1.1466.115.121.1.7"
	syntaxDN       = "1.3.6.1.4.1.1466.115.121.1.12"
	syntaxInteger  = "1.3.6.1.4.1.1466.115.121.1.27"
	syntaxNameUID  = "1.3.6.1.4.1.1466.115.121.1.34"
	syntaxGenTime  = "1.3.6.1.4.1.1466.115.121.1.24"
	syntaxADDNBin  = "1.2.840.113556.1.4.903"
	syntaxADDNStr  = "1.2.840.113556.1.4.904"
	syntaxADLarge  = "1.2.840.113556.1.4.906" // LargeInteger (accountExpires)
	oidPwdLocked   = "pwdAccountLockedTime"
	attrMemberOf   = "memberOf"
	attrUAC        = "userAccountControl"
	attrObjectCls  = "objectClass"
	maxSuggestDist = 2
)

func isDNSyntax(s string) bool {
	return s == syntaxDN || s == syntaxNameUID || s == syntaxADDNBin || s == syntaxADDNStr
}

func where(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

func (c *checker) schema() {
	dn := ""
	if v := c.root.Get("subschemaSubentry"); len(v) > 0 {
		dn = v[0]
	}
	if dn == "" {
		c.r.warn(SectionSchema, "root DSE", "the directory names no subschemaSubentry: attributes and object classes were not checked")
		return
	}
	s, bad, err := c.dir.ReadSchema(c.ctx, dn)
	if err != nil {
		c.r.warn(SectionSchema, dn, "the subschema cannot be read (%s): attributes and object classes were not checked", bridge.SafeMessage(err))
		return
	}
	for _, e := range bad {
		c.r.warn(SectionSchema, dn, "a schema description could not be parsed and is ignored: %v", e)
	}
	c.s = s
	for _, tb := range c.tables() {
		c.tableSchema(tb.Layout())
	}
	c.entitlementSchema()
}

// tableSchema holds one table against the schema: classes exist, each
// mapped attribute exists, is allowed by the classes, may be written where
// the table writes it and takes the values the table writes; what the
// classes require is written.
func (c *checker) tableSchema(l mapping.Layout) {
	s := c.s
	before := len(c.r.Findings)
	ocWhere := where(l.File, l.ObjectClassesLine)
	for _, oc := range l.ObjectClasses {
		if s.Class(oc) == nil {
			c.r.fatal(SectionSchema, ocWhere, "object class %q is not in the directory's schema%s: fix object_classes or extend the schema", oc, suggest(oc, s.ClassNames()))
		}
	}
	al := s.Allowed(l.ObjectClasses)
	written := map[string]bool{strings.ToLower(attrOID(s, attrObjectCls)): true}
	if l.RDNAttr != "" {
		written[strings.ToLower(attrOID(s, l.RDNAttr))] = true
	}
	for _, a := range l.Attrs {
		if a.LDAP == "" || strings.HasPrefix(a.LDAP, "@") {
			continue // a virtual attribute: the dialect's
		}
		w := where(l.File, a.Line)
		name := a.LDAP
		if a.SCIM != "" {
			name = fmt.Sprintf("%s (scim %s)", a.LDAP, a.SCIM)
		}
		at := s.Attribute(a.LDAP)
		if at == nil {
			if strings.EqualFold(a.LDAP, attrMemberOf) {
				continue // lifecycle() says what a missing memberOf means
			}
			c.r.fatal(SectionSchema, w, "attribute %s is not in the directory's schema%s: fix the ldap name in the table, or extend the schema", name, suggest(a.LDAP, s.AttributeNames()))
			continue
		}
		if a.Writes {
			written[strings.ToLower(at.OID)] = true
		}
		if len(al.Unknown) == 0 && !al.Permits(s, at) {
			if a.Writes {
				c.r.fatal(SectionSchema, w, "attribute %s is not allowed on entries of object classes %s (the MUST and MAY of them and their superclasses): add an object class that allows it to object_classes, or map another attribute", name, strings.Join(l.ObjectClasses, ", "))
			} else {
				c.r.warn(SectionSchema, w, "attribute %s is not allowed on entries of object classes %s: it will always read as empty", name, strings.Join(l.ObjectClasses, ", "))
			}
		}
		if a.Writes && at.NoUserModification {
			c.r.fatal(SectionSchema, w, "attribute %s is kept by the directory (NO-USER-MODIFICATION) and cannot be written: set owner = \"directory\"", name)
		}
		syntax := s.SyntaxOf(at)
		for _, v := range []struct {
			val string
			ok  bool
			key string
		}{{a.Constant, a.HasConstant, "constant"}, {a.Default, a.HasDefault, "default"}} {
			if !v.ok || strings.Contains(v.val, "{{") || strings.Contains(v.val, "${") {
				continue
			}
			if msg := badValue(syntax, v.val); msg != "" {
				c.r.fatal(SectionSchema, w, "%s %q of attribute %s is not %s, which the directory's syntax for it requires", v.key, v.val, name, msg)
			}
		}
		if a.Reference && syntax != "" && !isDNSyntax(syntax) {
			c.r.err(SectionSchema, w, "attribute %s holds references (DNs of other entries), but its syntax in the directory (%s) is not a DN: map it to a DN-valued attribute", name, syntax)
		}
		if a.Multi && at.SingleValue && a.Writes {
			c.r.warn(SectionSchema, w, "attribute %s is SINGLE-VALUE in the directory but the row keeps every value: a client sending two gets an error", name)
		}
	}
	if !c.ad() && len(al.Unknown) == 0 {
		// AD fills its own MUST attributes (objectSid, instanceType, …).
		for oid := range al.Must {
			if written[oid] {
				continue
			}
			at := s.Attribute(oid)
			if at != nil && (at.Operational() || at.NoUserModification) {
				continue
			}
			an := oid
			if at != nil {
				an = at.Name()
			}
			c.r.fatal(SectionSchema, ocWhere, "object classes %s require attribute %s, which the table does not write: every create would fail; add a row for it (a template or a default gives it a value)", strings.Join(l.ObjectClasses, ", "), an)
		}
	}
	if len(c.r.Findings) == before {
		c.r.ok(SectionSchema, l.File, "every attribute and object class of the %s table is in the schema and allowed by %s", l.Resource, strings.Join(l.ObjectClasses, ", "))
	}
}

func attrOID(s *ldapside.Schema, name string) string {
	if a := s.Attribute(name); a != nil {
		return a.OID
	}
	return name
}

// badValue says what v should be for syntax, or "" when v fits (or the
// syntax is not one the preflight knows).
func badValue(syntax, v string) string {
	switch syntax {
	case syntaxInteger, syntaxADLarge:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return "an integer"
		}
	case syntaxBoolean:
		if v != "TRUE" && v != "FALSE" {
			return "TRUE or FALSE"
		}
	case syntaxDN:
		if _, err := ldap.ParseDN(v); err != nil {
			return "a DN"
		}
	case syntaxGenTime:
		if len(v) < 11 || !strings.HasSuffix(v, "Z") {
			return "a generalized time (20060102150405Z)"
		}
	}
	return ""
}

// suggest proposes the closest name, when one is close.
func suggest(name string, names []string) string {
	best, bestD := "", maxSuggestDist+1
	ln := strings.ToLower(name)
	for _, n := range names {
		if d := distance(ln, strings.ToLower(n)); d < bestD || d == bestD && d <= maxSuggestDist && n < best {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance of a and b, giving up (returning a
// large number) past maxSuggestDist.
func distance(a, b string) int {
	if d := len(a) - len(b); d > maxSuggestDist || -d > maxSuggestDist {
		return maxSuggestDist + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (c *checker) lifecycle() {
	if c.t.Users == nil {
		return
	}
	l := c.t.Users.Layout()
	lc := c.o.Lifecycle
	switch lc.Disable {
	case "ppolicy":
		if c.s == nil {
			c.r.warn(SectionLifecycle, "", "the schema could not be read: whether the ppolicy overlay is loaded is unknown")
			break
		}
		if c.s.Attribute(oidPwdLocked) == nil {
			c.r.err(SectionLifecycle, "", "the ppolicy overlay is not loaded (pwdAccountLockedTime is not in the schema): active:false and DELETE cannot disable accounts, and disabled users could still bind. Load ppolicy on the database (olcModuleLoad: ppolicy and an olcOverlay=ppolicy entry with olcPPolicyUseLockout: TRUE), or choose another way to disable accounts in the users table's [lifecycle] (disable = \"attribute\")")
		} else {
			c.r.ok(SectionLifecycle, "", "ppolicy is loaded: accounts are disabled with pwdAccountLockedTime")
		}
	case "attribute":
		at := c.s.Attribute(lc.Attribute)
		switch {
		case c.s == nil:
		case at == nil:
			c.r.err(SectionLifecycle, l.File, "[lifecycle] attribute %q is not in the directory's schema: accounts cannot be disabled%s", lc.Attribute, suggest(lc.Attribute, c.s.AttributeNames()))
		case !c.s.Allowed(l.ObjectClasses).Permits(c.s, at):
			c.r.err(SectionLifecycle, l.File, "[lifecycle] attribute %q is not allowed on entries of object classes %s: add the object class that allows it", lc.Attribute, strings.Join(l.ObjectClasses, ", "))
		default:
			for _, v := range []string{lc.DisabledValue, lc.EnabledValue} {
				if v == "" {
					continue
				}
				if msg := badValue(c.s.SyntaxOf(at), v); msg != "" {
					c.r.err(SectionLifecycle, l.File, "[lifecycle] value %q of %s is not %s", v, lc.Attribute, msg)
				}
			}
			c.r.ok(SectionLifecycle, l.File, "accounts are disabled with %s: %s", lc.Attribute, lc.DisabledValue)
		}
	case "ad":
		if c.s != nil && c.s.Attribute(attrUAC) == nil {
			c.r.err(SectionLifecycle, "", "userAccountControl is not in the schema: is this an AD? accounts cannot be disabled (ldap.dialect = \"ad\")")
		} else {
			c.r.ok(SectionLifecycle, "", "accounts are disabled with userAccountControl bit 0x2")
		}
	}
	if c.s == nil {
		return
	}
	for _, tb := range c.tables() {
		tl := tb.Layout()
		for _, a := range tl.Attrs {
			if strings.EqualFold(a.LDAP, attrMemberOf) && c.s.Attribute(attrMemberOf) == nil {
				c.memberOfMissing(tb, where(tl.File, a.Line), a.SCIM)
			}
		}
	}
}

// memberOfMissing says what a table reading memberOf gets from a directory
// that does not keep it (OpenLDAP without the memberof overlay): with
// groups_from "auto" or "search" and a groups table, the groups come from
// searches of the groups' members; otherwise they read as none.
func (c *checker) memberOfMissing(tb *mapping.Table, at, scim string) {
	from := tb.GroupsFrom()
	switch {
	case from != mapping.GroupsFromMemberOf && c.t.Groups != nil:
		c.r.warn(SectionLifecycle, at, "the directory does not keep memberOf (OpenLDAP: the memberof overlay is not loaded): %s come from searches of the groups container for the user's DN (one search per page of 50 users; a filter on %s works for groups of up to 1000 members, %s pr is refused); load memberof to read them from the entry", scim, scim, scim)
	case from == mapping.GroupsFromMemberOf:
		c.r.err(SectionLifecycle, at, "groups_from = \"memberof\" but the directory does not keep memberOf (OpenLDAP: the memberof overlay is not loaded): every user's %s would read as none; load memberof, or set groups_from = \"auto\" with a groups table", scim)
	default:
		c.r.warn(SectionLifecycle, at, "the directory does not keep memberOf (OpenLDAP: the memberof overlay is not loaded) and there is no groups table to search: every user's %s reads as none; load memberof, or configure mapping.groups", scim)
	}
}

// container is one DN the tables or the configuration need.
type container struct {
	dn, role, where string
	required        bool            // every request of its type needs it
	createdOnUse    bool            // the gateway makes it (leavers, create_missing_containers)
	layout          *mapping.Layout // whose entries go there
	classes         []string        // the entries' classes
	// values: an entitlement type's container (ent): the gateway creates
	// nothing there, it writes the member values of its groups.
	values bool
	ent    *mapping.EntitlementType
}

func (c *checker) containerList() []container {
	var out []container
	seen := map[string]bool{}
	push := func(k container) {
		if k.dn == "" || seen[strings.ToLower(k.dn)] {
			return
		}
		seen[strings.ToLower(k.dn)] = true
		out = append(out, k)
	}
	for _, tb := range c.tables() {
		l := tb.Layout()
		role := "users"
		if l.Resource == "Group" {
			role = "groups"
		}
		push(container{dn: l.Container, role: role + " container", where: where(l.File, l.ContainerLine), required: true, layout: &l, classes: l.ObjectClasses})
		for _, p := range l.Placements {
			push(container{dn: p.Container, role: "placement container", where: where(l.File, p.Line), createdOnUse: l.CreateMissing, layout: &l, classes: l.ObjectClasses})
		}
	}
	c.entitlementContainers(push)
	if c.o.LeaversDN != "" && c.t.Users != nil {
		l := c.t.Users.Layout()
		push(container{dn: c.o.LeaversDN, role: "leavers container", where: "users.leavers_dn", createdOnUse: true, layout: &l, classes: l.ObjectClasses})
	}
	return out
}

func (c *checker) containers() {
	c.exists = map[string]bool{}
	for _, k := range c.containerList() {
		_, err := c.dir.ReadEntry(c.ctx, k.dn, []string{"objectClass"})
		switch {
		case err == nil:
			c.exists[strings.ToLower(k.dn)] = true
			c.r.ok(SectionContainers, k.dn, "the %s exists", k.role)
		case bridge.KindOf(err) == bridge.KindNotFound && k.createdOnUse:
			c.r.ok(SectionContainers, k.dn, "the %s does not exist yet; the gateway creates it on first use (%s)", k.role, k.where)
		case bridge.KindOf(err) == bridge.KindNotFound:
			what := "requests for its resources fail until it exists (/readyz says 503)"
			if !k.required {
				what = "users placed there cannot be created or moved"
			}
			if k.values {
				what = fmt.Sprintf("the type's %s lists no value and every assignment of a %s is refused", k.ent.Endpoint, k.ent.Name)
			}
			c.r.err(SectionContainers, k.dn, "the %s does not exist (%s): %s; create it, or fix the DN", k.role, k.where, what)
		default:
			c.r.err(SectionContainers, k.dn, "the %s cannot be read by the service account (%s): grant it read access", k.role, bridge.SafeMessage(err))
		}
	}
}

// structural is the most specific structural class of classes (user,
// inetOrgPerson, group): what a create in a container asks for.
func (c *checker) structural(classes []string) string {
	for i := len(classes) - 1; i >= 0; i-- {
		if c.s == nil {
			return classes[i]
		}
		if o := c.s.Class(classes[i]); o != nil && o.Kind == "STRUCTURAL" {
			return classes[i]
		}
	}
	if len(classes) > 0 {
		return classes[len(classes)-1]
	}
	return ""
}

func (c *checker) rights() {
	if c.ad() {
		c.adRights()
		return
	}
	if !c.o.WriteProbe {
		c.r.ok(SectionRights, "", "write rights were not checked on OpenLDAP (run check --write-probe to add and delete a probe entry in each container)")
		return
	}
	c.writeProbes()
}

func (c *checker) adRights() {
	for _, k := range c.containerList() {
		if !c.exists[strings.ToLower(k.dn)] {
			continue
		}
		if k.values {
			c.entitlementRight(k)
			continue
		}
		class := c.structural(k.classes)
		e, err := c.dir.ReadEntry(c.ctx, k.dn, []string{"allowedChildClassesEffective"})
		if err != nil {
			c.r.warn(SectionRights, k.dn, "allowedChildClassesEffective cannot be read (%s): create rights unknown", bridge.SafeMessage(err))
			continue
		}
		if !containsFold(e.Get("allowedChildClassesEffective"), class) {
			c.r.err(SectionRights, k.dn, "the service account cannot create %s objects in the %s: creates there fail; delegate \"Create %s objects\" on it to the service account", class, k.role, class)
		} else {
			c.r.ok(SectionRights, k.dn, "the service account can create %s objects in the %s", class, k.role)
		}
		if k.role == "leavers container" || k.layout == nil {
			continue
		}
		ent, ok, err := c.dir.FindEntry(c.ctx, k.dn, []string{class}, []string{"allowedAttributesEffective"})
		if err != nil || !ok {
			continue // nothing to ask about yet: rights on attributes are checked once an entry exists
		}
		can := ent.Get("allowedAttributesEffective")
		var cannot []string
		for _, a := range k.layout.Attrs {
			if a.Writes && !strings.HasPrefix(a.LDAP, "@") && !containsFold(can, a.LDAP) && !slices.Contains(cannot, a.LDAP) {
				cannot = append(cannot, a.LDAP)
			}
		}
		if k.layout.Resource == "User" && !containsFold(can, attrUAC) {
			cannot = append(cannot, attrUAC+" (disabling accounts)")
		}
		if len(cannot) > 0 {
			c.r.err(SectionRights, ent.DN, "the service account cannot write %s on %s objects (allowedAttributesEffective): those writes fail; grant write access to them", strings.Join(cannot, ", "), class)
		} else {
			c.r.ok(SectionRights, ent.DN, "the service account can write every attribute the table writes")
		}
	}
}

// writeProbes adds and deletes an entry of each table's classes in each
// existing container: OpenLDAP's ACLs say nothing about themselves to a
// client.
func (c *checker) writeProbes() {
	if c.s == nil {
		c.r.warn(SectionRights, "", "the schema could not be read: no probe entry can be built, write rights unknown")
		return
	}
	for _, k := range c.containerList() {
		if !c.exists[strings.ToLower(k.dn)] || k.layout == nil {
			continue
		}
		dn, attrs := c.probeEntry(k)
		err := c.dir.ProbeWrite(c.ctx, dn, attrs)
		switch {
		case err == nil:
			c.r.ok(SectionRights, k.dn, "the service account can add and delete entries in the %s (probe %s)", k.role, dn)
		case bridge.KindOf(err) == bridge.KindForbidden:
			c.r.err(SectionRights, k.dn, "the service account may not write in the %s (%s): creates, updates and deletes there fail; grant it write access (olcAccess: to dn.subtree=\"%s\" by dn.exact=\"<bind_dn>\" write)", k.role, bridge.SafeMessage(err), k.dn)
		default:
			c.r.err(SectionRights, k.dn, "a probe entry could not be written in the %s: %v", k.role, err)
		}
	}
}

func (c *checker) probeEntry(k container) (string, map[string][]string) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "dirbridge-probe-" + hex.EncodeToString(b)
	rdn := k.layout.RDNAttr
	if rdn == "" {
		rdn = "cn"
	}
	dn := ldap.EscapeDN(name)
	dn = rdn + "=" + dn + "," + k.dn
	attrs := map[string][]string{attrObjectCls: k.classes, rdn: {name}}
	al := c.s.Allowed(k.classes)
	for oid := range al.Must {
		at := c.s.Attribute(oid)
		if at == nil || at.Operational() || strings.EqualFold(at.Name(), attrObjectCls) || c.s.Attribute(rdn) == at {
			continue
		}
		v := name
		switch c.s.SyntaxOf(at) {
		case syntaxDN, syntaxNameUID:
			v = k.dn
		case syntaxInteger:
			v = "0"
		case syntaxBoolean:
			v = "FALSE"
		case syntaxGenTime:
			v = "20000101000000Z"
		}
		attrs[at.Name()] = []string{v}
	}
	return dn, attrs
}

// filterTargets are the SCIM attributes clients filter on: Okta's agent
// looks a user up by userName before each operation, Entra ID by
// externalId or userName, both groups by displayName.
var filterTargets = map[string]bool{"username": true, "externalid": true, "emails": true, "emails.value": true, "displayname": true}

func (c *checker) indexes() {
	if !c.ad() {
		return // OpenLDAP says nothing about its indexes to a client
	}
	nc := c.root.Get("schemaNamingContext")
	if len(nc) == 0 {
		c.r.warn(SectionIndexes, "root DSE", "no schemaNamingContext: indexes were not checked")
		return
	}
	type use struct{ ldap, scim, where, resource string }
	var uses []use
	var names []string
	for _, tb := range c.tables() {
		l := tb.Layout()
		for _, a := range l.Attrs {
			s := strings.ToLower(a.SCIM)
			if !filterTargets[s] || strings.HasPrefix(a.LDAP, "@") || (s == "displayname" && l.Resource != "Group") {
				continue
			}
			uses = append(uses, use{a.LDAP, a.SCIM, where(l.File, a.Line), l.Resource})
			names = append(names, a.LDAP)
		}
	}
	flags, err := c.dir.ADSearchFlags(c.ctx, nc[0], names)
	if err != nil {
		c.r.warn(SectionIndexes, nc[0], "searchFlags cannot be read (%s): indexes were not checked", bridge.SafeMessage(err))
		return
	}
	for _, u := range uses {
		f, ok := flags[strings.ToLower(u.ldap)]
		if !ok {
			continue
		}
		if f&1 == 0 {
			c.r.warn(SectionIndexes, u.where, "attribute %s (scim %s) is not indexed (searchFlags bit 1 is clear): every filter on %s reads every %s in the domain — about a second per lookup at 100,000 objects, on each operation of Okta's agent. Index it (searchFlags |= 1 on its attributeSchema) or map %s to an indexed attribute",
				u.ldap, u.scim, u.scim, strings.ToLower(u.resource), u.scim)
		} else {
			c.r.ok(SectionIndexes, u.where, "attribute %s (scim %s) is indexed", u.ldap, u.scim)
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
