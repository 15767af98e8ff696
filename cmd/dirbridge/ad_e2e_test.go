package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

// The AD tests run the built binary on the shipped conf/examples/ad.toml
// against a real Samba AD DC, with only the environment overrides the
// README documents, and check through SCIM and through ldapsearch.

type adSetup struct {
	*testenv.SambaAD
	gw *gateway
}

// extraEnv is added after the README's overrides and wins over them.
func startWithAD(t *testing.T, extraEnv ...string) *adSetup {
	t.Helper()
	return startWithADConfig(t, "../../conf/examples/ad.toml", extraEnv...)
}

// startWithADConfig is startWithAD with another configuration file.
func startWithADConfig(t *testing.T, config string, extraEnv ...string) *adSetup {
	t.Helper()
	s := testenv.SharedSambaAD(t)
	// The containers the shipped table names (People, and the placement
	// OUs below it) exist in a domain that uses it; create_missing_containers
	// is off as shipped.
	ldif := ""
	for _, ou := range []string{"OU=People", "OU=Sales,OU=People", "OU=Engineering,OU=People"} {
		name := strings.TrimPrefix(strings.SplitN(ou, ",", 2)[0], "OU=")
		ldif += fmt.Sprintf("dn: %s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, s.BaseDN, name)
	}
	cmd := exec.Command("ldapadd", "-c", "-x", "-H", s.URL, "-D", s.AdminUPN, "-w", s.AdminPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "Already exists") {
		t.Fatalf("ldapadd OUs: %v: %s", err, out)
	}
	token := "Bearer " + randHex(16)
	env := []string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=" + token,
		"DIRBRIDGE_LDAP_URLS=" + s.LDAPSURL,
		"DIRBRIDGE_LDAP_BIND_DN=" + s.AdminUPN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + s.AdminPassword,
		"DIRBRIDGE_LDAP_BASE_DN=" + s.BaseDN,
		"DIRBRIDGE_LDAP_CA_FILE=" + s.CAFile,
	}
	env = append(env, extraEnv...)
	gw := startGateway(t, env, "serve", "--config", config)
	gw.auth = token
	return &adSetup{SambaAD: s, gw: gw}
}

func (s *adSetup) search(t *testing.T, base, filter string, attrs ...string) []ldapEntry {
	t.Helper()
	return ldapSearch(t, s.URL, s.AdminUPN, s.AdminPassword, base, filter, attrs...)
}

// userNameFilter finds a user by userName where the shipped AD table keeps
// it: as the userPrincipalName, or, when the userName is no UPN of the
// forest, in msDS-cloudExtensionAttribute19 (the UPN is then derived).
func userNameFilter(userName string) string {
	v := ldap.EscapeFilter(userName)
	return "(|(&(userPrincipalName=" + v + ")(!(msDS-cloudExtensionAttribute19=*)))(msDS-cloudExtensionAttribute19=" + v + "))"
}

func (s *adSetup) byUserName(t *testing.T, userName string, attrs ...string) ldapEntry {
	t.Helper()
	es := s.search(t, s.BaseDN, userNameFilter(userName), attrs...)
	if len(es) != 1 {
		t.Fatalf("ldapsearch %s found %d entries", userNameFilter(userName), len(es))
	}
	return es[0]
}

// ldapsBind binds as who (a UPN) over LDAPS, as an application would; Samba
// has no WhoAmI, so a base search of the root DSE proves the bind.
func (s *adSetup) ldapsBind(t *testing.T, who, password string) bool {
	t.Helper()
	cmd := exec.Command("ldapsearch", "-x", "-H", s.LDAPSURL, "-D", who, "-w", password, "-b", "", "-s", "base", "-LLL", "dn")
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+s.CAFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if !strings.Contains(string(out), "Invalid credentials") && !strings.Contains(string(out), "(49)") {
			t.Logf("ldapsearch bind as %s: %v: %s", who, err, out)
		}
		return false
	}
	return true
}

// guidOf renders ldapsearch's raw objectGUID in Microsoft's form,
// independently of ldapside.
func guidOf(raw string) string {
	b := []byte(raw)
	if len(b) != 16 {
		return ""
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x", binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

func adUserBody(userName, given, family, password string) map[string]any {
	b := oktaUser(userName, given, family, password)
	b["emails"] = []any{map[string]any{"primary": true, "value": strings.ToLower(userName), "type": "work"}}
	return b
}

// TestADOktaSpecSequence replays Okta's SCIM 2.0 spec test against AD.
func TestADOktaSpecSequence(t *testing.T) {
	s := startWithAD(t)
	g := s.gw
	r := g.do("GET", "/v2/ServiceProviderConfig", nil).must(t, 200, "ServiceProviderConfig")
	for _, p := range []string{"bulk.maxOperations", "bulk.maxPayloadSize", "authenticationSchemes.0.type", "authenticationSchemes.0.description"} {
		if r.get(p) == nil {
			t.Errorf("ServiceProviderConfig lacks %s: %s", p, r.Raw)
		}
	}
	for _, p := range []string{"/v2/ServiceProviderConfig", "/v2/ResourceTypes", "/v2/Schemas"} {
		checkSafeError(t, g.do("POST", p, map[string]any{}), 405)
	}
	userName := "okta.ad." + randHex(4) + "@example.com"
	created := g.do("POST", "/v2/Users", adUserBody(userName, "Okta", "Spec"+randHex(2), "Init-Pa55-"+randHex(4))).must(t, 201, "create")
	id := created.str("id")
	if created.get("active") != true || id == "" || created.get("password") != nil {
		t.Fatalf("created user: %s", created.Raw)
	}
	e := s.byUserName(t, userName, "objectGUID", "userAccountControl")
	if guidOf(e.first("objectGUID")) != id {
		t.Fatalf("SCIM id %s is not the objectGUID %s", id, guidOf(e.first("objectGUID")))
	}
	if e.first("userAccountControl") != "512" {
		t.Errorf("userAccountControl %s, want 512", e.first("userAccountControl"))
	}
	list := g.do("GET", "/v2/Users?count=1&startIndex=1", nil).must(t, 200, "list")
	for _, p := range []string{"Resources.0.name.givenName", "Resources.0.name.familyName", "Resources.0.userName", "Resources.0.active", "Resources.0.emails"} {
		if list.get(p) == nil {
			t.Errorf("listed user lacks %s: %s", p, list.Raw)
		}
	}
	if !strings.Contains(list.Raw, `"itemsPerPage":1`) || !strings.Contains(list.Raw, `"startIndex":1`) {
		t.Errorf("paging numbers are not JSON integers: %s", list.Raw)
	}
	none := g.do("GET", "/v2/Users?filter="+filterQ(`userName eq "nobody-`+randHex(4)+`@example.com"`), nil).must(t, 200, "unknown userName")
	if none.get("totalResults") != float64(0) {
		t.Fatalf("unknown userName: %s", none.Raw)
	}
	checkSafeError(t, g.do("GET", "/v2/Users/"+randUUID(), nil), 404)
	checkSafeError(t, g.do("POST", "/v2/Users", adUserBody(userName, "Okta", "Spec", "x-Pa55-word-1")), 409)
	upper := g.do("GET", "/v2/Users?filter="+filterQ(`userName eq "`+strings.ToUpper(userName)+`"`), nil).must(t, 200, "upper-case userName")
	if upper.get("totalResults") != float64(1) || upper.str("Resources.0.id") != id {
		t.Fatalf("upper-case filter did not find the user: %s", upper.Raw)
	}
	good := g.auth
	g.auth = "Bearer garbage"
	checkSafeError(t, g.do("GET", "/v2/Users", nil), 401)
	g.auth = good

	g.do("PATCH", "/v2/Users/"+id, map[string]any{"schemas": []string{patchURN},
		"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}}}).must(t, 200, "deactivate")
	if got := g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "get deactivated"); got.get("active") != false {
		t.Fatalf("deactivated user: %s", got.Raw)
	}
	if uac := s.byUserName(t, userName, "userAccountControl").first("userAccountControl"); uac != "514" {
		t.Fatalf("deactivated: userAccountControl %s, want 514", uac)
	}
	body := adUserBody(userName, "Okta", "Spec", "")
	delete(body, "password")
	if got := g.do("PUT", "/v2/Users/"+id, body).must(t, 200, "reactivate by PUT"); got.get("active") != true {
		t.Fatalf("reactivated user: %s", got.Raw)
	}
	// Unknown manager: 400 naming the id.
	ghost := randUUID()
	body[enterpriseURN] = map[string]any{"manager": map[string]any{"value": ghost}}
	if r := g.do("PUT", "/v2/Users/"+id, body); r.Status != 400 || !strings.Contains(r.Raw, ghost) {
		t.Fatalf("unknown manager: %d %s", r.Status, r.Raw)
	}
	// DELETE: gone for SCIM, kept disabled in the leavers OU.
	g.do("DELETE", "/v2/Users/"+id, nil).must(t, 204, "delete")
	checkSafeError(t, g.do("GET", "/v2/Users/"+id, nil), 404)
	left := s.search(t, "OU=Leavers,"+s.BaseDN, userNameFilter(userName), "userAccountControl")
	if len(left) != 1 || left[0].first("userAccountControl") != "514" {
		t.Fatalf("leaver not kept disabled in OU=Leavers: %+v", left)
	}
}

// TestADBindAsAnApplication: a user logs on over LDAPS with the userName
// it was provisioned with (a UPN of the forest, with a ".7" the derived
// name would not have), and as sAMAccountName@REALM; deactivation stops
// it; a resent password changes nothing; a new one works and the old one
// stops.
func TestADBindAsAnApplication(t *testing.T) {
	s := startWithAD(t)
	g := s.gw
	family := "Binder" + randHex(2)
	userName := "Ada." + family + ".7@Example.Test"
	pw := "Fir5t-Pa55-" + randHex(4)
	u := g.do("POST", "/v2/Users", adUserBody(userName, "Ada", family, pw)).must(t, 201, "create")
	id := u.str("id")
	if u.str("userName") != userName {
		t.Fatalf("userName read back %q, want %q", u.str("userName"), userName)
	}
	e := s.byUserName(t, userName, "userPrincipalName", "sAMAccountName", "pwdLastSet", "msDS-cloudExtensionAttribute19")
	upn := e.first("userPrincipalName")
	if upn != userName || e.first("msDS-cloudExtensionAttribute19") != "" {
		t.Fatalf("userPrincipalName %q (fallback %q), want the userName %q as it is", upn, e.first("msDS-cloudExtensionAttribute19"), userName)
	}
	if !s.ldapsBind(t, userName, pw) {
		t.Fatal("the created user cannot log on with its userName over LDAPS")
	}
	if !s.ldapsBind(t, upn, pw) {
		t.Fatal("the created user cannot bind over LDAPS with the pushed password")
	}
	if !s.ldapsBind(t, e.first("sAMAccountName")+"@"+s.Realm, pw) {
		t.Fatal("the created user cannot bind as sAMAccountName@REALM")
	}
	deact := map[string]any{"schemas": []string{patchURN}, "Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}
	g.do("PATCH", "/v2/Users/"+id, deact).must(t, 200, "deactivate")
	if s.ldapsBind(t, upn, pw) {
		t.Fatal("a deactivated user can still bind")
	}
	react := map[string]any{"schemas": []string{patchURN}, "Operations": []any{map[string]any{"op": "replace", "path": "active", "value": true}}}
	g.do("PATCH", "/v2/Users/"+id, react).must(t, 200, "reactivate")
	if !s.ldapsBind(t, upn, pw) {
		t.Fatal("a reactivated user cannot bind")
	}
	// Okta resends the current password with every PUT: nothing is written.
	before := s.byUserName(t, userName, "pwdLastSet").first("pwdLastSet")
	g.do("PUT", "/v2/Users/"+id, adUserBody(userName, "Ada", family, pw)).must(t, 200, "PUT with the same password")
	if after := s.byUserName(t, userName, "pwdLastSet").first("pwdLastSet"); after != before {
		t.Fatalf("resending the same password set it again: pwdLastSet %s -> %s", before, after)
	}
	newPw := "Sec0nd-Pa55-" + randHex(4)
	g.do("PUT", "/v2/Users/"+id, adUserBody(userName, "Ada", family, newPw)).must(t, 200, "password push")
	if !s.ldapsBind(t, upn, newPw) || s.ldapsBind(t, upn, pw) {
		t.Fatal("after a password push the new password must bind and the old must not")
	}
}

// TestADTwoJohnSmiths: namesakes get distinct logon names and cn. The
// first one's userName is a UPN of the forest and is its UPN, the others'
// are not (gmail.com, example.com) and get derived UPNs; each logs on with
// its UPN, and each is found by its userName.
func TestADTwoJohnSmiths(t *testing.T) {
	s := startWithAD(t)
	g := s.gw
	var es []ldapEntry
	userNames := []string{"john.smith.7@example.test", "john.smith." + randHex(3) + "@gmail.com", "john.smith." + randHex(3) + "@example.com"}
	for _, un := range userNames {
		pw := "J0hn-Smith-" + randHex(4)
		body := adUserBody(un, "John", "Smith", pw)
		body["displayName"] = "John Smith"
		id := g.do("POST", "/v2/Users", body).must(t, 201, "create John Smith").str("id")
		e := s.byUserName(t, un, "sAMAccountName", "userPrincipalName", "cn", "msDS-cloudExtensionAttribute19")
		es = append(es, e)
		found := g.do("GET", "/v2/Users?filter="+filterQ(`userName eq "`+un+`"`), nil).must(t, 200, "find by userName")
		if found.get("totalResults") != float64(1) || found.str("Resources.0.id") != id || found.str("Resources.0.userName") != un {
			t.Errorf("userName eq %q: %s", un, found.Raw)
		}
		if !s.ldapsBind(t, e.first("userPrincipalName"), pw) {
			t.Errorf("%s cannot log on as %s", un, e.first("userPrincipalName"))
		}
	}
	// What the README tells the admin: the UPN is the userName when it is
	// one of the forest, else derived and the userName kept beside it. The
	// first John Smith's sAMAccountName john.smith makes john.smith@example.test
	// his (AD's implicit UPN), so the second gets jsmith@, the third
	// john.smith2@.
	wantUPN := []string{"john.smith.7@example.test", "jsmith@example.test", "john.smith2@example.test"}
	for i, e := range es {
		if e.first("userPrincipalName") != wantUPN[i] {
			t.Errorf("%s: userPrincipalName %q, want %q", userNames[i], e.first("userPrincipalName"), wantUPN[i])
		}
		if fb := e.first("msDS-cloudExtensionAttribute19"); (i == 0) != (fb == "") || i > 0 && fb != userNames[i] {
			t.Errorf("%s: msDS-cloudExtensionAttribute19 %q", userNames[i], fb)
		}
	}
	// A userName that is another account's logon name cannot be this
	// user's too: 409, nothing made. jsmith@example.test is the second
	// John Smith's UPN, john.smith@example.test the first's implicit one.
	for _, un := range []string{"jsmith@example.test", "John.Smith@example.test"} {
		clash := adUserBody(un, "John", "Smith", "J0hn-Smith-"+randHex(4))
		checkSafeError(t, g.do("POST", "/v2/Users", clash), 409)
	}
	seen := map[string]bool{}
	for _, e := range es {
		for _, a := range []string{"sAMAccountName", "userPrincipalName", "cn"} {
			v := strings.ToLower(a + "=" + e.first(a))
			if seen[v] {
				t.Fatalf("two John Smiths share %s", v)
			}
			seen[v] = true
		}
		if len(e.first("sAMAccountName")) > 20 {
			t.Errorf("sAMAccountName %q is longer than 20", e.first("sAMAccountName"))
		}
	}
	if es[0].first("sAMAccountName") != "john.smith" || es[1].first("sAMAccountName") != "jsmith" || es[2].first("sAMAccountName") != "john.smith2" {
		t.Errorf("sAMAccountNames %q %q %q, want john.smith, jsmith, john.smith2", es[0].first("sAMAccountName"), es[1].first("sAMAccountName"), es[2].first("sAMAccountName"))
	}
	if es[0].first("cn") != "John Smith" || es[1].first("cn") != "John Smith 2" {
		t.Errorf("cn %q, %q", es[0].first("cn"), es[1].first("cn"))
	}
	// Accents folded, forbidden characters gone, 20 characters at most.
	un := "zoe." + randHex(3) + "@example.com"
	g.do("POST", "/v2/Users", adUserBody(un, "Zoë", "Ångström-Łukasiewicz[x]", "Z0e-Pa55-"+randHex(4))).must(t, 201, "create Zoë")
	if sam := s.byUserName(t, un, "sAMAccountName").first("sAMAccountName"); sam != "zoe.angstrom-lukasie" {
		t.Errorf("sAMAccountName %q, want zoe.angstrom-lukasie", sam)
	}
}

// TestADDepartmentMove: placement by department, and a move when it changes.
func TestADDepartmentMove(t *testing.T) {
	s := startWithAD(t)
	g := s.gw
	un := "mover." + randHex(4) + "@example.com"
	body := adUserBody(un, "Mo", "Ver"+randHex(2), "M0ver-Pa55-"+randHex(4))
	body[enterpriseURN] = map[string]any{"department": "Sales"}
	id := g.do("POST", "/v2/Users", body).must(t, 201, "create in Sales").str("id")
	if e := s.byUserName(t, un); !strings.HasSuffix(strings.ToLower(e.DN), strings.ToLower(",OU=Sales,OU=People,"+s.BaseDN)) {
		t.Fatalf("created at %s, want in OU=Sales", e.DN)
	}
	body[enterpriseURN] = map[string]any{"department": "Engineering"}
	got := g.do("PUT", "/v2/Users/"+id, body).must(t, 200, "move to Engineering")
	if got.str("id") != id {
		t.Fatalf("the id changed on a move: %s", got.Raw)
	}
	if e := s.byUserName(t, un); !strings.HasSuffix(strings.ToLower(e.DN), strings.ToLower(",OU=Engineering,OU=People,"+s.BaseDN)) {
		t.Fatalf("after the change at %s, want in OU=Engineering", e.DN)
	}
	body[enterpriseURN] = map[string]any{"department": "Finance"}
	g.do("PUT", "/v2/Users/"+id, body).must(t, 200, "back to the default container")
	if e := s.byUserName(t, un); !strings.HasPrefix(strings.ToLower(strings.SplitN(e.DN, ",", 2)[1]), strings.ToLower("OU=People,"+s.BaseDN)) {
		t.Fatalf("with no matching rule at %s, want directly in OU=People", e.DN)
	}
	if r := g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "get"); r.str(enterpriseURN+".department") != "Finance" {
		t.Fatalf("department: %s", r.Raw)
	}
}

// TestADWeakPassword: the domain's policy message, and nothing half-made.
func TestADWeakPassword(t *testing.T) {
	s := startWithAD(t)
	g := s.gw
	un := "weak." + randHex(4) + "@example.com"
	r := g.do("POST", "/v2/Users", adUserBody(un, "We", "Ak", "abc"))
	checkSafeError(t, r, 400)
	if r.str("scimType") != "invalidValue" || !strings.Contains(r.str("detail"), "the password does not meet the domain's policy") {
		t.Fatalf("weak password: %s", r.Raw)
	}
	if es := s.search(t, s.BaseDN, "(|"+userNameFilter(un)+"(sAMAccountName=we.ak))", "dn"); len(es) != 0 {
		t.Fatalf("a refused create left %+v", es)
	}
	// The same user with a good password is created, with the first names.
	u := g.do("POST", "/v2/Users", adUserBody(un, "We", "Ak", "G00d-Pa55-"+randHex(4))).must(t, 201, "create after the refusal")
	if e := s.byUserName(t, un, "sAMAccountName"); e.first("sAMAccountName") != "we.ak" {
		t.Fatalf("sAMAccountName %q: the refused create used the name", e.first("sAMAccountName"))
	}
	// A weak password on update: 400, the user unchanged and still binding.
	body := adUserBody(un, "We", "Ak", "x")
	body["title"] = "Changed"
	r = g.do("PUT", "/v2/Users/"+u.str("id"), body)
	if r.Status != 400 || !strings.Contains(r.str("detail"), "password") {
		t.Fatalf("weak password on PUT: %d %s", r.Status, r.Raw)
	}
	if e := s.byUserName(t, un, "title"); e.first("title") != "" {
		t.Fatalf("a refused update left title %q", e.first("title"))
	}
}

// TestADForestUPNSuffix: a UPN suffix the forest lists besides its domain's
// name (uPNSuffixes on CN=Partitions) is read when the gateway starts, so a
// userName in it is the UPN as it is and logs on; one added later, and one
// a DC away at the start could not tell, are read when a userName needs
// them; pinned suffixes in [mapping.vars] win over the directory's.
func TestADForestUPNSuffix(t *testing.T) {
	s := testenv.SharedSambaAD(t)
	suffix := "corp-" + randHex(3) + ".example"
	modifySuffix(t, s, "add", suffix)
	t.Cleanup(func() { modifySuffix(t, s, "delete", suffix) })

	ad := startWithAD(t)
	un := "jane.doe.3@" + suffix
	pw := "J4ne-Pa55-" + randHex(4)
	ad.gw.do("POST", "/v2/Users", adUserBody(un, "Jane", "Doe"+randHex(2), pw)).must(t, 201, "create in the forest's other suffix")
	if upn := ad.byUserName(t, un, "userPrincipalName").first("userPrincipalName"); upn != un {
		t.Fatalf("userPrincipalName %q, want the userName %q", upn, un)
	}
	if !ad.ldapsBind(t, un, pw) {
		t.Fatalf("%s cannot log on with its userName", un)
	}

	// A suffix the forest lists only after the gateway started: read when
	// a userName needs it, not taken for a foreign one (which would have
	// given the user a derived UPN for good).
	later := "later-" + randHex(3) + ".example"
	modifySuffix(t, s, "add", later)
	t.Cleanup(func() { modifySuffix(t, s, "delete", later) })
	un3 := "jane.doe.5@" + later
	ad.gw.do("POST", "/v2/Users", adUserBody(un3, "Jane", "Doe"+randHex(2), pw)).must(t, 201, "create in a suffix added since the start")
	if e := ad.byUserName(t, un3, "userPrincipalName", "msDS-cloudExtensionAttribute19"); e.first("userPrincipalName") != un3 || e.first("msDS-cloudExtensionAttribute19") != "" {
		t.Fatalf("a suffix added since the start: userPrincipalName %q, fallback %q; want the userName as the UPN", e.first("userPrincipalName"), e.first("msDS-cloudExtensionAttribute19"))
	}

	// The DC away while the gateway starts: the suffixes are read on the
	// first create that needs them.
	p, err := testenv.StartFaultProxy(t, strings.TrimPrefix(s.URL, "ldap://"))
	if err != nil {
		t.Fatal(err)
	}
	p.CutFor(time.Hour)
	away := startWithAD(t, "DIRBRIDGE_LDAP_URLS="+p.URL(), "DIRBRIDGE_LDAP_DIAL_TIMEOUT=1s")
	p.Restore()
	un4 := "jane.doe.6@" + suffix
	body := adUserBody(un4, "Jane", "Doe"+randHex(2), "")
	delete(body, "password") // the proxy's side is plain LDAP
	away.gw.do("POST", "/v2/Users", body).must(t, 201, "create after a start without the DC")
	if e := ad.byUserName(t, un4, "userPrincipalName", "msDS-cloudExtensionAttribute19"); e.first("userPrincipalName") != un4 || e.first("msDS-cloudExtensionAttribute19") != "" {
		t.Fatalf("after a start without the DC: userPrincipalName %q, fallback %q; want the userName as the UPN", e.first("userPrincipalName"), e.first("msDS-cloudExtensionAttribute19"))
	}

	// Pinned to the domain's name only: the other suffix is no UPN now.
	shipped, err := os.ReadFile("../../conf/examples/ad.toml")
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "ad-pinned.toml")
	if err := os.WriteFile(config, append(shipped, "\n[mapping.vars]\nupn_suffixes = \"example.test\"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	examples, _ := filepath.Abs("../../conf/examples")
	pinned := startWithADConfig(t, config, "DIRBRIDGE_MAPPING_USERS="+filepath.Join(examples, "ad-users.toml"),
		"DIRBRIDGE_MAPPING_GROUPS="+filepath.Join(examples, "ad-groups.toml"))
	un2 := "jim.doe.4@" + suffix
	pinned.gw.do("POST", "/v2/Users", adUserBody(un2, "Jim", "Doe"+randHex(2), pw)).must(t, 201, "create with pinned suffixes")
	e := pinned.byUserName(t, un2, "userPrincipalName", "msDS-cloudExtensionAttribute19")
	if e.first("userPrincipalName") == un2 || e.first("msDS-cloudExtensionAttribute19") != un2 {
		t.Fatalf("with upn_suffixes pinned: userPrincipalName %q, fallback %q", e.first("userPrincipalName"), e.first("msDS-cloudExtensionAttribute19"))
	}
}

// modifySuffix adds or deletes a uPNSuffixes value on the forest's
// CN=Partitions.
func modifySuffix(t *testing.T, s *testenv.SambaAD, op, suffix string) {
	t.Helper()
	cmd := exec.Command("ldapmodify", "-x", "-H", s.URL, "-D", s.AdminUPN, "-w", s.AdminPassword)
	cmd.Stdin = strings.NewReader("dn: CN=Partitions,CN=Configuration," + s.BaseDN + "\nchangetype: modify\n" + op + ": uPNSuffixes\nuPNSuffixes: " + suffix + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapmodify %s uPNSuffixes: %v: %s", op, err, out)
	}
}
