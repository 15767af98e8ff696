package scimside

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// urlPolicy decides the origin (scheme://host[:port]) of every absolute URL
// the server writes: meta.location, the Location header, $ref and the
// locations in discovery documents.
//
//  1. Config.PublicURL, when set, is the origin and path prefix of every URL,
//     whatever the request says: the agent or a TLS proxy in front reaches
//     dirbridge by another name than its own.
//  2. A request whose peer (RemoteAddr) is in Config.TrustedProxies: the
//     scheme from Forwarded proto= or X-Forwarded-Proto, the host from
//     Forwarded host= or the first X-Forwarded-Host, else the request's Host.
//     The proxy must set these headers itself, not pass on the client's.
//  3. Any other client: its Host is used only when it names this server: a
//     name the server's TLS certificate is valid for (a client that
//     verifies the certificate must use one anyway), or "localhost" with the
//     port of a loopback connection. Otherwise the URL is built from the
//     address the connection arrived on (127.0.0.1:8080 for the default
//     listen address, the interface address for 0.0.0.0). So an attacker's
//     "Host: evil.example" is never written back, to it or into a cache in
//     between, and `curl http://127.0.0.1:8080/v2/Users` still sees
//     http://127.0.0.1:8080/v2/Users/<id>.
//
// Header values that are not a plain host[:port] (userinfo, a path, spaces,
// control characters) or a scheme other than http/https are ignored.
type urlPolicy struct {
	public  string         // normalized Config.PublicURL; "" when unset
	proxies []netip.Prefix // Config.TrustedProxies
	cert    *x509.Certificate
	listen  string // Config.Listen, when the connection's address is unknown
}

func newURLPolicy(cfg Config, cert *tls.Certificate) *urlPolicy {
	p := &urlPolicy{listen: cfg.Listen}
	p.public, _ = parsePublicURL(cfg.PublicURL)
	p.proxies, _ = parseTrustedProxies(cfg.TrustedProxies)
	if cert != nil {
		p.cert = cert.Leaf
		if p.cert == nil && len(cert.Certificate) > 0 {
			p.cert, _ = x509.ParseCertificate(cert.Certificate[0])
		}
	}
	return p
}

// baseURL is the absolute URL of the version base (a mount's path) for r.
func (p *urlPolicy) baseURL(r *http.Request, base string) string {
	if p.public != "" {
		return p.public + base
	}
	scheme, host := p.origin(r)
	if host == "" {
		return base
	}
	return scheme + "://" + host + base
}

func (p *urlPolicy) origin(r *http.Request) (scheme, host string) {
	scheme = "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p.trusted(r.RemoteAddr) {
		fproto, fhost := parseForwarded(r.Header.Values("Forwarded"))
		if fproto == "" {
			fproto = forwardedProto(firstValue(r.Header.Values("X-Forwarded-Proto")))
		}
		if fhost == "" {
			if h := firstValue(r.Header.Values("X-Forwarded-Host")); validHostPort(h) {
				fhost = h
			}
		}
		if fproto != "" {
			scheme = fproto
		}
		switch {
		case fhost != "":
			return scheme, fhost
		case validHostPort(r.Host):
			return scheme, r.Host
		}
		return scheme, p.localHost(r)
	}
	if p.namesServer(r) {
		return scheme, r.Host
	}
	return scheme, p.localHost(r)
}

// trusted reports whether the request's peer is a configured proxy.
func (p *urlPolicy) trusted(remote string) bool {
	if len(p.proxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remote)
	var a netip.Addr
	if err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(remote); err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, pr := range p.proxies {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// namesServer reports whether a direct client's Host names this server (see
// urlPolicy).
func (p *urlPolicy) namesServer(r *http.Request) bool {
	if !validHostPort(r.Host) {
		return false
	}
	name, port := splitHostPort(r.Host)
	if r.TLS != nil && p.cert != nil && p.cert.VerifyHostname(name) == nil {
		return true
	}
	if !strings.EqualFold(name, "localhost") {
		return false
	}
	local, ok := localAddr(r)
	if !ok || !local.Addr().IsLoopback() {
		return false
	}
	if port == "" {
		port = "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	return port == strconv.Itoa(int(local.Port()))
}

// localHost is the address the connection arrived on as host:port, or the
// configured listen address when that is not known (a handler driven
// without an http.Server) and names one host.
func (p *urlPolicy) localHost(r *http.Request) string {
	if ap, ok := localAddr(r); ok {
		return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()).String()
	}
	host, _, err := net.SplitHostPort(p.listen)
	if err != nil || host == "" {
		return ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		return ""
	}
	return p.listen
}

func localAddr(r *http.Request) (netip.AddrPort, bool) {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || a == nil {
		return netip.AddrPort{}, false
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return ap, ap.IsValid()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

// firstValue is the first comma-separated element of a header's values.
func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v, _, _ := strings.Cut(values[0], ",")
	return strings.TrimSpace(v)
}

func forwardedProto(s string) string {
	switch strings.ToLower(s) {
	case "http", "https":
		return strings.ToLower(s)
	}
	return ""
}

// parseForwarded reads proto= and host= of the first element of an RFC 7239
// Forwarded header: the one the proxy nearest the client wrote. A header
// that does not parse is ignored as a whole; an invalid value alone.
func parseForwarded(values []string) (proto, host string) {
	if len(values) == 0 {
		return "", ""
	}
	s := strings.Join(values, ",")
	for i := 0; ; {
		// name
		j := i
		for j < len(s) && s[j] != '=' && s[j] != ';' && s[j] != ',' {
			j++
		}
		name := strings.ToLower(strings.TrimSpace(s[i:j]))
		if j >= len(s) || s[j] != '=' || name == "" || !validHeaderName(name) {
			return "", ""
		}
		j++
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		// value: token or quoted-string
		var val string
		if j < len(s) && s[j] == '"' {
			var b strings.Builder
			j++
			closed := false
			for j < len(s) {
				c := s[j]
				if c == '\\' && j+1 < len(s) {
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if c == '"' {
					closed = true
					j++
					break
				}
				b.WriteByte(c)
				j++
			}
			if !closed {
				return "", ""
			}
			val = b.String()
		} else {
			k := j
			for k < len(s) && s[k] != ';' && s[k] != ',' {
				k++
			}
			val = strings.TrimSpace(s[j:k])
			if !validHeaderName(val) && !validHostPort(val) {
				return "", ""
			}
			j = k
		}
		switch name {
		case "proto":
			proto = forwardedProto(val)
		case "host":
			if validHostPort(val) {
				host = val
			}
		}
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j >= len(s) || s[j] == ',' {
			return proto, host
		}
		if s[j] != ';' {
			return "", ""
		}
		i = j + 1
	}
}

// validHostPort checks a URL authority without userinfo: a DNS name, an IPv4
// address or a bracketed IPv6 address, and an optional port.
func validHostPort(s string) bool {
	if s == "" || len(s) > 261 {
		return false
	}
	name, port := splitHostPort(s)
	if port != "" {
		if len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
		if n, _ := strconv.Atoi(port); n < 1 || n > 65535 {
			return false
		}
	} else if strings.HasSuffix(s, ":") {
		return false
	}
	if strings.HasPrefix(s, "[") {
		a, err := netip.ParseAddr(name)
		return err == nil && a.Is6() && a.Zone() == ""
	}
	if name == "" || len(name) > 253 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// splitHostPort splits host[:port]; an IPv6 host loses its brackets. A
// string that is not of that shape comes back whole as the host.
func splitHostPort(s string) (host, port string) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return s, ""
		}
		host, rest := s[1:end], s[end+1:]
		if strings.HasPrefix(rest, ":") {
			return host, rest[1:]
		}
		if rest != "" {
			return s, ""
		}
		return host, ""
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// parsePublicURL checks Config.PublicURL and returns it normalized: a lower
// case scheme and no trailing slash. "" is valid (unset).
func parsePublicURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", fmt.Errorf("public_url %q is not a URL", s)
	case !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https"):
		return "", fmt.Errorf("public_url %q: want an absolute http:// or https:// URL", s)
	case u.Opaque != "" || u.Host == "":
		return "", fmt.Errorf("public_url %q: want an absolute URL with a host", s)
	case u.User != nil:
		return "", fmt.Errorf("public_url %q: a user or password does not belong in it", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return "", fmt.Errorf("public_url %q: a query or fragment does not belong in it", s)
	case !validHostPort(u.Host):
		return "", fmt.Errorf("public_url %q: the host is not a valid host[:port]", s)
	}
	return strings.ToLower(u.Scheme) + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// parseTrustedProxies reads IP addresses and CIDR prefixes; every bad entry
// is reported.
func parseTrustedProxies(list []string) ([]netip.Prefix, []error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			pr, err := netip.ParsePrefix(s)
			if err != nil || pr.Addr().Zone() != "" {
				errs = append(errs, fmt.Errorf("trusted_proxies: %q is not an IP address or CIDR prefix", s))
				continue
			}
			if pr.Addr().Is4In6() {
				pr = netip.PrefixFrom(pr.Addr().Unmap(), max(pr.Bits()-96, 0))
			}
			out = append(out, pr.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			errs = append(errs, fmt.Errorf("trusted_proxies: %q is not an IP address or CIDR prefix", s))
			continue
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, errs
}

// baseOfLocation recovers the version base from a resource's location,
// which endpoint.location builds as base + "/" + endpoint + "/" + id.
func baseOfLocation(rt *bridge.ResourceType, id, location string) (string, bool) {
	suffix := "/" + strings.Trim(rt.Endpoint, "/") + "/" + url.PathEscape(id)
	if id == "" || !strings.HasSuffix(location, suffix) {
		return "", false
	}
	return location[:len(location)-len(suffix)], true
}

// withRefs returns r's attributes with "$ref" (RFC 7643 §2.3.7) set on each
// value of a reference attribute (manager, members, groups) to the absolute
// URL of the resource it names, below the same version base as location.
// It runs before projection, so that attributes=members.value and
// excludedAttributes=members.$ref treat $ref as the sub-attribute it is.
// r.Attrs is not modified: what changes is copied. A value whose resource
// type cannot be known, or is not served here, gets no $ref; a $ref the
// service handed back (a client's, stored by a service that keeps bodies as
// sent) is not ours to vouch for and is dropped.
//
// Without discovery info (v1codec's rendering through v2codec{}) nothing is
// added: SCIM 1.1 answers carry no $ref, see v1codec.encodeResource.
//
// Attributes the selection drops as a whole are skipped: Entra reads groups
// with excludedAttributes=members, and a large group's members would be
// copied only to be thrown away.
func (c v2codec) withRefs(rt *bridge.ResourceType, r bridge.Resource, location string, sel selection) map[string]any {
	if c.info == nil || len(r.Attrs) == 0 {
		return r.Attrs
	}
	base, ok := baseOfLocation(rt, r.ID, location)
	if !ok {
		return r.Attrs
	}
	var out map[string]any
	set := func(k string, v any) {
		if out == nil {
			out = make(map[string]any, len(r.Attrs))
			for k, v := range r.Attrs {
				out[k] = v
			}
		}
		out[k] = v
	}
	for k, v := range r.Attrs {
		if ext := rt.Extension(k); ext != nil {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			var em map[string]any
			for ek, ev := range m {
				def := ext.Attr(ek)
				if sel.dropsWhole(ext.ID, false, def, ek) {
					continue
				}
				nv, changed := c.refValues(ext.ID, def, ev, base)
				if !changed {
					continue
				}
				if em == nil {
					em = make(map[string]any, len(m))
					for k, v := range m {
						em[k] = v
					}
				}
				em[ek] = nv
			}
			if em != nil {
				set(k, em)
			}
			continue
		}
		def := rt.Schema.Attr(k)
		if sel.dropsWhole(rt.Schema.ID, true, def, k) {
			continue
		}
		if nv, changed := c.refValues(rt.Schema.ID, def, v, base); changed {
			set(k, nv)
		}
	}
	if out == nil {
		return r.Attrs
	}
	return out
}

// dropsWhole reports whether the selection leaves out attribute name of
// schema urn altogether (see selection.project, which decides).
func (s selection) dropsWhole(urn string, core bool, def *bridge.AttrDef, name string) bool {
	if def != nil && def.Returned == "always" {
		return false
	}
	if len(s.include) > 0 {
		if s.namesSchema(s.include, urn) {
			return false
		}
		whole, subs := matchPaths(s.include, urn, core, name)
		return !whole && len(subs) == 0
	}
	if s.namesSchema(s.exclude, urn) {
		return true
	}
	whole, _ := matchPaths(s.exclude, urn, core, name)
	return whole
}

// refValues adds $ref to a reference attribute's value (one object, or a
// list of them) and reports whether it made a new value.
func (c v2codec) refValues(urn string, def *bridge.AttrDef, v any, base string) (any, bool) {
	if def == nil || def.Type != bridge.TypeComplex || def.Sub("$ref") == nil {
		return v, false
	}
	switch t := v.(type) {
	case map[string]any:
		return c.refItem(urn, def, t, base), true
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			if m, ok := x.(map[string]any); ok {
				out[i] = c.refItem(urn, def, m, base)
			} else {
				out[i] = x
			}
		}
		return out, true
	}
	return v, false
}

func (c v2codec) refItem(urn string, def *bridge.AttrDef, m map[string]any, base string) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		if !strings.EqualFold(k, "$ref") {
			out[k] = v
		}
	}
	idv, _ := lookupFold(m, "value")
	id, _ := idv.(string)
	if ep := c.refEndpoint(urn, def, m); ep != "" && id != "" {
		out["$ref"] = base + "/" + ep + "/" + url.PathEscape(id)
	}
	return out
}

// refEndpoint names the endpoint ("Users") of the resource a reference
// value points to, or "" when that cannot be known. A value's "type" says
// it where the attribute's type is a resource type (members: "User" or
// "Group"); a manager is a User (RFC 7643 §4.3) and a user's groups are
// Groups (§4.1.2; their "type" is "direct" or "indirect"); otherwise the
// $ref's referenceTypes must leave one resource type served here.
func (c v2codec) refEndpoint(urn string, def *bridge.AttrDef, m map[string]any) string {
	refTypes := def.Sub("$ref").ReferenceTypes
	if tv, ok := lookupFold(m, "type"); ok {
		if s, ok := tv.(string); ok && (len(refTypes) == 0 || refTypeListed(refTypes, s)) {
			if ep := c.endpointOf(s); ep != "" {
				return ep
			}
		}
	}
	switch {
	case strings.EqualFold(urn, bridge.EnterpriseSchema) && strings.EqualFold(def.Name, "manager"):
		return c.endpointOf("User")
	case strings.EqualFold(urn, bridge.UserSchema) && strings.EqualFold(def.Name, "groups"):
		return c.endpointOf("Group")
	}
	var only string
	n := 0
	for _, t := range refTypes {
		if ep := c.endpointOf(t); ep != "" {
			only, n = ep, n+1
		}
	}
	if n == 1 {
		return only
	}
	return ""
}

// endpointOf is the endpoint path segment of a served resource type.
func (c v2codec) endpointOf(typ string) string {
	for _, t := range c.info.types {
		if strings.EqualFold(t.Name, typ) {
			return strings.Trim(t.Endpoint, "/")
		}
	}
	return ""
}

func refTypeListed(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
