package scimside

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/hashicorp/go-hclog"
)

const (
	testUser  = "okta-agent"
	testPass  = "s3cret-pass"
	testToken = "tok-123"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testEnv struct {
	t      *testing.T
	srv    *Server
	ts     *httptest.Server
	users  *fakeService
	groups *fakeService
	logs   *syncBuffer
	auth   func(*http.Request)
}

func newEnv(t *testing.T, mutate ...func(*Config, *Services)) *testEnv {
	t.Helper()
	env := &testEnv{t: t, users: newFakeService(userType()), groups: newFakeService(groupType()), logs: &syncBuffer{}}
	cfg := Config{Auth: AuthConfig{HeaderName: "Authorization", HeaderValue: "Bearer " + testToken}}
	svcs := Services{Users: env.users, Groups: env.groups}
	for _, m := range mutate {
		m(&cfg, &svcs)
	}
	logger := hclog.New(&hclog.LoggerOptions{Output: env.logs, Level: hclog.Debug, JSONFormat: true})
	var n atomic.Int64
	srv, err := New(cfg, svcs, logger, WithRequestIDs(func() string { return fmt.Sprintf("req-%d", n.Add(1)) }))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.srv = srv
	env.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(env.ts.Close)
	env.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }
	return env
}

type resp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r resp) str(path string) string {
	v := lookup(r.json, path)
	s, _ := v.(string)
	return s
}

// lookup walks a decoded JSON value by a dotted path; numeric segments index
// arrays.
func lookup(v any, path string) any {
	for _, seg := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[seg]
		case []any:
			var i int
			if _, err := fmt.Sscanf(seg, "%d", &i); err != nil || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

func (e *testEnv) do(method, path string, body any, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	e.auth(req)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out := resp{status: res.StatusCode, header: res.Header}
	out.body, _ = io.ReadAll(res.Body)
	if len(out.body) > 0 && strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(out.body, &out.json); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, out.body)
		}
	}
	return out
}

// expect checks the status and, for errors, the SCIM error shape.
func (e *testEnv) expect(r resp, status int, what string) resp {
	e.t.Helper()
	return expectT(e.t, r, status, what)
}

func expectT(t *testing.T, r resp, status int, what string) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.status, status, r.body)
	}
	if r.status >= 400 {
		if ct := r.header.Get("Content-Type"); ct != scimContentType {
			t.Errorf("%s: Content-Type %q", what, ct)
		}
		if _, v1 := r.json["Errors"]; v1 {
			// SCIM 1.1 (the bare base and /v1).
			if lookup(r.json, "Errors.0.code") != float64(status) || r.str("Errors.0.description") == "" || len(r.json) != 1 {
				t.Errorf("%s: not a SCIM 1.1 error body: %s", what, r.body)
			}
		} else if r.str("status") != fmt.Sprint(status) || lookup(r.json, "schemas.0") != errorURN {
			t.Errorf("%s: not a SCIM error body: %s", what, r.body)
		}
	}
	return r
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func oktaUser(userName string) map[string]any {
	return map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
		"name":     map[string]any{"givenName": "Test", "familyName": "User"},
		"emails":   []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"active":   true,
		"password": "1mP0ssible!",
		"groups":   []any{},
	}
}

// TestOktaSpecSequence replays, in order, what Okta's SCIM 2.0 spec test
// checks.
func TestOktaSpecSequence(t *testing.T) {
	e := newEnv(t)
	e.users.Create(t.Context(), mustResource(oktaUser("existing@example.com")))

	r := e.expect(e.do("GET", "/scim/v2/ServiceProviderConfig", nil, "Accept", "application/scim+json"), 200, "SPC")
	if lookup(r.json, "bulk.maxOperations") == nil || lookup(r.json, "bulk.maxPayloadSize") == nil {
		t.Errorf("SPC lacks bulk limits: %s", r.body)
	}
	if r.str("authenticationSchemes.0.type") != "oauthbearertoken" || r.str("authenticationSchemes.0.description") == "" {
		t.Errorf("SPC auth schemes: %s", r.body)
	}
	if r.header.Get("Content-Type") != scimContentType {
		t.Errorf("SPC content type %q", r.header.Get("Content-Type"))
	}
	for _, p := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/Schemas"} {
		r := e.expect(e.do("POST", "/scim/v2"+p, `{}`), 405, "POST "+p)
		if r.header.Get("Allow") == "" {
			t.Errorf("POST %s: no Allow header", p)
		}
	}
	r = e.expect(e.do("GET", "/scim/v2/Users?count=1&startIndex=1", nil), 200, "list")
	if lookup(r.json, "totalResults") != 1.0 || lookup(r.json, "itemsPerPage") != 1.0 || lookup(r.json, "startIndex") != 1.0 {
		t.Errorf("list numbers: %s", r.body)
	}
	if !bytes.Contains(r.body, []byte(`"totalResults":1,`)) {
		t.Errorf("totalResults is not a JSON integer: %s", r.body)
	}
	for _, a := range []string{"name.givenName", "name.familyName", "userName", "active", "emails.0.value"} {
		if lookup(r.json, "Resources.0."+a) == nil {
			t.Errorf("listed user lacks %s: %s", a, r.body)
		}
	}
	if lookup(r.json, "Resources.0.password") != nil {
		t.Errorf("password returned: %s", r.body)
	}
	r = e.expect(e.do("GET", "/scim/v2/Users?filter=userName%20eq%20%22nobody%40example.com%22", nil), 200, "filter unknown")
	if lookup(r.json, "totalResults") != 0.0 {
		t.Errorf("unknown userName: %s", r.body)
	}
	e.expect(e.do("GET", "/scim/v2/Users/010101001010101010101010", nil), 404, "unknown id")

	r = e.expect(e.do("POST", "/scim/v2/Users", oktaUser("new@example.com")), 201, "create")
	if lookup(r.json, "active") != true || r.str("id") == "" {
		t.Errorf("create: %s", r.body)
	}
	id := r.str("id")
	if loc := r.header.Get("Location"); loc != e.ts.URL+"/scim/v2/Users/"+id || r.str("meta.location") != loc {
		t.Errorf("Location %q, meta.location %q", loc, r.str("meta.location"))
	}
	if r.header.Get("ETag") != `W/"1"` || r.str("meta.version") != `W/"1"` {
		t.Errorf("ETag %q", r.header.Get("ETag"))
	}
	r = e.expect(e.do("POST", "/scim/v2/Users", oktaUser("new@example.com")), 409, "recreate")
	if r.str("scimType") != "uniqueness" {
		t.Errorf("recreate scimType: %s", r.body)
	}
	r = e.expect(e.do("GET", "/scim/v2/Users?filter=userName%20eq%20%22NEW%40EXAMPLE.COM%22", nil), 200, "upper-case filter")
	if lookup(r.json, "totalResults") != 1.0 || r.str("Resources.0.id") != id {
		t.Errorf("upper-case filter: %s", r.body)
	}
	r = e.expect(e.do("GET", "/scim/v2/Users", nil, "Authorization", "Bearer garbage"), 401, "garbage auth")
	if !bytes.Contains(r.body, []byte(`"status":"401"`)) || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401: %s %v", r.body, r.header)
	}
	r = e.expect(e.do("GET", "/scim/v2/Groups", nil), 200, "groups")
	if lookup(r.json, "totalResults") != 0.0 {
		t.Errorf("groups: %s", r.body)
	}
	// Deactivation as catalogue apps send it, then as custom apps (PUT).
	r = e.expect(e.do("PATCH", "/scim/v2/Users/"+id, map[string]any{
		"schemas":    []string{patchOpURN},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}},
	}), 200, "deactivate by PATCH")
	if lookup(r.json, "active") != false {
		t.Errorf("deactivate: %s", r.body)
	}
	put := oktaUser("new@example.com")
	put["active"] = true
	r = e.expect(e.do("PUT", "/scim/v2/Users/"+id, put), 200, "reactivate by PUT")
	if lookup(r.json, "active") != true {
		t.Errorf("reactivate: %s", r.body)
	}
}

func mustResource(m map[string]any) bridgeResource {
	return bridgeResource{Attrs: m}
}

func TestSmoke(t *testing.T) {
	e := newEnv(t)
	e.expect(e.do("GET", "/healthz", nil, "Authorization", ""), 200, "healthz")
	e.expect(e.do("GET", "/readyz", nil, "Authorization", ""), 200, "readyz")
	e.expect(e.do("GET", "/v2/Users/", nil), 200, "trailing slash")
	e.expect(e.do("GET", "/v1/Users", nil), 200, "SCIM 1.1 at /v1")
	e.expect(e.do("GET", "/Users", nil), 200, "SCIM 1.1 at the root")
	e.expect(e.do("GET", "/v1/ResourceTypes", nil), 404, "no ResourceTypes in 1.1")
	e.expect(e.do("GET", "/Nope", nil), 404, "unknown 1.1 endpoint")
	e.expect(e.do("GET", "/v2/Nope", nil), 404, "unknown endpoint")
	e.expect(e.do("GET", "/v2/Schemas", nil), 200, "schemas")
	e.expect(e.do("GET", "/v2/ResourceTypes/User", nil), 200, "resource type")
}

type bridgeResource = bridge.Resource
