package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
)

// What the operator set up wrong (a table row the schema lacks, a service
// account that may not write, a container that is not there) is a 500 that
// names the request id and says nothing of the directory; the gateway's log
// line under that id says what to fix. Only what the client sent is a 4xx.

// editedTable writes a copy of the shipped table name (in conf/examples)
// with each old → new replacement made, for DIRBRIDGE_MAPPING_USERS.
func editedTable(t *testing.T, name string, oldNew ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../conf/examples", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("%s has no %q", name, oldNew[i])
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checkMisconfigured checks a response to a request the gateway's setup
// made fail: 500 without scimType, no directory text, the request id in
// the detail; and the log line under that id saying each of logWants.
func checkMisconfigured(t *testing.T, g *gateway, r response, leaks []string, logWants ...string) {
	t.Helper()
	checkSafeError(t, r, 500)
	if r.str("scimType") != "" {
		t.Errorf("a 500 with scimType %q", r.str("scimType"))
	}
	id := r.Header.Get("X-Request-Id")
	if id == "" || !strings.Contains(r.str("detail"), "request id "+id) || !strings.Contains(r.str("detail"), "misconfigured") {
		t.Fatalf("detail %q does not say misconfigured with request id %q", r.str("detail"), id)
	}
	low := strings.ToLower(r.Raw)
	for _, leak := range leaks {
		if strings.Contains(low, strings.ToLower(leak)) {
			t.Errorf("the body leaks %q: %s", leak, r.Raw)
		}
	}
	var line string
	for i := 0; i < 100 && line == ""; i++ {
		for _, l := range strings.Split(g.output.String(), "\n") {
			if strings.Contains(l, "request failed") && strings.Contains(l, id) {
				line = l
			}
		}
		if line == "" {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if line == "" || !strings.Contains(line, "[ERROR]") {
		t.Fatalf("no error-level log line for request %s:\n%s", id, g.output)
	}
	for _, w := range append([]string{"fix=", "ldap_result_code="}, logWants...) {
		if !strings.Contains(line, w) {
			t.Errorf("the log line lacks %q: %s", w, line)
		}
	}
}

func TestMisconfiguredTableOnOpenLDAPWithoutPPolicy(t *testing.T) {
	table := editedTable(t, "openldap-users.toml", `ldap = "displayName"`, `ldap = "dispalyName"`)
	// serve refuses this table at start when the directory answers (see
	// TestServeChecksAtStart); a directory that is down at start is not
	// checked then, and the table's mistake shows on the first write.
	// That is the path pinned here: the directory comes up after the
	// gateway, behind a proxy.
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{Overlays: []string{"sssvlv"}})
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := testenv.StartFaultProxy(t, strings.TrimPrefix(strings.TrimSuffix(o.URL, "/"), "ldap://"))
	if err != nil {
		t.Fatal(err)
	}
	proxy.CutFor(time.Hour)
	token := "Bearer " + randHex(16)
	g := startGateway(t, []string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_NAME=Authorization",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=" + token,
		"DIRBRIDGE_LDAP_URLS=" + proxy.URL(),
		"DIRBRIDGE_LDAP_BIND_DN=" + o.AdminDN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + o.AdminPassword,
		"DIRBRIDGE_LDAP_BASE_DN=" + o.BaseDN,
		"DIRBRIDGE_LDAP_DIAL_TIMEOUT=1s",
		"DIRBRIDGE_MAPPING_USERS=" + table,
	}, "serve", "--config", "../../conf/examples/openldap.toml")
	g.auth = token
	proxy.Restore()
	const password = "Misconf-Pa55-word"
	body := oktaUser("typo."+randHex(4)+"@example.com", "Type", "Oh", password)
	r := g.do("POST", "/v2/Users", body)
	checkMisconfigured(t, g, r, []string{"dispalyName", "attribute type undefined", "undefined attribute"},
		"dispalyName", "not in the directory schema", "mapping table", "openldap-users.toml:")
	if strings.Contains(g.output.String(), password) {
		t.Errorf("the password is in the log")
	}
	// What the client got wrong stays a 400: a value the directory's
	// syntax refuses (telephoneNumber takes printable characters only) is
	// named by its SCIM attribute, not by the LDAP one.
	bad := oktaUser("syntax."+randHex(4)+"@example.com", "Syn", "Tax", password)
	delete(bad, "displayName")
	bad["phoneNumbers"] = []any{map[string]any{"value": "+1 555 \u260e 0100", "type": "work"}}
	r = g.do("POST", "/v2/Users", bad)
	checkSafeError(t, r, 400)
	if r.str("scimType") != "invalidValue" || !strings.Contains(r.str("detail"), "phoneNumbers") || strings.Contains(r.Raw, "telephoneNumber") {
		t.Errorf("a value the directory's syntax refuses: %s", r.Raw)
	}

	// Without ppolicy the shipped lifecycle (pwdAccountLockedTime) is the
	// table's choice the directory cannot take: 500, not 400.
	ok := oktaUser("plain."+randHex(4)+"@example.com", "Plain", "User", password)
	delete(ok, "displayName")
	created := g.do("POST", "/v2/Users", ok)
	if created.Status != 201 {
		t.Fatalf("create without displayName: %d %s", created.Status, created.Raw)
	}
	id := created.str("id")
	r = g.do("PATCH", "/v2/Users/"+id, map[string]any{"schemas": []string{patchURN},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}})
	checkMisconfigured(t, g, r, []string{"pwdAccountLockedTime", "not defined"}, "pwdAccountLockedTime", "ppolicy")
	// The checks serve could not make at start are made, and logged, once
	// the directory answers.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(g.output.String(), "dispalyName (scim displayName) is not in the directory's schema") {
		if time.Now().After(deadline) {
			t.Fatalf("the start checks were not made when the directory came up:\n%s", g.output)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A resource the client names that is not there stays a 404.
	checkSafeError(t, g.do("GET", "/v2/Users/"+randUUID(), nil), 404)
	checkSafeError(t, g.do("PATCH", "/v2/Users/"+randUUID(), map[string]any{"schemas": []string{patchURN},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}), 404)
}

func TestReadOnlyServiceAccountIsMisconfigured(t *testing.T) {
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Any bound account may read (the test directory's olcAccess: "by
	// users read"); only the rootdn writes.
	readerDN, readerPw := "cn=reader,"+o.BaseDN, "Reader-"+randHex(6)
	ldif := fmt.Sprintf("dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: %s\n", readerDN, readerPw)
	cmd := exec.Command("ldapadd", "-x", "-H", o.URL, "-D", o.AdminDN, "-w", o.AdminPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapadd reader: %v: %s", err, out)
	}
	token := "Bearer " + randHex(16)
	g := startGateway(t, []string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_NAME=Authorization",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=" + token,
		"DIRBRIDGE_LDAP_URLS=" + o.URL,
		"DIRBRIDGE_LDAP_BIND_DN=" + readerDN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + readerPw,
		"DIRBRIDGE_LDAP_BASE_DN=" + o.BaseDN,
	}, "serve", "--config", "../../conf/examples/openldap.toml")
	g.auth = token
	g.do("GET", "/v2/Users?count=1", nil).must(t, 200, "reading works")
	r := g.do("POST", "/v2/Users", oktaUser("ro."+randHex(4)+"@example.com", "Read", "Only", "Ro-Pa55-word"))
	checkMisconfigured(t, g, r, []string{"insufficient", "access"}, "grant", readerDN)
	if strings.Contains(g.output.String(), readerPw) {
		t.Errorf("the service account's password is in the log")
	}
}

func TestMissingUsersContainerIsMisconfigured(t *testing.T) {
	s := startWithOpenLDAP(t)
	g := s.gw
	// Okta's agent reads before it writes; then the container goes.
	g.do("GET", "/v2/Users?count=1", nil).must(t, 200, "list")
	cmd := exec.Command("ldapdelete", "-x", "-r", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPassword, s.PeopleDN)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapdelete %s: %v: %s", s.PeopleDN, err, out)
	}
	r := g.do("POST", "/v2/Users", oktaUser("nowhere."+randHex(4)+"@example.com", "No", "Where", "Nw-Pa55-word"))
	checkMisconfigured(t, g, r, nil, "does not exist", "create_missing_containers", s.PeopleDN)
	// An id the client names that is not there is still the client's 404.
	checkSafeError(t, g.do("GET", "/v2/Users/"+randUUID(), nil), 404)
	checkSafeError(t, g.do("DELETE", "/v2/Users/"+randUUID(), nil), 404)
}

func TestADMisconfiguration(t *testing.T) {
	s0 := testenv.SharedSambaAD(t)
	// The table's typo: Samba's schema has no dispalyName. serve finds it
	// at start, names the row, and does not start.
	typo := editedTable(t, "ad-users.toml", "ldap = \"displayName\"", "ldap = \"dispalyName\"")
	out, code := runBinary(t, []string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=Bearer " + randHex(16),
		"DIRBRIDGE_LDAP_URLS=" + s0.LDAPSURL,
		"DIRBRIDGE_LDAP_BIND_DN=" + s0.AdminUPN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + s0.AdminPassword,
		"DIRBRIDGE_LDAP_BASE_DN=" + s0.BaseDN,
		"DIRBRIDGE_LDAP_CA_FILE=" + s0.CAFile,
		"DIRBRIDGE_STATE_DIR=" + t.TempDir(),
		"DIRBRIDGE_MAPPING_USERS=" + typo,
	}, "serve", "--config", "../../conf/examples/ad.toml")
	if code != 1 || !strings.Contains(out, "refusing to start") || !strings.Contains(out, "ad-users.toml:") ||
		!strings.Contains(out, `dispalyName (scim displayName) is not in the directory's schema (did you mean "displayName"?)`) {
		t.Fatalf("serve on an AD table typo: exit %d:\n%s", code, out)
	}

	// A placement into an OU that does not exist does not stop every
	// request: serve starts (and logs it), and a user placed there is a 500.
	nowhere := "Nowhere" + randHex(3)
	table := editedTable(t, "ad-users.toml",
		"[[placement]]\n", "[[placement]]\nwhen = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \""+nowhere+"\"'\ncontainer = \"OU="+nowhere+",OU=People,"+s0.BaseDN+"\"\n\n[[placement]]\n")
	s := startWithAD(t, "DIRBRIDGE_MAPPING_USERS="+table)
	g := s.gw
	if !strings.Contains(g.output.String(), "the placement container does not exist") {
		t.Errorf("serve did not log the missing placement OU at start:\n%s", g.output)
	}
	const password = "Ad-Misconf-Pa55-word!"
	body := adUserBody("moved."+randHex(4)+"@example.test", "Moved", "Away", password)
	delete(body, "displayName")
	body[enterpriseURN] = map[string]any{"department": nowhere}
	r := g.do("POST", "/v2/Users", body)
	checkMisconfigured(t, g, r, []string{nowhere, "DC=", "CN="}, "create_missing_containers", "OU="+nowhere)
	if strings.Contains(g.output.String(), password) {
		t.Errorf("the password is in the log")
	}
	checkSafeError(t, g.do("GET", "/v2/Users/"+randUUID(), nil), 404)
}
