package main

import (
	"strings"
	"testing"
)

// TestRefURLsResolve: a user with a manager and a group, and the group with a
// user and a nested group as members, show $ref URLs that, fetched with the
// same credentials, answer 200 with the resource they name.
func TestRefURLsResolve(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		mgr := g.do("POST", "/v2/Users", oktaUser("ref.mgr."+randHex(3), "Man", "Ager", "")).must(t, 201, "create manager")
		u := oktaUser("ref.user."+randHex(3), "Re", "Ference", "")
		u[enterpriseURN] = map[string]any{"manager": map[string]any{"value": mgr.str("id")}}
		user := g.do("POST", "/v2/Users", u).must(t, 201, "create user")
		uid := user.str("id")
		sub := g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": "Ref Sub " + randHex(3),
			"members": []any{map[string]any{"value": mgr.str("id")}}}).must(t, 201, "create nested group")
		grp := g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": "Ref " + randHex(3),
			"members": []any{map[string]any{"value": uid, "type": "User"}, map[string]any{"value": sub.str("id"), "type": "Group"}}}).must(t, 201, "create group")
		gid := grp.str("id")

		// follow fetches a $ref: it must be below this gateway's base URL and
		// answer with the resource whose id it ends in.
		follow := func(ref, endpoint, id string) {
			t.Helper()
			want := g.base + "/v2/" + endpoint + "/" + id
			if ref != want {
				t.Fatalf("$ref %q, want %q", ref, want)
			}
			r := g.do("GET", strings.TrimPrefix(ref, g.base), nil).must(t, 200, "GET "+ref)
			if r.str("id") != id || r.str("meta.location") != ref {
				t.Fatalf("GET %s: %s", ref, r.Raw)
			}
		}
		got := g.do("GET", "/v2/Users/"+uid, nil).must(t, 200, "get user")
		follow(got.str(enterpriseURN+".manager.$ref"), "Users", mgr.str("id"))
		groups, _ := got.get("groups").([]any)
		found := false
		for _, x := range groups {
			if m, _ := x.(map[string]any); m["value"] == gid {
				ref, _ := m["$ref"].(string)
				follow(ref, "Groups", gid)
				found = true
			}
		}
		if !found {
			t.Fatalf("the user's groups do not show %s: %s", gid, got.Raw)
		}
		gr := g.do("GET", "/v2/Groups/"+gid, nil).must(t, 200, "get group")
		members, _ := gr.get("members").([]any)
		if len(members) != 2 {
			t.Fatalf("members: %s", gr.Raw)
		}
		for _, x := range members {
			m, _ := x.(map[string]any)
			ref, _ := m["$ref"].(string)
			id, _ := m["value"].(string)
			switch id {
			case uid:
				follow(ref, "Users", uid)
			case sub.str("id"):
				follow(ref, "Groups", id)
			default:
				t.Fatalf("unexpected member: %s", gr.Raw)
			}
		}
	})
}
