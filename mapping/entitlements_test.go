package mapping

import (
	"errors"
	"strings"
	"testing"
)

const goodEntitlements = `# roles
[[type]]
name = "Role"
endpoint = "/Roles"
description = "Application roles"
user_attribute = "roles"
container = "ou=App Roles,${base_dn:-dc=example,dc=com}"
filter = "(objectClass=groupOfNames)"
placeholder = "cn=nobody,${base_dn}"
[type.value]
display = "cn"
description = "description"

[[type]]
name = "License"
endpoint = "/Licenses"
user_attribute = "urn:example:1.0:User:licenses"
multi_valued = false
required = true
container = "ou=Licenses,${base_dn}"
scope = "one"
[type.value]
id = ""
display = "cn"
`

func TestEntitlementsParse(t *testing.T) {
	e, err := ParseEntitlements("e.toml", []byte(goodEntitlements), Options{BaseDN: "dc=corp,dc=test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Types) != 2 {
		t.Fatalf("types: %d", len(e.Types))
	}
	r, l := e.Types[0], e.Types[1]
	if r.Schema != RoleSchemaURN || l.Schema != EntitlementSchemaURN {
		t.Errorf("default schemas: %q %q", r.Schema, l.Schema)
	}
	if r.Container != "ou=App Roles,dc=corp,dc=test" || r.Placeholder != "cn=nobody,dc=corp,dc=test" {
		t.Errorf("substitution: %q %q", r.Container, r.Placeholder)
	}
	if !r.MultiValued || l.MultiValued || !l.Required || r.Required {
		t.Errorf("multi/required: %+v %+v", r, l)
	}
	if r.Scope != "sub" || l.Scope != "one" || r.Member != "member" {
		t.Errorf("scope/member: %q %q %q", r.Scope, l.Scope, r.Member)
	}
	if r.IDAttr != "" || l.IDAttr != "" || r.DisplayAttr != "cn" || r.DescAttr != "description" {
		t.Errorf("value attrs: %+v", r)
	}
	if got := r.Filter.String(); got != "(objectClass=groupOfNames)" {
		t.Errorf("filter: %s", got)
	}
	if l.Filter.String() != DefaultEntitlementFilter {
		t.Errorf("default filter: %s", l.Filter)
	}
	if e.ByEndpoint("/roles") != r || e.ByAttribute("urn:example:1.0:User:LICENSES") != l || e.ByEndpoint("/Users") != nil {
		t.Error("lookups")
	}
	if r.Line != 2 || l.Line != 14 {
		t.Errorf("lines: %d %d", r.Line, l.Line)
	}
}

func TestEntitlementsErrorsWithLines(t *testing.T) {
	data := `[[type]]
name = "Role"
endpoint = "/Users"
user_attribute = "groups"
container = "not a dn"
scope = "base"
filter = "(objectClass=group"
multi_valued = "yes"
colour = "red"
[type.value]
display = "c n"
idd = "cn"

[[type]]
name = "role"
endpoint = "Roles/x"
user_attribute = "roles"
`
	_, err := ParseEntitlements("e.toml", []byte(data), Options{})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("want a LoadError, got %v", err)
	}
	want := map[int]string{
		3:  `endpoint "/Users" is the gateway's own`,
		4:  `user_attribute "groups"`,
		5:  `container "not a dn" is not a DN`,
		6:  `scope "base"`,
		7:  `filter "(objectClass=group"`,
		8:  `type[0].multi_valued`,
		9:  `type[0].colour: unknown key`,
		11: `value.display "c n" is not an attribute name`,
		12: `type[0].value.idd: unknown key`,
		14: `container is missing`,
		15: `name "role" is already the name of the type at line 1`,
		16: `endpoint "Roles/x"`,
	}
	for line, frag := range want {
		found := false
		for _, p := range le.Problems {
			if p.Line == line && strings.Contains(p.Msg, frag) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem at line %d containing %q; got:\n%v", line, frag, err)
		}
	}
	if !strings.Contains(err.Error(), "[type.value] is missing") {
		t.Errorf("second type's missing [type.value] not reported:\n%v", err)
	}
}

func TestEntitlementsEmptyAndSyntax(t *testing.T) {
	if _, err := ParseEntitlements("e.toml", []byte("# nothing\n"), Options{}); err == nil || !strings.Contains(err.Error(), "no [[type]]") {
		t.Errorf("empty table: %v", err)
	}
	if _, err := ParseEntitlements("e.toml", []byte("[[type]\nname=1\n"), Options{}); err == nil || !strings.Contains(err.Error(), "e.toml:2: expected end of table array") {
		t.Errorf("syntax error: %v", err)
	}
	if _, err := ParseEntitlements("e.toml", []byte(strings.Replace(goodEntitlements, "${base_dn}", "${nope}", 1)), Options{}); err == nil || !strings.Contains(err.Error(), "${nope} is not set") {
		t.Errorf("unknown substitution: %v", err)
	}
}

func TestParseLDAPFilter(t *testing.T) {
	for in, want := range map[string]string{
		"(cn=a)":                        "(cn=a)",
		"(&(objectClass=group)(cn=x*))": "(&(objectClass=group)(cn=x*))",
		"(|(a=1)(!(b=*)))":              "(|(a=1)(!(b=*)))",
		"(cn=*mid*end)":                 "(cn=*mid*end)",
		`(cn=a\28b\29\2a)`:              `(cn=a\28b\29\2a)`,
		"(uidNumber>=10)":               "(uidNumber>=10)",
		"(&)":                           "(&)",
	} {
		f, err := ParseLDAPFilter(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if f.String() != want {
			t.Errorf("%s → %s, want %s", in, f, want)
		}
	}
	for _, bad := range []string{"", "cn=a", "(cn=a", "(cn=a))", "(=a)", "(cn=a(b)", `(cn=\zz)`, "(cn>=a*)", "(@id=x)", "(c n=x)", "(cn:dn:=x)"} {
		if _, err := ParseLDAPFilter(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseLDAPFilter(f *testing.F) {
	for _, s := range []string{"(cn=a)", "(&(a=1)(|(b=*)(!(c=x*y))))", `(cn=\28)`, "(&)", "(a>=1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := ParseLDAPFilter(s)
		if err != nil {
			return
		}
		// What was accepted renders to a filter that parses to itself.
		out := x.String()
		y, err := ParseLDAPFilter(out)
		if err != nil {
			t.Fatalf("%q rendered as %q, which does not parse: %v", s, out, err)
		}
		if y.String() != out {
			t.Fatalf("%q: %q then %q", s, out, y.String())
		}
	})
}

func FuzzParseEntitlements(f *testing.F) {
	f.Add([]byte(goodEntitlements))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntitlements("f.toml", data, Options{BaseDN: "dc=example,dc=com"})
		if err == nil && len(e.Types) == 0 {
			t.Fatal("a table without types was accepted")
		}
	})
}

func TestEntitlementsValueIDAttribute(t *testing.T) {
	data := strings.Replace(goodEntitlements, "id = \"\"\ndisplay", "id = \"cn\"\ndisplay", 1)
	if data == goodEntitlements {
		t.Fatal("test table did not change")
	}
	e, err := ParseEntitlements("e.toml", []byte(data), Options{BaseDN: "dc=corp,dc=test"})
	if err != nil {
		t.Fatalf("value.id = \"cn\": %v", err)
	}
	if e.Types[0].IDAttr != "" || e.Types[1].IDAttr != "cn" {
		t.Errorf("id attrs %q %q, want the immutable id (untouched type) and cn", e.Types[0].IDAttr, e.Types[1].IDAttr)
	}
	bad := strings.Replace(goodEntitlements, "id = \"\"\ndisplay", "id = \"c n\"\ndisplay", 1)
	_, err = ParseEntitlements("e.toml", []byte(bad), Options{BaseDN: "dc=corp,dc=test"})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("want a LoadError, got %v", err)
	}
	if len(le.Problems) != 1 || le.Problems[0].Line != 23 || !strings.Contains(le.Problems[0].Msg, `value.id "c n" is not an attribute name`) {
		t.Errorf("problems: %v", err)
	}
}
