package main

// `dirbridge check` and serve's start checks, on real slapds prepared with
// each problem the preflight must name.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

// runBinary runs the built binary to its end and returns its output and
// exit code.
func runBinary(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("%v did not end:\n%s", args, out.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// exampleConfig copies the shipped OpenLDAP config and tables into a
// folder, each edited by its function, and returns the config's path.
func exampleConfig(t *testing.T, editConf, editUsers func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"openldap.toml", "openldap-users.toml", "openldap-groups.toml"} {
		b, err := os.ReadFile(filepath.Join("../../conf/examples", f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		switch {
		case f == "openldap.toml" && editConf != nil:
			s = editConf(s)
		case f == "openldap-users.toml" && editUsers != nil:
			s = editUsers(s)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "openldap.toml")
}

func openLDAPEnv(o *testenv.OpenLDAP, urls, dn, pw string) []string {
	return []string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=Bearer " + randHex(16),
		"DIRBRIDGE_LDAP_URLS=" + urls,
		"DIRBRIDGE_LDAP_BIND_DN=" + dn,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + pw,
		"DIRBRIDGE_LDAP_BASE_DN=" + o.BaseDN,
	}
}

func adminDo(t *testing.T, o *testenv.OpenLDAP, fn func(l *ldap.Conn) error) {
	t.Helper()
	l, err := ldap.DialURL(o.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(o.AdminDN, o.AdminPassword); err != nil {
		t.Fatal(err)
	}
	if err := fn(l); err != nil {
		t.Fatal(err)
	}
}

func wantLines(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("output:\n%s", out)
	}
}

// A directory and a configuration with every problem at once: check names
// each in one run and exits 1.
func TestCheckNamesEveryProblemInOneRun(t *testing.T) {
	// No ppolicy, no memberof.
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{Overlays: []string{"sssvlv"}, ReadOnlyAccount: true})
	if err != nil {
		t.Fatal(err)
	}
	adminDo(t, o, func(l *ldap.Conn) error { return l.Del(ldap.NewDelRequest(o.GroupsDN, nil)) })
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("this is not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := exampleConfig(t, func(s string) string {
		s = strings.Replace(s, `leavers_dn = "ou=leavers,dc=example,dc=com"`, `leavers_dn = "ou=leavers,ou=people,dc=example,dc=com"`, 1)
		return strings.Replace(s, `# ca_file = "/etc/ssl/certs/directory-ca.pem"`, `ca_file = "`+notPEM+`"`, 1)
	}, func(s string) string {
		return strings.Replace(s, `ldap = "displayName"`, `ldap = "dispalyName"`, 1)
	})
	dead := "ldap://127.0.0.1:1"
	// The ldaps:// server's self-signed certificate does not verify
	// against the system's CAs (the configured CA file is unusable).
	env := openLDAPEnv(o, dead+","+o.URL+","+o.LDAPSURL, o.ReadOnlyDN, o.ReadOnlyPassword)
	out, code := runBinary(t, env, "check", "--config", cfg, "--write-probe")
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	wantLines(t, out,
		`ldap.ca_file: `+notPEM+` holds no PEM certificate`,
		"users.leavers_dn",
		"ldap.urls[0] "+dead+": cannot be reached",
		"ldap.urls[1] "+o.URL+": reachable",
		"ldap.urls[2] "+o.LDAPSURL+": the TLS handshake fails",
		`dispalyName (scim displayName) is not in the directory's schema (did you mean "displayName"?)`,
		"openldap-users.toml:",
		"the ppolicy overlay is not loaded",
		"does not keep memberOf (OpenLDAP: the memberof overlay is not loaded): groups come from searches",
		o.GroupsDN+": the groups container does not exist",
		o.PeopleDN+": the service account may not write in the users container",
		"not ready:",
	)
	// Sorted by section: config first, indexes (none on OpenLDAP) last.
	if i, j := strings.Index(out, "config"), strings.Index(out, "servers"); i < 0 || j < 0 || i > j {
		t.Errorf("sections not in order:\n%s", out)
	}
}

// The shipped configuration on a directory set up as the README says:
// ready, exit 0; usage errors exit 2.
func TestCheckShippedConfigIsReady(t *testing.T) {
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env := openLDAPEnv(o, o.URL, o.AdminDN, o.AdminPassword)
	out, code := runBinary(t, env, "check", "--config", "../../conf/examples/openldap.toml", "--write-probe")
	if code != 0 || !strings.Contains(out, "ready: 0 errors") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	wantLines(t, out, "ppolicy is loaded", "can add and delete entries in the users container")
	// slapd does not offer Permissive Modify; nothing else is missing.
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "WARN") && !strings.Contains(l, "Permissive Modify") {
			t.Errorf("unexpected warning on the shipped setup: %s", l)
		}
	}
	// The probes left nothing behind.
	if es := ldapSearch(t, o.URL, o.AdminDN, o.AdminPassword, o.BaseDN, "(|(cn=dirbridge-probe-*)(uid=dirbridge-probe-*))", "dn"); len(es) != 0 {
		t.Errorf("probe entries left: %v", es)
	}
	js, code := runBinary(t, env, "check", "--config", "../../conf/examples/openldap.toml", "--format", "json")
	if code != 0 || !strings.Contains(js, `"ready": true`) {
		t.Errorf("json: exit %d:\n%s", code, js)
	}
	if _, code := runBinary(t, env, "check", "--config", "../../conf/examples/openldap.toml", "--format", "xml"); code != 2 {
		t.Errorf("--format xml: exit %d, want 2", code)
	}
}

// serve refuses a table the directory's schema cannot hold, with check's
// message; it starts on a missing groups container, and /readyz is 503
// naming it until it is created.
func TestServeChecksAtStart(t *testing.T) {
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env := openLDAPEnv(o, o.URL, o.AdminDN, o.AdminPassword)
	env = append(env, "DIRBRIDGE_STATE_DIR="+t.TempDir())
	typo := exampleConfig(t, nil, func(s string) string { return strings.Replace(s, `ldap = "displayName"`, `ldap = "dispalyName"`, 1) })
	out, code := runBinary(t, env, "serve", "--config", typo)
	if code != 1 || !strings.Contains(out, "refusing to start") || !strings.Contains(out, `dispalyName (scim displayName) is not in the directory's schema`) {
		t.Fatalf("serve on a table typo: exit %d:\n%s", code, out)
	}

	adminDo(t, o, func(l *ldap.Conn) error { return l.Del(ldap.NewDelRequest(o.GroupsDN, nil)) })
	g := startGateway(t, env, "serve", "--config", "../../conf/examples/openldap.toml")
	readyz := func() (int, string) {
		resp, err := http.Get(g.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if st, body := readyz(); st != 503 || !strings.Contains(body, "reason: the groups container does not exist") || strings.Contains(body, "dc=") {
		t.Fatalf("readyz with ou=groups missing: %d %q", st, body)
	}
	// The log names the DN (its line reaches the captured output a little
	// after the answer).
	for wait := time.Now().Add(5 * time.Second); !strings.Contains(g.output.String(), "the groups container "+o.GroupsDN+" does not exist"); {
		if time.Now().After(wait) {
			t.Fatalf("the log does not name the missing container:\n%s", g.output)
		}
		time.Sleep(50 * time.Millisecond)
	}
	adminDo(t, o, func(l *ldap.Conn) error {
		a := ldap.NewAddRequest(o.GroupsDN, nil)
		a.Attribute("objectClass", []string{"organizationalUnit"})
		a.Attribute("ou", []string{"groups"})
		return l.Add(a)
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, body := readyz()
		if st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after ou=groups was created: %d %q", st, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// On Samba AD: the shipped AD configuration is ready (warnings allowed,
// logged); a placement OU that does not exist and an unindexed attribute
// SCIM filters on are named; allowedChildClassesEffective says the
// Administrator may create users and groups.
func TestADCheck(t *testing.T) {
	s := startWithAD(t) // makes People and its placement OUs
	cmd := exec.Command("ldapadd", "-c", "-x", "-H", s.URL, "-D", s.AdminUPN, "-w", s.AdminPassword)
	cmd.Stdin = strings.NewReader("dn: OU=Groups," + s.BaseDN + "\nobjectClass: organizationalUnit\nou: Groups\n\n")
	if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "Already exists") {
		t.Fatalf("ldapadd OU=Groups: %v: %s", err, out)
	}
	// A user, so that the rights on attributes are read from an entry.
	s.gw.do("POST", "/v2/Users", adUserBody("check."+randHex(4)+"@example.com", "Check", "User"+randHex(2), "Init-Pa55-"+randHex(4))).must(t, 201, "create")
	env := []string{
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=Bearer " + randHex(16),
		"DIRBRIDGE_LDAP_URLS=" + s.LDAPSURL,
		"DIRBRIDGE_LDAP_BIND_DN=" + s.AdminUPN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + s.AdminPassword,
		"DIRBRIDGE_LDAP_BASE_DN=" + s.BaseDN,
		"DIRBRIDGE_LDAP_CA_FILE=" + s.CAFile,
	}
	out, code := runBinary(t, env, "check", "--config", "../../conf/examples/ad.toml")
	t.Logf("check on the shipped AD configuration:\n%s", out)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	wantLines(t, out, "can create user objects in the users container", "can create group objects in the groups container",
		"the service account can write every attribute the table writes",
		"accounts are disabled with userAccountControl bit 0x2")

	// A placement OU nobody made, and externalId in an unindexed attribute.
	dir := t.TempDir()
	for _, f := range []string{"ad.toml", "ad-users.toml", "ad-groups.toml"} {
		b, err := os.ReadFile(filepath.Join("../../conf/examples", f))
		if err != nil {
			t.Fatal(err)
		}
		txt := string(b)
		if f == "ad-users.toml" {
			txt = strings.Replace(txt, `container = "OU=Engineering,OU=People,`, `container = "OU=Nowhere,OU=People,`, 1)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(txt), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, code = runBinary(t, env, "check", "--config", filepath.Join(dir, "ad.toml"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantLines(t, out, "OU=Nowhere,OU=People,"+s.BaseDN+": the placement container does not exist", "is not indexed (searchFlags bit 1 is clear)")

	// A plain domain user as the service account: nobody delegated it
	// anything, and allowedChildClassesEffective says so.
	svc, pw := "svc-nodelegation-"+randHex(3), "Svc-Pa55-"+randHex(6)
	adAddUser(t, s, svc, pw)
	env = append(env, "DIRBRIDGE_LDAP_BIND_DN="+svc+"@"+s.Realm, "DIRBRIDGE_LDAP_BIND_PASSWORD="+pw)
	out, code = runBinary(t, env, "check", "--config", "../../conf/examples/ad.toml")
	if code != 1 {
		t.Errorf("undelegated account: exit %d, want 1", code)
	}
	wantLines(t, out, "OU=People,"+s.BaseDN+": the service account cannot create user objects in the users container",
		"OU=Groups,"+s.BaseDN+": the service account cannot create group objects in the groups container")
}

// adAddUser makes an enabled domain user over LDAPS as the Administrator.
func adAddUser(t *testing.T, s *adSetup, name, password string) {
	t.Helper()
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	// The DC's certificate names dc1.<realm>.
	tc := &tls.Config{RootCAs: pool, ServerName: "dc1." + strings.ToLower(s.Realm), MinVersion: tls.VersionTLS12}
	l, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(tc))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(s.AdminUPN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	quoted := utf16.Encode([]rune(`"` + password + `"`))
	pwd := make([]byte, 2*len(quoted))
	for i, c := range quoted {
		pwd[2*i], pwd[2*i+1] = byte(c), byte(c>>8)
	}
	dn := "CN=" + name + ",CN=Users," + s.BaseDN
	a := ldap.NewAddRequest(dn, nil)
	a.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	a.Attribute("sAMAccountName", []string{name})
	a.Attribute("userPrincipalName", []string{name + "@" + s.Realm})
	a.Attribute("unicodePwd", []string{string(pwd)})
	a.Attribute("userAccountControl", []string{"512"})
	if err := l.Add(a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l2, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(tc)); err == nil {
			if l2.Bind(s.AdminUPN, s.AdminPassword) == nil {
				_ = l2.Del(ldap.NewDelRequest(dn, nil))
			}
			l2.Close()
		}
	})
}
