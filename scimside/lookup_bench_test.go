package scimside

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// BenchmarkLookupUserName is the gateway's own CPU and allocations for
// GET /v2/Users?filter=userName eq "…" on a fake directory, with the
// bench's log level (warn: no access lines), so that what make bench calls
// "lookup overhead" can be taken apart without slapd or sockets.
func BenchmarkLookupUserName(b *testing.B) {
	users := newFakeService(userType())
	cfg := Config{Auth: AuthConfig{HeaderName: "Authorization", HeaderValue: "Bearer " + testToken}}
	logger := hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Warn})
	srv, err := New(cfg, Services{Users: users, Groups: newFakeService(groupType())}, logger)
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}`
	req := httptest.NewRequest(http.MethodPost, "/v2/Users", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/scim+json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	get := httptest.NewRequest(http.MethodGet, `/v2/Users?filter=userName%20eq%20%22bjensen%22`, nil)
	get.Header.Set("Authorization", "Bearer "+testToken)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, get)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"totalResults":1`) {
			b.Fatalf("lookup: %d %s", rec.Code, rec.Body)
		}
		users.mu.Lock()
		users.calls = users.calls[:0]
		users.mu.Unlock()
	}
}
