package scimside

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// Config configures the SCIM server. The zero value is not valid: New needs
// either credentials or an explicit AllowAnonymous.
type Config struct {
	// Listen is the TCP address to listen on, "host:port". Default
	// "127.0.0.1:8080".
	Listen string
	// TLSCertFile and TLSKeyFile enable HTTPS; both or neither.
	TLSCertFile string
	TLSKeyFile  string
	// AllowPlainHTTP permits plain HTTP on a non-loopback address. Without
	// it, plain HTTP is refused unless Listen is a loopback address: SCIM
	// bodies carry passwords.
	AllowPlainHTTP bool
	// Auth says how clients authenticate.
	Auth AuthConfig
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64
	// BulkMaxOperations and BulkMaxPayloadBytes bound a /Bulk request (RFC
	// 7644 §3.7.4): its number of operations and its body, which carries
	// many resources and so has its own limit. Both are advertised in
	// /ServiceProviderConfig; more gets 413. Defaults 1000 and 4 MiB, at most
	// MaxBulkOperations and MaxBulkPayloadBytes. Each operation's data is
	// still bounded by MaxBodyBytes, as the same request sent alone is.
	BulkMaxOperations   int
	BulkMaxPayloadBytes int64
	// V2BasePaths are the path prefixes that serve SCIM 2.0. Default
	// ["/v2", "/scim/v2"].
	V2BasePaths []string
	// V1BasePaths are the path prefixes that serve SCIM 1.1 ("" is the
	// bare base URL, which Okta's agent reads as 1.1). Default ["/v1", ""].
	V1BasePaths []string
	// PublicURL is the absolute URL clients reach the server at, e.g.
	// "https://scim.corp.example/dirbridge", when an agent or a TLS proxy in
	// front reaches it by another name: every URL the server writes
	// (Location, meta.location, $ref, discovery documents) is PublicURL
	// followed by the version base ("/v2"). http or https, a host, no
	// userinfo, query or fragment; a trailing slash is ignored. Unset, URLs
	// are built from the request as urlPolicy (urls.go) describes.
	PublicURL string
	// TrustedProxies are the IP addresses and CIDR prefixes of reverse
	// proxies whose Forwarded, X-Forwarded-Proto, X-Forwarded-Host and Host
	// headers say how the client addressed the server. From any other peer
	// those headers are not believed.
	TrustedProxies []string
	// DisablePasswordSync makes the server ignore passwords clients send
	// (the directory owns them) and stop advertising password pushes:
	// changePassword is false and Okta's agent is not offered
	// PUSH_PASSWORD_UPDATES.
	DisablePasswordSync bool
	// Timeouts of the HTTP server. Defaults: 10s, 60s, 120s, 120s.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// ShutdownTimeout bounds the graceful shutdown of ListenAndServe when
	// its context ends. Default 15s.
	ShutdownTimeout time.Duration
}

// AuthConfig says how SCIM clients authenticate: HTTP Basic, a header with a
// fixed value (Authorization: Bearer …, or Okta's custom header), both (either
// one is accepted), or, only when AllowAnonymous says so, nothing.
type AuthConfig struct {
	BasicUser     string
	BasicPassword string
	// HeaderName and HeaderValue: the request must carry this header with
	// exactly this value. With HeaderName "Authorization" the scheme
	// ("Bearer") is compared case-insensitively, the token exactly.
	HeaderName  string
	HeaderValue string
	// BasicLabel and HeaderLabel name the client in access and audit lines
	// (defaults: the Basic user, and "bearer-token" or "header").
	BasicLabel  string
	HeaderLabel string
	// AllowAnonymous accepts unauthenticated requests. It cannot be combined
	// with credentials: a config that has both is a mistake.
	AllowAnonymous bool
}

func (a AuthConfig) basic() bool  { return a.BasicUser != "" || a.BasicPassword != "" }
func (a AuthConfig) header() bool { return a.HeaderName != "" || a.HeaderValue != "" }

// bearer reports whether the header scheme is an OAuth bearer token.
func (a AuthConfig) bearer() bool {
	return strings.EqualFold(a.HeaderName, "Authorization") &&
		len(a.HeaderValue) > 7 && strings.EqualFold(a.HeaderValue[:7], "bearer ")
}

const (
	defaultListen       = "127.0.0.1:8080"
	defaultMaxBodyBytes = 1 << 20

	defaultBulkMaxOperations   = 1000
	defaultBulkMaxPayloadBytes = 4 << 20
	// MaxBulkOperations and MaxBulkPayloadBytes are the largest bulk limits
	// a configuration may set: one bulk request holds one HTTP handler for
	// all its operations, and its body is decoded whole in memory.
	MaxBulkOperations   = 10000
	MaxBulkPayloadBytes = 64 << 20
)

// withDefaults returns a copy of c with defaults applied.
func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	if c.BulkMaxOperations <= 0 {
		c.BulkMaxOperations = defaultBulkMaxOperations
	}
	if c.BulkMaxPayloadBytes <= 0 {
		c.BulkMaxPayloadBytes = defaultBulkMaxPayloadBytes
	}
	if c.V2BasePaths == nil {
		c.V2BasePaths = []string{"/v2", "/scim/v2"}
	}
	if c.V1BasePaths == nil {
		c.V1BasePaths = []string{"/v1", ""}
	}
	c.V2BasePaths = cleanBases(c.V2BasePaths)
	c.V1BasePaths = cleanBases(c.V1BasePaths)
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, 10*time.Second)
	def(&c.ReadTimeout, 60*time.Second)
	def(&c.WriteTimeout, 120*time.Second)
	def(&c.IdleTimeout, 120*time.Second)
	def(&c.ShutdownTimeout, 15*time.Second)
	return c
}

// cleanBases makes every base path start with "/" and end without one ("" is
// the root).
func cleanBases(in []string) []string {
	out := make([]string, 0, len(in))
	for _, b := range in {
		b = strings.Trim(strings.TrimSpace(b), "/")
		if b != "" {
			b = "/" + b
		}
		out = append(out, b)
	}
	return out
}

// validate reports every problem of c (defaults applied) at once, and loads
// the TLS certificate.
func (c Config) validate() (*tls.Certificate, error) {
	const op = "scimside.(Config).validate"
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	a := c.Auth
	switch {
	case a.AllowAnonymous && (a.basic() || a.header()):
		bad("auth: allow_anonymous cannot be combined with credentials")
	case !a.AllowAnonymous && !a.basic() && !a.header():
		bad("auth: no credentials configured; set basic or header credentials, or allow anonymous access explicitly")
	}
	if a.basic() && (a.BasicUser == "" || a.BasicPassword == "") {
		bad("auth: basic authentication needs both a user and a password")
	}
	if strings.Contains(a.BasicUser, ":") {
		bad("auth: the basic user cannot contain ':'")
	}
	if a.header() {
		if a.HeaderName == "" || a.HeaderValue == "" {
			bad("auth: header authentication needs both a header name and a value")
		} else if !validHeaderName(a.HeaderName) {
			bad("auth: %q is not a valid HTTP header name", a.HeaderName)
		}
	}

	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("listen: %q is not host:port", c.Listen)
	}
	var cert *tls.Certificate
	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		bad("tls: both a certificate file and a key file are needed")
	case c.TLSCertFile != "":
		kp, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			bad("tls: %v", err)
		} else {
			cert = &kp
		}
	case err == nil && !c.AllowPlainHTTP && !isLoopbackHost(host):
		bad("listen: plain HTTP on non-loopback address %q; configure TLS or allow plain HTTP explicitly", c.Listen)
	}
	if c.BulkMaxOperations > MaxBulkOperations {
		bad("bulk: at most %d operations per request can be allowed, not %d", MaxBulkOperations, c.BulkMaxOperations)
	}
	if c.BulkMaxPayloadBytes > MaxBulkPayloadBytes {
		bad("bulk: at most %d bytes per request can be allowed, not %d", MaxBulkPayloadBytes, c.BulkMaxPayloadBytes)
	}
	if _, err := parsePublicURL(c.PublicURL); err != nil {
		bad("%v", err)
	}
	if _, perrs := parseTrustedProxies(c.TrustedProxies); len(perrs) > 0 {
		errs = append(errs, perrs...)
	}
	seen := map[string]bool{}
	for _, b := range append(append([]string(nil), c.V2BasePaths...), c.V1BasePaths...) {
		if seen[strings.ToLower(b)] {
			bad("base paths: %q is used twice", b)
		}
		seen[strings.ToLower(b)] = true
		if strings.EqualFold(b, "/healthz") || strings.EqualFold(b, "/readyz") {
			bad("base paths: %q is reserved", b)
		}
	}
	if len(errs) > 0 {
		return nil, bridge.E(op, bridge.KindInvalidValue, "invalid SCIM server configuration", errors.Join(errs...))
	}
	return cert, nil
}

// isLoopbackHost reports whether host (from host:port) can only be reached
// from this machine. Names other than "localhost" are not resolved: a name
// may resolve differently later.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validHeaderName checks an RFC 9110 token.
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return s != ""
}
