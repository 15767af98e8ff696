package main

import (
	"strings"
	"testing"
)

// TestGroupPatchManyMembers: a PATCH that adds or removes many members (as
// Okta's group push sends a group's members) finds their DNs in one search
// for all of them, not one search per member: 5 members are 2 searches
// (the members, the group with the named values) and 1 modify, where they
// were 6 searches and the modify. The members' memberOf, read with
// ldapsearch, follows the add and the removal; a cut at any step leaves
// the group as it was or as asked, never part of it.
func TestGroupPatchManyMembers(t *testing.T) {
	s := startCuttable(t)
	g, p := s.gw, s.proxy
	sent := func() map[string]int {
		n := p.Requests()
		p.Arm(0, 0)
		return n
	}
	base := "many" + randHex(3)
	var ids, dns []string
	for i := range 5 {
		name := base + string(rune('a'+i))
		ids = append(ids, g.do("POST", "/v2/Users", oktaUser(name, "Many", "Members", "")).must(t, 201, "create").str("id"))
		dns = append(dns, "uid="+name+","+s.PeopleDN)
	}
	gid := g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": base}).must(t, 201, "group").str("id")
	groupDN := s.search(t, s.GroupsDN, "(cn="+base+")")
	if len(groupDN) != 1 {
		t.Fatalf("%d groups named %s", len(groupDN), base)
	}
	inGroup := func(dn string) bool {
		t.Helper()
		e := s.search(t, dn, "(objectClass=*)", "memberOf")
		if len(e) != 1 {
			t.Fatalf("%d entries at %s", len(e), dn)
		}
		for _, v := range e[0].Attrs["memberof"] {
			if strings.EqualFold(v, groupDN[0].DN) {
				return true
			}
		}
		return false
	}
	members := func(op string, ids ...string) map[string]any {
		var vals []any
		for _, id := range ids {
			vals = append(vals, map[string]any{"value": id})
		}
		return patchBody(map[string]any{"op": op, "path": "members", "value": vals})
	}
	sent()
	g.do("PATCH", "/v2/Groups/"+gid, members("add", ids...)).must(t, 204, "add 5 members")
	if n := sent(); n["search"] != 2 || n["modify"] != 1 || len(n) != 2 {
		t.Errorf("adding 5 members sent %v, want 2 searches and 1 modify", n)
	}
	for _, dn := range dns {
		if !inGroup(dn) {
			t.Errorf("after the add, %s has no memberOf of the group", dn)
		}
	}
	g.do("PATCH", "/v2/Groups/"+gid, members("remove", ids[:3]...)).must(t, 204, "remove 3 members")
	if n := sent(); n["search"] != 2 || n["modify"] != 1 || len(n) != 2 {
		t.Errorf("removing 3 members sent %v, want 2 searches and 1 modify", n)
	}
	for i, dn := range dns {
		if got := inGroup(dn); got != (i >= 3) {
			t.Errorf("after the removal, memberOf of %s: %t, want %t", dn, got, i >= 3)
		}
	}

	// Cut after every LDAP response of the add: all five or none.
	type state struct{ gid, cn string }
	s.cuts(t, func(i int) any {
		cn := base + "-cut" + randHex(2)
		return state{g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": cn}).must(t, 201, "group").str("id"), cn}
	}, func(st any) response {
		return g.do("PATCH", "/v2/Groups/"+st.(state).gid, members("add", ids...))
	}, func(st any, r response) {
		e := s.search(t, s.GroupsDN, "(cn="+st.(state).cn+")", "member")
		if len(e) != 1 {
			t.Fatalf("%d groups named %s", len(e), st.(state).cn)
		}
		n := 0
		for _, v := range e[0].Attrs["member"] {
			for _, dn := range dns {
				if strings.EqualFold(v, dn) {
					n++
				}
			}
		}
		if n != 0 && n != len(dns) || r.Status/100 == 2 && n != len(dns) {
			t.Errorf("answer %d with %d of the %d members in the group", r.Status, n, len(dns))
		}
	})
}
