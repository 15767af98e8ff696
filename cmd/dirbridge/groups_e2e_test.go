package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

const groupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"

// memberDNs lists a group's member DNs as ldapsearch sees them, lower-cased
// and sorted.
func (s *ldapSetup) memberDNs(t *testing.T, cn string) []string {
	t.Helper()
	es := s.search(t, s.GroupsDN, "(cn="+cn+")", "member")
	if len(es) != 1 {
		t.Fatalf("group %q: %d entries", cn, len(es))
	}
	var out []string
	for _, m := range es[0].Attrs["member"] {
		out = append(out, strings.ToLower(m))
	}
	sort.Strings(out)
	return out
}

// memberOf lists the groups a user entry is in, as the directory keeps them.
func (s *ldapSetup) memberOf(t *testing.T, uid string) []string {
	t.Helper()
	es := s.search(t, s.PeopleDN, "(uid="+uid+")", "memberOf")
	if len(es) != 1 {
		t.Fatalf("user %q: %d entries", uid, len(es))
	}
	var out []string
	for _, m := range es[0].Attrs["memberof"] {
		out = append(out, strings.ToLower(m))
	}
	sort.Strings(out)
	return out
}

func sameList(a, b []string) bool {
	return strings.Join(a, "|") == strings.Join(b, "|")
}

// TestOktaGroupPush replays Okta's group push over SCIM 2.0: create, rename,
// members by PUT and by PATCH, delete; after each step ldapsearch shows
// exactly the expected member DNs and memberOf values.
func TestOktaGroupPush(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		var ids, dns []string
		for i := 0; i < 3; i++ {
			un := fmt.Sprintf("gp%d.%s", i, randHex(3))
			u := g.do("POST", "/v2/Users", oktaUser(un, "G", fmt.Sprint(i), "")).must(t, 201, "create user")
			ids = append(ids, u.str("id"))
			dns = append(dns, strings.ToLower("uid="+un+","+s.PeopleDN))
		}
		name := "Engineering " + randHex(3)
		grp := g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": name,
			"members": []any{map[string]any{"value": ids[0], "display": "x"}}}).must(t, 201, "create group")
		gid := grp.str("id")
		if got := s.memberDNs(t, name); !sameList(got, dns[:1]) {
			t.Fatalf("members after create: %v", got)
		}
		checkSafeError(t, g.do("POST", "/v2/Groups", map[string]any{"displayName": strings.ToUpper(name)}), 409)

		// Rename with a path-less replace whose value carries the id.
		renamed := name + " Renamed"
		r := g.do("PATCH", "/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": renamed}}}})
		if r.Status != 204 && r.Status != 200 {
			t.Fatalf("rename: %d %s", r.Status, r.Raw)
		}
		if got := g.do("GET", "/v2/Groups/"+gid, nil).must(t, 200, "get renamed"); got.str("displayName") != renamed {
			t.Fatalf("renamed group: %s", got.Raw)
		}

		// Add two, one of them already present: idempotent.
		g.do("PATCH", "/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": ids[0]}, map[string]any{"value": ids[1]}, map[string]any{"value": ids[2]}}}}}).must(t, 204, "add members")
		if got := s.memberDNs(t, renamed); !sameList(got, dns) {
			t.Fatalf("members after add: %v", got)
		}
		if got := s.memberOf(t, strings.TrimSuffix(strings.TrimPrefix(dns[1], "uid="), ","+strings.ToLower(s.PeopleDN))); len(got) != 1 || !strings.HasPrefix(got[0], "cn=") {
			t.Fatalf("memberOf of a member: %v", got)
		}
		// Okta's remove by value filter; removing an absent member succeeds.
		for i := 0; i < 2; i++ {
			g.do("PATCH", "/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
				map[string]any{"op": "remove", "path": `members[value eq "` + ids[1] + `"]`}}}).must(t, 204, "remove member")
		}
		if got := s.memberDNs(t, renamed); !sameList(got, []string{dns[0], dns[2]}) {
			t.Fatalf("members after remove: %v", got)
		}
		// An unknown member id is a 400 naming it, and nothing of the request is applied.
		bogus := randUUID()
		bad := g.do("PATCH", "/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": ids[1]}, map[string]any{"value": bogus}}}}})
		checkSafeError(t, bad, 400)
		if !strings.Contains(bad.str("detail"), bogus) {
			t.Errorf("the error does not name the unknown id: %s", bad.Raw)
		}
		if got := s.memberDNs(t, renamed); !sameList(got, []string{dns[0], dns[2]}) {
			t.Fatalf("members after a refused add: %v", got)
		}
		// PUT with the full member list replaces it.
		g.do("PUT", "/v2/Groups/"+gid, map[string]any{"schemas": []string{groupURN}, "displayName": renamed,
			"members": []any{map[string]any{"value": ids[1]}}}).must(t, 200, "put members")
		if got := s.memberDNs(t, renamed); !sameList(got, dns[1:2]) {
			t.Fatalf("members after PUT: %v", got)
		}
		// Emptying the group keeps the directory valid and shows no placeholder.
		g.do("PATCH", "/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "remove", "path": `members[value eq "` + ids[1] + `"]`}}}).must(t, 204, "empty the group")
		empty := g.do("GET", "/v2/Groups/"+gid, nil).must(t, 200, "get empty group")
		if m, _ := empty.get("members").([]any); len(m) != 0 {
			t.Fatalf("an empty group shows members: %s", empty.Raw)
		}
		// Listing by displayName, case-insensitively, without members.
		l := g.do("GET", "/v2/Groups?excludedAttributes=members&filter="+filterQ(`displayName eq "`+strings.ToLower(renamed)+`"`), nil).must(t, 200, "filter groups")
		if l.get("totalResults") != float64(1) || l.get("Resources.0.members") != nil {
			t.Fatalf("group filter: %s", l.Raw)
		}
		// Nested group: reads back with type Group.
		sub := g.do("POST", "/v2/Groups", map[string]any{"displayName": "Sub " + randHex(3)}).must(t, 201, "create sub group")
		g.do("PATCH", "/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": sub.str("id")}, map[string]any{"value": ids[0]}}}}}).must(t, 204, "nest")
		got := g.do("GET", "/v2/Groups/"+gid, nil).must(t, 200, "get nested")
		types := map[string]string{}
		for _, m := range got.get("members").([]any) {
			mm := m.(map[string]any)
			types[mm["value"].(string)], _ = mm["type"].(string)
		}
		if types[sub.str("id")] != "Group" || types[ids[0]] != "User" {
			t.Fatalf("member types: %s", got.Raw)
		}
		// A user's groups come from the directory's memberOf.
		u0 := g.do("GET", "/v2/Users/"+ids[0], nil).must(t, 200, "get member")
		if u0.str("groups.0.value") != gid {
			t.Fatalf("user's groups: %s", u0.Raw)
		}
		// Deleting the group leaves its members intact.
		g.do("DELETE", "/v2/Groups/"+gid, nil).must(t, 204, "delete group")
		checkSafeError(t, g.do("GET", "/v2/Groups/"+gid, nil), 404)
		for _, id := range ids {
			g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "member after group delete")
		}
	})
}

// TestEntraGroupDialect: capitalised ops, removal with a value list, many
// members in one operation, $ref null.
func TestEntraGroupDialect(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		var members []any
		var ids []string
		for i := 0; i < 30; i++ {
			u := g.do("POST", "/scim/v2/Users", map[string]any{"userName": fmt.Sprintf("eg%02d.%s", i, randHex(3)),
				"name": map[string]any{"givenName": "E", "familyName": "G"}}).must(t, 201, "create user")
			ids = append(ids, u.str("id"))
			members = append(members, map[string]any{"value": u.str("id"), "$ref": nil})
		}
		name := "Entra Group " + randHex(3)
		grp := g.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
			"displayName": name, "externalId": "ext-" + randHex(3), "members": []any{}}).must(t, 201, "create group")
		gid := grp.str("id")
		g.do("PATCH", "/scim/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "Add", "path": "members", "value": members}}}).must(t, 204, "add 30")
		if got := s.memberDNs(t, name); len(got) != 30 {
			t.Fatalf("%d members after adding 30", len(got))
		}
		g.do("PATCH", "/scim/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "Remove", "path": "members", "value": members[:10]}}}).must(t, 204, "remove 10")
		if got := s.memberDNs(t, name); len(got) != 20 {
			t.Fatalf("%d members after removing 10", len(got))
		}
		withAttrs := g.do("PATCH", "/scim/v2/Groups/"+gid+"?attributes=displayName", map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "Replace", "path": "displayName", "value": name + " 2"}}})
		if withAttrs.Status != 200 || withAttrs.str("displayName") != name+" 2" {
			t.Fatalf("PATCH asking for attributes: %d %s", withAttrs.Status, withAttrs.Raw)
		}
		l := g.do("GET", "/scim/v2/Groups?excludedAttributes=members&filter="+filterQ(`displayName eq "`+name+` 2"`), nil).must(t, 200, "filter")
		if l.get("totalResults") != float64(1) {
			t.Fatalf("filter by displayName: %s", l.Raw)
		}
	})
}
