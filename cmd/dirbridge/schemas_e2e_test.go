package main

import (
	"strings"
	"testing"
)

// TestSchemasTellTheTruth reads /Schemas from the built binary on the
// shipped tables and holds it to what the gateway does: the characteristics
// it publishes are the ones requests meet, every writable attribute it lists
// is stored, and a standard attribute it leaves out is accepted and not
// stored alike in POST and PATCH, and not filterable.
func TestSchemasTellTheTruth(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		list := g.do("GET", "/v2/Schemas", nil).must(t, 200, "schemas")
		schemas := map[string]map[string]any{}
		for _, x := range list.get("Resources").([]any) {
			m := x.(map[string]any)
			schemas[m["id"].(string)] = m
		}
		attr := func(schemaID, name string) map[string]any {
			for _, a := range schemas[schemaID]["attributes"].([]any) {
				if m := a.(map[string]any); strings.EqualFold(m["name"].(string), name) {
					return m
				}
			}
			return nil
		}
		sub := func(a map[string]any, name string) map[string]any {
			for _, x := range a["subAttributes"].([]any) {
				if m := x.(map[string]any); m["name"] == name {
					return m
				}
			}
			return nil
		}
		want := func(what string, a map[string]any, kv ...any) {
			t.Helper()
			if a == nil {
				t.Errorf("%s is not listed", what)
				return
			}
			for i := 0; i < len(kv); i += 2 {
				if a[kv[i].(string)] != kv[i+1] {
					t.Errorf("%s: %s = %v, want %v", what, kv[i], a[kv[i].(string)], kv[i+1])
				}
			}
		}
		want("id", attr(userURN, "id"), "mutability", "readOnly", "returned", "always", "uniqueness", "server")
		want("userName", attr(userURN, "userName"), "required", true, "uniqueness", "server", "mutability", "readWrite")
		want("groups", attr(userURN, "groups"), "mutability", "readOnly")
		want("password", attr(userURN, "password"), "mutability", "writeOnly", "returned", "never")
		// sn is required by the directory, but derived when not sent.
		if name := attr(userURN, "name"); name != nil {
			want("name.familyName", sub(name, "familyName"), "required", false)
			if sub(name, "middleName") != nil {
				t.Error("name.middleName is listed, but the table does not store it")
			}
		}
		if attr(userURN, "nickName") != nil {
			t.Error("nickName is listed, but the table does not store it")
		}
		want("group displayName", attr("urn:ietf:params:scim:schemas:core:2.0:Group", "displayName"), "required", true, "uniqueness", "server")
		if okta := schemas["urn:okta:custom:group:1.0"]; okta == nil || okta["name"] != "CustomGroup" {
			t.Errorf("Okta's group extension is published as %v", okta["name"])
		}

		// Every simple writable core attribute listed is stored and read back.
		body := map[string]any{"schemas": []string{userURN}, "userName": "truth-" + randHex(4)}
		var sent []string
		for _, x := range schemas[userURN]["attributes"].([]any) {
			a := x.(map[string]any)
			n := a["name"].(string)
			if a["type"] != "string" || a["multiValued"] == true || a["mutability"] != "readWrite" || n == "userName" || n == "password" {
				continue
			}
			body[n] = "v-" + n
			sent = append(sent, n)
		}
		if len(sent) < 4 {
			t.Fatalf("only %v listed as simple writable attributes", sent)
		}
		body["nickName"] = "Not Stored"
		c := g.do("POST", "/v2/Users", body).must(t, 201, "create with every listed attribute")
		id := c.str("id")
		got := g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "get")
		for _, n := range sent {
			if got.str(n) != "v-"+n {
				t.Errorf("%s is listed in /Schemas but reads back %q", n, got.str(n))
			}
		}
		// What is not listed is not stored, in POST and in PATCH alike.
		if got.get("nickName") != nil {
			t.Errorf("nickName is not listed, but was stored: %v", got.get("nickName"))
		}
		p := g.do("PATCH", "/v2/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "nickName", "value": "Jo"},
			map[string]any{"op": "add", "path": "name.middleName", "value": "Q"})).must(t, 200, "PATCH of unlisted attributes")
		if p.get("nickName") != nil || p.get("name.middleName") != nil {
			t.Errorf("PATCH stored an unlisted attribute: %s", p.Raw)
		}
		r := g.do("GET", "/v2/Users?filter="+filterQ(`nickName eq "Jo"`), nil)
		checkSafeError(t, r, 400)
		if r.str("scimType") != "invalidFilter" {
			t.Errorf("filter on an unlisted attribute: scimType %q", r.str("scimType"))
		}
	})
}

// TestIncrementalSyncSeesItsOwnSecond: a user changed in the very second a
// client last saw (meta.lastModified) is found by "gt" that timestamp, over
// SCIM 2.0 as over 1.1: directories keep whole seconds.
func TestIncrementalSyncSeesItsOwnSecond(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		c := g.do("POST", "/v2/Users", minimalUser("inc-"+randHex(4))).must(t, 201, "create")
		since := c.str("meta.lastModified")
		r := g.do("GET", "/v2/Users?filter="+filterQ(`meta.lastModified gt "`+since+`"`), nil).must(t, 200, "incremental")
		found := false
		for _, x := range r.get("Resources").([]any) {
			if x.(map[string]any)["id"] == c.str("id") {
				found = true
			}
		}
		if !found {
			t.Fatalf("meta.lastModified gt %s does not find the user last modified at %s", since, since)
		}
	})
}
