package main

import (
	"fmt"
	"strings"
	"testing"
)

const bulkRequestURN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

// TestBulkDayOfJoinersMoversLeavers posts an HR system's day in one SCIM
// 2.0 bulk request: two joiners, a group with both named by bulkId, a mover,
// a leaver, and a group creation that fails (an unknown member). An LDAP
// client then sees the group with exactly the joiners, the mover changed,
// the leaver out of the people container, and nothing of the failed
// operation.
func TestBulkDayOfJoinersMoversLeavers(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		sfx := randHex(3)
		mover := g.do("POST", "/v2/Users", oktaUser("bk.mover."+sfx, "Mo", "Ver", "")).must(t, 201, "create mover")
		leaverName := "bk.leaver." + sfx
		leaver := g.do("POST", "/v2/Users", oktaUser(leaverName, "Lea", "Ver", "")).must(t, 201, "create leaver")
		j1, j2 := "bk.join1."+sfx, "bk.join2."+sfx
		team, ghost := "Bulk Team "+sfx, "Bulk Ghost "+sfx

		op := func(method, path, bulkID string, data any) map[string]any {
			o := map[string]any{"method": method, "path": path}
			if bulkID != "" {
				o["bulkId"] = bulkID
			}
			if data != nil {
				o["data"] = data
			}
			return o
		}
		member := func(v string) map[string]any { return map[string]any{"value": v} }
		r := g.do("POST", "/v2/Bulk", map[string]any{
			"schemas": []string{bulkRequestURN},
			"Operations": []any{
				op("POST", "/Users", "j1", oktaUser(j1, "Jo", "Iner", "")),
				op("POST", "/Users", "j2", oktaUser(j2, "Jo", "Inertwo", "")),
				op("POST", "/Groups", "team", map[string]any{"schemas": []string{groupURN}, "displayName": team,
					"members": []any{member("bulkId:j1"), member("bulkId:j2")}}),
				op("PATCH", "/Users/"+mover.str("id"), "", map[string]any{"schemas": []string{patchURN}, "Operations": []any{
					map[string]any{"op": "replace", "path": "title", "value": "Head of Moving"}}}),
				op("DELETE", "/Users/"+leaver.str("id"), "", nil),
				op("POST", "/Groups", "ghost", map[string]any{"schemas": []string{groupURN}, "displayName": ghost,
					"members": []any{member("bulkId:j1"), member(randUUID())}}),
			},
		}).must(t, 200, "bulk")
		ops, _ := r.get("Operations").([]any)
		want := []string{"201", "201", "201", "200", "204", "400"}
		if len(ops) != len(want) {
			t.Fatalf("%d results, want %d: %s", len(ops), len(want), r.Raw)
		}
		for i, w := range want {
			if got := r.str(fmt.Sprintf("Operations.%d.status", i)); got != w {
				t.Fatalf("operation %d: status %q, want %q: %s", i+1, got, w, r.Raw)
			}
		}
		for _, leak := range []string{"dc=example", "ou=people", "ldap result"} {
			if strings.Contains(strings.ToLower(r.Raw), leak) {
				t.Fatalf("bulk response leaks %q: %s", leak, r.Raw)
			}
		}
		j1ID := r.str("Operations.0.location")
		if j1ID == "" || r.str("Operations.0.bulkId") != "j1" || r.str("Operations.0.version") == "" {
			t.Fatalf("POST result: %s", r.Raw)
		}
		j1ID = j1ID[strings.LastIndexByte(j1ID, '/')+1:]
		if got := g.do("GET", "/v2/Users/"+j1ID, nil).must(t, 200, "GET joiner by its location"); got.str("userName") != j1 {
			t.Fatalf("joiner: %s", got.Raw)
		}

		// The audit line of each write names the bulk request and the
		// operation it belongs to.
		if rid := r.Header.Get("X-Request-Id"); rid == "" || !strings.Contains(g.output.String(), "request_id="+rid+".op3") {
			t.Errorf("no audit line of operation 3 of request %q:\n%s", rid, g.output.String())
		}

		// As an application sees the directory.
		dn := func(uid string) string { return strings.ToLower("uid=" + uid + "," + s.PeopleDN) }
		if got := s.memberDNs(t, team); !sameList(got, []string{dn(j1), dn(j2)}) {
			t.Fatalf("members of %q: %v", team, got)
		}
		if es := s.search(t, s.PeopleDN, "(uid=bk.mover."+sfx+")", "title"); len(es) != 1 || es[0].first("title") != "Head of Moving" {
			t.Fatalf("mover: %+v", es)
		}
		if es := s.search(t, s.PeopleDN, "(uid="+leaverName+")", "uid"); len(es) != 0 {
			t.Fatalf("leaver still among the people: %+v", es)
		}
		checkSafeError(t, g.do("GET", "/v2/Users/"+leaver.str("id"), nil), 404)
		if es := s.search(t, s.GroupsDN, "(cn="+ghost+")", "cn"); len(es) != 0 {
			t.Fatalf("the failed operation created %+v", es)
		}
		if got := s.memberOf(t, j1); len(got) != 1 || !strings.HasPrefix(got[0], "cn="+strings.ToLower(team)+",") {
			t.Fatalf("memberOf of a joiner: %v", got)
		}
	})
}
