package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// The operator's view of one run against a real OpenLDAP: /metrics on its
// own listener (build info, the directory up), not on the SCIM port; the
// access line names the credential's label; a token sent in the query
// string appears nowhere in the log.
func TestOperationsMetricsListenAndLogs(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := l.Addr().String()
	l.Close()
	s := startWithOpenLDAP(t, "DIRBRIDGE_METRICS_LISTEN="+metricsAddr, "DIRBRIDGE_SCIM_AUTH_HEADER_LABEL=okta-app")
	g := s.gw
	g.do("POST", "/v2/Users", oktaUser("ops."+randHex(3), "O", "Ps", "Secr3t-Pass-word")).must(t, 201, "create")
	res, err := http.Get(g.base + "/v2/Users?access_token=SEKRIT-TOKEN-VALUE&filter=userName+eq+%22x%22")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	get := func(u string) (int, string) {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := get("http://" + metricsAddr + "/metrics")
	if code != 200 {
		t.Fatalf("metrics.listen /metrics: %d", code)
	}
	for _, want := range []string{`dirbridge_build_info{commit="`, `dirbridge_directory_up{url="` + s.URL + `"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics on metrics.listen lacks %s", want)
		}
	}
	if code, _ := get("http://" + metricsAddr + "/readyz"); code != 200 {
		t.Errorf("metrics.listen /readyz: %d", code)
	}
	if code, _ := get(g.base + "/metrics"); code == 200 {
		t.Error("the SCIM port still serves /metrics with metrics.listen set")
	}
	if code, _ := get(g.base + "/healthz"); code != 200 {
		t.Errorf("the SCIM port's /healthz: %d", code)
	}
	out := g.output.String()
	for _, secret := range []string{"SEKRIT-TOKEN-VALUE", "Secr3t-Pass-word", strings.TrimPrefix(g.auth, "Bearer "), s.AdminPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds a secret %q", secret)
		}
	}
	for _, want := range []string{"client=okta-app", `route="v2 Users"`, "status=201", "duration_ms=", "remote_addr=127.0.0.1",
		"op=create", "access_token=REDACTED", "metrics listening"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s", want)
		}
	}
	if n := strings.Count(out, "scim listening"); n != 1 {
		t.Errorf("%d scim listening lines", n)
	}
}
