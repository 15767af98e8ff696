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

func patchBody(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{patchURN}, "Operations": list}
}

// TestPatchSemantics: RFC 7644 §3.5.2 as the directory sees it.
func TestPatchSemantics(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		userName := "patch-" + randHex(4)
		u := g.do("POST", "/v2/Users", map[string]any{"schemas": []string{userURN}, "userName": userName, "externalId": "ext-" + randHex(4),
			"name": map[string]any{"familyName": "Patch"}}).must(t, 201, "create")
		id := u.str("id")
		// remove of an owner = "both" attribute unassigns it.
		r := g.do("PATCH", "/v2/Users/"+id, patchBody(map[string]any{"op": "remove", "path": "externalId"})).must(t, 200, "remove externalId")
		if r.get("externalId") != nil {
			t.Errorf("externalId still shown after remove: %v", r.get("externalId"))
		}
		if es := s.search(t, s.PeopleDN, "(uid="+userName+")", "description"); len(es) != 1 || es[0].first("description") != "" {
			t.Fatalf("externalId still in the directory after remove: %+v", es)
		}
		// replace with "" unassigns too.
		g.do("PATCH", "/v2/Users/"+id, patchBody(map[string]any{"op": "add", "path": "title", "value": "Boss"})).must(t, 200, "add title")
		g.do("PATCH", "/v2/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "title", "value": ""})).must(t, 200, "replace title with empty")
		if es := s.search(t, s.PeopleDN, "(uid="+userName+")", "title"); len(es) != 1 || es[0].first("title") != "" {
			t.Fatalf("title still in the directory after replace with empty: %+v", es)
		}
		// Required attributes cannot be removed: 400 mutability, nothing written.
		for _, op := range []map[string]any{
			{"op": "remove", "path": "userName"},
			{"op": "replace", "path": "userName", "value": ""},
		} {
			r := g.do("PATCH", "/v2/Users/"+id, patchBody(op))
			checkSafeError(t, r, 400)
			if r.str("scimType") != "mutability" {
				t.Errorf("%v: scimType %q, want mutability", op, r.str("scimType"))
			}
		}
		// A replace whose value filter matches nothing is noTarget...
		r = g.do("PATCH", "/v2/Users/"+id, patchBody(map[string]any{"op": "replace", "path": `emails[value eq "nobody@example.com"].type`, "value": "home"}))
		checkSafeError(t, r, 400)
		if r.str("scimType") != "noTarget" {
			t.Errorf("replace with a filter matching nothing: scimType %q, want noTarget", r.str("scimType"))
		}
		// ... except Entra's way to add a typed value.
		r = g.do("PATCH", "/v2/Users/"+id, patchBody(map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": userName + "@example.com"})).must(t, 200, "Entra's typed add")
		if r.get("emails") == nil {
			t.Fatalf("no email after Entra's typed replace: %s", r.Raw)
		}
		if es := s.search(t, s.PeopleDN, "(uid="+userName+")", "mail", "uid"); len(es) != 1 || es[0].first("mail") != userName+"@example.com" || es[0].first("uid") != userName {
			t.Fatalf("after the typed add: %+v", es)
		}

		// Groups: remove externalId unassigns it as well.
		gr := g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "patch-group-" + randHex(4), "externalId": "gext-" + randHex(4)}).must(t, 201, "create group")
		g.do("PATCH", "/v2/Groups/"+gr.str("id"), patchBody(map[string]any{"op": "remove", "path": "externalId"})).must(t, 204, "remove group externalId")
		if got := g.do("GET", "/v2/Groups/"+gr.str("id"), nil).must(t, 200, "get group"); got.get("externalId") != nil {
			t.Errorf("group externalId still there after remove: %v", got.get("externalId"))
		}
		r = g.do("PATCH", "/v2/Groups/"+gr.str("id"), patchBody(map[string]any{"op": "remove", "path": "displayName"}))
		checkSafeError(t, r, 400)
		if r.str("scimType") != "mutability" {
			t.Errorf("remove group displayName: scimType %q, want mutability", r.str("scimType"))
		}
	})
}
