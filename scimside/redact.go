package scimside

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// secretWords are parameter names, or parts of them, whose values are
// secrets: a client that sends ?access_token= must not find its token in
// the gateway's log, whatever case or prefix it uses.
var secretWords = []string{"token", "password", "passwd", "secret", "apikey", "api_key", "credential", "signature"}

// secretNames are short names that are secrets only when they are the
// whole name ("code" of OAuth, "sig" of signed URLs): as substrings they
// would hit harmless parameters (e.g. "startIndex" is not "key").
var secretNames = map[string]bool{"key": true, "code": true, "sig": true, "auth": true, "pwd": true, "pass": true, "authorization": true}

func secretParam(name string) bool {
	n := strings.ToLower(name)
	if secretNames[n] {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// RedactQuery returns raw with the values of secret-looking parameters
// replaced by "REDACTED", keeping the rest as sent (a filter in a failed
// request is what an operator needs to see). It is the only form in which
// a query string may reach a log.
func RedactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && secretParam(name) {
			parts[i] = k + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

// clientAddr is the address of the client for logs: the peer, or, when the
// peer is a trusted proxy, the nearest address the proxies recorded in
// X-Forwarded-For that is not itself a trusted proxy.
func (p *urlPolicy) clientAddr(r *http.Request) string {
	host := r.RemoteAddr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		host = ap.Addr().Unmap().String()
	}
	if !p.trusted(r.RemoteAddr) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break // not an address: nothing before it can be trusted
		}
		host = a.Unmap().String()
		if !p.trusted(host) {
			break
		}
	}
	return host
}
