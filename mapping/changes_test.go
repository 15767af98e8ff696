package mapping

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

const ownersTable = head + `
[[attribute]]
scim = "userName"
ldap = "uid"
[[attribute]]
scim = "name.familyName"
ldap = "sn"
required = true
[[attribute]]
scim = "title"
ldap = "title"
[[attribute]]
scim = "externalId"
ldap = "description"
owner = "both"
[[attribute]]
scim = "displayName"
ldap = "displayName"
owner = "directory"
[[attribute]]
ldap = "cn"
template = ["{{.name.familyName}}"]
`

func entry(dn string, attrs map[string][]string) *bridge.Entry {
	return &bridge.Entry{ID: "id-1", DN: dn, Attrs: attrs}
}

func changesString(p *bridge.EntryPlan) string {
	var parts []string
	if p.NewRDN != "" {
		parts = append(parts, "rename "+p.NewRDN)
	}
	for _, c := range p.Changes {
		op := map[bridge.ChangeOp]string{bridge.ChangeAdd: "add", bridge.ChangeDelete: "delete", bridge.ChangeReplace: "replace"}[c.Op]
		parts = append(parts, op+" "+c.Attr+"="+strings.Join(c.Values, "|"))
	}
	return strings.Join(parts, "; ")
}

func TestChangesOwners(t *testing.T) {
	tb := mustParse(t, ownersTable)
	cur := entry("uid=jdoe,ou=people,dc=example,dc=com", map[string][]string{
		"uid": {"jdoe"}, "sn": {"Doe"}, "cn": {"Doe"}, "title": {"Boss"}, "description": {"ext-1"}, "displayName": {"Set by HR"},
	})
	tests := []struct {
		name    string
		desired map[string]any
		want    string
	}{
		{"same values: nothing", map[string]any{"userName": "jdoe", "name": map[string]any{"familyName": "Doe"}, "title": "Boss", "externalId": "ext-1"}, ""},
		{"scim-owned missing: removed; both missing: kept; directory: ignored",
			map[string]any{"userName": "jdoe", "name": map[string]any{"familyName": "Doe"}, "displayName": "ignored"}, "replace title="},
		{"both given: written", map[string]any{"userName": "jdoe", "name": map[string]any{"familyName": "Doe"}, "title": "Boss", "externalId": "ext-2"}, "replace description=ext-2"},
		{"case-only change is a change", map[string]any{"userName": "jdoe", "name": map[string]any{"familyName": "Doe"}, "title": "boss", "externalId": "ext-1"}, "replace title=boss"},
		{"one-way row recomputed", map[string]any{"userName": "jdoe", "name": map[string]any{"familyName": "Roe"}, "title": "Boss"}, "replace sn=Roe; replace cn=Roe"},
		{"rename: uid follows the RDN, not a separate change", map[string]any{"userName": "j,doe", "name": map[string]any{"familyName": "Doe"}, "title": "Boss"}, `rename uid=j\,doe`},
		{"case-only userName change: written, not renamed", map[string]any{"userName": "JDoe", "name": map[string]any{"familyName": "Doe"}, "title": "Boss"}, "replace uid=JDoe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tb.Changes(context.Background(), cur, bridge.Resource{Attrs: tc.desired}, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			if got := changesString(p); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// Values an administrator added beside the one SCIM sees stay.
func TestChangesLeavesExtraValues(t *testing.T) {
	tb := mustParse(t, ownersTable)
	cur := entry("uid=jdoe,ou=people,dc=example,dc=com", map[string][]string{
		"uid": {"jdoe", "jd"}, "sn": {"Doe"}, "cn": {"Doe", "Johnny"}, "title": {"Boss", "Chief"},
	})
	r, err := tb.Resource(context.Background(), cur, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	p, err := tb.Changes(context.Background(), cur, r, newRefs())
	if err != nil || !p.Empty() {
		t.Fatalf("Changes(e, Resource(e)) = %s, %v", changesString(p), err)
	}
}

func TestRequiredErrors(t *testing.T) {
	tb := mustParse(t, ownersTable)
	ctx := context.Background()
	_, err := tb.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"userName": "jdoe"}}, newRefs())
	if bridge.KindOf(err) != bridge.KindInvalidValue || bridge.SafeMessage(err) != "sn is required (from name.familyName)" {
		t.Errorf("NewEntry without familyName: %v (%q)", err, bridge.SafeMessage(err))
	}
	_, err = tb.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"name": map[string]any{"familyName": "x"}}}, newRefs())
	if bridge.KindOf(err) != bridge.KindInvalidValue || !strings.Contains(bridge.SafeMessage(err), "userName is required") {
		t.Errorf("NewEntry without userName: %v", err)
	}
	cur := entry("uid=jdoe,ou=people,dc=example,dc=com", map[string][]string{"uid": {"jdoe"}, "sn": {"Doe"}})
	_, err = tb.Changes(ctx, cur, bridge.Resource{Attrs: map[string]any{"userName": "jdoe", "name": map[string]any{"familyName": "   "}}}, newRefs())
	if bridge.KindOf(err) != bridge.KindInvalidValue || !strings.Contains(bridge.SafeMessage(err), "sn is required") {
		t.Errorf("Changes blanking sn: %v", err)
	}
}

func TestManagerReference(t *testing.T) {
	tb := loadExample(t)
	ctx := context.Background()
	base := map[string]any{"userName": "u", "name": map[string]any{"familyName": "F"}}
	with := func(mgr any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		m[ent] = map[string]any{"manager": mgr}
		return m
	}
	plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: with(map[string]any{"value": "mgr-2"})}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Attrs["manager"]; len(got) != 1 || got[0] != `uid=O'Brien\, Pat,ou=people,dc=example,dc=com` {
		t.Errorf("manager = %q", got)
	}
	_, err = tb.NewEntry(ctx, bridge.Resource{Attrs: with(map[string]any{"value": "ghost"})}, newRefs())
	if bridge.KindOf(err) != bridge.KindInvalidValue || bridge.SafeMessage(err) != `manager: no User with id "ghost"` {
		t.Errorf("unknown manager: %v", err)
	}
	if strings.Contains(bridge.SafeMessage(err), "dc=") {
		t.Error("the message carries a DN")
	}

	// Reading: a dangling DN is left out, a known one becomes its id.
	e := entryFrom(plan)
	e.Attrs["manager"] = []string{"uid=gone,ou=people,dc=example,dc=com"}
	r, err := tb.Resource(ctx, e, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Attrs[ent]; ok {
		t.Errorf("dangling manager read as %v", r.Attrs[ent])
	}
	// Same manager spelled differently: no change. Removing it: a delete.
	e.Attrs["manager"] = []string{`UID=O'Brien\2C Pat, ou=People,dc=example,dc=com`}
	p, err := tb.Changes(ctx, e, bridge.Resource{Attrs: with("mgr-2")}, newRefs())
	if err != nil || !p.Empty() {
		t.Errorf("same manager: %s, %v", changesString(p), err)
	}
	p, err = tb.Changes(ctx, e, bridge.Resource{Attrs: base}, newRefs())
	if err != nil || changesString(p) != "replace manager=" {
		t.Errorf("manager removed: %q, %v", changesString(p), err)
	}
}

const groupsTable = `resource = "Group"
container = "ou=groups,dc=example,dc=com"
object_classes = ["top", "groupOfNames"]
rdn = "cn={{.displayName}}"
[[attribute]]
scim = "displayName"
ldap = "cn"
[[attribute]]
scim = "members"
ldap = "member"
reference = ["User", "Group"]
placeholder = "cn=nobody"
`

func TestGroupMembers(t *testing.T) {
	tb := mustParse(t, groupsTable)
	ctx := context.Background()
	plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"displayName": "Admins"}}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Attrs["member"], "|"); got != "cn=nobody" {
		t.Errorf("empty group members = %q, want the placeholder", got)
	}
	e := entryFrom(plan)
	r, err := tb.Resource(ctx, e, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Attrs["members"]; ok {
		t.Errorf("the placeholder was read as a member: %v", r.Attrs["members"])
	}
	desired := map[string]any{"displayName": "Admins", "members": []any{
		map[string]any{"value": "mgr-1"}, map[string]any{"value": "grp-1", "type": "Group"},
	}}
	p, err := tb.Changes(ctx, e, bridge.Resource{Attrs: desired}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	want := "add member=uid=boss,ou=people,dc=example,dc=com|cn=admins,ou=groups,dc=example,dc=com; delete member=cn=nobody"
	if got := changesString(p); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	e = apply(e, p)
	r, err = tb.Resource(ctx, e, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	if got := toJSON(r.Attrs["members"]); !strings.Contains(got, `"type": "Group"`) || !strings.Contains(got, `"value": "mgr-1"`) {
		t.Errorf("members read as %s", got)
	}
	if p, err := tb.Changes(ctx, e, r, newRefs()); err != nil || !p.Empty() {
		t.Errorf("Changes(e, Resource(e)) = %s, %v", changesString(p), err)
	}
	f, err := tb.Filter(ctx, cmp("members.value", bridge.OpEq, "grp-1"), newRefs())
	if err != nil || f.String() != "(member=cn=admins,ou=groups,dc=example,dc=com)" {
		t.Errorf("members filter %v, %v", f, err)
	}
	if f, err := tb.Filter(ctx, cmp("active", bridge.OpEq, true), newRefs()); err == nil {
		t.Errorf("groups have no active, got %s", f)
	}
}

// batchRefs is fakeRefs with BatchIDRefs, counting how it is asked.
type batchRefs struct {
	*fakeRefs
	single, batches int
}

func (b *batchRefs) DNForID(ctx context.Context, typ, id string) (string, error) {
	b.single++
	return b.fakeRefs.DNForID(ctx, typ, id)
}

func (b *batchRefs) DNsForIDs(_ context.Context, typ string, ids []string) (map[string]string, error) {
	b.batches++
	out := map[string]string{}
	for _, id := range ids {
		if dn, ok := b.dns[typ+"/"+id]; ok {
			out[strings.ToLower(id)] = dn
		}
	}
	return out, nil
}

// TestGroupMembersInBatches: a PATCH naming many members resolves them in
// one batch per resource type instead of one lookup per member, with the
// answer DNForID one at a time gives: the same changes, the same unknown
// ids refused, a typed reference looked for in its type only.
func TestGroupMembersInBatches(t *testing.T) {
	tb := mustParse(t, groupsTable)
	ctx := context.Background()
	refs := newRefs()
	refs.dns["User/same-id"] = "uid=same,ou=people,dc=example,dc=com"
	members := func(vals ...any) *bridge.PatchOp { return &bridge.PatchOp{Path: memberPath(nil), Value: vals} }
	add := members(map[string]any{"value": "mgr-1"}, map[string]any{"value": "grp-1", "type": "Group"},
		map[string]any{"value": "mgr-2"}, map[string]any{"value": "grp-1"}, "mgr-1")
	add.Op = "add"
	remove := members(map[string]any{"value": "mgr-2"}, map[string]any{"value": "same-id", "type": "Group"}, map[string]any{"value": "same-id"})
	remove.Op = "remove"
	unknown := members(map[string]any{"value": "mgr-1"}, map[string]any{"value": "x1"}, map[string]any{"value": "same-id", "type": "Group"})
	unknown.Op = "add"
	for name, ops := range map[string][]bridge.PatchOp{
		"add and remove": {*add, *remove},
		"unknown ids":    {*unknown},
	} {
		want, wok, werr := tb.MemberChanges(ctx, ops, refs)
		b := &batchRefs{fakeRefs: refs}
		got, ok, err := tb.MemberChanges(ctx, ops, b)
		if ok != wok || bridge.SafeMessage(err) != bridge.SafeMessage(werr) || changesOf(got) != changesOf(want) {
			t.Errorf("%s in batches: %s, %t, %v\none at a time: %s, %t, %v", name, changesOf(got), ok, err, changesOf(want), wok, werr)
		}
		if b.single != 0 || b.batches > 2*len(ops) {
			t.Errorf("%s: %d lookups alone and %d batches, want none alone and at most 2 per operation", name, b.single, b.batches)
		}
	}
	// The one-at-a-time answers the comparison stands on.
	if ch, _, err := tb.MemberChanges(ctx, []bridge.PatchOp{*add, *remove}, refs); err != nil ||
		!strings.Contains(changesOf(ch), "cn=admins") || !strings.Contains(changesOf(ch), "uid=same") {
		t.Fatalf("add and remove one at a time: %s, %v", changesOf(ch), err)
	}
	if _, _, err := tb.MemberChanges(ctx, []bridge.PatchOp{*unknown}, refs); !strings.Contains(bridge.SafeMessage(err), `"x1"`) ||
		!strings.Contains(bridge.SafeMessage(err), `"same-id"`) {
		t.Fatalf("unknown ids one at a time: %v", err)
	}
}

func changesOf(ch []bridge.Change) string {
	var parts []string
	for _, c := range ch {
		parts = append(parts, fmt.Sprintf("%d %s=%s", c.Op, c.Attr, strings.Join(c.Values, "|")))
	}
	return strings.Join(parts, "; ")
}
