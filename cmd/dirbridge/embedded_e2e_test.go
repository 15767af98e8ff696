package main

import (
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
