package scimside

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// TestHostileInputs: whatever a client sends, the answer is a SCIM error
// with the right 4xx, never a 500.
func TestHostileInputs(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Services) { c.MaxBodyBytes = 64 << 10 })
	r := e.expect(e.do("POST", "/v2/Users", oktaUser("h@example.com")), 201, "create")
	id := r.str("id")
	patch := func(ops string) string { return `{"schemas":["` + patchOpURN + `"],"Operations":` + ops + `}` }

	cases := []struct {
		name, method, path string
		body               string
		hdr                []string
		status             int
		scimType           string
	}{
		{"huge body", "POST", "/v2/Users", `{"userName":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, ""},
		{"deep JSON", "POST", "/v2/Users", strings.Repeat("[", 5000) + strings.Repeat("]", 5000), nil, 400, "invalidSyntax"},
		{"deep object", "POST", "/v2/Users", `{"userName":"x","a":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat("}", 100) + `}`, nil, 400, "invalidSyntax"},
		{"too deep for encoding/json", "POST", "/v2/Users", strings.Repeat("[", 20000), nil, 400, "invalidSyntax"},
		{"bad UTF-8", "POST", "/v2/Users", "{\"userName\":\"\xff\xfe\"}", nil, 400, "invalidSyntax"},
		{"malformed JSON", "POST", "/v2/Users", `{"userName":`, nil, 400, "invalidSyntax"},
		{"trailing data", "POST", "/v2/Users", `{"userName":"x"} {}`, nil, 400, "invalidSyntax"},
		{"array body", "POST", "/v2/Users", `[{"userName":"x"}]`, nil, 400, "invalidSyntax"},
		{"empty body", "POST", "/v2/Users", ``, nil, 400, "invalidSyntax"},
		{"null body", "PUT", "/v2/Users/" + id, `null`, nil, 400, "invalidSyntax"},
		{"wrong types", "POST", "/v2/Users", `{"userName":{"a":1},"active":"maybe"}`, nil, 400, "invalidValue"},
		{"text/plain", "POST", "/v2/Users", `{"userName":"x"}`, []string{"Content-Type", "text/plain"}, 415, ""},
		// curl -d's default label: read as JSON, so a real form is bad JSON.
		{"form", "POST", "/v2/Users", `userName=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, "invalidSyntax"},
		{"xml", "POST", "/v2/Users", `<user/>`, []string{"Content-Type", "application/xml"}, 415, ""},
		{"bad content type", "POST", "/v2/Users", `{"userName":"x"}`, []string{"Content-Type", ";;;"}, 415, ""},
		{"count=abc", "GET", "/v2/Users?count=abc", "", nil, 400, "invalidValue"},
		{"startIndex=1e3", "GET", "/v2/Users?startIndex=1e3", "", nil, 400, "invalidValue"},
		{"bad escape", "GET", "/v2/Users?filter=userName%20eq%20%22100%zz%22", "", nil, 400, "invalidSyntax"},
		{"semicolon", "GET", "/v2/Users?filter=userName;eq", "", nil, 400, "invalidSyntax"},
		{"empty filter", "GET", "/v2/Users?filter=", "", nil, 400, "invalidFilter"},
		{"garbage filter", "GET", "/v2/Users?filter=" + url.QueryEscape(`)(*&^%$#@!`), "", nil, 400, "invalidFilter"},
		{"nested filter", "GET", "/v2/Users?filter=" + strings.Repeat("(", 1000), "", nil, 400, "invalidFilter"},
		{"unknown attribute", "GET", "/v2/Users?filter=" + url.QueryEscape(`shoeSize eq "9"`), "", nil, 400, "invalidFilter"},
		{"search not an object", "POST", "/v2/Users/.search", `"filter"`, nil, 400, "invalidSyntax"},
		{"search filter type", "POST", "/v2/Users/.search", `{"filter":1}`, nil, 400, "invalidFilter"},
		{"search count type", "POST", "/v2/Users/.search", `{"count":"x"}`, nil, 400, "invalidValue"},
		{"search count fraction", "POST", "/v2/Users/.search", `{"count":1.5}`, nil, 400, "invalidValue"},
		{"patch no Operations", "PATCH", "/v2/Users/" + id, `{"schemas":["` + patchOpURN + `"]}`, nil, 400, "invalidSyntax"},
		{"patch empty Operations", "PATCH", "/v2/Users/" + id, patch(`[]`), nil, 400, "invalidSyntax"},
		{"patch Operations object", "PATCH", "/v2/Users/" + id, patch(`{"op":"add"}`), nil, 400, "invalidSyntax"},
		{"patch op not object", "PATCH", "/v2/Users/" + id, patch(`["add"]`), nil, 400, "invalidSyntax"},
		{"patch op move", "PATCH", "/v2/Users/" + id, patch(`[{"op":"move","path":"x"}]`), nil, 400, "invalidSyntax"},
		{"patch op number", "PATCH", "/v2/Users/" + id, patch(`[{"op":1}]`), nil, 400, "invalidSyntax"},
		{"patch add without value", "PATCH", "/v2/Users/" + id, patch(`[{"op":"add","path":"title"}]`), nil, 400, "invalidSyntax"},
		{"patch path number", "PATCH", "/v2/Users/" + id, patch(`[{"op":"add","path":5,"value":1}]`), nil, 400, "invalidSyntax"},
		{"patch garbage path", "PATCH", "/v2/Users/" + id, patch(`[{"op":"add","path":"emails[type eq","value":"x"}]`), nil, 400, "invalidPath"},
		{"patch unknown path", "PATCH", "/v2/Users/" + id, patch(`[{"op":"add","path":"shoeSize","value":"x"}]`), nil, 400, "invalidPath"},
		{"patch remove no path", "PATCH", "/v2/Users/" + id, patch(`[{"op":"remove"}]`), nil, 400, "noTarget"},
		{"patch no target", "PATCH", "/v2/Users/" + id, patch(`[{"op":"replace","path":"emails[value co \"zzz\"].type","value":"x"}]`), nil, 400, "noTarget"},
		{"patch path-less scalar", "PATCH", "/v2/Users/" + id, patch(`[{"op":"replace","value":"x"}]`), nil, 400, "invalidSyntax"},
		{"patch bad boolean", "PATCH", "/v2/Users/" + id, patch(`[{"op":"replace","path":"active","value":"yes"}]`), nil, 400, "invalidValue"},
		{"patch remove core schema", "PATCH", "/v2/Users/" + id, patch(`[{"op":"remove","path":"urn:ietf:params:scim:schemas:core:2.0:User"}]`), nil, 400, "invalidPath"},
		{"put unknown id", "PUT", "/v2/Users/nope", `{"userName":"x"}`, nil, 404, ""},
		{"patch unknown id", "PATCH", "/v2/Users/nope", patch(`[{"op":"replace","path":"title","value":"x"}]`), nil, 404, ""},
		{"method", "BREW", "/v2/Users", "", nil, 405, ""},
		{"DELETE collection", "DELETE", "/v2/Users", "", nil, 405, ""},
		{"POST item", "POST", "/v2/Users/" + id, `{}`, nil, 405, ""},
		{"GET search", "GET", "/v2/Users/.search", "", nil, 405, ""},
		{"PUT schemas", "PUT", "/v2/Schemas", `{}`, nil, 405, ""},
		{"deep path", "GET", "/v2/Users/" + id + "/x/y", "", nil, 404, ""},
		{"unknown schema", "GET", "/v2/Schemas/urn:nope", "", nil, 404, ""},
		{"unknown resource type", "GET", "/v2/ResourceTypes/Nope", "", nil, 404, ""},
		{"SPC with id", "GET", "/v2/ServiceProviderConfig/x", "", nil, 404, ""},
		{"bulk", "POST", "/v2/Bulk", `{}`, nil, 501, ""},
		{"me", "GET", "/v2/Me", "", nil, 501, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := expectT(t, e.do(c.method, c.path, c.body, c.hdr...), c.status, c.name)
			if r.str("scimType") != c.scimType {
				t.Errorf("scimType %q, want %q (%s)", r.str("scimType"), c.scimType, r.body)
			}
			if c.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	if _, err := splitSegments("/Users/%zz"); err == nil {
		t.Error("bad path escape accepted")
	}
	// Nothing above changed the user.
	r = e.expect(e.do("GET", "/v2/Users/"+id, nil), 200, "after")
	if r.str("meta.version") != `W/"1"` {
		t.Errorf("a refused request changed the user: %s", r.body)
	}
}

// A body with no Content-Length (chunked) is cut at the limit as well.
func TestChunkedBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Services) { c.MaxBodyBytes = 1024 })
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"userName":"`))
		for range 100 {
			pw.Write([]byte(strings.Repeat("a", 100)))
		}
		pw.Write([]byte(`"}`))
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.ts.URL+"/v2/Users", pr)
	e.auth(req)
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Errorf("status %d", res.StatusCode)
	}
}

// Okta sends some JSON bodies without Content-Type.
func TestNoContentTypeAccepted(t *testing.T) {
	e := newEnv(t)
	r := e.expect(e.do("POST", "/v2/Users", `{"userName":"nct@example.com"}`, "Content-Type", ""), 201, "no content type")
	if r.header.Get("Content-Type") != scimContentType {
		t.Errorf("content type %q", r.header.Get("Content-Type"))
	}
	e.expect(e.do("POST", "/v2/Users", `{"userName":"json@example.com"}`, "Content-Type", "application/json; charset=utf-8"), 201, "application/json")
}

func TestCountAndStartIndex(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.expect(e.do("POST", "/v2/Users", map[string]any{"userName": fmt.Sprint("c", i)}), 201, "create")
	}
	cases := []struct {
		query             string
		count, startIndex int
		items             float64
	}{
		{"", -1, 1, 3},
		{"count=0", 0, 1, 0},
		{"count=-5", 0, 1, 0},
		{"count=2&startIndex=2", 2, 2, 2},
		{"startIndex=0", -1, 1, 3},
		{"startIndex=-7", -1, 1, 3},
		{"COUNT=1&STARTINDEX=3", 1, 3, 1},
		{"count=99999999999999999999999", maxIndex, 1, 3},
		{"count=%201%20", 1, 1, 1},
	}
	for _, c := range cases {
		r := e.expect(e.do("GET", "/v2/Users?"+c.query, nil), 200, c.query)
		q := e.users.lastQ
		if q.Count != c.count || q.StartIndex != c.startIndex {
			t.Errorf("%s: query count %d startIndex %d", c.query, q.Count, q.StartIndex)
		}
		if lookup(r.json, "itemsPerPage") != c.items || lookup(r.json, "totalResults") != 3.0 {
			t.Errorf("%s: %s", c.query, r.body)
		}
	}
}

func TestSearchEndpoint(t *testing.T) {
	e := newEnv(t)
	e.expect(e.do("POST", "/v2/Users", map[string]any{"userName": "s1@example.com"}), 201, "create")
	e.expect(e.do("POST", "/v2/Users", map[string]any{"userName": "s2@example.com"}), 201, "create")
	r := e.expect(e.do("POST", "/v2/Users/.search", map[string]any{
		"schemas": []string{searchURN}, "filter": `userName sw "s"`, "startIndex": 2, "count": "1", "attributes": []string{"userName"},
	}), 200, "search")
	if lookup(r.json, "totalResults") != 2.0 || lookup(r.json, "itemsPerPage") != 1.0 || r.str("Resources.0.userName") != "s2@example.com" ||
		lookup(r.json, "Resources.0.meta") != nil {
		t.Errorf("search: %s", r.body)
	}
}

func TestIfMatch(t *testing.T) {
	e := newEnv(t)
	r := e.expect(e.do("POST", "/v2/Users", oktaUser("im@example.com")), 201, "create")
	id := r.str("id")
	body := oktaUser("im@example.com")
	e.expect(e.do("PUT", "/v2/Users/"+id, body, "If-Match", `W/"9"`), 412, "stale PUT")
	e.expect(e.do("PUT", "/v2/Users/"+id, body, "If-Match", `W/"1"`), 200, "current PUT")
	p := map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "x"}}}
	e.expect(e.do("PATCH", "/v2/Users/"+id, p, "If-Match", `"1"`), 412, "stale PATCH")
	r = e.expect(e.do("PATCH", "/v2/Users/"+id, p, "If-Match", `"0", "2"`), 200, "current PATCH (strong form, list)")
	if r.header.Get("ETag") != `W/"3"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
	e.expect(e.do("DELETE", "/v2/Users/"+id, nil, "If-Match", `W/"2"`), 412, "stale DELETE")
	e.expect(e.do("GET", "/v2/Users/"+id, nil), 200, "still there")
	e.expect(e.do("DELETE", "/v2/Users/"+id, nil, "If-Match", "*"), 204, "DELETE *")
	e.expect(e.do("DELETE", "/v2/Users/"+id, nil, "If-Match", "*"), 404, "DELETE * when gone")
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Services) {
		c.Auth = AuthConfig{BasicUser: testUser, BasicPassword: testPass, HeaderName: "X-Key", HeaderValue: "v"}
	})
	e.auth = func(r *http.Request) { r.SetBasicAuth(testUser, testPass) }
	r := e.expect(e.do("GET", "/v2/ServiceProviderConfig", nil), 200, "SPC")
	if r.str("authenticationSchemes.0.type") != "httpbasic" || r.str("authenticationSchemes.1.type") != "header" ||
		lookup(r.json, "authenticationSchemes.0.primary") != true || lookup(r.json, "authenticationSchemes.1.primary") != false {
		t.Errorf("auth schemes: %s", r.body)
	}
	if lookup(r.json, "patch.supported") != true || lookup(r.json, "bulk.supported") != false || lookup(r.json, "etag.supported") != true ||
		lookup(r.json, "filter.maxResults") != 1000.0 || lookup(r.json, "changePassword.supported") != true || lookup(r.json, "sort.supported") != false {
		t.Errorf("features: %s", r.body)
	}
	r = e.expect(e.do("GET", "/v2/ResourceTypes", nil), 200, "ResourceTypes")
	if lookup(r.json, "totalResults") != 2.0 || r.str("Resources.0.endpoint") != "/Users" || r.str("Resources.0.schemaExtensions.0.schema") != bridge.EnterpriseSchema ||
		r.str("Resources.1.endpoint") != "/Groups" {
		t.Errorf("ResourceTypes: %s", r.body)
	}
	r = e.expect(e.do("GET", "/v2/ResourceTypes/user", nil), 200, "ResourceTypes/user")
	if r.str("meta.location") != e.ts.URL+"/v2/ResourceTypes/User" {
		t.Errorf("location: %s", r.body)
	}
	r = e.expect(e.do("GET", "/v2/Schemas", nil), 200, "Schemas")
	if lookup(r.json, "totalResults") != 4.0 {
		t.Errorf("Schemas: %s", r.body)
	}
	r = e.expect(e.do("GET", "/v2/Schemas/"+bridge.UserSchema, nil), 200, "User schema")
	var userName, emails map[string]any
	for _, a := range lookup(r.json, "attributes").([]any) {
		switch m := a.(map[string]any); m["name"] {
		case "userName":
			userName = m
		case "emails":
			emails = m
		}
	}
	if userName["uniqueness"] != "server" || userName["required"] != true || userName["returned"] != "always" || userName["mutability"] != "readWrite" {
		t.Errorf("userName: %v", userName)
	}
	if emails["multiValued"] != true || len(emails["subAttributes"].([]any)) != 4 {
		t.Errorf("emails: %v", emails)
	}
	e.expect(e.do("GET", "/v2/Schemas/"+strings.ToUpper(oktaCustomURN), nil), 200, "extension schema, any case")
	e.expect(e.do("HEAD", "/v2/ServiceProviderConfig", nil), 200, "HEAD")
}

func TestGroupsOptional(t *testing.T) {
	e := newEnv(t, func(_ *Config, s *Services) { s.Groups = nil })
	e.expect(e.do("GET", "/v2/Groups", nil), 404, "no groups")
	r := e.expect(e.do("GET", "/v2/ResourceTypes", nil), 200, "types")
	if lookup(r.json, "totalResults") != 1.0 {
		t.Errorf("types: %s", r.body)
	}
}

func TestReadyz(t *testing.T) {
	fail := true
	e := newEnv(t, func(_ *Config, s *Services) {
		s.Ready = func(ctx context.Context) error {
			if fail {
				return bridge.Errorf("ldap", bridge.KindUnavailable, "dial tcp 10.1.1.1:636: refused")
			}
			return nil
		}
	})
	e.auth = func(*http.Request) {}
	r := e.do("GET", "/readyz", nil)
	if r.status != 503 || strings.Contains(string(r.body), "10.1.1.1") || r.header.Get("Retry-After") == "" {
		t.Errorf("not ready: %d %s", r.status, r.body)
	}
	fail = false
	if r := e.do("GET", "/readyz/", nil); r.status != 200 {
		t.Errorf("ready: %d", r.status)
	}
	if r := e.do("POST", "/readyz", nil); r.status != 405 {
		t.Errorf("POST readyz: %d", r.status)
	}
}
