package scimside

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

func TestParseFilter(t *testing.T) {
	rt := userType()
	cases := []struct {
		in   string
		want string // bridge's String() rendering
	}{
		{`userName eq "bjensen"`, `userName eq "bjensen"`},
		{`userName EQ "bjensen"`, `userName eq "bjensen"`},
		{`  userName   eq   "a b"  `, `userName eq "a b"`},
		{`name.familyName co "O'Malley"`, `name.familyName co "O'Malley"`},
		{`userName sw "J"`, `userName sw "J"`},
		{`title pr`, `title pr`},
		{`title PR`, `title pr`},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{`title pr and userName eq "x" or displayName eq "y"`, `((title pr and userName eq "x") or displayName eq "y")`},
		{`title pr or userName eq "x" and displayName eq "y"`, `(title pr or (userName eq "x" and displayName eq "y"))`},
		{`title pr AND (userName eq "x" OR displayName eq "y")`, `(title pr and (userName eq "x" or displayName eq "y"))`},
		{`not (userName eq "x")`, `not (userName eq "x")`},
		{`NOT(userName eq "x")`, `not (userName eq "x")`},
		{`emails[type eq "work" and value co "@example.com"]`, `emails[(type eq "work" and value co "@example.com")]`},
		{`emails[type eq "work"].value eq "a@x.com"`, `emails[(type eq "work" and value eq "a@x.com")]`},
		{`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
			`(userType eq "Employee" and (emails co "example.com" or emails.value co "example.org"))`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1"`,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1"`},
		{`urn:okta:onprem_app:1.0:user:custom:departmentName eq "x"`, `urn:okta:onprem_app:1.0:user:custom:departmentName eq "x"`},
		{`URN:OKTA:ONPREM_APP:1.0:USER:CUSTOM:departmentName eq "x"`, `urn:okta:onprem_app:1.0:user:custom:departmentName eq "x"`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`},
		// Unknown URN: kept whole, for the mapping to report.
		{`urn:other:app:1.0:user:foo eq "x"`, `urn:other:app:1.0:user:foo eq "x"`},
		{`userName eq "esc\"aped\\ \u00e9\n"`, `userName eq "esc\"aped\\ é\n"`},
		{`active eq true`, `active eq true`},
		{`active eq False`, `active eq false`},
		{`active eq "False"`, `active eq "False"`},
		{`title eq null`, `title eq null`},
		{`urn:okta:onprem_app:1.0:user:custom:costCenter gt 10.5`, `urn:okta:onprem_app:1.0:user:custom:costCenter gt 10.5`},
		{`urn:okta:onprem_app:1.0:user:custom:costCenter eq -1e3`, `urn:okta:onprem_app:1.0:user:custom:costCenter eq -1000`},
		// Entra: unquoted values; string attributes keep the text as written.
		{`externalId eq 3b4d9f21-e3b4-4a5c-9b0d-5e3e1f6a7b8c`, `externalId eq "3b4d9f21-e3b4-4a5c-9b0d-5e3e1f6a7b8c"`},
		{`externalId eq 00123`, `externalId eq "00123"`},
		{`externalId eq true`, `externalId eq "true"`},
		{`displayName eq Sales Team and userName eq x`, `(displayName eq "Sales Team" and userName eq "x")`},
		{`displayName eq Sales  Team`, `displayName eq "Sales  Team"`},
		{`(externalId eq abc)`, `externalId eq "abc"`},
		{`emails[type eq work].value eq a@x.com`, `emails[(type eq "work" and value eq "a@x.com")]`},
		{`id eq "2819c223-7f76-453a-919d-413861904646"`, `id eq "2819c223-7f76-453a-919d-413861904646"`},
		{`members[value eq "x"]`, `members[value eq "x"]`},
		{`notes eq "x"`, `notes eq "x"`},
	}
	for _, c := range cases {
		x, err := parseFilter(rt, c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := fmt.Sprint(x); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}

func TestParseFilterTypes(t *testing.T) {
	rt := userType()
	x, err := parseFilter(rt, `urn:okta:onprem_app:1.0:user:custom:costCenter eq 12`)
	if err != nil {
		t.Fatal(err)
	}
	if v := x.(*bridge.CompareExpr).Value; v != 12.0 {
		t.Errorf("number: %#v", v)
	}
	x, _ = parseFilter(rt, `active eq TRUE`)
	if v := x.(*bridge.CompareExpr).Value; v != true {
		t.Errorf("bool: %#v", v)
	}
	x, _ = parseFilter(rt, `userName eq 12`)
	if v := x.(*bridge.CompareExpr).Value; v != "12" {
		t.Errorf("number for a string attribute: %#v", v)
	}
	x, _ = parseFilter(rt, `name.familyName eq "x"`)
	if p := x.(*bridge.CompareExpr).Path; p != (bridge.AttrPath{Attr: "name", Sub: "familyName"}) {
		t.Errorf("path: %#v", p)
	}
	x, _ = parseFilter(rt, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`)
	if p := x.(*bridge.CompareExpr).Path; p != (bridge.AttrPath{URN: bridge.EnterpriseSchema, Attr: "employeeNumber"}) {
		t.Errorf("URN path: %#v", p)
	}
	x, _ = parseFilter(rt, `emails[type eq "work"]`)
	vp := x.(*bridge.ValuePathExpr)
	if vp.Path != (bridge.AttrPath{Attr: "emails"}) || !reflect.DeepEqual(vp.Filter, &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "type"}, Op: bridge.OpEq, Value: "work"}) {
		t.Errorf("value path: %#v", vp)
	}
}

func TestParseFilterErrors(t *testing.T) {
	rt := userType()
	bad := []string{
		``, `   `, `userName`, `userName eq`, `userName eq "x`, `userName xx "x"`, `userName eq "x" and`,
		`(userName eq "x"`, `userName eq "x")`, `userName eq "x" userName`, `emails[type eq "work"`,
		`emails[type eq "work"]]`, `emails[emails[type eq "x"]]`, `emails[type eq "x"].`, `emails[type eq "x"].value`,
		`name.familyName[x eq "y"]`, `not userName eq "x"`, `"x" eq userName`, `userName eq "\x"`, `a..b eq "x"`,
		`name.a.b eq "x"`, `1abc eq "x"`, `urn:okta:onprem_app:1.0:user:custom:costCenter eq abc`,
		`emails[urn:x:y eq "1"]`, `and eq "x" and`, `userName eq "x" or or userName eq "y"`, `[type eq "x"]`,
		strings.Repeat("(", 40) + `userName eq "x"` + strings.Repeat(")", 40),
		strings.Repeat("not (", 40) + `userName eq "x"` + strings.Repeat(")", 40),
		strings.Repeat(`userName eq "x" or `, 300) + `userName eq "x"`,
		`userName eq "` + strings.Repeat("a", maxFilterLen) + `"`,
	}
	for _, in := range bad {
		_, err := parseFilter(rt, in)
		if err == nil {
			t.Errorf("%.60q: no error", in)
			continue
		}
		if bridge.KindOf(err) != bridge.KindInvalidFilter {
			t.Errorf("%.60q: kind %v", in, bridge.KindOf(err))
		}
		if msg := bridge.SafeMessage(err); strings.Contains(msg, "userName") || len(msg) > 200 {
			t.Errorf("%.60q: message echoes the filter: %s", in, msg)
		}
	}
}

func TestParsePatchPath(t *testing.T) {
	rt := userType()
	cases := []struct {
		in   string
		want bridge.PatchPath
	}{
		{`userName`, bridge.PatchPath{Attr: bridge.AttrPath{Attr: "userName"}}},
		{`name.givenName`, bridge.PatchPath{Attr: bridge.AttrPath{Attr: "name", Sub: "givenName"}}},
		{`emails[type eq "work"].value`, bridge.PatchPath{Attr: bridge.AttrPath{Attr: "emails"},
			Filter: &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "type"}, Op: bridge.OpEq, Value: "work"}, Sub: "value"}},
		{`members[value eq "x"]`, bridge.PatchPath{Attr: bridge.AttrPath{Attr: "members"},
			Filter: &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "value"}, Op: bridge.OpEq, Value: "x"}}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`,
			bridge.PatchPath{Attr: bridge.AttrPath{URN: bridge.EnterpriseSchema, Attr: "manager"}}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`,
			bridge.PatchPath{Attr: bridge.AttrPath{URN: bridge.EnterpriseSchema, Attr: "employeeNumber"}}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`,
			bridge.PatchPath{Attr: bridge.AttrPath{URN: bridge.EnterpriseSchema, Attr: "manager", Sub: "value"}}},
		{`urn:okta:onprem_app:1.0:user:custom:departmentName`,
			bridge.PatchPath{Attr: bridge.AttrPath{URN: oktaCustomURN, Attr: "departmentName"}}},
		{`urn:unknown:1.0:x`, bridge.PatchPath{Attr: bridge.AttrPath{Attr: "urn:unknown:1.0:x"}}},
		{` active `, bridge.PatchPath{Attr: bridge.AttrPath{Attr: "active"}}},
	}
	for _, c := range cases {
		got, err := parsePatchPath(rt, c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", c.in, *got, c.want)
		}
	}
	for _, in := range []string{``, `.`, `name.`, `name..x`, `emails[`, `emails[type eq "work"`, `emails[type eq "work"]x`,
		`emails[type eq "work"].`, `emails[type eq "work"].a.b`, `name.givenName[x eq "y"]`, `a b`, `emails[]`,
		`emails[type eq "work"][x eq "y"]`, `$`, strings.Repeat("a", maxPathLen+1)} {
		if _, err := parsePatchPath(rt, in); bridge.KindOf(err) != bridge.KindInvalidPath {
			t.Errorf("%.40q: err %v, want invalidPath", in, err)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`, `name.familyName co "O'Malley"`, `title pr and userType eq "Employee"`,
		`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		`emails[type eq "work"].value eq "a@x.com"`, `not (userName eq "x")`, `externalId eq 3b4d-11`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"`,
		`urn:okta:onprem_app:1.0:user:custom:costCenter gt 1e3`, `meta.lastModified gt "2020-04-07T14:19:34Z"`,
		`((((userName eq "x"))))`, `userName eq "\u00e9\"\\"`, `displayName eq Sales Team`, `active eq TRUE`,
	} {
		f.Add(s)
	}
	rt := userType()
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parseFilter(rt, s)
		if err != nil {
			if bridge.KindOf(err) != bridge.KindInvalidFilter {
				t.Fatalf("kind %v for %q", bridge.KindOf(err), s)
			}
			return
		}
		if x == nil {
			t.Fatalf("nil expression without error for %q", s)
		}
		if d := exprDepth(x); d > 2*maxFilterTerms+2*maxFilterDepth {
			t.Fatalf("depth %d for %q", d, s)
		}
		// The rendering of a parsed filter, when it parses again, parses to
		// the same thing.
		r1 := fmt.Sprint(x)
		if y, err := parseFilter(rt, r1); err == nil {
			if r2 := fmt.Sprint(y); r2 != r1 {
				t.Fatalf("not stable: %q → %q → %q", s, r1, r2)
			}
		}
	})
}

func exprDepth(x bridge.Expr) int {
	switch e := x.(type) {
	case *bridge.LogicalExpr:
		return 1 + max(exprDepth(e.Left), exprDepth(e.Right))
	case *bridge.NotExpr:
		return 1 + exprDepth(e.X)
	case *bridge.ValuePathExpr:
		return 1 + exprDepth(e.Filter)
	}
	return 1
}

func FuzzParsePatchPath(f *testing.F) {
	for _, s := range []string{
		`emails[type eq "work"].value`, `members[value eq "x"]`, `name.givenName`, `active`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`,
		`urn:okta:onprem_app:1.0:user:custom:departmentName`, `emails[type eq work and primary eq true]`,
	} {
		f.Add(s)
	}
	rt := userType()
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePatchPath(rt, s)
		if err != nil {
			if bridge.KindOf(err) != bridge.KindInvalidPath {
				t.Fatalf("kind %v for %q", bridge.KindOf(err), s)
			}
			return
		}
		if p.Attr.Attr == "" {
			t.Fatalf("empty attribute for %q", s)
		}
		_ = p.String()
	})
}

// TestParseFilterWorstCase feeds maximal hostile filters; each must be
// refused or parsed in linear time.
func TestParseFilterWorstCase(t *testing.T) {
	rt := userType()
	n := maxFilterLen
	inputs := []string{
		`displayName eq ` + strings.Repeat("a ", n/2-10),
		`displayName eq ` + strings.Repeat("[", n-20),
		`displayName eq ` + strings.Repeat(`\"`, n/2-10),
		`userName eq "` + strings.Repeat(`\\`, n/2-10) + `"`,
		strings.Repeat("(", n),
		strings.Repeat("not (", n/5),
		strings.Repeat(`a pr and `, n/9),
		strings.Repeat("emails[", n/7),
		`emails[type eq ` + strings.Repeat("x ", n/2-10) + `]`,
		strings.Repeat("a", n),
	}
	for _, in := range inputs {
		start := time.Now()
		for range 10 {
			parseFilter(rt, in)
			parsePatchPath(rt, in[:min(len(in), maxPathLen)])
		}
		if d := time.Since(start) / 10; d > 50*time.Millisecond {
			t.Errorf("%.30q…: %v per parse", in, d)
		}
	}
}
