package main

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// TestEmbeddedSeedsAppRoles: the first start of the embedded default creates
// the sample roles and licenses under ou=App Roles (seen with ldapsearch);
// later starts add nothing, so a role the operator deleted stays deleted.
func TestEmbeddedSeedsAppRoles(t *testing.T) {
	data := t.TempDir()
	token, adminPw := randHex(16), "adm-"+randHex(8)
	start := func() *ldapSetup {
		gw := startGateway(t, []string{"DIRBRIDGE_DEV_TOKEN=" + token, "DIRBRIDGE_DEV_LDAP_PASSWORD=" + adminPw},
			"serve", "--data", data, "--scim-listen", "127.0.0.1:0", "--ldap-listen", "127.0.0.1:0")
		for i := 0; i < 200 && !strings.Contains(gw.output.String(), "ldapsearch -x"); i++ {
			time.Sleep(25 * time.Millisecond)
		}
		m := ldapAddrRE.FindStringSubmatch(gw.output.String())
		if m == nil {
			t.Fatalf("no LDAP address in the output:\n%s", gw.output)
		}
		return &ldapSetup{gw: gw, URL: "ldap://" + m[1], AdminDN: "cn=admin,dc=example,dc=com", AdminPassword: adminPw}
	}
	const roles = "ou=App Roles,dc=example,dc=com"
	cns := func(s *ldapSetup) []string {
		var out []string
		for _, e := range s.search(t, roles, "(objectClass=groupOfNames)", "cn", "member") {
			if m := e.Attrs["member"]; len(m) != 1 || m[0] != "cn=nobody,dc=example,dc=com" {
				t.Errorf("%s: members %q, want only the placeholder", e.DN, m)
			}
			out = append(out, e.first("cn"))
		}
		sort.Strings(out)
		return out
	}

	s := start()
	want := []string{"App Administrator", "App Editor", "App Viewer", "Professional License", "Standard License"}
	if got := cns(s); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("seeded groups %q, want %q", got, want)
	}
	if n := len(s.search(t, "ou=Licenses,"+roles, "(objectClass=groupOfNames)", "cn")); n != 2 {
		t.Fatalf("%d licenses under ou=Licenses, want 2", n)
	}
	ldapModify(t, &oppSetup{ldapSetup: s}, "dn: cn=App Editor,"+roles+"\nchangetype: delete\n")
	s.gw.stop()

	s = start()
	want = []string{"App Administrator", "App Viewer", "Professional License", "Standard License"}
	if got := cns(s); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after a restart the groups are %q, want %q (nothing re-seeded, nothing doubled)", got, want)
	}
}
