package ldapside

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// TestMemberChangesReadOnlyTheirValues: value-level adds and deletes on a
// group's member list read only the values they name (Matched Values), not
// the list, and still write exactly what changes: a present value added or
// an absent one deleted is a no-op that leaves Version unchanged.
func TestMemberChangesReadOnlyTheirValues(t *testing.T) {
	o, c := startDirectory(t, nil)
	members := make([]string, 300)
	for i := range members {
		members[i] = fmt.Sprintf("uid=m%03d,%s", i, o.PeopleDN) // member needs no entry behind it
	}
	g, err := c.Add(tctx(t), bridge.AddRequest{DN: "cn=big," + o.GroupsDN, Attrs: map[string][]string{
		"objectClass": {"groupOfNames"}, "cn": {"big"}, "member": members}})
	if err != nil {
		t.Fatal(err)
	}
	modify := func(changes ...bridge.Change) *bridge.Entry {
		t.Helper()
		before := c.valuesMatched.Load()
		e, err := c.Modify(tctx(t), bridge.ModifyRequest{ID: g.ID, Changes: changes, Return: []string{"member"}})
		if err != nil {
			t.Fatalf("Modify(%v): %v", changes, err)
		}
		if n := c.valuesMatched.Load() - before; n > 2 {
			t.Errorf("Modify(%v) read %d member values, want at most the 2 it names", changes, n)
		}
		return e
	}
	// Present (in another case) and absent: no-ops.
	e := modify(bridge.Change{Op: bridge.ChangeAdd, Attr: "member", Values: []string{strings.ToUpper(members[7])}},
		bridge.Change{Op: bridge.ChangeDelete, Attr: "member", Values: []string{"uid=nobody," + o.PeopleDN}})
	if e.Version != g.Version || len(e.Values("member")) != 300 {
		t.Errorf("no-op: Version %q -> %q, %d members", g.Version, e.Version, len(e.Values("member")))
	}
	// One new, one present: only the new one is written.
	e = modify(bridge.Change{Op: bridge.ChangeAdd, Attr: "member", Values: []string{"uid=new," + o.PeopleDN, members[0]}})
	if e.Version == g.Version || len(e.Values("member")) != 301 {
		t.Errorf("add: Version unchanged or %d members, want 301", len(e.Values("member")))
	}
	// Delete one present (named in another case) and one absent.
	e = modify(bridge.Change{Op: bridge.ChangeDelete, Attr: "member", Values: []string{strings.ToUpper(members[5]), "uid=gone," + o.PeopleDN}})
	if got := e.Values("member"); len(got) != 300 || containsFoldAny(got, members[5]) {
		t.Errorf("delete: %d members, member 5 still there: %t", len(got), containsFoldAny(got, members[5]))
	}
	// Add and delete of the same value in one request, in order.
	e = modify(bridge.Change{Op: bridge.ChangeAdd, Attr: "member", Values: []string{members[5]}},
		bridge.Change{Op: bridge.ChangeDelete, Attr: "member", Values: []string{members[5]}})
	if got := e.Values("member"); len(got) != 300 || containsFoldAny(got, members[5]) {
		t.Errorf("add then delete: %d members", len(got))
	}
	if c.valuesMatched.Load() == 0 {
		t.Error("no values were read with Matched Values: the test slapd offers it")
	}
	// A replace still reads (and writes) the whole attribute.
	e, err = c.Modify(tctx(t), bridge.ModifyRequest{ID: g.ID, Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "member", Values: members[:2]}}, Return: []string{"member"}})
	if err != nil || len(e.Values("member")) != 2 {
		t.Fatalf("replace: %v, %d members", err, len(e.Values("member")))
	}
}

func containsFoldAny(vals []string, s string) bool {
	_, ok := containsFold(vals, s)
	return ok
}
