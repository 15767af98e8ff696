package mapping

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

const head = `resource = "User"
container = "ou=people,dc=example,dc=com"
object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]
rdn = "uid={{.userName}}"
`

func mustParse(t *testing.T, src string) *Table {
	t.Helper()
	tb, err := Parse("t.toml", []byte(src), withStandard(Options{}))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tb
}

// Every problem in a table is reported at once, each with its line.
func TestLoadReportsEveryProblem(t *testing.T) {
	src := head + `bogus_top = 1
[[attribute]]
scim = "userName"
ldap = "uid"
[[attribute]]
scim = "shoeSize"
ldap = "description"
[[attribute]]
scim = "userName"
ldap = "cn"
[[attribute]]
scim = "title"
ldap = "uid"
[[attribute]]
scim = "displayName"
ldap = "displayName"
transform = ["reverse"]
[[attribute]]
scim = "nickName"
ldap = "initials"
owner = "idp"
[[attribute]]
ldap = "cn"
template = "{{.name.givenName"
[[attribute]]
ldap = "gecos"
template = "{{.nosuch}}"
[[attribute]]
scim = "title"
ldap = "title"
colour = "blue"
[[attribute]]
scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
ldap = "manager"
[[attribute]]
scim = "emails"
ldap = "mail"
[[attribute]]
scim = 'emails[type eq "home"].value'
ldap = "otherMailbox"
`
	_, err := Parse("users.toml", []byte(src), withStandard(Options{}))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LoadError", err)
	}
	want := []struct {
		line int
		text string
	}{
		{5, `unknown key "bogus_top"`},
		{9, `unknown SCIM attribute "shoeSize"`},
		{12, "userName is already mapped by attribute 1"},
		{15, "uid is already written by attribute 1"},
		{18, `unknown transform "reverse"`},
		{22, `owner "idp"`},
		{26, "does not parse"},
		{29, `has no attribute "nosuch"`},
		{35, `unknown key "attribute.colour"`},
		{32, "title is already mapped by attribute 4"},
		{36, "unknown schema"}, // the enterprise extension is not declared
		{42, "already mapped as a whole by attribute"},
	}
	if len(le.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(le.Problems), len(want), err)
	}
	text := err.Error()
	for _, w := range want {
		found := false
		for _, p := range le.Problems {
			if p.Line == w.line && strings.Contains(p.Msg, w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem at line %d mentioning %q in:\n%s", w.line, w.text, text)
		}
	}
	if !strings.Contains(text, "users.toml:9: ") {
		t.Errorf("problems are not prefixed with file:line:\n%s", text)
	}
	if bridge.KindOf(err) != bridge.KindInvalidValue {
		t.Errorf("kind = %v", bridge.KindOf(err))
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"toml syntax", "resource = ", "t.toml:1: "},
		{"manager without reference", head + "[[extension]]\nurn = \"" + ent + "\"\n[[attribute]]\nscim = \"" + ent + ":manager\"\nldap = \"manager\"\n", `add reference = "User"`},
		{"no resource", `container = "dc=x"`, "resource is missing"},
		{"bad resource", `resource = "Device"`, `must be "User" or "Group"`},
		{"no rdn", strings.Replace(head, `rdn = "uid={{.userName}}"`, "", 1), "rdn is missing"},
		{"bad rdn", strings.Replace(head, `uid={{.userName}}`, `{{.userName}}`, 1), "rdn"},
		{"rdn reads nothing", strings.Replace(head, `uid={{.userName}}`, `uid=fixed`, 1), "reads no attribute"},
		{"rdn template error", strings.Replace(head, `uid={{.userName}}`, `uid={{.userName`, 1), "does not parse"},
		{"bad container", strings.Replace(head, "ou=people,dc=example,dc=com", "not a dn", 1), "is not a DN"},
		{"unset var", strings.Replace(head, "dc=example,dc=com", "${base_dn}", 1), "${base_dn} is not set"},
		{"no classes", strings.Replace(head, `object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]`, "", 1), "object_classes is missing"},
		{"one-way without template", head + "[[attribute]]\nldap = \"cn\"\n", "needs a template or a constant"},
		{"constant and template", head + "[[attribute]]\nldap = \"cn\"\nconstant = \"x\"\ntemplate = \"{{.userName}}\"\n", "either constant or template"},
		{"constant with scim", head + "[[attribute]]\nscim = \"title\"\nldap = \"title\"\nconstant = \"x\"\n", "constant cannot be combined"},
		{"bad ldap name", head + "[[attribute]]\nscim = \"title\"\nldap = \"ti tle\"\n", "not an attribute name"},
		{"multi on single", head + "[[attribute]]\nscim = \"title\"\nldap = \"title\"\nmulti = true\n", "single-valued"},
		{"complex without sub", head + "[[attribute]]\nscim = \"name\"\nldap = \"cn\"\n", "map its sub-attributes"},
		{"type filter not eq", head + "[[attribute]]\nscim = 'emails[value eq \"x\"]'\nldap = \"mail\"\n", `only [type eq "…"]`},
		{"typed on single", head + "[[attribute]]\nscim = 'title[type eq \"x\"]'\nldap = \"mail\"\n", "has no sub-attributes"},
		{"required directory", head + "[[attribute]]\nscim = \"title\"\nldap = \"title\"\nowner = \"directory\"\nrequired = true\n", "owned by the directory"},
		{"userName by directory", head + "[[attribute]]\nscim = \"userName\"\nldap = \"uid\"\nowner = \"directory\"\n", "cannot be owned by the directory"},
		{"type on core", head + "[[attribute]]\nscim = \"title\"\nldap = \"title\"\ntype = \"boolean\"\n", "custom extension"},
		{"template case", head + "[[attribute]]\nldap = \"cn\"\ntemplate = \"{{.username}}\"\n", "write userName"},
		{"template sub", head + "[[attribute]]\nldap = \"cn\"\ntemplate = \"{{.name.nick}}\"\n", "no sub-attribute"},
		{"attr func path", head + "[[attribute]]\nldap = \"cn\"\ntemplate = '{{attr . \"urn:x:y\"}}'\n", "unknown schema"},
		{"groups writable", head + "[[attribute]]\nscim = \"groups\"\nldap = \"memberOf\"\nreference = \"Group\"\n", "read-only"},
		{"nested elsewhere", head + "[[attribute]]\nscim = \"title\"\nldap = \"title\"\nnested = true\n", "nested only applies"},
		{"reference elsewhere", head + "[[attribute]]\nscim = \"title\"\nldap = \"title\"\nreference = \"User\"\n", "reference only applies"},
		{"bad reference type", head + "[[extension]]\nurn = \"" + ent + "\"\n[[attribute]]\nscim = \"" + ent + ":manager\"\nldap = \"manager\"\nreference = \"Device\"\n", "must be User or Group"},
		{"extension twice", head + "[[extension]]\nurn = \"" + ent + "\"\n[[extension]]\nurn = \"" + ent + "\"\n", "declared twice"},
		{"extension not urn", head + "[[extension]]\nurn = \"enterprise\"\n", `must start with "urn:"`},
		{"custom bad type", head + "[[extension]]\nurn = \"urn:x:custom\"\n[[attribute]]\nscim = \"urn:x:custom:flag\"\nldap = \"description\"\ntype = \"colour\"\n", `type "colour"`},
		{"multi typed shared", head + "[[attribute]]\nscim = 'phoneNumbers[type eq \"work\"].value'\nldap = \"telephoneNumber\"\nmulti = true\n[[attribute]]\nscim = 'phoneNumbers[type eq \"work\"].display'\nldap = \"description\"\n", "mapped with multi"},
		{"template list empty", head + "[[attribute]]\nldap = \"cn\"\ntemplate = []\n", "empty list"},
		{"template not string", head + "[[attribute]]\nldap = \"cn\"\ntemplate = 3\n", "string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(tc.src), withStandard(Options{}))
			if err == nil {
				t.Fatalf("Parse accepted the table")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not mention %q:\n%v", tc.want, err)
			}
		})
	}
}

func TestLoadSubstitution(t *testing.T) {
	src := `resource = "User"
container = "ou=people,${base_dn}"
object_classes = ["inetOrgPerson"]
rdn = "uid={{.userName}}"
[[extension]]
urn = "urn:okta:${okta_app:-onprem_app}:1.0:user:custom"
[[attribute]]
scim = "userName"
ldap = "uid"
[[attribute]]
scim = "urn:okta:${okta_app:-onprem_app}:1.0:user:custom:departmentName"
ldap = "ou"
`
	tb, err := Parse("t.toml", []byte(src), withStandard(Options{BaseDN: "dc=corp,dc=test", Vars: map[string]string{"okta_app": "hr"}}))
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.Container(); got != "ou=people,dc=corp,dc=test" {
		t.Errorf("container %q", got)
	}
	if tb.ResourceType().Extension("urn:okta:hr:1.0:user:custom") == nil {
		t.Errorf("extension not substituted: %+v", tb.ResourceType().Extensions)
	}
	tb, err = Parse("t.toml", []byte(src), withStandard(Options{BaseDN: "dc=corp,dc=test", Container: "ou=staff,${base_dn}"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.Container(); got != "ou=staff,dc=corp,dc=test" {
		t.Errorf("container override %q", got)
	}
	if tb.ResourceType().Extension("urn:okta:onprem_app:1.0:user:custom") == nil {
		t.Errorf("default not used: %+v", tb.ResourceType().Extensions)
	}
}

func TestLoadFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), withStandard(Options{})); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	p := filepath.Join(t.TempDir(), "users.toml")
	if err := os.WriteFile(p, []byte("resource = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p, withStandard(Options{}))
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v does not name the file", err)
	}
}

// The example tables load and map only attributes that the standard
// OpenLDAP schemas define, as the example promises.
func TestExampleTablesUseStandardSchema(t *testing.T) {
	schema := readSchemas(t)
	if schema != nil {
		// Operational, registered by the memberof overlay the OpenLDAP
		// example relies on (and kept by the embedded directory).
		schema["memberof"] = true
	}
	files, _ := filepath.Glob("../conf/examples/openldap*-users.toml")
	more, _ := filepath.Glob("../conf/examples/openldap*-groups.toml")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no example tables")
	}
	for _, f := range files {
		tb, err := Load(f, withStandard(Options{BaseDN: "dc=example,dc=com"}))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if schema == nil {
			continue
		}
		for _, a := range tb.DirectoryAttrs() {
			if !schema[strings.ToLower(a)] {
				t.Errorf("%s: %s is not in the standard OpenLDAP schemas", f, a)
			}
		}
		for _, oc := range tb.objectClasses {
			if !schema[strings.ToLower(oc)] {
				t.Errorf("%s: object class %s is not in the standard OpenLDAP schemas", f, oc)
			}
		}
	}
}

// readSchemas collects the names in slapd's core, cosine, inetorgperson and
// nis schemas, or returns nil when slapd's schema files are not installed.
func readSchemas(t *testing.T) map[string]bool {
	names := map[string]bool{}
	for _, f := range []string{"core", "cosine", "inetorgperson", "nis"} {
		data, err := os.ReadFile("/etc/ldap/schema/" + f + ".schema")
		if err != nil {
			t.Logf("no OpenLDAP schema files (%v): only loading is checked", err)
			return nil
		}
		for _, part := range strings.Split(string(data), "NAME ")[1:] {
			part = strings.TrimSpace(part)
			if strings.HasPrefix(part, "(") {
				part = part[1:strings.Index(part, ")")]
			} else {
				part = strings.Fields(part)[0]
			}
			for _, n := range strings.Fields(part) {
				names[strings.ToLower(strings.Trim(n, "'"))] = true
			}
		}
	}
	return names
}

func TestResourceTypeGenerated(t *testing.T) {
	tb := loadExample(t)
	rt := tb.ResourceType()
	if rt.Name != "User" || rt.Endpoint != "/Users" || rt.Schema.ID != bridge.UserSchema {
		t.Fatalf("resource type %+v", rt)
	}
	un := rt.Schema.Attr("userName")
	if un == nil || !un.Required || un.Uniqueness != "server" || un.CaseExact {
		t.Errorf("userName %+v", un)
	}
	if x := rt.Schema.Attr("externalId"); x == nil || !x.CaseExact {
		t.Errorf("externalId %+v", x)
	}
	if pw := rt.Schema.Attr("password"); pw == nil || pw.Mutability != "writeOnly" || pw.Returned != "never" {
		t.Errorf("password %+v", pw)
	}
	if a := rt.Schema.Attr("active"); a == nil || a.Type != bridge.TypeBoolean {
		t.Errorf("active %+v", a)
	}
	if g := rt.Schema.Attr("groups"); g == nil || g.Mutability != "readOnly" || !g.MultiValued {
		t.Errorf("groups %+v", g)
	}
	for _, unmapped := range []string{"nickName", "timezone", "locale", "ims"} {
		if rt.Schema.Attr(unmapped) != nil {
			t.Errorf("%s is in the schema but not mapped", unmapped)
		}
	}
	name := rt.Schema.Attr("name")
	if name.Sub("middleName") != nil || name.Sub("givenName") == nil {
		t.Errorf("name subs %+v", name.SubAttrs)
	}
	if f := name.Sub("formatted"); f == nil || f.Mutability != "readOnly" {
		t.Errorf("name.formatted is owned by the directory: %+v", f)
	}
	emails := rt.Schema.Attr("emails")
	if !emails.MultiValued || emails.Sub("type") == nil || emails.Sub("primary") == nil || emails.Sub("value") == nil {
		t.Errorf("emails %+v", emails)
	}
	addr := rt.Schema.Attr("addresses")
	if addr.Sub("country") != nil || addr.Sub("locality") == nil || addr.Sub("type") == nil {
		t.Errorf("addresses %+v", addr.SubAttrs)
	}
	e := rt.Extension(bridge.EnterpriseSchema)
	if e == nil || e.Attr("costCenter") != nil || e.Attr("employeeNumber") == nil {
		t.Fatalf("enterprise %+v", e)
	}
	m := e.Attr("manager")
	if m == nil || m.Type != bridge.TypeComplex || m.Sub("value") == nil || m.Sub("$ref") == nil || m.Sub("displayName") == nil {
		t.Errorf("manager %+v", m)
	}
	if got := tb.Aliases()["urn:scim:schemas:extension:enterprise:1.0"]; got != bridge.EnterpriseSchema {
		t.Errorf("aliases %v", tb.Aliases())
	}
	if got := tb.ObjectFilter().String(); got != "(&(objectClass=person)(objectClass=organizationalPerson)(objectClass=inetOrgPerson))" {
		t.Errorf("object filter %s", got)
	}
	attrs := strings.Join(tb.DirectoryAttrs(), ",")
	for _, a := range []string{"objectClass", "uid", "cn", "mail", "manager", "postalAddress"} {
		if !strings.Contains(","+attrs+",", ","+a+",") {
			t.Errorf("DirectoryAttrs %s lacks %s", attrs, a)
		}
	}
	// Normalize over the generated type keeps mapped and drops the rest.
	n, err := bridge.Normalize(rt, map[string]any{"userName": "a", "nickName": "b", "emails": "x@y"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n["nickName"]; ok || n["emails"] == nil {
		t.Errorf("Normalize over the generated type: %v", n)
	}
}

func TestTransforms(t *testing.T) {
	tests := []struct {
		name, in, out string
	}{
		{"trim", "  a b \t", "a b"},
		{"lower", "ÄBC", "äbc"},
		{"upper", "čaj", "ČAJ"},
		{"collapse", " a \n\t b  c ", "a b c"},
		{"postal", "1 Main St\r\nCost $5\\x", `1 Main St$Cost \245\5Cx`},
		{"postal", "a\n\nb", "a$$b"},
	}
	for _, tc := range tests {
		x := transforms[tc.name]
		if got := x.write(tc.in); got != tc.out {
			t.Errorf("%s(%q) = %q, want %q", tc.name, tc.in, got, tc.out)
		}
	}
	for _, s := range []string{"a\nb", "$5 \\ x", `\24 literal`, "", "\n"} {
		p := transforms["postal"]
		if got := p.read(p.write(s)); got != s {
			t.Errorf("postal does not round-trip %q: %q", s, got)
		}
	}
}

// Each row kind, written and read through a small table.
func TestRowKinds(t *testing.T) {
	src := head + `
[[extension]]
urn = "urn:example:custom"
aliases = ["urn:example:custom:1.1"]
[[attribute]]
scim = "userName"
ldap = "uid"
transform = ["lower"]
[[attribute]]
scim = "name.familyName"
ldap = "sn"
required = true
[[attribute]]
scim = "title"
ldap = "title"
default = "Staff"
[[attribute]]
scim = "displayName"
ldap = "displayName"
template = ["{{.name.givenName}} {{.name.familyName}}", "{{.userName}}"]
[[attribute]]
ldap = "employeeType"
constant = "scim"
[[attribute]]
ldap = "cn"
template = ['{{attr . "urn:example:custom:code"}}-{{.userName | upper}}-{{initial .name.familyName}}']
[[attribute]]
scim = "urn:example:custom:code"
ldap = "carLicense"
[[attribute]]
scim = "urn:example:custom:vip"
ldap = "businessCategory"
type = "boolean"
[[attribute]]
scim = "urn:example:custom:level"
ldap = "roomNumber"
type = "integer"
[[attribute]]
scim = "urn:example:custom:tags"
ldap = "o"
multi = true
[[attribute]]
scim = 'phoneNumbers[type eq "work"].value'
ldap = "telephoneNumber"
multi = true
[[attribute]]
scim = "emails"
ldap = "mail"
`
	tb := mustParse(t, src)
	ctx := context.Background()
	in := map[string]any{
		"userName": "JDoe", "name": map[string]any{"familyName": "Doe"},
		"urn:example:custom": map[string]any{"code": "X1", "vip": true, "level": float64(3), "tags": []any{"a", "b", "A"}},
		"phoneNumbers":       []any{map[string]any{"type": "work", "value": "1"}, map[string]any{"type": "home", "value": "2"}, map[string]any{"type": "Work", "value": "3"}},
		"emails":             []any{map[string]any{"value": "a@x"}, map[string]any{"value": "b@x", "primary": true}},
	}
	attrs, err := bridge.Normalize(tb.ResourceType(), in)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: attrs}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"uid": "jdoe", "sn": "Doe", "title": "Staff", "displayName": "Doe", "employeeType": "scim",
		"cn": "X1-JDOE-D", "carLicense": "X1", "businessCategory": "TRUE", "roomNumber": "3",
		"o": "a|b", "telephoneNumber": "1|3", "mail": "b@x",
	}
	for k, v := range want {
		if got := strings.Join(plan.Attrs[k], "|"); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if plan.DN != "uid=jdoe,ou=people,dc=example,dc=com" {
		t.Errorf("DN %q: the RDN takes the row's transformed value", plan.DN)
	}
	r, err := tb.Resource(ctx, entryFrom(plan), newRefs())
	if err != nil {
		t.Fatal(err)
	}
	c := r.Attrs["urn:example:custom"].(map[string]any)
	if c["vip"] != true || c["level"] != float64(3) || len(c["tags"].([]any)) != 2 {
		t.Errorf("custom extension read back as %v", c)
	}
	if _, ok := r.Attrs["employeeType"]; ok {
		t.Error("a constant row was read back")
	}
	if got := toJSON(r.Attrs["phoneNumbers"]); !strings.Contains(got, `"value": "3"`) {
		t.Errorf("multi typed row lost a value: %s", got)
	}
	if tb.ResourceType().Extension("urn:example:custom").Attr("vip").Type != bridge.TypeBoolean {
		t.Error("custom attribute type not in the schema")
	}
	if tb.Aliases()["urn:example:custom:1.1"] != "urn:example:custom" {
		t.Errorf("aliases %v", tb.Aliases())
	}
}

func TestTemplateMissingKeys(t *testing.T) {
	tb := mustParse(t, head+`
[[attribute]]
scim = "userName"
ldap = "uid"
[[attribute]]
ldap = "cn"
template = ["{{.name.givenName}} {{.name.familyName}}", "{{.displayName}}", "{{.userName}}"]
`)
	cn := func(attrs map[string]any) string {
		plan, err := tb.NewEntry(context.Background(), bridge.Resource{Attrs: attrs}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(plan.Attrs["cn"], "|")
	}
	for want, attrs := range map[string]map[string]any{
		"Jane Doe": {"userName": "u", "name": map[string]any{"givenName": "Jane", "familyName": "Doe"}},
		"Jane":     {"userName": "u", "name": map[string]any{"givenName": "Jane"}},
		"Disp":     {"userName": "u", "displayName": "Disp"},
		"u":        {"userName": "u", "name": map[string]any{}},
	} {
		if got := cn(attrs); got != want {
			t.Errorf("cn(%v) = %q, want %q", attrs, got, want)
		}
	}
}

func TestTemplateRangeOverNumberRefused(t *testing.T) {
	_, err := Parse("t.toml", []byte(head+"[[attribute]]\nldap = \"cn\"\ntemplate = \"{{range 1000000000}}{{end}}\"\n"), withStandard(Options{}))
	if err == nil || !strings.Contains(err.Error(), "range over a number") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeysAreCaseSensitive(t *testing.T) {
	_, err := Parse("t.toml", []byte(strings.Replace(head, "resource", "Resource", 1)+"[[attribute]]\nscim = \"userName\"\nLDAP = \"uid\"\n"), withStandard(Options{}))
	if err == nil || !strings.Contains(err.Error(), `t.toml:1: unknown key "Resource"`) || !strings.Contains(err.Error(), `"attribute.LDAP" (did you mean "ldap"?)`) {
		t.Fatalf("err = %v", err)
	}
}

func TestRDNMustBeReadable(t *testing.T) {
	_, err := Parse("t.toml", []byte(head+"[[attribute]]\nldap = \"uid\"\ntemplate = \"{{.userName}}\"\n"), withStandard(Options{}))
	if err == nil || !strings.Contains(err.Error(), "userName is not mapped") {
		t.Fatalf("err = %v", err)
	}
}

// TestNestedGroupsRow: with nested = true a user's groups are read from
// the directory's list of nested groups (bridge.VirtualNestedGroups), which
// the table then asks for; memberOf alone still gives the direct ones.
func TestNestedGroupsRow(t *testing.T) {
	const table = `resource = "User"
container = "ou=people,dc=example,dc=com"
object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]
rdn = "uid={{.userName}}"
[[attribute]]
scim = "userName"
ldap = "uid"
[[attribute]]
scim = "groups"
ldap = "memberOf"
owner = "directory"
reference = "Group"
nested = true
`
	tb, err := Parse("t.toml", []byte(table), withStandard(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if !tb.NestedGroups() || !hasFold(tb.DirectoryAttrs(), bridge.VirtualNestedGroups) {
		t.Fatalf("nested row: NestedGroups %t, attrs %v", tb.NestedGroups(), tb.DirectoryAttrs())
	}
	refs := newRefs()
	refs.dns["Group/grp-2"] = "cn=all staff,ou=groups,dc=example,dc=com"
	e := &bridge.Entry{DN: "uid=j,ou=people,dc=example,dc=com", Attrs: map[string][]string{
		"uid": {"j"}, "memberOf": {"cn=admins,ou=groups,dc=example,dc=com"},
		bridge.VirtualNestedGroups: {"cn=admins,ou=groups,dc=example,dc=com", "cn=all staff,ou=groups,dc=example,dc=com"}}}
	r, err := tb.Resource(context.Background(), e, refs)
	if err != nil {
		t.Fatal(err)
	}
	groups, _ := r.Attrs["groups"].([]any)
	if len(groups) != 2 {
		t.Fatalf("groups: %v", r.Attrs["groups"])
	}
	plain, err := Parse("t.toml", []byte(strings.Replace(table, "nested = true\n", "", 1)), withStandard(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if plain.NestedGroups() || hasFold(plain.DirectoryAttrs(), bridge.VirtualNestedGroups) {
		t.Fatalf("a plain groups row asks for nested groups")
	}
}

// A value of the wrong type is reported at its own row's line, and every
// one of them at once with the table's other problems: the decoder alone
// stops at the first and places a row's key at the last row's line.
func TestLoadTypeErrorsAreLocated(t *testing.T) {
	src := head + `[[attribute]]
scim = "userName"
ldap = "uid"
required = "yes"
[[attribute]]
scim = "title"
ldap = 5
[[attribute]]
scim = "displayName"
ldap = "displayName"
[[attribute]]
scim = "nickName"
ldap = "initials"
owner = "idp"
`
	_, err := Parse("users.toml", []byte(src), withStandard(Options{}))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LoadError", err)
	}
	// The problem that is not a type's is found in the same run, and a
	// value dropped for its type is not reported again as missing.
	want := []struct {
		line int
		text string
	}{
		{8, "attribute[0].required: want true or false"},
		{11, "attribute[1].ldap: want a string"},
		{15, `owner "idp"`},
	}
	if len(le.Problems) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(le.Problems), len(want), err)
	}
	for i, w := range want {
		if p := le.Problems[i]; p.Line != w.line || !strings.Contains(p.Msg, w.text) {
			t.Errorf("problem %d: %d %q, want %d %q", i, p.Line, p.Msg, w.line, w.text)
		}
	}
}
