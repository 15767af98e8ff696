package main

import (
	"sort"
	"strings"
	"testing"
)

// RFC 7643 §4.1.1 requires nothing of a user but userName, and §8.1 shows
// such a user; Entra sends rooms and service accounts without a surname.
// These tests create one on every shipped table (OpenLDAP's, the embedded
// default's Okta table, AD's) through the built binary, and check the
// directory and what reads back.

func minimalUser(userName string) map[string]any {
	return map[string]any{"schemas": []string{userURN}, "userName": userName}
}

// keysOf lists a JSON object's keys, sorted.
func keysOf(v any) []string {
	m, _ := v.(map[string]any)
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkMinimalReadBack: the answer holds what was sent and what the server
// adds (id, meta, active, schemas), nothing derived.
func checkMinimalReadBack(t *testing.T, r response, userName, what string) {
	t.Helper()
	if got := r.str("userName"); got != userName {
		t.Errorf("%s: userName %q", what, got)
	}
	for _, k := range keysOf(r.Body) {
		switch k {
		case "schemas", "id", "meta", "userName", "active":
		default:
			t.Errorf("%s: %q is shown, but was not sent (%v)", what, k, r.get(k))
		}
	}
}

func TestMinimalUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		userName := "minimal-" + randHex(4)
		c := g.do("POST", "/v2/Users", minimalUser(userName)).must(t, 201, "create a userName-only user")
		checkMinimalReadBack(t, c, userName, "POST")
		id := c.str("id")
		checkMinimalReadBack(t, g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "get"), userName, "GET")
		es := s.search(t, s.PeopleDN, "(uid="+userName+")", "sn", "cn")
		if len(es) != 1 || es[0].first("sn") != userName || es[0].first("cn") != userName {
			t.Fatalf("directory entry %+v: want sn and cn derived from the userName", es)
		}
		// A displayName given later becomes sn (and cn); still no family name shown.
		p := g.do("PATCH", "/v2/Users/"+id, map[string]any{"schemas": []string{patchURN},
			"Operations": []any{map[string]any{"op": "add", "path": "displayName", "value": "Room 101"}}}).must(t, 200, "add displayName")
		if p.get("name.familyName") != nil {
			t.Errorf("a derived sn is shown as name.familyName: %v", p.get("name"))
		}
		if es := s.search(t, s.PeopleDN, "(uid="+userName+")", "sn", "cn"); len(es) != 1 || es[0].first("sn") != "Room 101" || es[0].first("cn") != "Room 101" {
			t.Fatalf("after displayName: %+v", es)
		}
		// A PUT of the minimal user again: back to the userName.
		checkMinimalReadBack(t, g.do("PUT", "/v2/Users/"+id, minimalUser(userName)).must(t, 200, "PUT minimal"), userName, "PUT")
		if es := s.search(t, s.PeopleDN, "(uid="+userName+")", "sn", "displayName"); len(es) != 1 || es[0].first("sn") != userName || es[0].first("displayName") != "" {
			t.Fatalf("after PUT: %+v", es)
		}
		// The SCIM 1.1 agent's minimal user too.
		u1 := "minimal1-" + randHex(4)
		r := g.do("POST", "/Users", map[string]any{"schemas": []string{"urn:scim:schemas:core:1.0"}, "userName": u1}).must(t, 201, "1.1 create")
		if strings.Contains(r.Raw, "familyName") {
			t.Errorf("1.1 answer shows a family name: %s", r.Raw)
		}
	})
}

func TestADMinimalUser(t *testing.T) {
	s := startWithAD(t)
	g := s.gw
	userName := "minimal." + randHex(4) + "@example.com"
	c := g.do("POST", "/v2/Users", minimalUser(userName)).must(t, 201, "create a userName-only user on AD")
	checkMinimalReadBack(t, c, userName, "POST")
	id := c.str("id")
	checkMinimalReadBack(t, g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "get"), userName, "GET")
	e := s.byUserName(t, userName, "cn", "sAMAccountName", "userPrincipalName", "sn")
	local := strings.SplitN(userName, "@", 2)[0]
	if e.first("cn") != userName || !strings.EqualFold(e.first("sAMAccountName"), local) ||
		!strings.EqualFold(e.first("userPrincipalName"), local+"@example.test") || e.first("sn") != "" {
		t.Fatalf("AD entry %+v", e.Attrs)
	}
}
