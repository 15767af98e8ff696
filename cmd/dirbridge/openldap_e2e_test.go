package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
)

const (
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	patchURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// ldapSetup is a running gateway and the directory behind it, as an
// application sees that directory over LDAP.
type ldapSetup struct {
	gw            *gateway
	URL           string // where LDAP clients connect
	BaseDN        string
	AdminDN       string
	AdminPassword string
	PeopleDN      string
	GroupsDN      string
	Restart       func() error // nil when the directory cannot be restarted alone
}

// backends are the directories every SCIM-level test runs against.
var backends = []struct {
	name  string
	start func(t *testing.T) *ldapSetup
}{
	{"openldap", func(t *testing.T) *ldapSetup { return startWithOpenLDAP(t) }},
	{"embedded", startEmbedded},
}

// eachBackend runs fn as a subtest per directory.
func eachBackend(t *testing.T, fn func(t *testing.T, s *ldapSetup)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.start(t)) })
	}
}

var ldapAddrRE = regexp.MustCompile(`ldap_addr=(127\.0\.0\.1:\d+)`)

// startEmbedded starts the binary as `make run` does, with no config, on
// free loopback ports and a fresh data folder.
func startEmbedded(t *testing.T) *ldapSetup {
	t.Helper()
	token, adminPw := randHex(16), "adm-"+randHex(8)
	gw := startGateway(t, []string{"DIRBRIDGE_DEV_TOKEN=" + token, "DIRBRIDGE_DEV_LDAP_PASSWORD=" + adminPw},
		"serve", "--data", t.TempDir(), "--scim-listen", "127.0.0.1:0", "--ldap-listen", "127.0.0.1:0")
	gw.auth = "Bearer " + token
	// The banner is printed once SCIM listens, just after the line the
	// harness waits for.
	for i := 0; i < 200 && !strings.Contains(gw.output.String(), "ldapsearch -x"); i++ {
		time.Sleep(25 * time.Millisecond)
	}
	m := ldapAddrRE.FindStringSubmatch(gw.output.String())
	if m == nil {
		t.Fatalf("no LDAP address in the output:\n%s", gw.output)
	}
	return &ldapSetup{gw: gw, URL: "ldap://" + m[1], BaseDN: "dc=example,dc=com", AdminDN: "cn=admin,dc=example,dc=com",
		AdminPassword: adminPw, PeopleDN: "ou=people,dc=example,dc=com", GroupsDN: "ou=groups,dc=example,dc=com"}
}

// startWithOpenLDAP starts a private slapd and the gateway on the shipped
// example configuration, with only the environment overrides the README
// documents.
func startWithOpenLDAP(t *testing.T, extraEnv ...string) *ldapSetup {
	t.Helper()
	return startWithOpenLDAPOptions(t, testenv.OpenLDAPOptions{}, extraEnv...)
}

// startWithOpenLDAPOptions is startWithOpenLDAP on a slapd set up as opts
// says (fewer overlays, for one).
func startWithOpenLDAPOptions(t *testing.T, opts testenv.OpenLDAPOptions, extraEnv ...string) *ldapSetup {
	t.Helper()
	o, err := testenv.StartOpenLDAP(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	token := "Bearer " + randHex(16)
	env := append([]string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_NAME=Authorization",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=" + token,
		"DIRBRIDGE_LDAP_URLS=" + o.URL,
		"DIRBRIDGE_LDAP_BIND_DN=" + o.AdminDN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + o.AdminPassword,
		"DIRBRIDGE_LDAP_BASE_DN=" + o.BaseDN,
	}, extraEnv...)
	gw := startGateway(t, env, "serve", "--config", "../../conf/examples/openldap.toml")
	gw.auth = token
	return &ldapSetup{gw: gw, URL: o.URL, BaseDN: o.BaseDN, AdminDN: o.AdminDN, AdminPassword: o.AdminPassword,
		PeopleDN: o.PeopleDN, GroupsDN: o.GroupsDN, Restart: o.Restart}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randUUID() string {
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

func (s *ldapSetup) search(t *testing.T, base, filter string, attrs ...string) []ldapEntry {
	t.Helper()
	return ldapSearch(t, s.URL, s.AdminDN, s.AdminPassword, base, filter, attrs...)
}

func oktaUser(userName, given, family, password string) map[string]any {
	return map[string]any{
		"schemas":     []string{userURN, enterpriseURN},
		"userName":    userName,
		"externalId":  "00u" + randHex(8),
		"name":        map[string]any{"givenName": given, "familyName": family},
		"emails":      []any{map[string]any{"primary": true, "value": userName, "type": "work"}},
		"displayName": given + " " + family,
		"locale":      "en-US",
		"password":    password,
		"active":      true,
		"groups":      []any{},
	}
}

func filterQ(f string) string { return url.QueryEscape(f) }

// TestOktaSpecSequence replays, in order, the checks of Okta's published
// SCIM 2.0 spec test for users.
func TestOktaSpecSequence(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw

		r := g.do("GET", "/v2/ServiceProviderConfig", nil).must(t, 200, "ServiceProviderConfig")
		for _, p := range []string{"bulk.maxOperations", "bulk.maxPayloadSize", "authenticationSchemes.0.type", "authenticationSchemes.0.description"} {
			if r.get(p) == nil {
				t.Errorf("ServiceProviderConfig lacks %s: %s", p, r.Raw)
			}
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			t.Errorf("Content-Type %q", ct)
		}
		for _, p := range []string{"/v2/ServiceProviderConfig", "/v2/ResourceTypes", "/v2/Schemas"} {
			checkSafeError(t, g.do("POST", p, map[string]any{}), 405)
		}

		userName := "okta.spec." + randHex(4) + "@example.com"
		created := g.do("POST", "/v2/Users", oktaUser(userName, "Okta", "Spec", "Init-Pa55-"+randHex(4))).must(t, 201, "create")
		if created.get("active") != true || created.str("id") == "" || created.get("password") != nil {
			t.Fatalf("created user: %s", created.Raw)
		}
		if created.Header.Get("Location") == "" {
			t.Error("no Location header on 201")
		}

		list := g.do("GET", "/v2/Users?count=1&startIndex=1", nil).must(t, 200, "list")
		if n, _ := list.get("totalResults").(float64); n < 1 {
			t.Fatalf("list: %s", list.Raw)
		}
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
		checkSafeError(t, g.do("POST", "/v2/Users", oktaUser(userName, "Okta", "Spec", "x-Pa55-word")), 409)

		upper := g.do("GET", "/v2/Users?filter="+filterQ(`userName eq "`+strings.ToUpper(userName)+`"`), nil).must(t, 200, "upper-case userName")
		if upper.get("totalResults") != float64(1) || upper.str("Resources.0.id") != created.str("id") {
			t.Fatalf("upper-case filter did not find the user: %s", upper.Raw)
		}

		bad := g.auth
		g.auth = "Bearer garbage"
		checkSafeError(t, g.do("GET", "/v2/Users", nil), 401)
		g.auth = ""
		checkSafeError(t, g.do("GET", "/v2/Users", nil), 401)
		g.auth = bad

		// Okta deactivates catalogue apps' users with a path-less replace.
		id := created.str("id")
		g.do("PATCH", "/v2/Users/"+id, map[string]any{"schemas": []string{patchURN},
			"Operations": []any{map[string]any{"op": "replace", "value": map[string]any{"active": false}}}}).must(t, 200, "deactivate")
		if got := g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "get deactivated"); got.get("active") != false {
			t.Fatalf("deactivated user: %s", got.Raw)
		}
		// ... and custom apps' with a full PUT.
		body := oktaUser(userName, "Okta", "Spec", "")
		delete(body, "password")
		body["active"] = true
		if got := g.do("PUT", "/v2/Users/"+id, body).must(t, 200, "reactivate by PUT"); got.get("active") != true {
			t.Fatalf("reactivated user: %s", got.Raw)
		}
	})
}

// TestEntraValidatorSequence replays what Entra ID's SCIM validator sends for
// users.
func TestEntraValidatorSequence(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw

		r := g.do("GET", "/scim/v2/Users?filter="+filterQ(`userName eq "`+randUUID()+`"`), nil).must(t, 200, "test connection")
		if r.get("totalResults") != float64(0) {
			t.Fatalf("test connection: %s", r.Raw)
		}
		ext := "ext-" + randHex(6)
		mgr := g.do("POST", "/scim/v2/Users", map[string]any{
			"schemas": []string{userURN}, "userName": "mgr." + randHex(4) + "@contoso.com", "active": true,
			"name": map[string]any{"givenName": "Mana", "familyName": "Ger"},
		}).must(t, 201, "create manager")
		userName := "Entra.User." + randHex(4) + "@contoso.com"
		body := fmt.Sprintf(`{"schemas":[%q,%q],"externalId":%q,"userName":%q,"active":true,
		"displayName":"Entra User","meta":{"resourceType":"User"},"roles":[],"nickName":null,
		"name":{"formatted":"Entra User","familyName":"User","givenName":"Entra"},
		"emails":[{"primary":true,"type":"work","value":"entra.%s@contoso.com"}],
		"title":"Engineer","preferredLanguage":"en-US",
		%q:{"employeeNumber":"1001","department":"R&D","manager":{"value":%q}}}`,
			userURN, enterpriseURN, ext, userName, ext, enterpriseURN, mgr.str("id"))
		created := g.do("POST", "/scim/v2/Users", body, "Content-Type", "").must(t, 201, "create without Content-Type")
		id := created.str("id")
		if created.str(enterpriseURN+".manager.value") != mgr.str("id") {
			t.Errorf("manager did not round-trip: %s", created.Raw)
		}

		byExt := g.do("GET", "/scim/v2/Users?filter="+url.QueryEscape("externalId eq "+ext), nil).must(t, 200, "unquoted externalId")
		if byExt.get("totalResults") != float64(1) {
			t.Fatalf("unquoted externalId filter: %s", byExt.Raw)
		}
		byName := g.do("GET", "/scim/v2/Users?filter="+filterQ(`userName eq "`+strings.ToLower(userName)+`"`), nil).must(t, 200, "userName")
		if byName.get("totalResults") != float64(1) {
			t.Fatalf("case-insensitive userName filter: %s", byName.Raw)
		}
		byMail := g.do("GET", "/scim/v2/Users?filter="+filterQ(`emails[type eq "work"].value eq "entra.`+ext+`@contoso.com"`), nil).must(t, 200, "email value path")
		if byMail.get("totalResults") != float64(1) {
			t.Fatalf("email value path filter: %s", byMail.Raw)
		}

		patched := g.do("PATCH", "/scim/v2/Users/"+id, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "Replace", "path": "displayName", "value": "Entra Renamed"},
			map[string]any{"op": "Add", "path": `emails[type eq "work"].value`, "value": "renamed." + ext + "@contoso.com"},
			map[string]any{"op": "Replace", "value": map[string]any{"name.givenName": "Entra2", enterpriseURN + ":employeeNumber": "1002"}},
			map[string]any{"op": "Replace", "path": enterpriseURN + ":manager", "value": ""},
		}}).must(t, 200, "entra patch")
		if patched.str("displayName") != "Entra Renamed" || patched.str("name.givenName") != "Entra2" ||
			patched.str(enterpriseURN+".employeeNumber") != "1002" || patched.get(enterpriseURN+".manager") != nil ||
			patched.str("emails.0.value") != "renamed."+ext+"@contoso.com" {
			t.Fatalf("entra patch result: %s", patched.Raw)
		}
		g.do("PATCH", "/scim/v2/Users/"+id, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "Replace", "path": "active", "value": "False"}}}).must(t, 200, "soft delete")
		still := g.do("GET", "/scim/v2/Users?filter="+filterQ(`userName eq "`+userName+`"`), nil).must(t, 200, "find soft-deleted")
		if still.get("totalResults") != float64(1) || still.get("Resources.0.active") != false {
			t.Fatalf("soft-deleted user not returned by filter: %s", still.Raw)
		}

		// Pagination with count=5 over 12 users: no gap, no duplicate.
		for i := 0; i < 11; i++ {
			g.do("POST", "/scim/v2/Users", map[string]any{"userName": fmt.Sprintf("page%02d.%s@contoso.com", i, ext),
				"name": map[string]any{"givenName": "P", "familyName": fmt.Sprint(i)}}).must(t, 201, "create for paging")
		}
		seen := map[string]bool{}
		total := -1
		for start := 1; ; start += 5 {
			p := g.do("GET", fmt.Sprintf("/scim/v2/Users?startIndex=%d&count=5", start), nil).must(t, 200, "page")
			total = int(p.get("totalResults").(float64))
			res, _ := p.get("Resources").([]any)
			for _, x := range res {
				id := x.(map[string]any)["id"].(string)
				if seen[id] {
					t.Fatalf("user %s on two pages", id)
				}
				seen[id] = true
			}
			if start+5 > total {
				break
			}
		}
		if len(seen) != total || total != 13 {
			t.Fatalf("paged %d users, totalResults %d, want 13", len(seen), total)
		}

		g.do("DELETE", "/scim/v2/Users/"+id, nil).must(t, 204, "hard delete")
		checkSafeError(t, g.do("GET", "/scim/v2/Users/"+id, nil), 404)
		checkSafeError(t, g.do("DELETE", "/scim/v2/Users/"+id, nil), 404)
		gone := g.do("GET", "/scim/v2/Users?filter="+filterQ(`userName eq "`+userName+`"`), nil).must(t, 200, "filter deleted")
		if gone.get("totalResults") != float64(0) {
			t.Fatalf("deleted user still listed: %s", gone.Raw)
		}
		// In the directory the leaver is kept, disabled, out of the people container.
		left := s.search(t, "ou=leavers,"+s.BaseDN, "(uid="+userName+")", "pwdAccountLockedTime")
		if len(left) != 1 || left[0].first("pwdAccountLockedTime") == "" {
			t.Fatalf("leaver not kept disabled in ou=leavers: %+v", left)
		}
	})
}

// TestPasswordsAndLifecycleAsAnApplicationSeesThem binds with ldapwhoami, the
// way an on-premises application would.
func TestPasswordsAndLifecycleAsAnApplicationSeesThem(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		userName := "bind." + randHex(4)
		pw := "Fir5t-" + randHex(6)
		u := g.do("POST", "/v2/Users", oktaUser(userName, "Bind", "Er", pw)).must(t, 201, "create")
		id := u.str("id")
		entries := s.search(t, s.PeopleDN, "(uid="+userName+")", "userPassword", "entryUUID", "sn", "givenName", "mail", "cn")
		if len(entries) != 1 {
			t.Fatalf("ldapsearch found %d entries", len(entries))
		}
		e := entries[0]
		if e.first("entryUUID") != id {
			t.Errorf("SCIM id %s is not the entryUUID %s", id, e.first("entryUUID"))
		}
		if hash := e.first("userPassword"); !strings.HasPrefix(hash, "{") || strings.Contains(hash, pw) {
			t.Errorf("userPassword is not a hash: %q", hash)
		}
		if e.first("sn") != "Er" || e.first("givenName") != "Bind" || e.first("mail") != userName {
			t.Errorf("mapped attributes: %+v", e.Attrs)
		}
		if !ldapWhoami(t, s.URL, e.DN, pw) {
			t.Fatal("created user cannot bind")
		}

		deact := map[string]any{"schemas": []string{patchURN}, "Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}
		g.do("PATCH", "/v2/Users/"+id, deact).must(t, 200, "deactivate")
		if ldapWhoami(t, s.URL, e.DN, pw) {
			t.Fatal("deactivated user can still bind")
		}
		react := map[string]any{"schemas": []string{patchURN}, "Operations": []any{map[string]any{"op": "replace", "path": "active", "value": true}}}
		g.do("PATCH", "/v2/Users/"+id, react).must(t, 200, "reactivate")
		if !ldapWhoami(t, s.URL, e.DN, pw) {
			t.Fatal("reactivated user cannot bind")
		}

		// Okta resends the current password with every PUT: nothing may change.
		before := s.search(t, s.PeopleDN, "(uid="+userName+")", "pwdChangedTime", "userPassword")[0]
		body := oktaUser(userName, "Bind", "Er", pw)
		g.do("PUT", "/v2/Users/"+id, body).must(t, 200, "PUT with the same password")
		after := s.search(t, s.PeopleDN, "(uid="+userName+")", "pwdChangedTime", "userPassword")[0]
		if before.first("userPassword") != after.first("userPassword") || before.first("pwdChangedTime") != after.first("pwdChangedTime") {
			t.Fatalf("resending the same password changed it: %v -> %v", before.Attrs, after.Attrs)
		}
		newPw := "Sec0nd-" + randHex(6)
		g.do("PUT", "/v2/Users/"+id, oktaUser(userName, "Bind", "Er", newPw)).must(t, 200, "password push")
		if !ldapWhoami(t, s.URL, e.DN, newPw) || ldapWhoami(t, s.URL, e.DN, pw) {
			t.Fatal("after a password push the new password must bind and the old must not")
		}
	})
}

// TestHostileNames creates, finds, renames and binds people whose names
// carry DN and filter metacharacters.
func TestHostileNames(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		for i, name := range []string{`Smith, John`, `a+b=c`, `O"Brien`, `Zoë Ünal-Şahin`, `*)(uid=*`, `back\slash #1`, `#lead`, ` space `} {
			userName := fmt.Sprintf("%s.%d.%s", name, i, randHex(2))
			pw := "Pw-" + randHex(6)
			body := oktaUser(userName, name, name, pw)
			// mail is an IA5 (ASCII) attribute: addresses stay ASCII.
			body["emails"] = []any{map[string]any{"value": fmt.Sprintf("hostile%d@example.com", i), "type": "work"}}
			u := g.do("POST", "/v2/Users", body).must(t, 201, "create "+userName)
			id := u.str("id")
			// The shipped table trims surrounding blanks: that is the one change allowed.
			if u.str("userName") != strings.TrimSpace(userName) || u.str("name.familyName") != strings.TrimSpace(name) {
				t.Fatalf("round trip of %q: %s", name, u.Raw)
			}
			f := g.do("GET", "/v2/Users?filter="+filterQ(fmt.Sprintf("userName eq %q", userName)), nil).must(t, 200, "filter "+userName)
			if f.get("totalResults") != float64(1) || f.str("Resources.0.id") != id {
				t.Fatalf("filter for %q: %s", userName, f.Raw)
			}
			userName = strings.TrimSpace(userName)
			f = g.do("GET", "/v2/Users?filter="+filterQ(fmt.Sprintf("name.familyName co %q", name)), nil).must(t, 200, "co "+name)
			if n, _ := f.get("totalResults").(float64); n < 1 {
				t.Fatalf("co filter for %q: %s", name, f.Raw)
			}
			renamed := "renamed " + userName
			body["userName"] = renamed
			r := g.do("PUT", "/v2/Users/"+id, body).must(t, 200, "rename "+userName)
			if r.str("id") != id || r.str("userName") != strings.TrimSpace(renamed) {
				t.Fatalf("rename of %q: %s", userName, r.Raw)
			}
			var dn string
			for _, e := range s.search(t, s.PeopleDN, "(entryUUID="+id+")", "uid") {
				dn = e.DN
				if e.first("uid") != strings.TrimSpace(renamed) {
					t.Fatalf("uid after rename: %+v", e.Attrs)
				}
			}
			if dn == "" || !ldapWhoami(t, s.URL, dn, pw) {
				t.Fatalf("renamed %q (%s) cannot bind", renamed, dn)
			}
		}
	})
}

// TestConcurrentCreates: distinct users all succeed; one userName sent ten
// times at once is created exactly once.
func TestConcurrentCreates(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		var wg sync.WaitGroup
		statuses := make([]int, 50)
		for i := range statuses {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				statuses[i] = g.do("POST", "/v2/Users", oktaUser(fmt.Sprintf("conc%02d.%s", i, randHex(3)), "C", fmt.Sprint(i), "")).Status
			}(i)
		}
		wg.Wait()
		for i, st := range statuses {
			if st != 201 {
				t.Errorf("create %d: status %d", i, st)
			}
		}
		same := "same." + randHex(4)
		statuses = make([]int, 10)
		for i := range statuses {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				statuses[i] = g.do("POST", "/v2/Users", oktaUser(same, "S", "Ame", "")).Status
			}(i)
		}
		wg.Wait()
		count := map[int]int{}
		for _, st := range statuses {
			count[st]++
		}
		if count[201] != 1 || count[409] != 9 {
			t.Fatalf("10 concurrent creates of one userName: %v", count)
		}
		if n := len(s.search(t, s.PeopleDN, "(uid="+same+")", "uid")); n != 1 {
			t.Fatalf("%d entries for one userName", n)
		}
	})
}

// TestHostileInputs: a client's mistakes get 4xx SCIM errors, never a 500.
func TestHostileInputs(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *ldapSetup) {
		g := s.gw
		id := g.do("POST", "/v2/Users", oktaUser("hostile."+randHex(4), "H", "Ostile", "")).must(t, 201, "create").str("id")
		filters := []string{`userName eq`, `userName eq "x" and`, `((((((((((((((((((((((((((((((userName eq "x"`,
			`shoeSize eq "9"`, `userName zz "x"`, `emails[type eq "work"`, `userName eq "\"`, `)(`, strings.Repeat("not (", 500) + `userName pr`,
			`userName eq "` + strings.Repeat("a", 10000) + `"`, "userName eq \"\x00\"", `meta.lastModified gt "yesterday"`}
		for _, f := range filters {
			r := g.do("GET", "/v2/Users?filter="+filterQ(f), nil)
			if r.Status != 400 && r.Status != 200 {
				t.Errorf("filter %.60q: status %d: %.200s", f, r.Status, r.Raw)
			}
			if r.Status == 400 {
				checkSafeError(t, r, 400)
			}
		}
		bodies := []string{`{`, `[]`, `"x"`, `{"userName":["a","b"]}`, `{"userName":{"a":1}}`, `{"name":"flat"}`, `{"userName":"` + strings.Repeat("\xff", 10) + `"}`,
			`{"userName":"x","emails":"not-a-list-of-objects","active":"maybe"}`, strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat(`}`, 10000)}
		for _, b := range bodies {
			r := g.do("POST", "/v2/Users", b)
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("body %.60q: status %d: %.200s", b, r.Status, r.Raw)
			}
		}
		huge := `{"userName":"` + strings.Repeat("x", 2<<20) + `"}`
		if r := g.do("POST", "/v2/Users", huge); r.Status != 413 {
			t.Errorf("2 MiB body: status %d", r.Status)
		}
		patches := []string{`{"Operations":[{"op":"explode","path":"title","value":"x"}]}`, `{"Operations":[{"op":"remove"}]}`,
			`{"Operations":[{"op":"replace","path":"emails[type eq","value":"x"}]}`, `{"Operations":"x"}`,
			`{"Operations":[{"op":"remove","path":"userName"}]}`}
		for _, b := range patches {
			r := g.do("PATCH", "/v2/Users/"+id, b)
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("patch %.80q: status %d: %.200s", b, r.Status, r.Raw)
			}
		}
		if r := g.do("PATCH", "/v2/Users/"+id, `{"Operations":[{"op":"replace","path":"userName","value":""}]}`); r.Status != 400 ||
			!strings.Contains(r.str("detail"), "userName") {
			t.Errorf("removing a required attribute must name it: %s", r.Raw)
		}
		if r := g.do("POST", "/v2/Users", `{"name":{"givenName":"No","familyName":"UserName"}}`); r.Status != 400 || !strings.Contains(r.str("detail"), "userName") {
			t.Errorf("missing userName: %d %s", r.Status, r.Raw)
		}
	})
}

// TestDirectoryRestart: requests in flight when slapd restarts may fail with
// 503; afterwards the gateway works again, and no user is half-made.
func TestDirectoryRestart(t *testing.T) {
	s := startWithOpenLDAP(t)
	g := s.gw
	g.do("POST", "/v2/Users", oktaUser("before."+randHex(4), "B", "Efore", "Pw-"+randHex(4))).must(t, 201, "create before restart")

	var wg sync.WaitGroup
	var mu sync.Mutex
	created := map[string]string{} // userName -> password, for every 201
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				select {
				case <-stop:
					return
				default:
				}
				un := fmt.Sprintf("restart.%d.%d.%s", w, i, randHex(2))
				pw := "Pw-" + randHex(6)
				r := g.do("POST", "/v2/Users", oktaUser(un, "R", "Estart", pw))
				switch r.Status {
				case 201:
					mu.Lock()
					created[un] = pw
					mu.Unlock()
				case 503:
					if r.Header.Get("Retry-After") == "" {
						t.Errorf("503 without Retry-After")
					}
					checkSafeError(t, r, 503)
				default:
					t.Errorf("during restart: status %d: %s", r.Status, r.Raw)
				}
			}
		}(w)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	after := "after." + randHex(4)
	var ok bool
	for i := 0; i < 20 && !ok; i++ {
		ok = g.do("POST", "/v2/Users", oktaUser(after, "A", "Fter", "Pw-x1y2z3")).Status == 201
	}
	if !ok {
		t.Fatal("the gateway did not recover after the directory restarted")
	}
	// Every acknowledged user binds with its password; every entry in the
	// directory is whole: it has a password and is not left locked.
	for un, pw := range created {
		es := s.search(t, s.PeopleDN, "(uid="+un+")", "userPassword", "pwdAccountLockedTime")
		if len(es) != 1 || !ldapWhoami(t, s.URL, es[0].DN, pw) {
			t.Errorf("acknowledged user %s is not whole: %+v", un, es)
		}
	}
	for _, e := range s.search(t, s.PeopleDN, "(uid=restart.*)", "userPassword", "pwdAccountLockedTime") {
		if e.first("userPassword") == "" || e.first("pwdAccountLockedTime") != "" {
			t.Errorf("half-made user left behind: %s %+v", e.DN, e.Attrs)
		}
	}
}
