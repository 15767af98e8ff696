package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestStrictInput sends the bodies the RFCs or JSON forbid (issue 11: bad
// schemas, a member twice in any case, control characters, lone UTF-16
// surrogates, invalid UTF-8 in filters) as POST, PUT and PATCH, in SCIM 2.0
// and 1.1, to the built binary on OpenLDAP and on the embedded directory.
// Each must be a SCIM 400, and afterwards the directory, read with
// ldapsearch, must hold exactly the entries and attribute values it held
// before. Then the same kinds of bodies as clients really send them pass.
func TestStrictInput(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		tag := randHex(3)
		uid := "strict.base." + tag
		id := g.do("POST", "/v2/Users", oktaUser(uid, "Strict", "Base", "Base-Pa55-"+randHex(4))).must(t, 201, "create").str("id")
		gname := "Strict Group " + tag
		gid := g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": gname}).must(t, 201, "create group").str("id")

		snapshot := func() map[string]map[string][]string {
			out := map[string]map[string][]string{}
			for _, base := range []string{s.PeopleDN, s.GroupsDN} {
				for _, e := range s.search(t, base, "(objectClass=*)", "*", "modifyTimestamp") {
					for _, v := range e.Attrs {
						sort.Strings(v)
					}
					out[strings.ToLower(e.DN)] = e.Attrs
				}
			}
			return out
		}
		before := snapshot()
		if len(before) < 3 {
			t.Fatalf("snapshot holds %d entries", len(before))
		}

		core := `"` + userURN + `"`
		user := func(n int, schemas, rest string) string {
			if schemas != "" {
				schemas = `"schemas":` + schemas + `,`
			}
			return fmt.Sprintf(`{%s"userName":"strict.n%d.%s","name":{"givenName":"S","familyName":"T%d"},"password":"Pw-%s-9x"%s}`,
				schemas, n, tag, n, randHex(4), rest)
		}
		bodies := []struct{ name, body, scimType string }{
			{"schemas evil", user(1, `["urn:evil:schema"]`, ""), "invalidSyntax"},
			{"schemas empty", user(2, `[]`, ""), "invalidSyntax"},
			{"schemas not a list", user(3, `"notalist"`, ""), "invalidSyntax"},
			{"schemas evil extension", user(4, `[`+core+`,"urn:evil:ext"]`, ""), "invalidSyntax"},
			{"userName twice", user(5, `[`+core+`]`, `,"USERNAME":"strict.other.`+tag+`"`), "invalidSyntax"},
			{"title twice", user(6, `[`+core+`]`, `,"title":"x","TITLE":"y"`), "invalidSyntax"},
			{"email value twice", user(7, `[`+core+`]`, `,"emails":[{"type":"work","value":"a@example.com","Value":"b@example.com"}]`), "invalidSyntax"},
			{"extension member twice", user(8, `[`+core+`,"`+enterpriseURN+`"]`, `,"`+enterpriseURN+`":{"department":"a","Department":"b"}`), "invalidSyntax"},
			{"NUL", user(9, `[`+core+`]`, `,"title":"a\u0000b"`), "invalidValue"},
			{"password twice", user(10, `[`+core+`]`, `,"displayName":"x","PASSWORD":"Pw-secret-9x"`), "invalidSyntax"},
			{"control in password", `{"schemas":[` + core + `],"userName":"strict.n14.` + tag + `","name":{"givenName":"S","familyName":"T"},"password":"Pw\u0007-secret-9x"}`, "invalidValue"},
			{"lone surrogate in password", `{"schemas":[` + core + `],"userName":"strict.n15.` + tag + `","name":{"givenName":"S","familyName":"T"},"password":"Pw-\ud800-secret"}`, "invalidValue"},
			{"newline in a one-line value", user(11, `[`+core+`]`, `,"title":"a\nb"`), "invalidValue"},
			{"lone surrogate", user(12, `[`+core+`]`, `,"title":"\ud800"`), "invalidValue"},
			{"lone low surrogate", user(13, `[`+core+`]`, `,"displayName":"x\udc00y"`), "invalidValue"},
		}
		expect400 := func(r response, what, scimType string) {
			t.Helper()
			checkSafeError(t, r, 400)
			if scimType != "" && r.str("scimType") != scimType {
				t.Errorf("%s: scimType %q, want %q: %s", what, r.str("scimType"), scimType, r.Raw)
			}
			if strings.Contains(r.Raw, "secret") || strings.Contains(r.Raw, "Pw-") {
				t.Errorf("%s: the answer echoes a password: %s", what, r.Raw)
			}
		}
		for _, b := range bodies {
			expect400(g.do("POST", "/v2/Users", b.body), "POST "+b.name, b.scimType)
			expect400(g.do("PUT", "/v2/Users/"+id, b.body), "PUT "+b.name, b.scimType)
			v1 := strings.ReplaceAll(strings.ReplaceAll(b.body, userURN, core11URN), enterpriseURN, enterprise11URN)
			r := g.do("POST", "/v1/Users", v1)
			if r.Status != 400 {
				t.Errorf("1.1 POST %s: status %d: %s", b.name, r.Status, r.Raw)
			}
			if r = g.do("PUT", "/v1/Users/"+id, v1); r.Status != 400 {
				t.Errorf("1.1 PUT %s: status %d: %s", b.name, r.Status, r.Raw)
			}
		}
		patch := func(schemas, ops string) string {
			if schemas != "" {
				schemas = `"schemas":` + schemas + `,`
			}
			return `{` + schemas + `"Operations":` + ops + `}`
		}
		title := `[{"op":"replace","path":"title","value":"changed"}]`
		patches := []struct{ name, path, body, scimType string }{
			{"schemas evil", "/v2/Users/" + id, patch(`["urn:evil:schema"]`, title), "invalidSyntax"},
			{"schemas core", "/v2/Users/" + id, patch(`[`+core+`]`, title), "invalidSyntax"},
			{"schemas empty", "/v2/Users/" + id, patch(`[]`, title), "invalidSyntax"},
			{"schemas not a list", "/v2/Users/" + id, patch(`"`+patchURN+`"`, title), "invalidSyntax"},
			{"Operations twice", "/v2/Users/" + id, `{"Operations":` + title + `,"operations":[{"op":"replace","path":"displayName","value":"x"}]}`, "invalidSyntax"},
			{"op twice", "/v2/Users/" + id, patch(`["`+patchURN+`"]`, `[{"op":"replace","OP":"remove","path":"title","value":"x"}]`), "invalidSyntax"},
			{"NUL value", "/v2/Users/" + id, patch(`["`+patchURN+`"]`, `[{"op":"replace","path":"title","value":"a\u0000"}]`), "invalidValue"},
			{"lone surrogate value", "/v2/Users/" + id, patch(`["`+patchURN+`"]`, `[{"op":"replace","value":{"displayName":"\udbff"}}]`), "invalidValue"},
			{"control in path", "/v2/Users/" + id, patch(`["`+patchURN+`"]`, `[{"op":"replace","path":"title\u0001","value":"x"}]`), "invalidPath"},
			{"member twice", "/v2/Groups/" + gid, patch(`["`+patchURN+`"]`, `[{"op":"add","path":"members","value":[{"value":"`+id+`","VALUE":"`+id+`"}]}]`), "invalidSyntax"},
			{"group displayName NUL", "/v2/Groups/" + gid, patch(`["`+patchURN+`"]`, `[{"op":"replace","path":"displayName","value":"g\u0000"}]`), "invalidValue"},
		}
		for _, p := range patches {
			expect400(g.do("PATCH", p.path, p.body), "PATCH "+p.name, p.scimType)
		}
		for _, b := range []string{`{"schemas":["urn:evil:schema"],"title":"changed"}`, `{"schemas":["` + core11URN + `"],"title":"a\u0000"}`,
			`{"active":false,"Active":true}`, `{"schemas":["` + core11URN + `"],"title":"\ud800"}`} {
			if r := g.do("PATCH", "/v1/Users/"+id, b); r.Status != 400 {
				t.Errorf("1.1 PATCH %s: status %d: %s", b, r.Status, r.Raw)
			}
		}
		for _, b := range []string{`{"schemas":["urn:evil:schema"],"displayName":"Evil ` + tag + `"}`,
			`{"schemas":["` + groupURN + `"],"displayName":"Evil ` + tag + `","DisplayName":"Twin"}`,
			`{"displayName":"Evil\u0000` + tag + `"}`} {
			expect400(g.do("POST", "/v2/Groups", b), "POST group "+b, "")
			expect400(g.do("PUT", "/v2/Groups/"+gid, b), "PUT group "+b, "")
		}
		for _, q := range []string{"filter=userName+eq+%22%FF%22", "filter=userName+eq+%FF", "filter=userName+eq+%22a%00%22",
			"filter=" + filterQ(`userName eq "\ud800"`)} {
			r := g.do("GET", "/v2/Users?"+q, nil)
			expect400(r, q, "invalidFilter")
		}
		expect400(g.do("POST", "/v2/Users/.search", `{"filter":"userName eq \"\udc00\""}`), "search", "invalidFilter")

		// Nothing was written: the same entries with the same values, and
		// none of the refused users exists.
		after := snapshot()
		if !reflect.DeepEqual(before, after) {
			for dn, a := range after {
				if !reflect.DeepEqual(before[dn], a) {
					t.Errorf("entry %s changed:\nbefore %v\nafter  %v", dn, before[dn], a)
				}
			}
			for dn := range before {
				if _, ok := after[dn]; !ok {
					t.Errorf("entry %s is gone", dn)
				}
			}
		}
		if es := s.search(t, s.BaseDN, "(|(uid=strict.n*."+tag+")(uid=strict.other."+tag+")(cn=Evil*"+tag+"))", "uid"); len(es) != 0 {
			t.Errorf("refused bodies left entries: %+v", es)
		}

		// What clients send still passes: schemas in another case, a
		// surrogate pair, a multi-line address, Entra's group URN, a body
		// without schemas (the start-up banner's curl).
		ok := g.do("POST", "/v2/Users", `{"schemas":["`+strings.ToUpper(userURN)+`"],"userName":"strict.ok.`+tag+`",
			"name":{"givenName":"\ud83d\ude00 Zoë","familyName":"Ünal"},
			"addresses":[{"type":"work","formatted":"1 Main St\nSpringfield"}]}`).must(t, 201, "legitimate body")
		if ok.str("name.givenName") != "\U0001F600 Zoë" || ok.str("addresses.0.formatted") != "1 Main St\nSpringfield" {
			t.Errorf("legitimate values did not round-trip: %s", ok.Raw)
		}
		if e := s.search(t, s.PeopleDN, "(uid=strict.ok."+tag+")", "givenName"); len(e) != 1 || e[0].first("givenName") != "\U0001F600 Zoë" {
			t.Errorf("in the directory: %+v", e)
		}
		g.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
			"displayName": "Strict Entra " + tag}).must(t, 201, "Entra group")
		g.do("POST", "/v2/Users", map[string]any{"userName": "strict.bare." + tag, "name": map[string]any{"givenName": "B", "familyName": "Are"}}).must(t, 201, "no schemas")
	})
}
