package main

import (
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEmbeddedBannerCommandsWork runs the curl, ldapwhoami and ldapsearch
// lines the start banner prints, as a newcomer would paste them, on two
// starts on the same data folder: the second start's sample user must not
// collide with the one the first created. The SCIM 1.1 URL it shows
// answers as SCIM 1.1.
func TestEmbeddedBannerCommandsWork(t *testing.T) {
	data := t.TempDir()
	token, adminPw := randHex(16), "adm-"+randHex(8)
	var users []string
	for start := 0; start < 2; start++ {
		gw := startGateway(t, []string{"DIRBRIDGE_DEV_TOKEN=" + token, "DIRBRIDGE_DEV_LDAP_PASSWORD=" + adminPw},
			"serve", "--data", data, "--scim-listen", "127.0.0.1:0", "--ldap-listen", "127.0.0.1:0")
		for i := 0; i < 200 && !strings.Contains(gw.output.String(), "ldapsearch -x"); i++ {
			time.Sleep(25 * time.Millisecond)
		}
		users = append(users, runBanner(t, gw.output.String(), token))
		gw.stop()
	}
	if users[0] != "jdoe" || users[1] == users[0] {
		t.Fatalf("sample users %q: want jdoe, then another", users)
	}
}

// runBanner runs the banner's commands and returns the sample user's name.
func runBanner(t *testing.T, out, token string) string {
	t.Helper()
	curl := regexp.MustCompile(`(?s)\n  (curl -s -X POST .*?)\n\n`).FindStringSubmatch(out)
	who := regexp.MustCompile(`\n  (ldapwhoami [^\n]*)`).FindStringSubmatch(out)
	search := regexp.MustCompile(`\n  (ldapsearch [^\n]*)`).FindStringSubmatch(out)
	v1 := regexp.MustCompile(`\n  SCIM 1\.1 +(http://\S+/v1) `).FindStringSubmatch(out)
	name := regexp.MustCompile(`"userName":"([^"]+)"`).FindStringSubmatch(out)
	if curl == nil || who == nil || search == nil || v1 == nil || name == nil {
		t.Fatalf("the banner lacks a command or URL:\n%s", out)
	}
	user := name[1]
	run := func(cmd string) string {
		t.Helper()
		b, err := exec.Command("sh", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, b)
		}
		return string(b)
	}
	if created := run(curl[1]); !strings.Contains(created, `"userName":"`+user+`"`) || !strings.Contains(created, `"id":"`) {
		t.Fatalf("the banner's curl did not create %s: %s", user, created)
	}
	if got := run(who[1]); !strings.Contains(got, "uid="+user+",ou=people,dc=example,dc=com") {
		t.Fatalf("the banner's ldapwhoami: %s", got)
	}
	got := run(search[1])
	for _, want := range []string{"sn: Doe", "givenName: Jane", "mail: " + user + "@example.com", "entryUUID: ", "userPassword:"} {
		if !strings.Contains(got, want) {
			t.Errorf("the banner's ldapsearch shows no %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Chang3-me-now") {
		t.Error("the password is stored in the clear")
	}
	sp := run("curl -s -H 'Authorization: Bearer " + token + "' " + v1[1] + "/ServiceProviderConfigs")
	if !strings.Contains(sp, "urn:scim:schemas:core:1.0") {
		t.Errorf("the banner's SCIM 1.1 URL does not answer as SCIM 1.1: %s", sp)
	}
	return user
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
		`dirbridge_build_info{commit="`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if resp.StatusCode != 200 || strings.Contains(body, "metrics.") {
		t.Fatalf("/metrics: %d, leaks a user name: %v", resp.StatusCode, strings.Contains(body, "metrics."))
	}
}
