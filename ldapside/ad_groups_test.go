package ldapside

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

// adminConn is a plain go-ldap connection as the administrator, bypassing
// ldapside.
func adminConn(t *testing.T, s *testenv.SambaAD) *ldap.Conn {
	t.Helper()
	l, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.Bind(s.AdminUPN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return l
}

// addContacts makes n contact entries (AD's cheapest object that a group
// can hold) below parent, over a few connections, and returns their DNs.
func addContacts(t *testing.T, s *testenv.SambaAD, parent, prefix string, n int) []string {
	t.Helper()
	dns := make([]string, n)
	for i := range dns {
		dns[i] = fmt.Sprintf("CN=%s%05d,%s", prefix, i, parent)
	}
	var wg sync.WaitGroup
	work := make(chan string)
	for range 4 {
		l := adminConn(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for dn := range work {
				ar := ldap.NewAddRequest(dn, nil)
				ar.Attribute("objectClass", []string{"contact"})
				if err := l.Add(ar); err != nil {
					t.Errorf("add %s: %v", dn, err)
				}
			}
		}()
	}
	for _, dn := range dns {
		work <- dn
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return dns
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = strings.ToLower(v)
	}
	slices.Sort(out)
	return out
}

// adminMembers reads a group's member values as the administrator, asking
// for the whole range explicitly.
func adminMembers(t *testing.T, l *ldap.Conn, dn string) []string {
	t.Helper()
	res, err := l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"member;range=0-*"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range res.Entries[0].Attributes {
		out = append(out, a.Values...)
	}
	return lowerAll(out)
}

// TestADRangeRetrieval reads a 1,200-member group through every read path
// (Get, GetByDN, Search with VLV and paged, the read Modify plans with) in
// ranges of 500 values, as AD answers past MaxValRange, and without ranges
// (Samba's own answer), and checks every member comes back under "member".
// A member beyond the first range can be removed; adding a present one is
// a no-op.
func TestADRangeRetrieval(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s, c, people, _ := startAD(t, nil)
	admin := adminConn(t, s)
	dns := addContacts(t, s, people, "rng", 1200)
	gdn := "CN=big-" + randTag() + "," + people
	ar := ldap.NewAddRequest(gdn, nil)
	ar.Attribute("objectClass", []string{"group"})
	ar.Attribute("member", dns)
	if err := admin.Add(ar); err != nil {
		t.Fatal(err)
	}
	want := lowerAll(dns)
	check := func(what string, e *bridge.Entry) {
		t.Helper()
		for k := range e.Attrs {
			if strings.Contains(k, ";") {
				t.Errorf("%s: attribute %q keeps its range", what, k)
			}
		}
		if got := lowerAll(e.Values("member")); !slices.Equal(got, want) {
			t.Errorf("%s: %d members, want %d", what, len(got), len(want))
		}
	}
	for _, step := range []int{0, 500} {
		c.rangeStep = step
		ctx := tctx(t)
		byDN, err := c.GetByDN(ctx, gdn, []string{"member", "cn"})
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("step %d GetByDN", step), byDN)
		byID, err := c.Get(ctx, people, byDN.ID, []string{"member"})
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("step %d Get", step), byID)
		all, err := c.Get(ctx, people, byDN.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			check("all attributes", all)
		}
		for _, vlv := range []bool{true, false} {
			c.noVLV = !vlv
			res, err := c.Search(ctx, bridge.SearchRequest{Base: people, Filter: bridge.Eq("objectClass", "group"), Attrs: []string{"member"}, Count: 10})
			if err != nil || len(res.Entries) != 1 {
				t.Fatalf("search vlv=%t: %v %v", vlv, res, err)
			}
			check(fmt.Sprintf("step %d search vlv=%t", step, vlv), res.Entries[0])
		}
		c.noVLV = false
	}

	// Modify reads the member list in ranges too: a member past the first
	// range is found and removed; a present one is not added twice.
	c.rangeStep = 500
	ctx := context.Background()
	g, err := c.GetByDN(ctx, gdn, []string{"member"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Modify(ctx, bridge.ModifyRequest{ID: g.ID, Changes: []bridge.Change{
		{Op: bridge.ChangeDelete, Attr: "member", Values: []string{strings.ToUpper(dns[1100])}},
		{Op: bridge.ChangeAdd, Attr: "member", Values: []string{dns[1150]}},
	}, Return: []string{"member"}})
	if err != nil {
		t.Fatalf("Modify: %v", err)
	}
	want = lowerAll(slices.Delete(slices.Clone(dns), 1100, 1101))
	if got := adminMembers(t, admin, gdn); !slices.Equal(got, want) {
		t.Fatalf("after removing member 1,100: %d members", len(got))
	}
	after, err := c.GetByDN(ctx, gdn, []string{"member"})
	if err != nil {
		t.Fatal(err)
	}
	// Removing the absent one and adding present ones changes nothing, not
	// even the version.
	again, err := c.Modify(ctx, bridge.ModifyRequest{ID: g.ID, Changes: []bridge.Change{
		{Op: bridge.ChangeDelete, Attr: "member", Values: []string{dns[1100]}},
		{Op: bridge.ChangeAdd, Attr: "member", Values: []string{dns[3], dns[1199]}},
	}})
	if err != nil {
		t.Fatalf("idempotent Modify: %v", err)
	}
	if again.Version != after.Version {
		t.Errorf("a no-op membership change moved the version from %s to %s", after.Version, again.Version)
	}
	// Another writer's change between our read and our write: the modify
	// itself meets a present value (Samba refuses it even with the
	// Permissive Modify control) and an absent one, and still succeeds.
	err = c.with(ctx, nil, func(pc *pconn) error {
		return c.modifyIdempotent(pc, gdn, []ldap.Change{
			{Operation: ldap.AddAttribute, Modification: ldap.PartialAttribute{Type: "member", Vals: []string{dns[7]}}},
		}, []bridge.Change{{Op: bridge.ChangeAdd, Attr: "member", Values: []string{dns[7]}}}, nil, nil)
	})
	if err != nil {
		t.Errorf("adding a present member: %v", err)
	}
	err = c.with(ctx, nil, func(pc *pconn) error {
		return c.modifyIdempotent(pc, gdn, []ldap.Change{
			{Operation: ldap.DeleteAttribute, Modification: ldap.PartialAttribute{Type: "member", Vals: []string{dns[1100]}}},
		}, []bridge.Change{{Op: bridge.ChangeDelete, Attr: "member", Values: []string{dns[1100]}}}, nil, nil)
	})
	if err != nil {
		t.Errorf("removing an absent member: %v", err)
	}
	if got := adminMembers(t, admin, gdn); !slices.Equal(got, want) {
		t.Fatalf("after the idempotent writes: %d members", len(got))
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string][3]any{
		"member;range=0-1499":     {"member", 0, 1499},
		"member;range=1500-*":     {"member", 1500, -1},
		"memberOf;Range=10-20":    {"memberOf", 10, 20},
		"member;range=5-4":        {nil},
		"member":                  {nil},
		"member;range=x-*":        {nil},
		"member;range=0-1499;x=y": {"member", 0, 1499},
	} {
		attr, lo, hi, ok := parseRange(in)
		if want[0] == nil {
			if ok {
				t.Errorf("%q parsed", in)
			}
			continue
		}
		if !ok || attr != want[0] || lo != want[1] || hi != want[2] {
			t.Errorf("%q: %q %d %d %t", in, attr, lo, hi, ok)
		}
	}
}

// TestADNestedGroups: the groups an entry is in through other groups, by
// LDAP_MATCHING_RULE_IN_CHAIN, when VirtualNestedGroups is asked for.
func TestADNestedGroups(t *testing.T) {
	s, c, people, _ := startAD(t, nil)
	admin := adminConn(t, s)
	x := addContacts(t, s, people, "nest", 1)[0]
	inner, outer := "CN=inner-"+randTag()+","+people, "CN=outer-"+randTag()+","+people
	for _, g := range [][2]string{{inner, x}, {outer, inner}} {
		ar := ldap.NewAddRequest(g[0], nil)
		ar.Attribute("objectClass", []string{"group"})
		ar.Attribute("member", []string{g[1]})
		if err := admin.Add(ar); err != nil {
			t.Fatal(err)
		}
	}
	e, err := c.GetByDN(tctx(t), x, []string{"memberOf", bridge.VirtualNestedGroups})
	if err != nil {
		t.Fatal(err)
	}
	if got := lowerAll(e.Values("memberOf")); !slices.Equal(got, lowerAll([]string{inner})) {
		t.Errorf("memberOf: %v", got)
	}
	if got := lowerAll(e.Values(bridge.VirtualNestedGroups)); !slices.Equal(got, lowerAll([]string{inner, outer})) {
		t.Errorf("nested groups: %v", got)
	}
	plain, err := c.GetByDN(tctx(t), x, []string{"memberOf"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.Attrs[bridge.VirtualNestedGroups]; ok {
		t.Errorf("nested groups filled without being asked for")
	}
}
