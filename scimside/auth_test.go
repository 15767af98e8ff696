package scimside

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestAuthMatrix(t *testing.T) {
	basic := AuthConfig{BasicUser: testUser, BasicPassword: testPass}
	bearer := AuthConfig{HeaderName: "Authorization", HeaderValue: "Bearer " + testToken}
	custom := AuthConfig{HeaderName: "X-Okta-Agent-Key", HeaderValue: "k3y"}
	both := AuthConfig{BasicUser: testUser, BasicPassword: testPass, HeaderName: "X-Okta-Agent-Key", HeaderValue: "k3y"}
	anon := AuthConfig{AllowAnonymous: true}

	type cred struct{ name, value string }
	none := cred{}
	okBasic := cred{"Authorization", basicHeader(testUser, testPass)}
	cases := []struct {
		name      string
		auth      AuthConfig
		cred      cred
		want      int
		challenge string
	}{
		{"basic ok", basic, okBasic, 200, ""},
		{"basic wrong password", basic, cred{"Authorization", basicHeader(testUser, "nope")}, 401, "Basic"},
		{"basic wrong user", basic, cred{"Authorization", basicHeader("other", testPass)}, 401, "Basic"},
		{"basic password prefix", basic, cred{"Authorization", basicHeader(testUser, testPass[:3])}, 401, "Basic"},
		{"basic missing", basic, none, 401, "Basic"},
		{"basic given bearer", basic, cred{"Authorization", "Bearer " + testToken}, 401, "Basic"},
		{"basic garbage", basic, cred{"Authorization", "Basic !!!notbase64"}, 401, "Basic"},
		{"bearer ok", bearer, cred{"Authorization", "Bearer " + testToken}, 200, ""},
		{"bearer lower-case scheme", bearer, cred{"Authorization", "bearer " + testToken}, 200, ""},
		{"bearer wrong", bearer, cred{"Authorization", "Bearer garbage"}, 401, "Bearer"},
		{"bearer token only", bearer, cred{"Authorization", testToken}, 401, "Bearer"},
		{"bearer missing", bearer, none, 401, "Bearer"},
		{"bearer given basic", bearer, okBasic, 401, "Bearer"},
		{"custom ok", custom, cred{"X-Okta-Agent-Key", "k3y"}, 200, ""},
		{"custom header name any case", custom, cred{"x-okta-agent-key", "k3y"}, 200, ""},
		{"custom wrong value", custom, cred{"X-Okta-Agent-Key", "K3Y"}, 401, "Header"},
		{"custom missing", custom, none, 401, "Header"},
		{"both: basic", both, okBasic, 200, ""},
		{"both: header", both, cred{"X-Okta-Agent-Key", "k3y"}, 200, ""},
		{"both: neither", both, cred{"X-Okta-Agent-Key", "bad"}, 401, "Basic"},
		{"anonymous", anon, none, 200, ""},
		{"anonymous with credentials", anon, cred{"Authorization", "Bearer whatever"}, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *Config, _ *Services) { cfg.Auth = c.auth })
			e.auth = func(r *http.Request) {
				if c.cred.name != "" {
					r.Header.Set(c.cred.name, c.cred.value)
				}
			}
			r := e.expect(e.do("GET", "/v2/Users", nil), c.want, c.name)
			if c.want == 401 {
				if !strings.Contains(string(r.body), `"status":"401"`) {
					t.Errorf("401 body: %s", r.body)
				}
				if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, c.challenge) {
					t.Errorf("WWW-Authenticate %q, want %s…", ch, c.challenge)
				}
				if r.header.Get("X-Request-Id") == "" {
					t.Error("no X-Request-Id on 401")
				}
			}
			// Health checks never need credentials.
			e.auth = func(*http.Request) {}
			e.expect(e.do("GET", "/healthz", nil), 200, "healthz")
			logs := e.logs.String()
			for _, secret := range []string{testPass, testToken, "k3y", base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPass))} {
				if strings.Contains(logs, secret) {
					t.Errorf("a secret reached the log: %s", logs)
				}
			}
		})
	}
}

// The 401 comes before routing: an unauthenticated client learns nothing
// about which paths exist.
func TestAuthBeforeRouting(t *testing.T) {
	e := newEnv(t)
	e.auth = func(*http.Request) {}
	for _, p := range []string{"/v2/Users/x", "/v2/Nope", "/nope", "/v1/Users", "/v2/ServiceProviderConfig"} {
		e.expect(e.do("GET", p, nil), 401, p)
	}
	if !strings.Contains(e.logs.String(), `"reason":"missing"`) {
		t.Errorf("log lacks the reason: %s", e.logs.String())
	}
}

func TestAuthenticatorClientName(t *testing.T) {
	a := newAuthenticator(AuthConfig{BasicUser: "agent", BasicPassword: "p", HeaderName: "Authorization", HeaderValue: "Bearer t"})
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth("agent", "p")
	if c, ok, _ := a.check(r); !ok || c != "agent" {
		t.Errorf("basic: %q %v", c, ok)
	}
	r.Header.Set("Authorization", "Bearer t")
	if c, ok, _ := a.check(r); !ok || c != "bearer-token" {
		t.Errorf("bearer: %q %v", c, ok)
	}
	r.Header.Set("Authorization", "Bearer x")
	if _, ok, reason := a.check(r); ok || reason != "wrong" {
		t.Errorf("wrong: %v %q", ok, reason)
	}
}
