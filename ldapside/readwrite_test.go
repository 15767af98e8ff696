package ldapside

import (
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// TestModifyPlannedOnCurrent: a modify given the caller's read of the entry
// writes in one operation without reading it again and returns the entry
// from the Post-Read control; given a read that is no longer true (changed,
// renamed, deleted) it never writes a plan made on it, and the result is
// what planning on a fresh read gives.
func TestModifyPlannedOnCurrent(t *testing.T) {
	o, c := startDirectory(t, nil)
	ctx := tctx(t)
	attrs := []string{"uid", "title", "mail", "sn", "cn"}
	add := func(uid string) *bridge.Entry {
		t.Helper()
		e, err := c.Add(ctx, bridge.AddRequest{DN: "uid=" + uid + "," + o.PeopleDN, Attrs: map[string][]string{
			"objectClass": {"inetOrgPerson"}, "uid": {uid}, "cn": {uid}, "sn": {"S"}, "title": {"A"}}, Return: attrs})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	modify := func(cur *bridge.Entry, disabled *bool, changes ...bridge.Change) (*bridge.Entry, error) {
		return c.Modify(ctx, bridge.ModifyRequest{ID: cur.ID, Changes: changes, Disabled: disabled, Return: attrs, Current: cur})
	}
	title := func(v string) bridge.Change {
		return bridge.Change{Op: bridge.ChangeReplace, Attr: "title", Values: []string{v}}
	}
	yes := true

	// Fresh: one operation, nothing read, the entry as written returned.
	a := add("fresh")
	on, pr, read := c.onCurrent.Load(), c.postRead.Load(), c.singleReads.Load()
	got, err := modify(a, &yes, title("B"))
	if err != nil {
		t.Fatal(err)
	}
	if got.First("title") != "B" || !got.Disabled || got.Version == a.Version || got.ID != a.ID || got.DN != a.DN {
		t.Errorf("fresh: got title %q disabled %t version %q (was %q), id %q dn %q", got.First("title"), got.Disabled, got.Version, a.Version, got.ID, got.DN)
	}
	if c.onCurrent.Load() != on+1 || c.postRead.Load() != pr+1 {
		t.Errorf("fresh: planned on current %d, post-read %d times, want 1 and 1 (the test slapd offers both controls)",
			c.onCurrent.Load()-on, c.postRead.Load()-pr)
	}
	if n := c.singleReads.Load() - read; n != 0 {
		t.Errorf("fresh: read %d entries, want none", n)
	}

	// Stale: the entry changed after the caller read it. A plan on the
	// stale read would write nothing (title is already "A" there) or lose
	// the other change; the assertion refuses it and the fresh plan runs.
	b := add("stale")
	if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: b.ID, Changes: []bridge.Change{title("Y"),
		{Op: bridge.ChangeAdd, Attr: "mail", Values: []string{"s@example.com"}}}}); err != nil {
		t.Fatal(err)
	}
	on = c.onCurrent.Load()
	got, err = modify(b, nil, title("A"), bridge.Change{Op: bridge.ChangeReplace, Attr: "sn", Values: []string{"T"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.First("title") != "A" || got.First("mail") != "s@example.com" || got.First("sn") != "T" {
		t.Errorf("stale: title %q mail %q sn %v, want A, the other writer's mail, T", got.First("title"), got.First("mail"), got.Values("sn"))
	}
	if c.onCurrent.Load() != on {
		t.Error("stale: the plan made on the stale read was applied")
	}

	// Renamed by someone else: found again by id.
	r := add("moved")
	if err := c.with(ctx, nil, func(pc *pconn) error {
		return pc.l.ModifyDN(ldap.NewModifyDNRequest(r.DN, "uid=moved2", true, ""))
	}); err != nil {
		t.Fatal(err)
	}
	got, err = modify(r, nil, title("M"))
	if err != nil {
		t.Fatal(err)
	}
	if got.First("title") != "M" || got.DN != "uid=moved2,"+o.PeopleDN {
		t.Errorf("renamed: title %q at %q", got.First("title"), got.DN)
	}

	// Deleted: not found, nothing created.
	d := add("gone")
	if err := c.Delete(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := modify(d, nil, title("G")); bridge.KindOf(err) != bridge.KindNotFound {
		t.Errorf("deleted: %v, want not found", err)
	}

	// A control that decodes to nothing usable is not taken for an entry.
	if e := postReadEntry([]ldap.Control{ldap.NewControlString(oidPostRead, false, "\x30\x00")}); e != nil {
		t.Errorf("garbage post-read value decoded to %+v", e)
	}
}
