package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/testenv"
)

// plainOpenLDAP starts an OpenLDAP without the ppolicy and memberof
// overlays, with the access rule that refuses binds of accounts locked by
// nsAccountLock, and writes a configuration whose users table disables
// accounts as 389 DS and FreeIPA do ([lifecycle] disable = "attribute",
// nsAccountLock = TRUE). It returns the directory and the config's path.
func plainOpenLDAP(t *testing.T) (*testenv.OpenLDAP, string) {
	t.Helper()
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{Overlays: []string{"sssvlv"}, ExtraSchema: testenv.AccountLockSchema})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.AddAccess(testenv.AccountLockACL); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	users, err := os.ReadFile("../../conf/examples/openldap-users.toml")
	if err != nil {
		t.Fatal(err)
	}
	table := strings.Replace(string(users), `object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]`,
		`object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson", "dirbridgeAccountLock"]`, 1)
	if table == string(users) {
		t.Fatal("the example users table has changed: adapt the test")
	}
	table += "\n[lifecycle]\ndisable = \"attribute\"\nattribute = \"nsAccountLock\"\ndisabled_value = \"TRUE\"\n"
	groups, _ := filepath.Abs("../../conf/examples/openldap-groups.toml")
	cfg, err := os.ReadFile("../../conf/examples/openldap.toml")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(cfg), `users = "openldap-users.toml"`, `users = "users.toml"`, 1)
	conf = strings.Replace(conf, `groups = "openldap-groups.toml"`, `groups = "`+groups+`"`, 1)
	for name, data := range map[string]string{"users.toml": table, "dirbridge.toml": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return o, filepath.Join(dir, "dirbridge.toml")
}

// startPlainOpenLDAP runs the gateway on plainOpenLDAP's directory (through
// url when given, e.g. a fault proxy).
func startPlainOpenLDAP(t *testing.T, o *testenv.OpenLDAP, config, url string, extraEnv ...string) *ldapSetup {
	t.Helper()
	if url == "" {
		url = o.URL
	}
	token := "Bearer " + randHex(16)
	env := append([]string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_NAME=Authorization",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=" + token,
		"DIRBRIDGE_LDAP_URLS=" + url,
		"DIRBRIDGE_LDAP_BIND_DN=" + o.AdminDN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + o.AdminPassword,
		"DIRBRIDGE_LDAP_BASE_DN=" + o.BaseDN,
	}, extraEnv...)
	gw := startGateway(t, env, "serve", "--config", config)
	gw.auth = token
	return &ldapSetup{gw: gw, URL: o.URL, BaseDN: o.BaseDN, AdminDN: o.AdminDN, AdminPassword: o.AdminPassword,
		PeopleDN: o.PeopleDN, GroupsDN: o.GroupsDN, Restart: o.Restart}
}

func whoami(url, dn, password string) error {
	return exec.Command("ldapwhoami", "-x", "-H", url, "-D", dn, "-w", password).Run()
}

// ids returns the "value"s of a multi-valued complex attribute.
func ids(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			if s, ok := m["value"].(string); ok {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestLifecycleWithoutPPolicyOrMemberOf is issue #13's directory: an
// OpenLDAP without ppolicy and without memberof. active:false disables the
// account by nsAccountLock (the user cannot bind, SCIM and ldapsearch both
// see it), active:true enables it, DELETE leaves it disabled in the
// leavers; a user's groups over SCIM are the groups that name it over
// ldapsearch, and filters on them and on active work.
func TestLifecycleWithoutPPolicyOrMemberOf(t *testing.T) {
	if _, err := exec.LookPath("ldapwhoami"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ldap-utils are not installed; CI needs them (the directory tiers are never skipped there)")
		}
		t.Skip("ldap-utils are not installed")
	}
	o, config := plainOpenLDAP(t)
	s := startPlainOpenLDAP(t, o, config, "", "DIRBRIDGE_USERS_STRIP_GROUPS_ON_DISABLE=true")
	g := s.gw
	name := "nolock." + randHex(3)
	dn := "uid=" + name + "," + s.PeopleDN
	id := g.do("POST", "/v2/Users", oktaUser(name, "No", "Lock", "Pass-Word-1")).must(t, 201, "create").str("id")
	if err := whoami(s.URL, dn, "Pass-Word-1"); err != nil {
		t.Fatalf("a new, active user cannot bind: %v", err)
	}
	other := g.do("POST", "/v2/Users", oktaUser("other."+randHex(3), "O", "Ther", "")).must(t, 201, "create other").str("id")
	g1 := s.newGroup(t, "Lock One "+randHex(3), id, other)
	g2 := s.newGroup(t, "Lock Two "+randHex(3), id)

	// groups: over SCIM what ldapsearch says.
	naming := s.groupsNaming(t, strings.ToLower(dn))
	if len(naming) != 2 {
		t.Fatalf("ldapsearch: groups naming the user: %v", naming)
	}
	got := g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "get")
	if want := sorted(g1, g2); !slices.Equal(ids(got.get("groups")), want) {
		t.Fatalf("groups over SCIM %v, want %v (ldapsearch: %v)", ids(got.get("groups")), want, naming)
	}
	if got.get("active") != true {
		t.Fatalf("active = %v", got.get("active"))
	}
	list := g.do("GET", "/v2/Users?filter="+filterQ(`groups.value eq "`+g2+`"`), nil).must(t, 200, "filter groups")
	if list.get("totalResults") != 1.0 || list.str("Resources.0.id") != id {
		t.Errorf("groups.value eq g2: %s", list.Raw)
	}
	list = g.do("GET", "/v2/Users?filter="+filterQ(`groups.value eq "`+g1+`"`)+"&count=10", nil).must(t, 200, "filter groups")
	if list.get("totalResults") != 2.0 {
		t.Errorf("groups.value eq g1: %s", list.Raw)
	}
	for _, r := range []any{list.get("Resources.0.groups"), list.get("Resources.1.groups")} {
		if len(ids(r)) == 0 {
			t.Errorf("a page of users lists no groups: %s", list.Raw)
		}
	}

	// Disable: nsAccountLock, no bind, groups stripped (strip_groups_on_disable).
	got = g.do("PATCH", "/v2/Users/"+id, patchActive(false)).must(t, 200, "deactivate")
	if got.get("active") != false {
		t.Fatalf("after active:false, active = %v", got.get("active"))
	}
	if e := s.search(t, dn, "(objectClass=*)", "nsAccountLock"); len(e) != 1 || !slices.Equal(e[0].Attrs["nsaccountlock"], []string{"TRUE"}) {
		t.Fatalf("ldapsearch after active:false: %+v", e)
	}
	if err := whoami(s.URL, dn, "Pass-Word-1"); err == nil {
		t.Fatal("a deactivated user can still bind")
	}
	if n := s.groupsNaming(t, strings.ToLower(dn)); len(n) != 0 {
		t.Errorf("strip_groups_on_disable: groups still name the user: %v", n)
	}
	if got := g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "get"); got.get("active") != false || len(ids(got.get("groups"))) != 0 {
		t.Errorf("read back: active %v, groups %v", got.get("active"), got.get("groups"))
	}
	list = g.do("GET", "/v2/Users?filter="+filterQ(`userName eq "`+name+`" and active eq false`), nil).must(t, 200, "filter active")
	if list.get("totalResults") != 1.0 {
		t.Errorf("active eq false: %s", list.Raw)
	}

	// Enable again.
	got = g.do("PATCH", "/v2/Users/"+id, patchActive(true)).must(t, 200, "activate")
	if got.get("active") != true {
		t.Fatalf("after active:true, active = %v", got.get("active"))
	}
	if e := s.search(t, dn, "(objectClass=*)", "nsAccountLock"); len(e) != 1 || len(e[0].Attrs["nsaccountlock"]) != 0 {
		t.Fatalf("ldapsearch after active:true: %+v", e)
	}
	if err := whoami(s.URL, dn, "Pass-Word-1"); err != nil {
		t.Fatalf("a reactivated user cannot bind: %v", err)
	}
	list = g.do("GET", "/v2/Users?filter="+filterQ(`userName eq "`+name+`" and active eq true`), nil).must(t, 200, "filter active")
	if list.get("totalResults") != 1.0 {
		t.Errorf("active eq true: %s", list.Raw)
	}

	// DELETE: gone for SCIM, disabled in the leavers.
	g.do("DELETE", "/v2/Users/"+id, nil).must(t, 204, "delete")
	g.do("GET", "/v2/Users/"+id, nil).must(t, 404, "get after delete")
	left := s.search(t, "ou=leavers,"+s.BaseDN, "(uid="+name+")", "nsAccountLock")
	if len(left) != 1 || !slices.Equal(left[0].Attrs["nsaccountlock"], []string{"TRUE"}) {
		t.Fatalf("leavers after DELETE: %+v", left)
	}
	if err := whoami(s.URL, left[0].DN, "Pass-Word-1"); err == nil {
		t.Error("a deleted user can still bind")
	}
	if !strings.Contains(g.output.String(), "no memberOf") {
		t.Errorf("the log does not say that groups come from searches:\n%s", g.output)
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// TestCutDeleteWithoutPPolicy is TestCutDelete with the lock in
// nsAccountLock: a DELETE cut at every step boundary either took full
// effect (in the leavers, locked, in no group) or none (in people,
// unlocked, in both groups), also after the journal's recovery.
func TestCutDeleteWithoutPPolicy(t *testing.T) {
	o, config := plainOpenLDAP(t)
	p, err := testenv.StartFaultProxy(t, strings.TrimPrefix(o.URL, "ldap://"))
	if err != nil {
		t.Fatal(err)
	}
	s := startPlainOpenLDAP(t, o, config, p.URL(), "DIRBRIDGE_LDAP_OP_TIMEOUT=3s", "DIRBRIDGE_LDAP_DIAL_TIMEOUT=1s",
		"DIRBRIDGE_STATE_RECOVERY_INTERVAL=300ms")
	cutDelete(t, s, p, "nsAccountLock", "TRUE")
}
