package main

import (
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestEmbeddedBannerCommandsWork runs the curl, ldapwhoami and ldapsearch
// lines the start banner prints, as a newcomer would paste them.
func TestEmbeddedBannerCommandsWork(t *testing.T) {
	s := startEmbedded(t)
	out := s.gw.output.String()
	curl := regexp.MustCompile(`(?s)\n  (curl -s -X POST .*?)\n\n`).FindStringSubmatch(out)
	who := regexp.MustCompile(`\n  (ldapwhoami [^\n]*)`).FindStringSubmatch(out)
	search := regexp.MustCompile(`\n  (ldapsearch [^\n]*)`).FindStringSubmatch(out)
	if curl == nil || who == nil || search == nil {
		t.Fatalf("the banner lacks a command:\n%s", out)
	}
	run := func(cmd string) string {
		t.Helper()
		b, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, b)
		}
		return string(b)
	}
	if created := run(curl[1]); !strings.Contains(created, `"userName":"jdoe"`) {
		t.Fatalf("the banner's curl did not create jdoe: %s", created)
	}
	if got := run(who[1]); !strings.Contains(got, "uid=jdoe,ou=people,dc=example,dc=com") {
		t.Fatalf("the banner's ldapwhoami: %s", got)
	}
	got := run(search[1])
	for _, want := range []string{"sn: Doe", "givenName: Jane", "mail: jdoe@example.com", "entryUUID: ", "userPassword:"} {
		if !strings.Contains(got, want) {
			t.Errorf("the banner's ldapsearch shows no %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Chang3-me-now") {
		t.Error("the password is stored in the clear")
	}
}

// TestEmbeddedListensOnLoopbackOnly: other addresses are refused with a
// clear message before anything starts.
func TestEmbeddedListensOnLoopbackOnly(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--data", t.TempDir(), "--scim-listen", "0.0.0.0:0"},
		{"serve", "--data", t.TempDir(), "--ldap-listen", "192.0.2.1:1389"},
	} {
		out, err := exec.Command(binPath, args...).CombinedOutput()
		if err == nil {
			t.Fatalf("%v started", args)
		}
		if !strings.Contains(string(out), "loopback only") {
			t.Fatalf("%v: unclear refusal: %s", args, out)
		}
	}
}

// TestMetrics: /metrics answers without credentials and counts what was
// done, by route and by directory operation, with no raw paths as labels.
func TestMetrics(t *testing.T) {
	s := startEmbedded(t)
	g := s.gw
	g.do("POST", "/v2/Users", oktaUser("metrics."+randHex(3), "M", "Etrics", "")).must(t, 201, "create")
	g.do("GET", "/v2/Users/"+randUUID(), nil)
	auth := g.auth
	g.auth = ""
	resp, err := client.Get(g.base + "/metrics")
	g.auth = auth
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	for _, want := range []string{
		`dirbridge_scim_requests_total{method="POST",route="v2 Users",status="201"} 1`,
		`dirbridge_scim_requests_total{method="GET",route="v2 Users/{id}",status="404"} 1`,
		`dirbridge_directory_operations_total{op="add",outcome="ok"} 1`,
		`dirbridge_directory_operations_total{op="get",outcome="not_found"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if resp.StatusCode != 200 || strings.Contains(body, "metrics.") {
		t.Fatalf("/metrics: %d, leaks a user name: %v", resp.StatusCode, strings.Contains(body, "metrics."))
	}
}
