package bridge

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// testUserType is a small User resource type with the shapes PATCH cares
// about: simple, complex, multi-valued complex, boolean, an extension with a
// reference.
func testUserType() *ResourceType {
	str := func(name string) AttrDef { return AttrDef{Name: name, Type: TypeString} }
	multi := func(name string) AttrDef {
		return AttrDef{Name: name, Type: TypeComplex, MultiValued: true, SubAttrs: []AttrDef{
			str("value"), str("type"), str("display"), {Name: "primary", Type: TypeBoolean},
		}}
	}
	return &ResourceType{
		Name: "User", Endpoint: "/Users",
		Schema: SchemaDef{ID: UserSchema, Attrs: []AttrDef{
			{Name: "userName", Type: TypeString, Required: true, Uniqueness: "server"},
			{Name: "name", Type: TypeComplex, SubAttrs: []AttrDef{str("givenName"), str("familyName"), str("formatted")}},
			str("displayName"), str("title"), {Name: "externalId", Type: TypeString, CaseExact: true},
			{Name: "active", Type: TypeBoolean},
			{Name: "password", Type: TypeString, Mutability: "writeOnly", Returned: "never"},
			multi("emails"), multi("phoneNumbers"),
			{Name: "groups", Type: TypeComplex, MultiValued: true, Mutability: "readOnly", SubAttrs: []AttrDef{str("value")}},
		}},
		Extensions: []SchemaDef{{ID: EnterpriseSchema, Attrs: []AttrDef{
			str("employeeNumber"), str("department"),
			{Name: "manager", Type: TypeComplex, SubAttrs: []AttrDef{str("value"), str("displayName")}},
		}}},
	}
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func path(attr string) *PatchPath {
	urn, rest := SplitURNPath(attr, []string{UserSchema, EnterpriseSchema})
	p := AttrPath{URN: urn, Attr: rest}
	if i := strings.IndexByte(rest, '.'); i > 0 {
		p.Attr, p.Sub = rest[:i], rest[i+1:]
	}
	return &PatchPath{Attr: p}
}

func eqFilter(attr string, v any) Expr {
	return &CompareExpr{Path: AttrPath{Attr: attr}, Op: OpEq, Value: v}
}

func TestApplyPatchClientDialects(t *testing.T) {
	rt := testUserType()
	rt.Unstored = map[string]map[string]bool{strings.ToLower(UserSchema): {"nickname": true, "name.middlename": true}}
	base := `{"userName":"jdoe","name":{"givenName":"John","familyName":"Doe"},"active":true,
		"emails":[{"value":"j@x.com","type":"work","primary":true}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1","manager":{"value":"m1"}}}`
	tests := []struct {
		name string
		ops  []PatchOp
		want string // JSON of the expected attributes
	}{
		{"okta deactivate path-less", []PatchOp{{Op: "replace", Value: map[string]any{"active": false}}},
			`{"active":false}`},
		{"entra capitalised op with string boolean", []PatchOp{{Op: "Replace", Path: path("active"), Value: "False"}},
			`{"active":false}`},
		{"entra dotted and URN keys", []PatchOp{{Op: "replace", Value: map[string]any{
			"name.givenName": "X", EnterpriseSchema + ":employeeNumber": "7"}}},
			`{"name":{"givenName":"X","familyName":"Doe"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7","manager":{"value":"m1"}}}`},
		{"value filter path replaces the sub-attribute", []PatchOp{{Op: "replace",
			Path: &PatchPath{Attr: AttrPath{Attr: "emails"}, Filter: eqFilter("type", "work"), Sub: "value"}, Value: "new@x.com"}},
			`{"emails":[{"value":"new@x.com","type":"work","primary":true}]}`},
		{"value filter that matches nothing creates the value", []PatchOp{{Op: "add",
			Path: &PatchPath{Attr: AttrPath{Attr: "phoneNumbers"}, Filter: eqFilter("type", "mobile"), Sub: "value"}, Value: "+1 555"}},
			`{"phoneNumbers":[{"value":"+1 555","type":"mobile"}]}`},
		{"manager as bare string", []PatchOp{{Op: "replace", Path: path(EnterpriseSchema + ":manager"), Value: "m2"}},
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1","manager":{"value":"m2"}}}`},
		{"manager as array of one object", []PatchOp{{Op: "replace", Path: path(EnterpriseSchema + ":manager"), Value: []any{map[string]any{"value": "m3"}}}},
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1","manager":{"value":"m3"}}}`},
		{"manager empty string removes it", []PatchOp{{Op: "replace", Path: path(EnterpriseSchema + ":manager"), Value: ""}},
			`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1"}}`},
		{"add email appends without duplicating", []PatchOp{{Op: "add", Path: path("emails"), Value: []any{
			map[string]any{"value": "J@X.com", "type": "work"}, map[string]any{"value": "h@y.com", "type": "home"}}}},
			`{"emails":[{"value":"j@x.com","type":"work","primary":true},{"value":"h@y.com","type":"home"}]}`},
		{"remove by value filter", []PatchOp{{Op: "remove", Path: &PatchPath{Attr: AttrPath{Attr: "emails"}, Filter: eqFilter("type", "work")}}},
			`{"emails":null}`},
		{"remove simple attribute", []PatchOp{{Op: "remove", Path: path("name.givenName")}},
			`{"name":{"familyName":"Doe"}}`},
		{"read-only attribute in a path-less value is ignored", []PatchOp{{Op: "replace", Value: map[string]any{"groups": []any{}, "id": "x", "title": "CTO"}}},
			`{"title":"CTO"}`},
		{"null value removes", []PatchOp{{Op: "replace", Path: path("displayName"), Value: nil}},
			`{"displayName":null}`},
		{"entra: replace of a typed value that is not there adds it with the type", []PatchOp{{Op: "Replace",
			Path: &PatchPath{Attr: AttrPath{Attr: "emails"}, Filter: eqFilter("type", "home"), Sub: "value"}, Value: "h@x.com"}},
			`{"emails":[{"value":"j@x.com","type":"work","primary":true},{"value":"h@x.com","type":"home"}]}`},
		{"remove of externalId unassigns it", []PatchOp{{Op: "remove", Path: path("externalId")}}, `{"externalId":null}`},
		// nickName and name.middleName are in the RFC schema, not stored:
		// ignored, as in a POST body.
		{"unstored attributes are ignored", []PatchOp{{Op: "replace", Path: path("nickName"), Value: "Jo"},
			{Op: "add", Path: path("name.middleName"), Value: "Q"}, {Op: "remove", Path: path("nickName")},
			{Op: "replace", Value: map[string]any{"nickName": "Jo", "title": "CTO"}}},
			`{"title":"CTO","name":{"givenName":"John","familyName":"Doe"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Resource{ID: "1", Attrs: decode(t, base)}
			before := r.Clone()
			got, err := ApplyPatch(rt, r, tc.ops)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r, before) {
				t.Fatal("ApplyPatch modified its input")
			}
			for k, want := range decode(t, tc.want) {
				have, ok := got.Attrs[k]
				if want == nil {
					if ok {
						t.Errorf("%s = %v, want absent", k, have)
					}
					continue
				}
				if !reflect.DeepEqual(have, want) {
					t.Errorf("%s = %#v, want %#v", k, have, want)
				}
			}
		})
	}
}

func TestApplyPatchErrors(t *testing.T) {
	rt := testUserType()
	r := Resource{Attrs: decode(t, `{"userName":"jdoe","emails":[{"value":"a@b","type":"work"}]}`)}
	tests := []struct {
		name string
		ops  []PatchOp
		kind Kind
	}{
		{"unknown op", []PatchOp{{Op: "move", Path: path("title"), Value: "x"}}, KindInvalidSyntax},
		{"remove without path", []PatchOp{{Op: "remove"}}, KindNoTarget},
		{"unknown attribute", []PatchOp{{Op: "replace", Path: path("shoeSize"), Value: "9"}}, KindInvalidPath},
		{"filter on a simple attribute", []PatchOp{{Op: "replace", Path: &PatchPath{Attr: AttrPath{Attr: "title"}, Filter: eqFilter("type", "x")}, Value: "x"}}, KindInvalidPath},
		{"non-equality filter matching nothing", []PatchOp{{Op: "replace", Path: &PatchPath{Attr: AttrPath{Attr: "emails"},
			Filter: &CompareExpr{Path: AttrPath{Attr: "value"}, Op: OpCo, Value: "zzz"}, Sub: "value"}, Value: "x"}}, KindNoTarget},
		{"wrong type for boolean", []PatchOp{{Op: "replace", Path: path("active"), Value: "maybe"}}, KindInvalidValue},
		{"path-less value not an object", []PatchOp{{Op: "add", Value: "x"}}, KindInvalidSyntax},
		{"second op fails: nothing applied", []PatchOp{{Op: "replace", Path: path("title"), Value: "x"}, {Op: "bogus"}}, KindInvalidSyntax},
		// RFC 7644 §3.5.2: an operation incompatible with the attribute's
		// mutability (a required attribute unassigned, a read-only one
		// removed) is mutability, not invalidValue.
		{"remove userName", []PatchOp{{Op: "remove", Path: path("userName")}}, KindMutability},
		{"replace userName with empty", []PatchOp{{Op: "replace", Path: path("userName"), Value: ""}}, KindMutability},
		{"path-less userName empty", []PatchOp{{Op: "replace", Value: map[string]any{"userName": ""}}}, KindMutability},
		{"remove read-only groups", []PatchOp{{Op: "remove", Path: path("groups")}}, KindMutability},
		// RFC 7644 §3.5.2.3: a replace whose filter matches nothing is
		// noTarget, unless it is Entra's [type eq "x"].sub form.
		{"replace with a value filter matching nothing", []PatchOp{{Op: "replace",
			Path: &PatchPath{Attr: AttrPath{Attr: "emails"}, Filter: eqFilter("value", "nobody@x"), Sub: "type"}, Value: "home"}}, KindNoTarget},
		{"replace of whole values matching nothing", []PatchOp{{Op: "replace",
			Path: &PatchPath{Attr: AttrPath{Attr: "emails"}, Filter: eqFilter("type", "home")}, Value: map[string]any{"value": "h@x"}}}, KindNoTarget},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ApplyPatch(rt, r, tc.ops)
			if err == nil {
				t.Fatal("no error")
			}
			if KindOf(err) != tc.kind {
				t.Fatalf("kind %v, want %v (%v)", KindOf(err), tc.kind, err)
			}
			if _, ok := r.Attrs["title"]; ok {
				t.Fatal("input modified")
			}
		})
	}
}

func TestNormalizeClientBodies(t *testing.T) {
	rt := testUserType()
	in := decode(t, `{"schemas":["x"],"id":"zzz","meta":{"resourceType":"User"},"userName":"a","UserName":"ignored-dup?",
		"roles":[],"x509Certificates":null,"active":"True","emails":{"value":"a@b"},"displayName":"",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":7,"manager":"m1"},
		"groups":[{"value":"g"}]}`)
	delete(in, "UserName")
	got, err := Normalize(rt, in)
	if err != nil {
		t.Fatal(err)
	}
	want := decode(t, `{"userName":"a","active":true,"emails":[{"value":"a@b"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7","manager":{"value":"m1"}}}`)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestEscapeAndParseDN(t *testing.T) {
	for _, v := range []string{"Smith, John", "a+b", `q"uote`, "#lead", "trail ", " lead", "Zoë Ünal", `back\slash`, "semi;colon", "<>=", "nul\x00x"} {
		dn := RDN{{Type: "uid", Value: v}}.String() + ",ou=people,dc=example,dc=com"
		rdns, err := ParseDN(dn)
		if err != nil {
			t.Fatalf("%q: %v", dn, err)
		}
		if len(rdns) != 4 || rdns[0][0].Value != v {
			t.Fatalf("%q round-tripped to %#v", v, rdns)
		}
	}
	if !IsUnder("UID=x,OU=People,DC=Example,DC=com", "ou=people,dc=example,dc=com") {
		t.Fatal("IsUnder is case-sensitive")
	}
	if IsUnder("uid=x,ou=leavers,dc=example,dc=com", "ou=people,dc=example,dc=com") {
		t.Fatal("IsUnder matched a sibling")
	}
	for _, bad := range []string{"uid", "=x", "uid=x,", `uid=\4`, "uid=a,,dc=b"} {
		if _, err := ParseDN(bad); err == nil {
			t.Errorf("ParseDN(%q) accepted", bad)
		}
	}
}

func FuzzParseDN(f *testing.F) {
	for _, s := range []string{"uid=a,dc=b", `cn=Smith\, John+uid=x,dc=b`, `cn=\23x`, "", "a=b+c=d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rdns, err := ParseDN(s)
		if err != nil {
			return
		}
		// What parses must survive a render-and-parse round trip.
		again, err := ParseDN(JoinDN(rdns))
		if err != nil {
			t.Fatalf("%q rendered as %q does not parse: %v", s, JoinDN(rdns), err)
		}
		if !reflect.DeepEqual(again, rdns) {
			t.Fatalf("round trip changed %q: %#v vs %#v", s, rdns, again)
		}
	})
}

func TestFilterStringEscapes(t *testing.T) {
	f := And(Eq("uid", "a*b(c)\\d\x00"), Not(Present("mail")), Substrings("cn", "x", []string{"y"}, ""))
	want := `(&(uid=a\2ab\28c\29\5cd\00)(!(mail=*))(cn=x*y*))`
	if got := f.String(); got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestSplitURNPath(t *testing.T) {
	known := []string{UserSchema, EnterpriseSchema}
	for _, c := range []struct{ in, urn, rest string }{
		{"userName", "", "userName"},
		{"name.givenName", "", "name.givenName"},
		{UserSchema + ":userName", UserSchema, "userName"},
		{strings.ToUpper(UserSchema) + ":name.familyName", UserSchema, "name.familyName"},
		{EnterpriseSchema + ":manager.value", EnterpriseSchema, "manager.value"},
		{"URN:IETF:params:scim:schemas:extension:enterprise:2.0:User:department", EnterpriseSchema, "department"},
		{UserSchema, "", UserSchema}, // a URN alone names no attribute
		{UserSchema + "x:a", "", UserSchema + "x:a"},
		{"urn:example:custom:1.0:title", "", "urn:example:custom:1.0:title"},
	} {
		if urn, rest := SplitURNPath(c.in, known); urn != c.urn || rest != c.rest {
			t.Errorf("SplitURNPath(%q) = %q, %q; want %q, %q", c.in, urn, rest, c.urn, c.rest)
		}
	}
}
