package scimside

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// put stores a resource in a fake service as the directory would hand it
// back, with attributes clients cannot write (groups).
func put(f *fakeService, id string, attrs map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byID[id] = bridge.Resource{ID: id, Attrs: attrs, Meta: bridge.Meta{ResourceType: f.rt.Name, Version: `W/"1"`}}
	f.order = append(f.order, id)
}

// refFixture: u-1 has manager u-2 and is in g-1; g-1 has members u-1 (a
// User), g-2 (a Group) and one value without a type.
func refFixture(e *testEnv) {
	put(e.users, "u-2", map[string]any{"userName": "boss"})
	put(e.users, "u-1", map[string]any{"userName": "ann",
		bridge.EnterpriseSchema: map[string]any{"manager": map[string]any{"value": "u-2", "displayName": "Boss"}},
		"groups":                []any{map[string]any{"value": "g-1", "display": "Eng", "type": "direct"}},
	})
	put(e.groups, "g-2", map[string]any{"displayName": "Sub"})
	put(e.groups, "g-1", map[string]any{"displayName": "Eng", "members": []any{
		map[string]any{"value": "u-1", "type": "User", "display": "ann"},
		map[string]any{"value": "g-2", "type": "Group", "$ref": "https://evil.example/v2/Groups/g-2"},
		map[string]any{"value": "x-9"},
	}})
}

func TestRefURLs(t *testing.T) {
	e := newEnv(t)
	refFixture(e)
	for _, base := range []string{"/v2", "/scim/v2"} {
		u := e.expect(e.do("GET", base+"/Users/u-1", nil), 200, "get user")
		// lookup splits on dots, and the URN has some: walk it by hand.
		ent, _ := u.json[bridge.EnterpriseSchema].(map[string]any)
		mgr, _ := ent["manager"].(map[string]any)
		if mgr["$ref"] != e.ts.URL+base+"/Users/u-2" || mgr["value"] != "u-2" {
			t.Errorf("%s manager: %s", base, u.body)
		}
		if u.str("groups.0.$ref") != e.ts.URL+base+"/Groups/g-1" || u.str("groups.0.type") != "direct" {
			t.Errorf("%s groups: %s", base, u.body)
		}
		g := e.expect(e.do("GET", base+"/Groups/g-1", nil), 200, "get group")
		if g.str("members.0.$ref") != e.ts.URL+base+"/Users/u-1" {
			t.Errorf("%s user member: %s", base, g.body)
		}
		// A $ref the service handed back is replaced by the gateway's own.
		if g.str("members.1.$ref") != e.ts.URL+base+"/Groups/g-2" {
			t.Errorf("%s group member: %s", base, g.body)
		}
		// A value of unknown type gets none rather than a guess.
		if m, _ := lookup(g.json, "members.2").(map[string]any); m == nil || m["value"] != "x-9" || m["$ref"] != nil {
			t.Errorf("%s untyped member: %s", base, g.body)
		}
	}
	// Lists carry them too, and the stored resource is not changed.
	l := e.expect(e.do("GET", "/v2/Groups?filter="+`displayName%20eq%20%22Eng%22`, nil), 200, "list")
	if lookup(l.json, "Resources.0.members.0.$ref") != e.ts.URL+"/v2/Users/u-1" {
		t.Errorf("list: %s", l.body)
	}
	if m := e.groups.byID["g-1"].Attrs["members"].([]any)[0].(map[string]any); m["$ref"] != nil {
		t.Errorf("the service's resource was modified: %v", m)
	}

	// SCIM 1.1 answers stay as they were.
	for _, p := range []string{"/v1/Users/u-1", "/Users/u-1", "/v1/Groups/g-1"} {
		r := e.expect(e.do("GET", p, nil), 200, p)
		if strings.Contains(string(r.body), `"$ref":"`+e.ts.URL) {
			t.Errorf("%s: 1.1 answer has $ref: %s", p, r.body)
		}
	}
}

func TestRefProjection(t *testing.T) {
	e := newEnv(t)
	refFixture(e)
	g := e.expect(e.do("GET", "/v2/Groups/g-1?attributes=members.value", nil), 200, "attributes=members.value")
	for i := 0; i < 3; i++ {
		m, _ := lookup(g.json, "members."+string(rune('0'+i))).(map[string]any)
		if len(m) != 1 || m["value"] == nil {
			t.Errorf("attributes=members.value kept more than value: %s", g.body)
		}
	}
	g = e.expect(e.do("GET", "/v2/Groups/g-1?excludedAttributes=members.$ref", nil), 200, "excluded members.$ref")
	if strings.Contains(string(g.body), "$ref") || g.str("members.0.value") != "u-1" {
		t.Errorf("excludedAttributes=members.$ref: %s", g.body)
	}
	g = e.expect(e.do("GET", "/v2/Groups/g-1?attributes=members.$ref", nil), 200, "attributes=members.$ref")
	if m, _ := lookup(g.json, "members.0").(map[string]any); len(m) != 1 || m["$ref"] != e.ts.URL+"/v2/Users/u-1" {
		t.Errorf("attributes=members.$ref: %s", g.body)
	}
	u := e.expect(e.do("GET", "/v2/Users/u-1?attributes="+bridge.EnterpriseSchema+":manager.$ref", nil), 200, "manager.$ref")
	ent, _ := u.json[bridge.EnterpriseSchema].(map[string]any)
	if mgr, _ := ent["manager"].(map[string]any); len(mgr) != 1 || mgr["$ref"] != e.ts.URL+"/v2/Users/u-2" {
		t.Errorf("attributes=manager.$ref: %s", u.body)
	}
}

// TestRefsSkipDroppedAttributes: members excluded are not copied to get a
// $ref they will not show.
func TestRefsSkipDroppedAttributes(t *testing.T) {
	gt := groupType()
	c := v2codec{info: &discoveryInfo{types: []*bridge.ResourceType{userType(), gt}}}
	r := bridge.Resource{ID: "g-1", Attrs: map[string]any{"displayName": "x",
		"members": []any{map[string]any{"value": "u-1", "type": "User"}}}}
	loc := "https://x.example/v2/Groups/g-1"
	for _, sel := range []selection{parseSelection(gt, nil, []string{"members"}), parseSelection(gt, []string{"displayName"}, nil)} {
		if got := c.withRefs(gt, r, loc, sel); got["members"].([]any)[0].(map[string]any)["$ref"] != nil {
			t.Errorf("%+v: members copied with a $ref", sel)
		}
	}
	for _, sel := range []selection{{}, parseSelection(gt, []string{"members.$ref"}, nil), parseSelection(gt, nil, []string{"displayName"})} {
		if got := c.withRefs(gt, r, loc, sel); got["members"].([]any)[0].(map[string]any)["$ref"] != "https://x.example/v2/Users/u-1" {
			t.Errorf("%+v: no $ref: %v", sel, got)
		}
	}
}

// TestRefInputIgnored: $ref is readOnly; a client that sends one (Entra's
// "$ref": null, or a URL) is served as before, by value.
func TestRefInputIgnored(t *testing.T) {
	e := newEnv(t)
	refFixture(e)
	g := e.expect(e.do("POST", "/v2/Groups", map[string]any{"schemas": []string{bridge.GroupSchema}, "displayName": "New",
		"members": []any{map[string]any{"value": "u-1", "type": "User", "$ref": "https://evil.example/x"}, map[string]any{"value": "u-2", "$ref": nil}}}), 201, "create")
	if g.str("members.0.value") != "u-1" || g.str("members.1.value") != "u-2" || strings.Contains(string(g.body), "evil") {
		t.Errorf("create with $ref: %s", g.body)
	}
	r := e.do("PATCH", "/v2/Groups/"+g.str("id"), map[string]any{"schemas": []string{patchOpURN}, "Operations": []any{
		map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "u-2", "$ref": nil}}}}})
	if r.status != 204 && r.status != 200 {
		t.Fatalf("patch with $ref: %d %s", r.status, r.body)
	}
}

func TestPublicURL(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Services) {
		c.PublicURL = "https://scim.corp.example/dirbridge/"
		c.TrustedProxies = []string{"127.0.0.1"}
	})
	refFixture(e)
	const pub = "https://scim.corp.example/dirbridge"
	// Neither Host nor a trusted proxy's headers override it.
	hdr := []string{"X-Forwarded-Host", "other.example", "X-Forwarded-Proto", "http"}
	created := e.expect(e.doHost("POST", "/v2/Users", oktaUser("pub@example.com"), "evil.example", hdr...), 201, "create")
	id := created.str("id")
	if loc := created.header.Get("Location"); loc != pub+"/v2/Users/"+id {
		t.Errorf("Location %q", loc)
	}
	if created.str("meta.location") != pub+"/v2/Users/"+id {
		t.Errorf("meta.location: %s", created.body)
	}
	u := e.expect(e.doHost("GET", "/v2/Users/u-1", nil, "evil.example", hdr...), 200, "get")
	ent, _ := u.json[bridge.EnterpriseSchema].(map[string]any)
	if mgr, _ := ent["manager"].(map[string]any); mgr["$ref"] != pub+"/v2/Users/u-2" {
		t.Errorf("manager $ref: %s", u.body)
	}
	if u.str("groups.0.$ref") != pub+"/v2/Groups/g-1" {
		t.Errorf("groups $ref: %s", u.body)
	}
	rt := e.expect(e.doHost("GET", "/v2/ResourceTypes", nil, "evil.example", hdr...), 200, "resource types")
	if lookup(rt.json, "Resources.0.meta.location") != pub+"/v2/ResourceTypes/User" {
		t.Errorf("ResourceTypes: %s", rt.body)
	}
	rt = e.expect(e.doHost("GET", "/scim/v2/ResourceTypes/Group", nil, "evil.example", hdr...), 200, "resource type")
	if rt.str("meta.location") != pub+"/scim/v2/ResourceTypes/Group" {
		t.Errorf("ResourceTypes/Group: %s", rt.body)
	}
	sc := e.expect(e.doHost("GET", "/v2/Schemas", nil, "evil.example", hdr...), 200, "schemas")
	res, _ := sc.json["Resources"].([]any)
	if len(res) == 0 {
		t.Fatalf("no schemas: %s", sc.body)
	}
	for _, s := range res {
		loc, _ := lookup(s, "meta.location").(string)
		id, _ := lookup(s, "id").(string)
		if loc != pub+"/v2/Schemas/"+id {
			t.Errorf("schema %s location %q", id, loc)
		}
	}
	spc := e.expect(e.doHost("GET", "/v2/ServiceProviderConfig", nil, "evil.example", hdr...), 200, "spc")
	if spc.str("meta.location") != pub+"/v2/ServiceProviderConfig" {
		t.Errorf("ServiceProviderConfig: %s", spc.body)
	}
	// SCIM 1.1 at the bare base: the public URL itself is the base.
	v1 := e.expect(e.doHost("POST", "/Users", oktaUser("pub11@example.com"), "evil.example", hdr...), 201, "create 1.1")
	if loc := v1.header.Get("Location"); loc != pub+"/Users/"+v1.str("id") {
		t.Errorf("1.1 Location %q", loc)
	}
	for _, r := range []resp{created, u, rt, sc, spc, v1} {
		if strings.Contains(string(r.body), "evil.example") || strings.Contains(string(r.body), "other.example") {
			t.Errorf("a header's host leaked: %s", r.body)
		}
	}
}

// doHost sends a request with the given Host header and extra headers
// (name, value pairs), as do does otherwise.
func (e *testEnv) doHost(method, path string, body any, host string, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(mustJSON(body))
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = host
	e.auth(req)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out := resp{status: res.StatusCode, header: res.Header}
	out.body, _ = io.ReadAll(res.Body)
	if len(out.body) > 0 {
		if err := json.Unmarshal(out.body, &out.json); err != nil {
			e.t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, out.body)
		}
	}
	return out
}

func TestUntrustedHostIgnored(t *testing.T) {
	for _, proxies := range [][]string{nil, {"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"}} {
		e := newEnv(t, func(c *Config, _ *Services) { c.TrustedProxies = proxies })
		refFixture(e)
		hdr := []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "Forwarded", "proto=https;host=evil.example"}
		var all []resp
		c := e.expect(e.doHost("POST", "/v2/Users", oktaUser("h@example.com"), "evil.example", hdr...), 201, "create")
		id := c.str("id")
		all = append(all, c,
			e.expect(e.doHost("GET", "/v2/Users/u-1", nil, "evil.example", hdr...), 200, "get"),
			e.expect(e.doHost("GET", "/v2/Groups/g-1", nil, "evil.example", hdr...), 200, "get group"),
			e.expect(e.doHost("GET", "/v2/Users", nil, "evil.example:8080", hdr...), 200, "list"),
			e.expect(e.doHost("PUT", "/v2/Users/"+id, oktaUser("h@example.com"), "evil.example", hdr...), 200, "put"),
			e.expect(e.doHost("PATCH", "/v2/Users/"+id, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "title", "value": "x"}}}, "evil.example", hdr...), 200, "patch"),
			e.expect(e.doHost("GET", "/v2/ResourceTypes", nil, "evil.example", hdr...), 200, "resource types"),
			e.expect(e.doHost("GET", "/v2/Schemas", nil, "evil.example", hdr...), 200, "schemas"),
			e.expect(e.doHost("GET", "/v2/ServiceProviderConfig", nil, "evil.example", hdr...), 200, "spc"),
			e.expect(e.doHost("POST", "/v1/Users", oktaUser("h11@example.com"), "evil.example", hdr...), 201, "create 1.1"),
			e.expect(e.doHost("GET", "/Schemas", nil, "evil.example", hdr...), 200, "schemas 1.1"),
		)
		for _, r := range all {
			for k, vs := range r.header {
				for _, v := range vs {
					if strings.Contains(v, "evil") {
						t.Errorf("header %s: %q", k, v)
					}
				}
			}
			if strings.Contains(string(r.body), "evil") {
				t.Errorf("body: %s", r.body)
			}
		}
		if loc := c.header.Get("Location"); loc != e.ts.URL+"/v2/Users/"+id {
			t.Errorf("Location %q, want the address the request came in on (%s)", loc, e.ts.URL)
		}
		if lookup(all[1].json, "groups.0.$ref") != e.ts.URL+"/v2/Groups/g-1" {
			t.Errorf("$ref: %s", all[1].body)
		}
	}
}

func TestTrustedProxyHeaders(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Services) { c.TrustedProxies = []string{"192.0.2.0/24", "127.0.0.0/8"} })
	refFixture(e)
	for _, c := range []struct {
		host string
		hdr  []string
		want string
	}{
		{"inner:8080", []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "scim.corp.example"}, "https://scim.corp.example"},
		{"inner:8080", []string{"X-Forwarded-Proto", "HTTPS, http", "X-Forwarded-Host", "scim.corp.example:8443, inner:8080"}, "https://scim.corp.example:8443"},
		{"inner:8080", []string{"Forwarded", `for=192.0.2.60;proto=https;host="front.example", for=10.0.0.1;host=inner`}, "https://front.example"},
		{"inner:8080", []string{"Forwarded", `Proto=https; Host=[2001:db8::1]:8443`}, "https://[2001:db8::1]:8443"},
		// Forwarded wins over X-Forwarded-*; what it lacks comes from them.
		{"inner:8080", []string{"Forwarded", "host=a.example", "X-Forwarded-Host", "b.example", "X-Forwarded-Proto", "https"}, "https://a.example"},
		// A proxy that passes only the Host on.
		{"scim.corp.example", nil, "http://scim.corp.example"},
	} {
		r := e.expect(e.doHost("GET", "/v2/Users/u-1", nil, c.host, c.hdr...), 200, "get")
		if r.str("meta.location") != c.want+"/v2/Users/u-1" || r.str("groups.0.$ref") != c.want+"/v2/Groups/g-1" {
			t.Errorf("%v: meta.location %q, $ref %q; want %s", c.hdr, r.str("meta.location"), r.str("groups.0.$ref"), c.want)
		}
	}
}

func TestMalformedForwardedIgnored(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Services) { c.TrustedProxies = []string{"127.0.0.1", "::1"} })
	refFixture(e)
	want := e.ts.URL + "/v2/Users/u-1" // the proxy's own Host: the test server's address
	for _, hdr := range [][]string{
		{"X-Forwarded-Host", "evil.example/path"},
		{"X-Forwarded-Host", "user@evil.example"},
		{"X-Forwarded-Host", "evil example"},
		{"X-Forwarded-Host", "evil.example:99999"},
		{"X-Forwarded-Host", "evil.example:"},
		{"X-Forwarded-Host", "evil.example:80x"},
		{"X-Forwarded-Host", "[::1%25eth0]"},
		{"X-Forwarded-Host", "evil.example?q=1"},
		{"X-Forwarded-Proto", "javascript"},
		{"X-Forwarded-Proto", "ftp"},
		{"Forwarded", `host="evil.example/x"`},
		{"Forwarded", `host="evil example"`},
		{"Forwarded", `host="evil.example`},
		{"Forwarded", `proto=gopher`},
		{"Forwarded", `host=evil.example;;`},
		{"Forwarded", `=evil.example`},
		{"Forwarded", `host evil.example`},
	} {
		r := e.expect(e.do("GET", "/v2/Users/u-1", nil, hdr...), 200, "get")
		if r.str("meta.location") != want || strings.Contains(string(r.body), "evil") {
			t.Errorf("%q: meta.location %q, want %q", hdr, r.str("meta.location"), want)
		}
	}
}

func TestValidHostPort(t *testing.T) {
	for s, ok := range map[string]bool{
		"scim.example":           true,
		"scim.example:8443":      true,
		"127.0.0.1:8080":         true,
		"[2001:db8::1]":          true,
		"[2001:db8::1]:443":      true,
		"under_score.local":      true,
		"":                       false,
		"a b":                    false,
		"a\r\nSet-Cookie: x":     false,
		"a\tb":                   false,
		"u@host":                 false,
		"host/path":              false,
		"host:0":                 false,
		"host:65536":             false,
		"host:+80":               false,
		"host:":                  false,
		"[fe80::1%eth0]":         false,
		"[10.0.0.1]":             false,
		"2001:db8::1":            false,
		"host\x00":               false,
		"ho%73t":                 false,
		strings.Repeat("a", 300): false,
	} {
		if got := validHostPort(s); got != ok {
			t.Errorf("validHostPort(%q) = %v, want %v", s, got, ok)
		}
	}
}

func TestParseForwarded(t *testing.T) {
	for _, c := range []struct {
		in          []string
		proto, host string
	}{
		{[]string{`proto=https;host=a.example`}, "https", "a.example"},
		{[]string{`for="[2001:db8::1]:4711";proto=http;host="a.example:81"`}, "http", "a.example:81"},
		{[]string{`for=1.2.3.4`, `host=b.example`}, "", ""}, // the second element is another proxy's
		{[]string{`host=a.example, host=b.example`}, "", "a.example"},
		{[]string{`host="a\.example"`}, "", "a.example"},
		{[]string{`proto=https;host="a b"`}, "https", ""},
		{[]string{`proto=https;host`}, "", ""},
		{[]string{`proto=https host=a`}, "", ""},
		{[]string{`"x"=y`}, "", ""},
		{nil, "", ""},
	} {
		p, h := parseForwarded(c.in)
		if p != c.proto || h != c.host {
			t.Errorf("parseForwarded(%q) = %q, %q; want %q, %q", c.in, p, h, c.proto, c.host)
		}
	}
}

// selfSigned makes a certificate for the names.
func selfSigned(t *testing.T, names ...string) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestDirectClientHost covers the rule for clients that are not proxies:
// Host counts only when it names this server.
func TestDirectClientHost(t *testing.T) {
	p := newURLPolicy(Config{Listen: "0.0.0.0:8443"}, selfSigned(t, "scim.corp.example", "*.dirbridge.example"))
	req := func(host, local string, tlsOn bool) *http.Request {
		r := httptest.NewRequest("GET", "/v2/Users", nil)
		r.Host, r.RemoteAddr = host, "203.0.113.9:5000"
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		}
		if local != "" {
			la, err := net.ResolveTCPAddr("tcp", local)
			if err != nil {
				t.Fatal(err)
			}
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(la)))
		}
		return r
	}
	for _, c := range []struct {
		host, local string
		tls         bool
		want        string
	}{
		{"scim.corp.example:8443", "10.1.2.3:8443", true, "https://scim.corp.example:8443/v2"},
		{"scim.corp.example", "10.1.2.3:8443", true, "https://scim.corp.example/v2"}, // a port forward in front
		{"a.dirbridge.example", "10.1.2.3:8443", true, "https://a.dirbridge.example/v2"},
		{"evil.example", "10.1.2.3:8443", true, "https://10.1.2.3:8443/v2"},
		{"scim.corp.example", "10.1.2.3:8443", false, "http://10.1.2.3:8443/v2"}, // a name proves nothing without TLS
		{"localhost:8443", "127.0.0.1:8443", false, "http://localhost:8443/v2"},
		{"localhost:9999", "127.0.0.1:8443", false, "http://127.0.0.1:8443/v2"},
		{"localhost:8443", "10.1.2.3:8443", false, "http://10.1.2.3:8443/v2"},
		{"evil.example", "[::ffff:10.1.2.3]:8443", false, "http://10.1.2.3:8443/v2"},
		{"evil.example", "[2001:db8::5]:8443", false, "http://[2001:db8::5]:8443/v2"},
		{"evil.example", "", false, "/v2"}, // wildcard listen, connection address unknown
	} {
		if got := p.baseURL(req(c.host, c.local, c.tls), "/v2"); got != c.want {
			t.Errorf("Host %q on %s (tls %v): %q, want %q", c.host, c.local, c.tls, got, c.want)
		}
	}
	p = newURLPolicy(Config{Listen: "127.0.0.1:8080"}, nil)
	if got := p.baseURL(req("evil.example", "", false), "/v2"); got != "http://127.0.0.1:8080/v2" {
		t.Errorf("no connection address, specific listen: %q", got)
	}
}

func TestURLConfigValidation(t *testing.T) {
	base := Config{Auth: AuthConfig{AllowAnonymous: true}}
	for _, good := range []string{"https://scim.corp.example/dirbridge", "http://127.0.0.1:8080/", "HTTPS://[2001:db8::1]:8443"} {
		c := base
		c.PublicURL = good
		if _, err := c.withDefaults().validate(); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
	if got, _ := parsePublicURL("HTTPS://Scim.example/a/b/"); got != "https://Scim.example/a/b" {
		t.Errorf("normalized: %q", got)
	}
	c := base
	c.PublicURL = "ftp://x.example"
	c.TrustedProxies = []string{"10.0.0.0/8", "not-an-ip", "10.0.0.0/33", "fe80::1%eth0", "::1"}
	_, err := c.withDefaults().validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"public_url", `"not-an-ip"`, `"10.0.0.0/33"`, `"fe80::1%eth0"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"::1"`) || strings.Contains(err.Error(), `"10.0.0.0/8"`) {
		t.Errorf("a valid entry reported: %v", err)
	}
	for _, bad := range []string{"scim.example", "/dirbridge", "https://", "https://u:p@x.example", "https://x.example/?a=1",
		"https://x.example/#f", "https://x.example/?", "https://bad host/", "mailto:a@b.example"} {
		if _, err := parsePublicURL(bad); err == nil {
			t.Errorf("public_url %q accepted", bad)
		}
	}
	if ps, errs := parseTrustedProxies([]string{"::ffff:10.0.0.0/104", "10.9.8.7/8"}); len(errs) > 0 || len(ps) != 2 ||
		ps[0].String() != "10.0.0.0/8" || ps[1].String() != "10.0.0.0/8" {
		t.Errorf("parseTrustedProxies: %v %v", ps, errs)
	}
}
