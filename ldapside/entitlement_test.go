package ldapside

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/scimside"
	"github.com/dirbridge/dirbridge/testenv/embedded"
	"github.com/hashicorp/go-hclog"
)

// entEnv is one directory for the entitlement suite: a bridge.Service over
// mapping.NewEntitlementMapper, run against OpenLDAP, the embedded
// directory and Samba AD with the same steps.
type entEnv struct {
	dir        bridge.Directory
	base       string // where this run's containers go (the base DN)
	people     string
	usersTable string // conf/examples table whose container is moved to usersAt
	usersAt    string // the users table's container: people or above it
	ad         bool
	// nested: the directory evaluates bridge.InChain (AD, embedded); on
	// the others a nested type must fail as misconfigured.
	nested bool
	tag    string // keeps runs on the shared AD apart
}

func (env entEnv) user(name string) bridge.AddRequest {
	if env.ad {
		return adUser(env.people, name)
	}
	return bridge.AddRequest{DN: "uid=" + name + "," + env.people, Attrs: map[string][]string{
		"objectClass": {"inetOrgPerson"}, "uid": {name}, "cn": {name}, "sn": {name},
	}}
}

// group is a value entry; members may be empty on AD only (groupOfNames
// needs one: the placeholder).
func (env entEnv) group(dn, cn, desc string, members ...string) bridge.AddRequest {
	attrs := map[string][]string{"cn": {cn}}
	if desc != "" {
		attrs["description"] = []string{desc}
	}
	if env.ad {
		attrs["objectClass"] = []string{"top", "group"}
		attrs["sAMAccountName"] = []string{"g" + env.tag + cn}
		if len(members) > 0 {
			attrs["member"] = members
		}
	} else {
		attrs["objectClass"] = []string{"groupOfNames"}
		attrs["member"] = append([]string{env.placeholder()}, members...)
	}
	return bridge.AddRequest{DN: dn, Attrs: attrs}
}

func (env entEnv) placeholder() string {
	if env.ad {
		return ""
	}
	return "cn=nobody," + env.base
}

func (env entEnv) groupClass() string {
	if env.ad {
		return "group"
	}
	return "groupOfNames"
}

// entTable is the Role type as an operator writes it, through the loader.
func (env entEnv) entTable(t *testing.T, container string, nested bool) *mapping.EntitlementType {
	t.Helper()
	return env.entTableID(t, container, nested, "")
}

// entTableID is entTable with [type.value] id = idAttr.
func (env entEnv) entTableID(t *testing.T, container string, nested bool, idAttr string) *mapping.EntitlementType {
	t.Helper()
	toml := fmt.Sprintf(`[[type]]
name = "Role"
endpoint = "/Roles"
description = "Application roles"
user_attribute = "roles"
container = %q
scope = "one"
filter = "(objectClass=%s)"
placeholder = %q
nested = %v
[type.value]
id = %q
display = "cn"
description = "description"
`, container, env.groupClass(), env.placeholder(), nested, idAttr)
	e, err := mapping.ParseEntitlements("test-entitlements.toml", []byte(toml), mapping.Options{BaseDN: env.base})
	if err != nil {
		t.Fatal(err)
	}
	return e.Types[0]
}

func memberValues(t *testing.T, dir bridge.Directory, dn string) []string {
	t.Helper()
	e, err := dir.GetByDN(tctx(t), dn, []string{"member"})
	if err != nil {
		t.Fatalf("GetByDN(%s): %v", dn, err)
	}
	var out []string
	for _, v := range e.Values("member") {
		out = append(out, bridge.NormalizeDN(v))
	}
	slices.Sort(out)
	return out
}

func normAll(dns ...string) []string {
	var out []string
	for _, d := range dns {
		if d != "" {
			out = append(out, bridge.NormalizeDN(d))
		}
	}
	slices.Sort(out)
	return out
}

func names(p bridge.Page) []string {
	var out []string
	for _, r := range p.Resources {
		out = append(out, r.String("displayName"))
	}
	return out
}

func membersEq(id string) bridge.Expr {
	return &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "members", Sub: "value"}, Op: bridge.OpEq, Value: id}
}

func addMembers(ids ...string) []bridge.PatchOp {
	var vals []any
	for _, id := range ids {
		vals = append(vals, map[string]any{"value": id})
	}
	return []bridge.PatchOp{{Op: "add", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "members"}}, Value: vals}}
}

func removeMember(id string) []bridge.PatchOp {
	return []bridge.PatchOp{{Op: "remove", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "members"},
		Filter: &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "value"}, Op: bridge.OpEq, Value: id}}}}
}

func runEntitlementSuite(t *testing.T, env entEnv) {
	ctx := tctx(t)
	dir := env.dir
	roles := "ou=App Roles" + env.tag + "," + env.base
	licenses := "ou=Licenses," + roles
	teams := "ou=Teams" + env.tag + "," + env.base
	for _, c := range []string{env.people, roles, licenses, teams} {
		if err := dir.EnsureContainer(ctx, c); err != nil {
			t.Fatalf("EnsureContainer(%s): %v", c, err)
		}
	}
	mk := func(req bridge.AddRequest) *bridge.Entry {
		t.Helper()
		e, err := dir.Add(ctx, req)
		if err != nil {
			t.Fatalf("Add(%s): %v", req.DN, err)
		}
		return e
	}
	alice := mk(env.user("alice" + env.tag))
	bob := mk(env.user("bob" + env.tag))
	admins := mk(env.group("cn=Admins,"+roles, "Admins", "Administer the application"))
	readers := mk(env.group("cn=Readers,"+roles, "Readers", ""))
	gold := mk(env.group("cn=Gold,"+licenses, "Gold", "")) // one level down: not a Role
	sales := mk(env.group("cn=Sales,"+teams, "Sales", "", bob.DN))
	// A role held through a group: Readers has the Sales team as member.
	if _, err := dir.Modify(ctx, bridge.ModifyRequest{ID: readers.ID, Changes: []bridge.Change{{Op: bridge.ChangeAdd, Attr: "member", Values: []string{sales.DN}}}}); err != nil {
		t.Fatal(err)
	}

	opts := mapping.Options{BaseDN: env.base, Container: env.usersAt, Standard: scimside.StandardSchemas()}
	users, err := mapping.Load("../conf/examples/"+env.usersTable, opts)
	if err != nil {
		t.Fatal(err)
	}
	res := bridge.NewResolver(dir, 0)
	res.Register(users)
	et := env.entTable(t, roles, false)
	svc := bridge.NewService(dir, mapping.NewEntitlementMapper(et), res, bridge.ServiceConfig{})

	list := func(x bridge.Expr, start, count int) bridge.Page {
		t.Helper()
		p, err := svc.List(ctx, bridge.Query{Filter: x, StartIndex: start, Count: count})
		if err != nil {
			t.Fatalf("List(%v): %v", x, err)
		}
		return p
	}

	t.Run("list", func(t *testing.T) {
		p := list(nil, 1, 100)
		if p.TotalResults != 2 || !slices.Equal(names(p), []string{"Admins", "Readers"}) {
			t.Fatalf("values: total %d %v (Gold is one level down and must not be listed)", p.TotalResults, names(p))
		}
		a := p.Resources[0]
		if a.ID != admins.ID || a.String("type") != "Role" || a.String("description") != "Administer the application" || a.Meta.ResourceType != "Role" {
			t.Errorf("Admins: %+v", a)
		}
		if _, has := p.Resources[1].Get("description"); has {
			t.Errorf("Readers has no description: %+v", p.Resources[1])
		}
		if _, has := a.Get("members"); has {
			t.Errorf("members are never shown: %+v", a)
		}
		p = list(nil, 2, 1)
		if p.TotalResults != 2 || p.StartIndex != 2 || !slices.Equal(names(p), []string{"Readers"}) {
			t.Errorf("page 2: %+v", p)
		}
		p = list(&bridge.CompareExpr{Path: bridge.AttrPath{Attr: "displayName"}, Op: bridge.OpEq, Value: "admins"}, 1, 10)
		if !slices.Equal(names(p), []string{"Admins"}) {
			t.Errorf("displayName eq \"admins\" (case-insensitive): %v", names(p))
		}
		p = list(&bridge.CompareExpr{Path: bridge.AttrPath{Attr: "displayName"}, Op: bridge.OpSw, Value: "Rea"}, 1, 10)
		if !slices.Equal(names(p), []string{"Readers"}) {
			t.Errorf("displayName sw: %v", names(p))
		}
		p = list(&bridge.CompareExpr{Path: bridge.AttrPath{Attr: "displayName"}, Op: bridge.OpEq, Value: "Gold"}, 1, 10)
		if p.TotalResults != 0 {
			t.Errorf("a License found as a Role: %v", names(p))
		}
	})

	t.Run("get", func(t *testing.T) {
		r, err := svc.Get(ctx, admins.ID)
		if err != nil || r.String("displayName") != "Admins" {
			t.Fatalf("Get: %+v %v", r, err)
		}
		if _, err := svc.Get(ctx, gold.ID); bridge.KindOf(err) != bridge.KindNotFound {
			t.Errorf("Get of a value one level down: %v", err)
		}
		if _, err := svc.Get(ctx, alice.ID); bridge.KindOf(err) != bridge.KindNotFound {
			t.Errorf("Get of a user as a Role: %v", err)
		}
	})

	t.Run("assign and revoke", func(t *testing.T) {
		if err := svc.PatchQuiet(ctx, admins.ID, addMembers(alice.ID)); err != nil {
			t.Fatal(err)
		}
		if got, want := memberValues(t, dir, admins.DN), normAll(alice.DN); !slices.Equal(got, want) {
			t.Errorf("after assign: %v, want %v (placeholder gone)", got, want)
		}
		p := list(membersEq(alice.ID), 1, 10)
		if !slices.Equal(names(p), []string{"Admins"}) {
			t.Errorf("alice holds %v", names(p))
		}
		p = list(&bridge.ValuePathExpr{Path: bridge.AttrPath{Attr: "members"}, Filter: &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "value"}, Op: bridge.OpEq, Value: alice.ID}}, 1, 10)
		if !slices.Equal(names(p), []string{"Admins"}) {
			t.Errorf("members[value eq alice]: %v", names(p))
		}
		// Direct membership only: bob is in Readers through Sales.
		if p := list(membersEq(bob.ID), 1, 10); p.TotalResults != 0 {
			t.Errorf("bob holds %v directly", names(p))
		}
		if p := list(membersEq("no-such-user"), 1, 10); p.TotalResults != 0 {
			t.Errorf("unknown user holds %v", names(p))
		}

		err := svc.PatchQuiet(ctx, readers.ID, addMembers(bob.ID, "no-such-user"))
		if bridge.KindOf(err) != bridge.KindInvalidValue || !strings.Contains(bridge.SafeMessage(err), `"no-such-user"`) {
			t.Errorf("unknown user: %v", err)
		}
		if got, want := memberValues(t, dir, readers.DN), normAll(env.placeholder(), sales.DN); !slices.Equal(got, want) {
			t.Errorf("a refused assignment wrote: %v, want %v", got, want)
		}
		if err := svc.PatchQuiet(ctx, gold.ID, addMembers(alice.ID)); bridge.KindOf(err) != bridge.KindNotFound {
			t.Errorf("assigning a value one level down: %v", err)
		}
		if got, want := memberValues(t, dir, gold.DN), normAll(env.placeholder()); !slices.Equal(got, want) {
			t.Errorf("a refused write changed Gold: %v", got)
		}

		if err := svc.PatchQuiet(ctx, admins.ID, removeMember(alice.ID)); err != nil {
			t.Fatal(err)
		}
		if got, want := memberValues(t, dir, admins.DN), normAll(env.placeholder()); !slices.Equal(got, want) {
			t.Errorf("after revoke: %v, want %v", got, want)
		}
		if p := list(membersEq(alice.ID), 1, 10); p.TotalResults != 0 {
			t.Errorf("alice still holds %v", names(p))
		}
		// Revoking what is not held is what was asked for already.
		if err := svc.PatchQuiet(ctx, admins.ID, removeMember(alice.ID)); err != nil {
			t.Errorf("second revoke: %v", err)
		}
	})

	t.Run("read-only", func(t *testing.T) {
		rename := []bridge.PatchOp{{Op: "replace", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "displayName"}}, Value: "Root"}}
		if err := svc.PatchQuiet(ctx, admins.ID, rename); bridge.KindOf(err) != bridge.KindMethodNotAllowed {
			t.Errorf("rename: %v", err)
		}
		if err := svc.Delete(ctx, admins.ID); bridge.KindOf(err) != bridge.KindMethodNotAllowed {
			t.Errorf("delete: %v", err)
		}
		if _, err := svc.Create(ctx, bridge.Resource{Attrs: map[string]any{"displayName": "New"}}); bridge.KindOf(err) != bridge.KindMethodNotAllowed {
			t.Errorf("create: %v", err)
		}
		if r, err := svc.Get(ctx, admins.ID); err != nil || r.String("displayName") != "Admins" {
			t.Errorf("after refused writes: %+v %v", r, err)
		}
	})

	t.Run("nested", func(t *testing.T) {
		nsvc := bridge.NewService(dir, mapping.NewEntitlementMapper(env.entTable(t, roles, true)), res, bridge.ServiceConfig{})
		p, err := nsvc.List(ctx, bridge.Query{Filter: membersEq(bob.ID), StartIndex: 1, Count: 10})
		if !env.nested {
			if bridge.KindOf(err) != bridge.KindMisconfigured || !strings.Contains(bridge.FixOf(err), "nested = true needs Active Directory") {
				t.Errorf("nested on a directory without in-chain matching: %v (fix %q)", err, bridge.FixOf(err))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(p), []string{"Readers"}) {
			t.Errorf("bob holds %v through Sales, want [Readers]", names(p))
		}
		// A chain two deep, and a cycle, end.
		inner := mk(env.group("cn=Inner,"+teams, "Inner", "", alice.DN))
		if _, err := dir.Modify(ctx, bridge.ModifyRequest{ID: sales.ID, Changes: []bridge.Change{{Op: bridge.ChangeAdd, Attr: "member", Values: []string{inner.DN}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.Modify(ctx, bridge.ModifyRequest{ID: inner.ID, Changes: []bridge.Change{{Op: bridge.ChangeAdd, Attr: "member", Values: []string{sales.DN}}}}); err != nil {
			t.Fatal(err)
		}
		p, err = nsvc.List(ctx, bridge.Query{Filter: membersEq(alice.ID), StartIndex: 1, Count: 10})
		if err != nil || !slices.Equal(names(p), []string{"Readers"}) {
			t.Errorf("alice through Inner and Sales: %v %v", names(p), err)
		}
		if p := list(membersEq(alice.ID), 1, 10); p.TotalResults != 0 {
			t.Errorf("not nested: alice holds %v", names(p))
		}
	})
}

// runEntitlementIDAttrSuite is a type whose values are named by cn
// (value.id = "cn"): the SCIM id is the group's cn, reads and writes find
// the group by it, and the write lands on that group's member values.
func runEntitlementIDAttrSuite(t *testing.T, env entEnv) {
	ctx := tctx(t)
	dir := env.dir
	roles := "ou=Coded Roles" + env.tag + "," + env.base
	for _, c := range []string{env.people, roles} {
		if err := dir.EnsureContainer(ctx, c); err != nil {
			t.Fatalf("EnsureContainer(%s): %v", c, err)
		}
	}
	mk := func(req bridge.AddRequest) *bridge.Entry {
		t.Helper()
		e, err := dir.Add(ctx, req)
		if err != nil {
			t.Fatalf("Add(%s): %v", req.DN, err)
		}
		return e
	}
	carol := mk(env.user("carol" + env.tag))
	admins := mk(env.group("cn=Admins,"+roles, "Admins", "Administer the application"))
	readers := mk(env.group("cn=Readers,"+roles, "Readers", ""))

	opts := mapping.Options{BaseDN: env.base, Container: env.usersAt, Standard: scimside.StandardSchemas()}
	users, err := mapping.Load("../conf/examples/"+env.usersTable, opts)
	if err != nil {
		t.Fatal(err)
	}
	res := bridge.NewResolver(dir, 0)
	res.Register(users)
	svc := bridge.NewService(dir, mapping.NewEntitlementMapper(env.entTableID(t, roles, false, "cn")), res, bridge.ServiceConfig{})
	ids := func(p bridge.Page) []string {
		var out []string
		for _, r := range p.Resources {
			out = append(out, r.ID)
		}
		return out
	}

	t.Run("list", func(t *testing.T) {
		p, err := svc.List(ctx, bridge.Query{StartIndex: 1, Count: 10})
		if err != nil || p.TotalResults != 2 || !slices.Equal(ids(p), []string{"Admins", "Readers"}) {
			t.Fatalf("values: %v total %d %v", ids(p), p.TotalResults, err)
		}
		p, err = svc.List(ctx, bridge.Query{Filter: &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "id"}, Op: bridge.OpEq, Value: "Readers"}, StartIndex: 1, Count: 10})
		if err != nil || !slices.Equal(ids(p), []string{"Readers"}) {
			t.Errorf("id eq Readers: %v %v", ids(p), err)
		}
	})

	t.Run("get", func(t *testing.T) {
		r, err := svc.Get(ctx, "Admins")
		if err != nil || r.ID != "Admins" || r.String("description") != "Administer the application" {
			t.Fatalf("Get(Admins): %+v %v", r, err)
		}
		for _, id := range []string{"Nope", admins.ID, "", "*"} {
			if _, err := svc.Get(ctx, id); bridge.KindOf(err) != bridge.KindNotFound {
				t.Errorf("Get(%q): %v, want not found", id, err)
			}
		}
	})

	t.Run("assign and revoke", func(t *testing.T) {
		if err := svc.PatchQuiet(ctx, "Admins", addMembers(carol.ID)); err != nil {
			t.Fatal(err)
		}
		if got, want := memberValues(t, dir, admins.DN), normAll(carol.DN); !slices.Equal(got, want) {
			t.Errorf("after assign: %v, want %v", got, want)
		}
		if got, want := memberValues(t, dir, readers.DN), normAll(env.placeholder()); !slices.Equal(got, want) {
			t.Errorf("Readers changed: %v, want %v", got, want)
		}
		p, err := svc.List(ctx, bridge.Query{Filter: membersEq(carol.ID), StartIndex: 1, Count: 10})
		if err != nil || !slices.Equal(ids(p), []string{"Admins"}) {
			t.Errorf("carol holds %v %v", ids(p), err)
		}
		r, err := svc.Patch(ctx, "Readers", addMembers(carol.ID))
		if err != nil || r.ID != "Readers" {
			t.Errorf("Patch(Readers): %+v %v", r, err)
		}
		if got, want := memberValues(t, dir, readers.DN), normAll(carol.DN); !slices.Equal(got, want) {
			t.Errorf("after Patch: %v, want %v", got, want)
		}
		if err := svc.PatchQuiet(ctx, "Nope", addMembers(carol.ID)); bridge.KindOf(err) != bridge.KindNotFound {
			t.Errorf("assigning an unknown cn: %v", err)
		}
		// The immutable id is not this type's id.
		if err := svc.PatchQuiet(ctx, admins.ID, removeMember(carol.ID)); bridge.KindOf(err) != bridge.KindNotFound {
			t.Errorf("revoke by the immutable id: %v", err)
		}
		if err := svc.PatchQuiet(ctx, "Admins", removeMember(carol.ID)); err != nil {
			t.Fatal(err)
		}
		if got, want := memberValues(t, dir, admins.DN), normAll(env.placeholder()); !slices.Equal(got, want) {
			t.Errorf("after revoke: %v, want %v", got, want)
		}
	})

	t.Run("ambiguous", func(t *testing.T) {
		// Two values answering to one cn: the table's attribute is not an
		// id here, which the operator must fix; nothing is written.
		dup := env.group("cn=Admins2,"+roles, "Admins2", "")
		dup.Attrs["cn"] = []string{"Admins2", "Admins"}
		mk(dup)
		if _, err := svc.Get(ctx, "Admins"); bridge.KindOf(err) != bridge.KindMisconfigured || !strings.Contains(bridge.FixOf(err), "cn") {
			t.Errorf("Get of a shared cn: %v (fix %q)", err, bridge.FixOf(err))
		}
		if err := svc.PatchQuiet(ctx, "Admins", addMembers(carol.ID)); bridge.KindOf(err) != bridge.KindMisconfigured {
			t.Errorf("assign to a shared cn: %v", err)
		}
		if got, want := memberValues(t, dir, admins.DN), normAll(env.placeholder()); !slices.Equal(got, want) {
			t.Errorf("a refused write changed Admins: %v", got)
		}
	})
}

func TestEntitlementServiceOpenLDAP(t *testing.T) {
	o, c := startDirectory(t, nil)
	runEntitlementSuite(t, entEnv{dir: c, base: o.BaseDN, people: o.PeopleDN, usersAt: o.PeopleDN, usersTable: "openldap-users.toml"})
}

// embeddedEntEnv opens an embedded directory for the entitlement suites;
// it evaluates in-chain filters itself, so nested types run there.
func embeddedEntEnv(t *testing.T) entEnv {
	t.Helper()
	e, err := embedded.OpenEmbedded(embedded.EmbeddedOptions{DataDir: t.TempDir(), AdminPassword: "admin-secret",
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return entEnv{dir: e, base: e.Suffix(), people: "ou=people," + e.Suffix(), usersAt: "ou=people," + e.Suffix(), usersTable: "openldap-users.toml", nested: true}
}

func TestEntitlementServiceEmbedded(t *testing.T) {
	runEntitlementSuite(t, embeddedEntEnv(t))
}

func TestEntitlementServiceAD(t *testing.T) {
	s, c, _, _ := startAD(t, nil)
	// ad-users.toml places users below OU=People (OU=Sales,OU=People,...):
	// this run's users go in an OU of their own below it.
	tag := randTag()
	runEntitlementSuite(t, entEnv{dir: c, base: s.BaseDN, people: "OU=ent-" + tag + ",OU=People," + s.BaseDN,
		usersAt: "OU=People," + s.BaseDN, usersTable: "ad-users.toml", ad: true, nested: true, tag: tag})
}

// TestInChainFilterRendering: the in-chain filter is AD's extensible match
// with the DN escaped, and refused as misconfigured elsewhere.
func TestInChainFilterRendering(t *testing.T) {
	f := bridge.And(bridge.Eq("objectClass", "group"), bridge.InChain("member", `CN=a\,b (x)*,DC=t`))
	got, err := renderFilter(activeDirectory{}, f)
	if want := `(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=a\5c,b \28x\29\2a,DC=t))`; err != nil || got != want {
		t.Errorf("AD: %q %v, want %q", got, err, want)
	}
	if _, err := renderFilter(openLDAP{}, f); bridge.KindOf(err) != bridge.KindMisconfigured {
		t.Errorf("OpenLDAP: %v", err)
	}
	if _, err := renderFilter(activeDirectory{}, bridge.InChain("mem ber", "x")); bridge.KindOf(err) != bridge.KindInvalidFilter {
		t.Errorf("bad attribute: %v", err)
	}
}

func TestEntitlementServiceIDAttrOpenLDAP(t *testing.T) {
	o, c := startDirectory(t, nil)
	runEntitlementIDAttrSuite(t, entEnv{dir: c, base: o.BaseDN, people: o.PeopleDN, usersAt: o.PeopleDN, usersTable: "openldap-users.toml"})
}

func TestEntitlementServiceIDAttrEmbedded(t *testing.T) {
	runEntitlementIDAttrSuite(t, embeddedEntEnv(t))
}
