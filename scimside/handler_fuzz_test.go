package scimside

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/hashicorp/go-hclog"
)

// FuzzHandler sends arbitrary requests through the whole handler against the
// fake service, which never fails on its own: any 500 is scimside's fault (or
// the core's), and every SCIM answer must be a JSON document.
func FuzzHandler(f *testing.F) {
	seeds := []struct{ method, target, body string }{
		{"GET", "/v2/Users?filter=userName+eq+%22a%22&attributes=userName", ""},
		{"POST", "/v2/Users", `{"userName":"a","emails":[{"value":"a@x","type":"work"}]}`},
		{"PUT", "/v2/Users/u-0001", `{"userName":"b","active":"False"}`},
		{"PATCH", "/v2/Users/u-0001", `{"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"z"}]}`},
		{"PATCH", "/v2/Groups/g-0001", `{"Operations":[{"op":"remove","path":"members","value":[{"value":"u-0001"}]}]}`},
		{"DELETE", "/v2/Users/u-0001", ""},
		{"POST", "/v2/Users/.search", `{"filter":"userName sw \"a\"","count":"2"}`},
		{"GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", ""},
		{"GET", "/v2/ResourceTypes/User?excludedAttributes=meta", ""},
		{"GET", "/v2/Users?count=abc&startIndex=-1", ""},
		// Strict input (strict.go): schemas, twins in any case, controls,
		// lone surrogates, invalid UTF-8 in filters.
		{"POST", "/v2/Users", `{"schemas":["urn:evil:schema"],"userName":"e"}`},
		{"POST", "/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:evil:ext"],"userName":"e"}`},
		{"PUT", "/v2/Users/u-0001", `{"schemas":"notalist","userName":"e"}`},
		{"POST", "/v2/Users", `{"userName":"a","USERNAME":"b","name":{"givenName":"x","GivenName":"y"}}`},
		{"POST", "/v2/Users", `{"userName":"a\u0000","password":"\ud800","addresses":[{"formatted":"a\nb"}]}`},
		{"PATCH", "/v2/Users/u-0001", `{"Operations":[{"op":"add","path":"title","value":"x"}],"operations":[]}`},
		{"PATCH", "/v2/Users/u-0001", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"Operations":[{"op":"add","path":"title\u0001","value":"\udc00"}]}`},
		{"PATCH", "/v1/Users/u-0001", `{"schemas":["urn:scim:schemas:core:1.0"],"active":false,"Active":true}`},
		{"GET", "/v2/Users?filter=userName+eq+%22%FF%22", ""},
		{"GET", "/v1/Users?filter=userName+eq+%22a%00%22", ""},
		{"POST", "/v2/Users/.search", `{"filter":"userName eq \"\ud800\"","FILTER":"x"}`},
		// Entitlements (entitlements.go): value endpoints, user writes.
		{"GET", "/v2/Roles?filter=displayName+eq+%22Admin%22", ""},
		{"DELETE", "/v2/Roles/r-1", ""},
		{"PATCH", "/v2/Users/u-0001", `{"Operations":[{"op":"remove","path":"roles[value eq \"r-1\"]"},{"op":"add","path":"roles","value":[{"value":"r-1"}]}]}`},
		{"PATCH", "/v2/Users/u-0001", `{"Operations":[{"op":"add","value":{"roles":"r-1","title":"x"}},{"op":"replace","path":"roles[display co \"A\"].value","value":1}]}`},
		{"PUT", "/v2/Users/u-0001", `{"userName":"a","roles":[{"value":"r-1"},{"value":"nope"}, 3]}`},
		{"POST", "/v2/Users", `{"userName":"n","roles":{"value":null}}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		if len(body) > 1<<16 || len(target) > 4096 {
			return
		}
		users, groups := newFakeService(userType()), newFakeService(groupType())
		seed := func(svc *fakeService, m map[string]any) {
			r, err := (v2codec{}).decodeResource(svc.rt, m)
			if err == nil {
				svc.Create(t.Context(), r)
			}
		}
		seed(users, map[string]any{"userName": "a", "emails": []any{map[string]any{"value": "a@x", "type": "work"}}})
		seed(groups, map[string]any{"displayName": "g", "members": []any{map[string]any{"value": "u-0001"}}})
		roles := newFakeService(valueType("Role", "/Roles", roleURN))
		roles.unique = "displayName"
		roles.byID["r-1"] = bridge.Resource{ID: "r-1", Attrs: map[string]any{"displayName": "Admin", "type": "Role"}}
		roles.order = []string{"r-1"}
		ents := []Entitlement{{Attr: "roles", Values: roles, MultiValued: false}}
		srv, err := New(Config{Auth: AuthConfig{AllowAnonymous: true}}, Services{Users: users, Groups: groups, Entitlements: ents}, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(method, "http://scim.test"+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		if w.Code >= 500 && w.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s %q: %d %s", method, target, body, w.Code, w.Body)
		}
		if strings.HasPrefix(w.Header().Get("Content-Type"), "application/scim+json") && method != http.MethodHead {
			var v any
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Fatalf("%s %s: answer is not JSON: %s", method, target, w.Body)
			}
		}
	})
}
