package mapping

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// userRefs resolves users by id from a map; "down" fails as an unreachable
// directory does.
type userRefs map[string]string

func (u userRefs) DNForID(_ context.Context, typ, id string) (string, error) {
	if id == "down" {
		return "", bridge.Errorf("test", bridge.KindUnavailable, "directory down")
	}
	if dn, ok := u[id]; ok && typ == "User" {
		return dn, nil
	}
	return "", bridge.Errorf("test", bridge.KindNotFound, "no %s %q", typ, id)
}

func (u userRefs) IDForDN(context.Context, string) (string, string, error) {
	return "", "", errors.New("not used")
}

var testUsers = userRefs{"u1": "uid=alice,ou=people,dc=corp,dc=test", "u2": "uid=b(o)b*,ou=people,dc=corp,dc=test"}

func testEntType(t *testing.T, edit func(string) string) *EntitlementType {
	t.Helper()
	data := goodEntitlements
	if edit != nil {
		data = edit(data)
	}
	e, err := ParseEntitlements("e.toml", []byte(data), Options{BaseDN: "dc=corp,dc=test"})
	if err != nil {
		t.Fatal(err)
	}
	return e.Types[0]
}

func TestEntitlementMapperShape(t *testing.T) {
	et := testEntType(t, nil)
	m := NewEntitlementMapper(et)
	rt := m.ResourceType()
	if rt.Name != "Role" || rt.Endpoint != "/Roles" || rt.Schema.ID != RoleSchemaURN || rt.Schema.Description != "Application roles" {
		t.Errorf("resource type: %+v", rt)
	}
	var attrs []string
	for _, a := range rt.Schema.Attrs {
		attrs = append(attrs, a.Name)
	}
	if !slices.Equal(attrs, []string{"displayName", "type", "description", "members"}) {
		t.Errorf("attributes: %v", attrs)
	}
	if d := rt.Schema.Attr("displayName"); !d.Required || d.Type != bridge.TypeString {
		t.Errorf("displayName: %+v", d)
	}
	if mm := rt.Schema.Attr("members"); mm.Returned != "never" || !mm.MultiValued || mm.Type != bridge.TypeComplex || mm.Sub("value") == nil {
		t.Errorf("members: %+v", mm)
	}
	if rt.Schema.Attr("active") != nil || rt.Schema.Attr("password") != nil {
		t.Error("a value has no lifecycle")
	}
	if m.Container() != "ou=App Roles,dc=corp,dc=test" || m.ObjectFilter() != et.Filter || m.SortAttr() != "cn" {
		t.Errorf("container %q filter %v sort %q", m.Container(), m.ObjectFilter(), m.SortAttr())
	}
	if !slices.Equal(m.DirectoryAttrs(), []string{"objectClass", "cn", "description"}) {
		t.Errorf("directory attrs: %v", m.DirectoryAttrs())
	}
	if m.SearchScope() != bridge.ScopeSub {
		t.Errorf("scope sub: %v", m.SearchScope())
	}
	one := NewEntitlementMapper(testEntType(t, func(s string) string {
		return strings.Replace(s, `filter = "(objectClass=groupOfNames)"`, `filter = "(objectClass=groupOfNames)"`+"\nscope = \"one\"", 1)
	}))
	if one.SearchScope() != bridge.ScopeOne {
		t.Errorf("scope one: %v", one.SearchScope())
	}
	if a, ph := m.MemberPlaceholder(); a != "member" || ph != "cn=nobody,dc=corp,dc=test" {
		t.Errorf("placeholder: %q %q", a, ph)
	}
	if !m.ReadOnly() {
		t.Error("values are read-only")
	}
}

func TestEntitlementMapperResource(t *testing.T) {
	m := NewEntitlementMapper(testEntType(t, nil))
	r, err := m.Resource(context.Background(), &bridge.Entry{ID: "g1", DN: "cn=Admins,ou=App Roles,dc=corp,dc=test",
		Attrs: map[string][]string{"cn": {"Admins"}, "description": {"Administer"}, "member": {"uid=x"}}}, testUsers)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"displayName": "Admins", "type": "Role", "description": "Administer"}
	if len(r.Attrs) != len(want) {
		t.Errorf("attrs: %v", r.Attrs)
	}
	for k, v := range want {
		if r.Attrs[k] != v {
			t.Errorf("%s: %v, want %v", k, r.Attrs[k], v)
		}
	}
	// No description: none shown; no display attribute: the RDN's value.
	r, _ = m.Resource(context.Background(), &bridge.Entry{ID: "g2", DN: `cn=R\2cD,ou=App Roles,dc=corp,dc=test`, Attrs: map[string][]string{}}, testUsers)
	if _, has := r.Attrs["description"]; has || r.Attrs["displayName"] != "R,D" {
		t.Errorf("bare entry: %v", r.Attrs)
	}
}

func TestEntitlementMapperReadOnly(t *testing.T) {
	m := NewEntitlementMapper(testEntType(t, nil))
	ctx := context.Background()
	if _, err := m.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"displayName": "x"}}, testUsers); bridge.KindOf(err) != bridge.KindMethodNotAllowed {
		t.Errorf("NewEntry: %v", err)
	}
	if _, err := m.Changes(ctx, &bridge.Entry{}, bridge.Resource{}, testUsers); bridge.KindOf(err) != bridge.KindMethodNotAllowed {
		t.Errorf("Changes: %v", err)
	}
}

func ecmp(attr string, op bridge.CompareOp, v any) *bridge.CompareExpr {
	a, sub, _ := strings.Cut(attr, ".")
	return &bridge.CompareExpr{Path: bridge.AttrPath{Attr: a, Sub: sub}, Op: op, Value: v}
}

func TestEntitlementMapperFilter(t *testing.T) {
	ctx := context.Background()
	m := NewEntitlementMapper(testEntType(t, nil))
	nested := NewEntitlementMapper(testEntType(t, func(s string) string {
		return strings.Replace(s, `placeholder = "cn=nobody,${base_dn}"`, `placeholder = "cn=nobody,${base_dn}"`+"\nnested = true", 1)
	}))
	for _, c := range []struct {
		m    *EntitlementMapper
		x    bridge.Expr
		want string
	}{
		{m, ecmp("displayName", bridge.OpEq, "Admins"), "(cn=Admins)"},
		{m, ecmp("displayname", bridge.OpNe, "a*b"), `(!(cn=a\2ab))`},
		{m, ecmp("displayName", bridge.OpCo, "dm"), "(cn=*dm*)"},
		{m, ecmp("displayName", bridge.OpSw, "Ad"), "(cn=Ad*)"},
		{m, ecmp("displayName", bridge.OpEw, "ns"), "(cn=*ns)"},
		{m, ecmp("displayName", bridge.OpPr, nil), "(cn=*)"},
		{m, ecmp("description", bridge.OpCo, "(x)"), `(description=*\28x\29*)`},
		{m, ecmp("id", bridge.OpEq, "abc"), "(@id=abc)"},
		{m, ecmp("type", bridge.OpEq, "role"), "(&)"},
		{m, ecmp("type", bridge.OpEq, "License"), "(|)"},
		{m, &bridge.LogicalExpr{Op: "and", Left: ecmp("type", bridge.OpEq, "Role"), Right: ecmp("displayName", bridge.OpEq, "A")}, "(cn=A)"},
		{m, &bridge.LogicalExpr{Op: "or", Left: ecmp("displayName", bridge.OpEq, "A"), Right: ecmp("displayName", bridge.OpEq, "B")}, "(|(cn=A)(cn=B))"},
		{m, &bridge.NotExpr{X: ecmp("displayName", bridge.OpEq, "A")}, "(!(cn=A))"},
		{m, &bridge.CompareExpr{Path: bridge.AttrPath{URN: RoleSchemaURN, Attr: "displayName"}, Op: bridge.OpEq, Value: "A"}, "(cn=A)"},
		{m, ecmp("members.value", bridge.OpEq, "u1"), "(member=uid=alice,ou=people,dc=corp,dc=test)"},
		{m, ecmp("members.value", bridge.OpEq, "u2"), `(member=uid=b\28o\29b\2a,ou=people,dc=corp,dc=test)`},
		{m, ecmp("members", bridge.OpEq, "u1"), "(member=uid=alice,ou=people,dc=corp,dc=test)"},
		{m, &bridge.ValuePathExpr{Path: bridge.AttrPath{Attr: "members"}, Filter: ecmp("value", bridge.OpEq, "u1")}, "(member=uid=alice,ou=people,dc=corp,dc=test)"},
		{m, ecmp("members.value", bridge.OpEq, "nobody"), "(|)"},
		{nested, ecmp("members.value", bridge.OpEq, "u1"), "(member:1.2.840.113556.1.4.1941:=uid=alice,ou=people,dc=corp,dc=test)"},
		{nested, ecmp("displayName", bridge.OpEq, "A"), "(cn=A)"},
	} {
		f, err := c.m.Filter(ctx, c.x, testUsers)
		if err != nil {
			t.Errorf("%v: %v", c.x, err)
			continue
		}
		if f.String() != c.want {
			t.Errorf("%v: %s, want %s", c.x, f, c.want)
		}
	}
	for _, x := range []bridge.Expr{
		ecmp("displayName", bridge.OpGt, "A"),
		ecmp("displayName", bridge.OpEq, 3.0),
		ecmp("members.value", bridge.OpNe, "u1"),
		ecmp("members.display", bridge.OpEq, "x"),
		ecmp("active", bridge.OpEq, true),
		ecmp("meta.lastModified", bridge.OpGt, "2020-01-01T00:00:00Z"),
		ecmp("name.givenName", bridge.OpEq, "x"),
		&bridge.ValuePathExpr{Path: bridge.AttrPath{Attr: "emails"}, Filter: ecmp("value", bridge.OpEq, "x")},
		&bridge.ValuePathExpr{Path: bridge.AttrPath{Attr: "members"}, Filter: ecmp("type", bridge.OpEq, "User")},
		&bridge.CompareExpr{Path: bridge.AttrPath{URN: "urn:other", Attr: "displayName"}, Op: bridge.OpEq, Value: "A"},
	} {
		if _, err := m.Filter(ctx, x, testUsers); bridge.KindOf(err) != bridge.KindInvalidFilter {
			t.Errorf("%v: %v, want invalid filter", x, err)
		}
	}
	if _, err := m.Filter(ctx, ecmp("members.value", bridge.OpEq, "down"), testUsers); bridge.KindOf(err) != bridge.KindUnavailable {
		t.Errorf("unreachable directory: %v", err)
	}
}

func memberPath(filter bridge.Expr) *bridge.PatchPath {
	return &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "members"}, Filter: filter}
}

func TestEntitlementMapperMemberChanges(t *testing.T) {
	ctx := context.Background()
	m := NewEntitlementMapper(testEntType(t, nil))
	alice, bob, ph := testUsers["u1"], testUsers["u2"], "cn=nobody,dc=corp,dc=test"
	ch, ok, err := m.MemberChanges(ctx, []bridge.PatchOp{
		{Op: "add", Path: memberPath(nil), Value: []any{map[string]any{"value": "u1"}, map[string]any{"Value": "u2"}, "u1"}},
	}, testUsers)
	if err != nil || !ok {
		t.Fatalf("add: %v %v", ok, err)
	}
	want := []bridge.Change{{Op: bridge.ChangeAdd, Attr: "member", Values: []string{alice, bob}}, {Op: bridge.ChangeDelete, Attr: "member", Values: []string{ph}}}
	if !changesEqual(ch, want) {
		t.Errorf("add: %+v", ch)
	}
	ch, ok, err = m.MemberChanges(ctx, []bridge.PatchOp{
		{Op: "remove", Path: memberPath(&bridge.LogicalExpr{Op: "or", Left: ecmp("value", bridge.OpEq, "u1"), Right: ecmp("value", bridge.OpEq, "nobody")})},
		{Op: "remove", Path: memberPath(nil), Value: []any{map[string]any{"value": "u2"}}},
	}, testUsers)
	if err != nil || !ok {
		t.Fatalf("remove: %v %v", ok, err)
	}
	want = []bridge.Change{{Op: bridge.ChangeDelete, Attr: "member", Values: []string{alice}}, {Op: bridge.ChangeDelete, Attr: "member", Values: []string{bob}}}
	if !changesEqual(ch, want) {
		t.Errorf("remove: %+v", ch)
	}
	// Path-less, as some clients send it.
	ch, _, err = m.MemberChanges(ctx, []bridge.PatchOp{{Op: "add", Value: map[string]any{"members": []any{map[string]any{"value": "u1"}}}}}, testUsers)
	if err != nil || len(ch) != 2 || ch[0].Values[0] != alice {
		t.Errorf("path-less add: %+v %v", ch, err)
	}
	// Removing an unknown user: nothing to do.
	ch, ok, err = m.MemberChanges(ctx, []bridge.PatchOp{{Op: "remove", Path: memberPath(ecmp("value", bridge.OpEq, "nobody"))}}, testUsers)
	if err != nil || !ok || len(ch) != 0 {
		t.Errorf("remove unknown: %+v %v %v", ch, ok, err)
	}
	// Adding one: refused, naming every unknown id, nothing planned.
	_, _, err = m.MemberChanges(ctx, []bridge.PatchOp{{Op: "add", Path: memberPath(nil), Value: []any{map[string]any{"value": "u1"}, map[string]any{"value": "x1"}, map[string]any{"value": "x2"}}}}, testUsers)
	if bridge.KindOf(err) != bridge.KindInvalidValue || !strings.Contains(bridge.SafeMessage(err), `"x1"`) || !strings.Contains(bridge.SafeMessage(err), `"x2"`) {
		t.Errorf("add unknown: %v", err)
	}
	if _, _, err := m.MemberChanges(ctx, []bridge.PatchOp{{Op: "add", Path: memberPath(nil), Value: []any{map[string]any{"value": "down"}}}}, testUsers); bridge.KindOf(err) != bridge.KindUnavailable {
		t.Errorf("unreachable: %v", err)
	}
	for name, ops := range map[string][]bridge.PatchOp{
		"replace members":  {{Op: "replace", Path: memberPath(nil), Value: []any{map[string]any{"value": "u1"}}}},
		"rename":           {{Op: "replace", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "displayName"}}, Value: "x"}},
		"add with another": {{Op: "add", Path: memberPath(nil), Value: []any{"u1"}}, {Op: "replace", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "description"}}, Value: "x"}},
		"path-less other":  {{Op: "replace", Value: map[string]any{"displayName": "x"}}},
		"members.value":    {{Op: "add", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "members", Sub: "value"}}, Value: "u1"}},
	} {
		if _, _, err := m.MemberChanges(ctx, ops, testUsers); bridge.KindOf(err) != bridge.KindMethodNotAllowed {
			t.Errorf("%s: %v, want method not allowed", name, err)
		}
	}
	// Remove without naming anyone would take the value from everybody.
	if _, _, err := m.MemberChanges(ctx, []bridge.PatchOp{{Op: "remove", Path: memberPath(nil)}}, testUsers); bridge.KindOf(err) != bridge.KindInvalidValue {
		t.Errorf("remove all: %v", err)
	}
	if _, _, err := m.MemberChanges(ctx, []bridge.PatchOp{{Op: "remove", Path: memberPath(ecmp("display", bridge.OpEq, "x"))}}, testUsers); bridge.KindOf(err) != bridge.KindInvalidPath {
		t.Errorf("remove by display: %v", err)
	}
	// Without a placeholder nothing but the add is planned.
	np := NewEntitlementMapper(testEntType(t, func(s string) string { return strings.Replace(s, `placeholder = "cn=nobody,${base_dn}"`, "", 1) }))
	ch, _, err = np.MemberChanges(ctx, []bridge.PatchOp{{Op: "add", Path: memberPath(nil), Value: []any{"u1"}}}, testUsers)
	if err != nil || !changesEqual(ch, []bridge.Change{{Op: bridge.ChangeAdd, Attr: "member", Values: []string{alice}}}) {
		t.Errorf("no placeholder: %+v %v", ch, err)
	}
}

func changesEqual(a, b []bridge.Change) bool {
	return slices.EqualFunc(a, b, func(x, y bridge.Change) bool {
		return x.Op == y.Op && x.Attr == y.Attr && slices.Equal(x.Values, y.Values)
	})
}

func TestEntitlementMapperIDAttr(t *testing.T) {
	ctx := context.Background()
	m := NewEntitlementMapper(testEntType(t, func(s string) string {
		return strings.Replace(s, "[type.value]\ndisplay = \"cn\"", "[type.value]\nid = \"roleCode\"\ndisplay = \"cn\"", 1)
	}))
	if m.IDAttr() != "roleCode" {
		t.Fatalf("IDAttr %q", m.IDAttr())
	}
	if !slices.Contains(m.DirectoryAttrs(), "roleCode") {
		t.Errorf("DirectoryAttrs %v lack the id attribute", m.DirectoryAttrs())
	}
	// Values without the attribute are left out by the directory.
	if got := m.ObjectFilter().String(); got != "(&(objectClass=groupOfNames)(roleCode=*))" {
		t.Errorf("ObjectFilter %s", got)
	}
	for _, c := range []struct {
		x    bridge.Expr
		want string
	}{
		{ecmp("id", bridge.OpEq, "a*(b)"), `(roleCode=a\2a\28b\29)`},
		{ecmp("id", bridge.OpNe, "x"), "(!(roleCode=x))"},
		{ecmp("id", bridge.OpPr, nil), "(&)"},
	} {
		f, err := m.Filter(ctx, c.x, testUsers)
		if err != nil || f.String() != c.want {
			t.Errorf("%v: %v %v, want %s", c.x, f, err, c.want)
		}
	}
	r, err := m.Resource(ctx, &bridge.Entry{ID: "uuid-1", DN: "cn=Admins,ou=App Roles,dc=corp,dc=test",
		Attrs: map[string][]string{"cn": {"Admins"}, "roleCode": {"ADM"}}}, testUsers)
	if err != nil || r.ID != "ADM" {
		t.Errorf("Resource id %q %v, want the attribute's value", r.ID, err)
	}
	// The default stays the immutable id.
	d := NewEntitlementMapper(testEntType(t, nil))
	if d.IDAttr() != "" || d.ObjectFilter() != d.Type().Filter {
		t.Errorf("default: IDAttr %q filter %v", d.IDAttr(), d.ObjectFilter())
	}
}
