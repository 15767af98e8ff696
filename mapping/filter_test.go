package mapping

import (
	"context"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

const ent = bridge.EnterpriseSchema

func cmp(attr string, op bridge.CompareOp, v any) *bridge.CompareExpr {
	p := bridge.AttrPath{Attr: attr}
	if i := strings.LastIndexByte(attr, ':'); i > 0 {
		p = bridge.AttrPath{URN: attr[:i], Attr: attr[i+1:]}
	}
	if i := strings.IndexByte(p.Attr, '.'); i > 0 {
		p.Attr, p.Sub = p.Attr[:i], p.Attr[i+1:]
	}
	return &bridge.CompareExpr{Path: p, Op: op, Value: v}
}

func andX(l, r bridge.Expr) bridge.Expr { return &bridge.LogicalExpr{Op: "and", Left: l, Right: r} }
func orX(l, r bridge.Expr) bridge.Expr  { return &bridge.LogicalExpr{Op: "or", Left: l, Right: r} }
func vp(attr string, f bridge.Expr) bridge.Expr {
	return &bridge.ValuePathExpr{Path: bridge.AttrPath{Attr: attr}, Filter: f}
}

func TestFilterTranslation(t *testing.T) {
	tb := loadExample(t)
	tests := []struct {
		name string
		x    bridge.Expr
		want string
	}{
		{"userName eq", cmp("userName", bridge.OpEq, "jdoe"), "(uid=jdoe)"},
		{"userName trimmed", cmp("userName", bridge.OpEq, "  jdoe "), "(uid=jdoe)"},
		{"userName upper case reaches the directory as sent", cmp("USERNAME", bridge.OpEq, "JDOE"), "(uid=JDOE)"},
		{"hostile value escaped", cmp("userName", bridge.OpEq, "*)(uid=*))(|(uid=*"), `(uid=\2a\29\28uid=\2a\29\29\28|\28uid=\2a)`},
		{"NUL and backslash", cmp("userName", bridge.OpEq, "a\x00b\\c"), `(uid=a\00b\5cc)`},
		{"non-ASCII", cmp("name.familyName", bridge.OpEq, "Łukasz"), `(sn=\c5\81ukasz)`},
		{"externalId", cmp("externalId", bridge.OpEq, "00u1"), "(description=00u1)"},
		{"ne", cmp("title", bridge.OpNe, "x"), "(!(title=x))"},
		{"co", cmp("displayName", bridge.OpCo, "a*b"), `(displayName=*a\2ab*)`},
		{"sw", cmp("userName", bridge.OpSw, "j"), "(uid=j*)"},
		{"ew", cmp("userName", bridge.OpEw, "e"), "(uid=*e)"},
		{"pr", cmp("title", bridge.OpPr, nil), "(title=*)"},
		{"gt", cmp("title", bridge.OpGt, "m"), "(&(title>=m)(!(title=m)))"},
		{"ge", cmp("title", bridge.OpGe, "m"), "(title>=m)"},
		{"lt", cmp("title", bridge.OpLt, "m"), "(&(title<=m)(!(title=m)))"},
		{"le", cmp("title", bridge.OpLe, "m"), "(title<=m)"},
		{"eq null", cmp("title", bridge.OpEq, nil), "(!(title=*))"},
		{"and/or/not", andX(cmp("userName", bridge.OpEq, "a"), &bridge.NotExpr{X: orX(cmp("title", bridge.OpEq, "b"), cmp("title", bridge.OpEq, "c"))}),
			"(&(uid=a)(!(|(title=b)(title=c))))"},
		{"name.familyName", cmp("name.familyName", bridge.OpEq, "Doe"), "(sn=Doe)"},
		{"name.formatted reads cn", cmp("name.formatted", bridge.OpEq, "Jane Doe"), "(cn=Jane Doe)"},
		{"emails eq", cmp("emails", bridge.OpEq, "a@x"), "(mail=a@x)"},
		{"emails.value eq", cmp("emails.value", bridge.OpEq, "a@x"), "(mail=a@x)"},
		{"email eq (Okta agent)", orX(cmp("email", bridge.OpEq, "a@x"), cmp("email", bridge.OpEq, "b@x")), "(|(mail=a@x)(mail=b@x))"},
		{"emails[type eq work].value eq", vp("emails", andX(cmp("type", bridge.OpEq, "work"), cmp("value", bridge.OpEq, "a@x"))), "(mail=a@x)"},
		{"emails[type eq home] matches no stored type", vp("emails", andX(cmp("type", bridge.OpEq, "home"), cmp("value", bridge.OpEq, "a@x"))), "(|)"},
		{"phoneNumbers[type eq mobile]", vp("phoneNumbers", andX(cmp("type", bridge.OpEq, "MOBILE"), cmp("value", bridge.OpSw, "+44"))), "(mobile=+44*)"},
		{"phoneNumbers eq any type", cmp("phoneNumbers", bridge.OpEq, "1"),
			"(|(telephoneNumber=1)(mobile=1)(facsimileTelephoneNumber=1)(homePhone=1))"},
		{"phoneNumbers[type ne work]", vp("phoneNumbers", andX(cmp("type", bridge.OpNe, "work"), cmp("value", bridge.OpPr, nil))),
			"(|(mobile=*)(facsimileTelephoneNumber=*)(homePhone=*))"},
		{"addresses[type eq work].locality", vp("addresses", andX(cmp("type", bridge.OpEq, "work"), cmp("locality", bridge.OpEq, "Paris"))), "(l=Paris)"},
		{"addresses locality of home never stored", vp("addresses", andX(cmp("type", bridge.OpEq, "home"), cmp("locality", bridge.OpEq, "Paris"))), "(|)"},
		{"enterprise employeeNumber", cmp(ent+":employeeNumber", bridge.OpEq, "7"), "(employeeNumber=7)"},
		{"enterprise URN left unsplit by the parser", &bridge.CompareExpr{Path: bridge.AttrPath{Attr: ent + ":department"}, Op: bridge.OpEq, Value: "x"}, "(departmentNumber=x)"},
		{"meta.lastModified gt", cmp("meta.lastModified", bridge.OpGt, "2020-04-07T14:19:34Z"),
			"(&(@modified>=2020-04-07T14:19:34Z)(!(@modified=2020-04-07T14:19:34Z)))"},
		{"meta.lastModified with offset", cmp("meta.lastModified", bridge.OpGe, "2020-04-07T16:19:34+02:00"), "(@modified>=2020-04-07T14:19:34Z)"},
		{"meta.created le", cmp("meta.created", bridge.OpLe, "2020-04-07T14:19:34Z"), "(@created<=2020-04-07T14:19:34Z)"},
		{"id eq", cmp("id", bridge.OpEq, "abc"), "(@id=abc)"},
		{"active eq true", cmp("active", bridge.OpEq, true), "(@disabled=FALSE)"},
		{"active eq \"False\"", cmp("active", bridge.OpEq, "False"), "(@disabled=TRUE)"},
		{"active ne true", cmp("active", bridge.OpNe, true), "(@disabled=TRUE)"},
		{"manager.value eq id", cmp("manager.value", bridge.OpEq, "mgr-1"), "(manager=uid=boss,ou=people,dc=example,dc=com)"},
		{"manager eq id with URN", cmp(ent+":manager", bridge.OpEq, "mgr-2"), `(manager=uid=O'Brien\5c, Pat,ou=people,dc=example,dc=com)`},
		{"manager unknown id", cmp("manager.value", bridge.OpEq, "nobody"), "(|)"},
		{"manager ne unknown id", cmp("manager.value", bridge.OpNe, "nobody"), "(&)"},
		{"unknown in or drops out", orX(cmp("manager.value", bridge.OpEq, "nobody"), cmp("userName", bridge.OpEq, "a")), "(uid=a)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tb.Filter(context.Background(), tc.x, newRefs())
			if err != nil {
				t.Fatalf("Filter: %v", err)
			}
			if got := f.String(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestFilterInvalid(t *testing.T) {
	tb := loadExample(t)
	tests := []struct {
		name string
		x    bridge.Expr
		msg  string
	}{
		{"unmapped core", cmp("nickName", bridge.OpEq, "x"), "nickName cannot be filtered on"},
		{"unknown", cmp("shoeSize", bridge.OpEq, "x"), "shoeSize cannot be filtered on"},
		{"unmapped enterprise", cmp(ent+":costCenter", bridge.OpEq, "x"), "costCenter cannot be filtered on"},
		{"unknown URN", cmp("urn:okta:onprem_app:1.0:user:custom:departmentName", bridge.OpEq, "x"), "cannot be filtered on"},
		{"unmapped sub", cmp("name.middleName", bridge.OpEq, "x"), "cannot be filtered on"},
		{"co on boolean", cmp("active", bridge.OpCo, "t"), "active"},
		{"gt on id", cmp("id", bridge.OpGt, "a"), "id"},
		{"bad date", cmp("meta.lastModified", bridge.OpGt, "yesterday"), "RFC 3339"},
		{"meta.version", cmp("meta.version", bridge.OpEq, "x"), "cannot be filtered on"},
		{"co with number", cmp("title", bridge.OpCo, float64(3)), "string"},
		{"primary", vp("emails", cmp("primary", bridge.OpEq, true)), "primary"},
		{"value path on single", vp("userName", cmp("value", bridge.OpEq, "x")), "no values"},
		{"nil", nil, "empty"},
		{"manager gt", cmp("manager.value", bridge.OpGt, "x"), "manager"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tb.Filter(context.Background(), tc.x, newRefs())
			if err == nil {
				t.Fatalf("Filter = %s, want an error", f)
			}
			if k := bridge.KindOf(err); k != bridge.KindInvalidFilter {
				t.Errorf("kind %v, want invalid_filter (%v)", k, err)
			}
			if msg := bridge.SafeMessage(err); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not mention %q", msg, tc.msg)
			}
		})
	}
}

// A filter nested deeper than any client sends is refused, not recursed.
func TestFilterDepth(t *testing.T) {
	tb := loadExample(t)
	var x bridge.Expr = cmp("userName", bridge.OpEq, "a")
	for i := 0; i < 200; i++ {
		x = &bridge.NotExpr{X: x}
	}
	if _, err := tb.Filter(context.Background(), x, newRefs()); bridge.KindOf(err) != bridge.KindInvalidFilter {
		t.Fatalf("err = %v, want invalid_filter", err)
	}
}

// Values go through the row's transforms before they reach the filter.
func TestFilterAppliesTransforms(t *testing.T) {
	tb, err := Parse("t.toml", []byte(`
resource = "User"
container = "ou=people,dc=example,dc=com"
object_classes = ["inetOrgPerson"]
rdn = "uid={{.userName}}"
[[attribute]]
scim = "userName"
ldap = "uid"
transform = ["trim", "lower"]
[[attribute]]
scim = "name.familyName"
ldap = "sn"
transform = ["upper"]
`), withStandard(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	for x, want := range map[bridge.Expr]string{
		cmp("userName", bridge.OpEq, " JDoe "):    "(uid=jdoe)",
		cmp("name.familyName", bridge.OpSw, "do"): "(sn=DO*)",
		cmp("userName", bridge.OpEq, ""):          "(!(uid=*))",
	} {
		f, err := tb.Filter(context.Background(), x, nil)
		if err != nil {
			t.Fatal(err)
		}
		if f.String() != want {
			t.Errorf("%v: got %s, want %s", x, f, want)
		}
	}
}

func TestOktaCustomExtension(t *testing.T) {
	tb, err := Load("../conf/examples/openldap-okta-users.toml", withStandard(Options{BaseDN: "dc=example,dc=com"}))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tb.Filter(context.Background(), cmp("urn:okta:onprem_app:1.0:user:custom:departmentName", bridge.OpEq, "x"), newRefs())
	if err != nil || f.String() != "(businessCategory=x)" {
		t.Fatalf("filter %v, %v", f, err)
	}
	tb, err = Load("../conf/examples/openldap-okta-users.toml", withStandard(Options{Vars: map[string]string{"okta_app": "hr_app"}}))
	if err != nil {
		t.Fatal(err)
	}
	if tb.ResourceType().Extension("urn:okta:hr_app:1.0:user:custom") == nil {
		t.Fatal("okta_app not substituted")
	}
}

func TestGroupsExample(t *testing.T) {
	tb, err := Load("../conf/examples/openldap-groups.toml", withStandard(Options{BaseDN: "dc=corp,dc=test"}))
	if err != nil {
		t.Fatal(err)
	}
	rt := tb.ResourceType()
	if rt.Name != "Group" || rt.Schema.Attr("displayName") == nil || rt.Schema.Attr("members") == nil || rt.Schema.Attr("active") != nil {
		t.Fatalf("group schema %+v", rt.Schema)
	}
	f, err := tb.Filter(context.Background(), cmp("displayName", bridge.OpEq, "Admins"), newRefs())
	if err != nil || f.String() != "(cn=Admins)" {
		t.Fatalf("filter %v, %v", f, err)
	}
	plan, err := tb.NewEntry(context.Background(), bridge.Resource{Attrs: map[string]any{"displayName": "R&D, Ops"}}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	if plan.DN != `cn=R&D\, Ops,ou=groups,dc=corp,dc=test` || plan.Attrs["member"][0] != "cn=nobody,dc=corp,dc=test" {
		t.Errorf("plan %+v", plan)
	}
}
