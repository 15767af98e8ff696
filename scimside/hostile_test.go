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
		{"bulk without schemas", "POST", "/v2/Bulk", `{}`, nil, 400, "invalidSyntax"},
		{"bulk in SCIM 1.1", "POST", "/v1/Bulk", `{}`, nil, 501, ""},
		{"search at the root", "POST", "/v2/.search", `{}`, nil, 501, ""},
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
	if lookup(r.json, "patch.supported") != true || lookup(r.json, "bulk.supported") != true || lookup(r.json, "bulk.maxOperations") != 1000.0 || lookup(r.json, "etag.supported") != true ||
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

// TestStrictInput sends the bodies RFC 7643/7644 or JSON forbid, in both
// versions, and checks the SCIM 400 and that the service saw no write at
// all (the fake records every call); then that what clients really send
// still passes.
func TestStrictInput(t *testing.T) {
	e := newEnv(t)
	id := e.expect(e.do("POST", "/v2/Users", oktaUser("strict@example.com")), 201, "create").str("id")
	gid := e.expect(e.do("POST", "/v2/Groups", map[string]any{"displayName": "strict"}), 201, "create group").str("id")
	core := `"` + bridge.UserSchema + `"`
	user := func(schemas, rest string) string {
		if schemas != "" {
			schemas = `"schemas":` + schemas + `,`
		}
		return `{` + schemas + `"userName":"strict2@example.com"` + rest + `}`
	}
	patch := func(schemas, ops string) string {
		if schemas != "" {
			schemas = `"schemas":` + schemas + `,`
		}
		return `{` + schemas + `"Operations":` + ops + `}`
	}
	title := `[{"op":"replace","path":"title","value":"x"}]`
	cases := []struct {
		name, body, scimType, detail string
	}{
		{"schemas evil", user(`["urn:evil:schema"]`, ""), "invalidSyntax", "urn:evil:schema"},
		{"schemas empty", user(`[]`, ""), "invalidSyntax", "schemas"},
		{"schemas not a list", user(`"notalist"`, ""), "invalidSyntax", "schemas"},
		{"schemas evil extension", user(`[`+core+`,"urn:evil:ext"]`, ""), "invalidSyntax", "urn:evil:ext"},
		{"duplicate userName", user(`[`+core+`]`, `,"USERNAME":"other@example.com"`), "invalidSyntax", "USERNAME"},
		{"duplicate nested", user(`[`+core+`]`, `,"name":{"familyName":"a","FamilyName":"b"}`), "invalidSyntax", "name.FamilyName"},
		{"duplicate in emails", user(`[`+core+`]`, `,"emails":[{"value":"a@x","VALUE":"b@x"}]`), "invalidSyntax", "emails.VALUE"},
		{"duplicate in extension", user(`[`+core+`]`, `,"`+bridge.EnterpriseSchema+`":{"department":"a","DEPARTMENT":"b"}`), "invalidSyntax", "DEPARTMENT"},
		{"NUL", user(`[`+core+`]`, `,"displayName":"a\u0000b"`), "invalidValue", "displayName"},
		{"control in password", user(`[`+core+`]`, `,"password":"Secr\u0007t-Pa55"`), "invalidValue", "password"},
		{"newline in a one-line value", user(`[`+core+`]`, `,"name":{"familyName":"a\nb"}`), "invalidValue", "name.familyName"},
		{"lone high surrogate", user(`[`+core+`]`, `,"displayName":"\ud800"`), "invalidValue", "displayName"},
		{"lone low surrogate in password", user(`[`+core+`]`, `,"password":"Pa55-\udc00-word"`), "invalidValue", "password"},
		{"control in a member name", user(`[`+core+`]`, `,"title\u0000":"x"`), "invalidSyntax", "U+0000"},
	}
	for _, c := range cases {
		for _, rq := range []struct{ method, path string }{{"POST", "/v2/Users"}, {"PUT", "/v2/Users/" + id}, {"POST", "/v1/Users"}, {"PUT", "/v1/Users/" + id}} {
			body := c.body
			if strings.HasPrefix(rq.path, "/v1") {
				body = strings.ReplaceAll(body, bridge.UserSchema, coreURN11)
			}
			t.Run(c.name+" "+rq.method+" "+rq.path[:3], func(t *testing.T) {
				before := len(e.users.calls)
				r := expectT(t, e.do(rq.method, rq.path, body), 400, c.name)
				detail := r.str("detail")
				if strings.HasPrefix(rq.path, "/v2") && r.str("scimType") != c.scimType {
					t.Errorf("scimType %q, want %q: %s", r.str("scimType"), c.scimType, r.body)
				}
				if strings.HasPrefix(rq.path, "/v1") {
					detail = r.str("Errors.0.description")
				}
				if !strings.Contains(detail, c.detail) || strings.Contains(detail, "Secr") || strings.Contains(detail, "Pa55") {
					t.Errorf("detail %q, want it to name %q and no value", detail, c.detail)
				}
				if calls := e.users.calls[before:]; len(calls) != 0 {
					t.Errorf("refused body reached the service: %v", calls)
				}
			})
		}
	}
	pcases := []struct {
		name, path, body, scimType string
	}{
		{"patch schemas evil", "/v2/Users/" + id, patch(`["urn:evil:schema"]`, title), "invalidSyntax"},
		{"patch schemas core", "/v2/Users/" + id, patch(`[`+core+`]`, title), "invalidSyntax"},
		{"patch schemas empty", "/v2/Users/" + id, patch(`[]`, title), "invalidSyntax"},
		{"patch schemas not a list", "/v2/Users/" + id, patch(`"urn:ietf:params:scim:api:messages:2.0:PatchOp"`, title), "invalidSyntax"},
		{"patch Operations twice", "/v2/Users/" + id, `{"Operations":` + title + `,"operations":` + title + `}`, "invalidSyntax"},
		{"patch op twice", "/v2/Users/" + id, patch("", `[{"op":"remove","OP":"add","path":"title","value":"x"}]`), "invalidSyntax"},
		{"patch value twice", "/v2/Groups/" + gid, patch("", `[{"op":"add","path":"members","value":[{"value":"a","Value":"b"}]}]`), "invalidSyntax"},
		{"patch NUL value", "/v2/Users/" + id, patch("", `[{"op":"replace","path":"title","value":"\u0000"}]`), "invalidValue"},
		{"patch surrogate value", "/v2/Users/" + id, patch("", `[{"op":"replace","value":{"displayName":"\udbff"}}]`), "invalidValue"},
		{"patch control in path", "/v2/Users/" + id, patch("", `[{"op":"replace","path":"title\u0001","value":"x"}]`), "invalidPath"},
		{"patch surrogate in path", "/v2/Users/" + id, patch("", `[{"op":"replace","path":"emails[value eq \"\ud800\"].type","value":"x"}]`), "invalidPath"},
		{"1.1 patch schemas evil", "/v1/Users/" + id, `{"schemas":["urn:evil:schema"],"title":"x"}`, ""},
		{"1.1 patch NUL", "/v1/Users/" + id, `{"schemas":["` + coreURN11 + `"],"title":"\u0000"}`, ""},
		{"1.1 patch duplicate", "/v1/Users/" + id, `{"active":false,"Active":true}`, ""},
	}
	for _, c := range pcases {
		t.Run(c.name, func(t *testing.T) {
			beforeU, beforeG := len(e.users.calls), len(e.groups.calls)
			r := expectT(t, e.do("PATCH", c.path, c.body), 400, c.name)
			if r.str("scimType") != c.scimType {
				t.Errorf("scimType %q, want %q: %s", r.str("scimType"), c.scimType, r.body)
			}
			if n := len(e.users.calls) - beforeU + len(e.groups.calls) - beforeG; n != 0 {
				t.Errorf("refused PATCH reached the service (%d calls)", n)
			}
		})
	}
	for _, c := range []struct{ name, target, body string }{
		{"filter %FF", "/v2/Users?filter=userName+eq+%22%FF%22", ""},
		{"filter bare %FF", "/v2/Users?filter=userName+eq+%FF", ""},
		{"filter NUL", "/v2/Users?filter=userName+eq+%22a%00%22", ""},
		{"filter escaped control", "/v2/Users?filter=" + url.QueryEscape(`userName eq "a\u0002"`), ""},
		{"filter lone surrogate", "/v2/Users?filter=" + url.QueryEscape(`userName eq "\ud800"`), ""},
		{"1.1 filter %FF", "/v1/Users?filter=userName+eq+%22%FF%22", ""},
		{"search surrogate", "/v2/Users/.search", `{"filter":"userName eq \"\udc00\""}`},
		{"search control", "/v2/Users/.search", `{"filter":"userName eq \"\u0000\""}`},
		{"search schemas", "/v2/Users/.search", `{"schemas":["` + patchOpURN + `"],"filter":"userName pr"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			method := "GET"
			if c.body != "" {
				method = "POST"
			}
			before := len(e.users.calls)
			r := expectT(t, e.do(method, c.target, c.body), 400, c.name)
			want := "invalidFilter"
			if c.name == "search schemas" {
				want = "invalidSyntax"
			}
			if !strings.HasPrefix(c.target, "/v1") && r.str("scimType") != want {
				t.Errorf("scimType %q: %s", r.str("scimType"), r.body)
			}
			if len(e.users.calls) != before {
				t.Errorf("the filter reached the service: %v", e.users.calls[before:])
			}
		})
	}
	// Nothing above changed the user.
	if r := e.expect(e.do("GET", "/v2/Users/"+id, nil), 200, "after"); r.str("meta.version") != `W/"1"` || r.str("userName") != "strict@example.com" {
		t.Errorf("a refused request changed the user: %s", r.body)
	}

	// What clients send passes: no schemas (the banner's curl), Entra's group
	// URN, a multi-line address and description, extension data whose URN
	// schemas leaves out, URNs in another case, Okta's agent's 1.1 schemas.
	e.expect(e.do("POST", "/v2/Users", `{"userName":"bare@example.com"}`), 201, "no schemas")
	e.expect(e.do("POST", "/v2/Groups", `{"schemas":["`+bridge.GroupSchema+`","`+entraGroupURN+`"],"displayName":"entra"}`), 201, "Entra group")
	r := e.expect(e.do("POST", "/v2/Users", `{"schemas":["`+strings.ToUpper(bridge.UserSchema)+`"],"userName":"ml@example.com",
		"addresses":[{"type":"work","formatted":"1 Main St\nSpringfield\r\n\tUSA"}],"`+bridge.EnterpriseSchema+`":{"department":"D"}}`), 201, "multi-line address")
	if r.json[bridge.EnterpriseSchema] == nil {
		t.Errorf("extension data outside schemas was dropped: %s", r.body)
	}
	e.expect(e.do("POST", "/v1/Users", `{"schemas":["`+coreURN11+`","`+enterpriseURN11+`","`+oktaCustomURN+`"],"userName":"opp@example.com",
		"`+enterpriseURN11+`":{"department":"D"},"`+oktaCustomURN+`":{"departmentName":"X"}}`), 201, "Okta agent")
	e.expect(e.do("PATCH", "/v1/Users/"+id, `{"schemas":["`+coreURN11+`"],"id":"`+id+`","active":false}`), 200, "Okta cloud 1.1 PATCH")
	e.expect(e.do("PATCH", "/v2/Users/"+id, patch(`["`+patchOpURN+`"]`, `[{"op":"Replace","path":"displayName","value":"\ud83d\ude00 Zoë"}]`)), 200, "emoji")
	e.expect(e.do("POST", "/v2/Users/.search", `{"schemas":["`+searchURN+`"],"filter":"userName eq \"a\\nb\""}`), 200, "search")
}
