package scimside

import (
	"net/http/httptest"
	"testing"
)

func TestRedactQuery(t *testing.T) {
	cases := map[string]string{
		"":                                   "",
		"filter=userName+eq+%22a%22&count=5": "filter=userName+eq+%22a%22&count=5",
		"access_token=abc&startIndex=1":      "access_token=REDACTED&startIndex=1",
		"Access_Token=abc":                   "Access_Token=REDACTED",
		"password=x&Secret=y&key=z&code=c":   "password=REDACTED&Secret=REDACTED&key=REDACTED&code=REDACTED",
		"sig=s&api_key=k&id_token=t&flag":    "sig=REDACTED&api_key=REDACTED&id_token=REDACTED&flag",
		"acc%65ss_token=abc":                 "acc%65ss_token=REDACTED",
		"monkey=banana":                      "monkey=banana",
	}
	for in, want := range cases {
		if got := RedactQuery(in); got != want {
			t.Errorf("RedactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	p := newURLPolicy(Config{TrustedProxies: []string{"10.0.0.0/8"}}, nil)
	r := httptest.NewRequest("GET", "/v2/Users", nil)
	r.RemoteAddr = "10.1.2.3:5555"
	r.Header.Set("X-Forwarded-For", "198.51.100.7, 10.9.9.9")
	if got := p.clientAddr(r); got != "198.51.100.7" {
		t.Errorf("behind trusted proxies: %q", got)
	}
	r.RemoteAddr = "192.0.2.1:4444" // not a proxy: its header is not believed
	if got := p.clientAddr(r); got != "192.0.2.1" {
		t.Errorf("untrusted peer: %q", got)
	}
}
