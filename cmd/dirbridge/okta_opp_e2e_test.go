package main

// A replay of Okta's On-Premises Provisioning agent as Okta documents it
// (SCIM 1.1 at the bare base URL and at /v1), against a real OpenLDAP and
// the embedded directory, checked through SCIM and with ldapsearch and
// ldapwhoami.

import (
	"encoding/base64"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	core11URN       = "urn:scim:schemas:core:1.0"
	enterprise11URN = "urn:scim:schemas:extension:enterprise:1.0"
	oktaCustomURN   = "urn:okta:onprem_app:1.0:user:custom"
	oktaGroupURN    = "urn:okta:custom:group:1.0"
	oktaProviderURN = "urn:okta:schemas:scim:providerconfig:1.0"
	oppSecretHeader = "X-Okta-Agent-Secret"
)

// oppClient sends requests the way the agent is configured to: Basic, a
// custom header, or (embedded default) the Authorization header.
type oppClient struct {
	g    *gateway
	base string // "" (the bare base URL) or "/v1"
	hdr  []string
}

func (c *oppClient) do(method, path string, body any) response {
	c.g.t.Helper()
	return c.g.do(method, c.base+path, body, c.hdr...)
}

// oppSetup starts a backend with the Okta users table and the agent's
// credentials: on OpenLDAP Basic and a custom header, both configured (the
// README's environment overrides); the embedded default takes its bearer
// token, a header like any other to the agent.
type oppSetup struct {
	*ldapSetup
	basic  *oppClient // Basic at the bare base URL
	header *oppClient // the custom header at /v1
}

func startOPP(t *testing.T, backend string) *oppSetup {
	t.Helper()
	switch backend {
	case "openldap":
		user, pass, secret := "okta-agent", "pw-"+randHex(8), randHex(16)
		s := startWithOpenLDAP(t,
			"DIRBRIDGE_MAPPING_USERS=openldap-okta-users.toml",
			"DIRBRIDGE_SCIM_AUTH_BASIC_USER="+user,
			"DIRBRIDGE_SCIM_AUTH_BASIC_PASSWORD="+pass,
			"DIRBRIDGE_SCIM_AUTH_HEADER_NAME="+oppSecretHeader,
			"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE="+secret)
		s.gw.auth = ""
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		return &oppSetup{ldapSetup: s,
			basic:  &oppClient{g: s.gw, base: "", hdr: []string{"Authorization", basic}},
			header: &oppClient{g: s.gw, base: "/v1", hdr: []string{oppSecretHeader, secret}}}
	default:
		s := startEmbedded(t)
		return &oppSetup{ldapSetup: s, basic: &oppClient{g: s.gw, base: ""}, header: &oppClient{g: s.gw, base: "/v1"}}
	}
}

// checkOPPCapabilities asserts what the agent reads when its connector is
// saved: the 1.1 provider config with every capability this configuration
// offers, and maxResults as the integer 100.
func checkOPPCapabilities(t *testing.T, c *oppClient) {
	t.Helper()
	r := c.do("GET", "/ServiceProviderConfigs", nil).must(t, 200, "ServiceProviderConfigs at "+c.base)
	if r.str("schemas.0") != core11URN || r.str("schemas.1") != oktaProviderURN {
		t.Fatalf("provider config schemas: %s", r.Raw)
	}
	caps := map[string]bool{}
	for _, x := range r.get(oktaProviderURN + ".userManagementCapabilities").([]any) {
		caps[x.(string)] = true
	}
	for _, want := range []string{"GROUP_PUSH", "IMPORT_NEW_USERS", "IMPORT_PROFILE_UPDATES", "PUSH_NEW_USERS", "PUSH_PASSWORD_UPDATES",
		"PUSH_PENDING_USERS", "PUSH_PROFILE_UPDATES", "PUSH_USER_DEACTIVATION", "REACTIVATE_USERS", "OPP_SCIM_INCREMENTAL_IMPORTS"} {
		if !caps[want] {
			t.Errorf("capability %s not advertised: %s", want, r.Raw)
		}
	}
	if !strings.Contains(r.Raw, `"maxResults":100`) {
		t.Errorf("filter.maxResults is not the integer 100: %s", r.Raw)
	}
}

// check11Error asserts a SCIM 1.1 error body with the status as its code,
// and nothing of LDAP in it.
func check11Error(t *testing.T, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	if r.get("Errors.0.code") != float64(status) || r.str("Errors.0.description") == "" || len(r.Body) != 1 {
		t.Fatalf("not a SCIM 1.1 error body with code %d: %s", status, r.Raw)
	}
	low := strings.ToLower(r.Raw)
	for _, leak := range []string{"dc=example", "ou=people", "ldap result", "ldap:", "goroutine", ".go:"} {
		if strings.Contains(low, leak) {
			t.Fatalf("error body leaks %q: %s", leak, r.Raw)
		}
	}
}

// oppUser is a user body as the agent sends it: 1.1 URNs, emails typed
// primary/secondary, the custom extension, groups, and the password.
func oppUser(userName, given, family, password string, active bool, groups ...string) map[string]any {
	gs := []any{}
	for _, g := range groups {
		gs = append(gs, map[string]any{"value": g, "display": "group " + g})
	}
	return map[string]any{
		"schemas":  []string{core11URN, enterprise11URN, oktaCustomURN},
		"userName": userName,
		"name":     map[string]any{"givenName": given, "familyName": family},
		"emails": []any{
			map[string]any{"value": userName + "@example.com", "type": "primary", "primary": true},
			map[string]any{"value": userName + "@home.example.org", "type": "secondary", "primary": false},
		},
		"phoneNumbers":  []any{map[string]any{"value": "+1 555 0100", "type": "work"}},
		"title":         "Engineer",
		"password":      password,
		"active":        active,
		"groups":        gs,
		enterprise11URN: map[string]any{"department": "R&D", "employeeNumber": "E-" + userName},
		oktaCustomURN:   map[string]any{"departmentName": "Dept " + userName},
	}
}

func (s *oppSetup) entry(t *testing.T, uid string, attrs ...string) ldapEntry {
	t.Helper()
	es := s.search(t, s.PeopleDN, "(uid="+uid+")", attrs...)
	if len(es) != 1 {
		t.Fatalf("ldapsearch uid=%s: %d entries", uid, len(es))
	}
	return es[0]
}

func ldapModify(t *testing.T, s *oppSetup, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapmodify", "-x", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapmodify: %v: %s", err, out)
	}
}

// peopleMembers lists a group's members that are people, as ldapsearch
// sees them: an empty groupOfNames holds a placeholder, which is no one.
func (s *oppSetup) peopleMembers(t *testing.T, cn string) []string {
	t.Helper()
	var out []string
	for _, m := range s.memberDNs(t, cn) {
		if strings.HasSuffix(m, ","+strings.ToLower(s.PeopleDN)) {
			out = append(out, m)
		}
	}
	return out
}

func idsOf(r response) []string {
	var ids []string
	res, _ := r.get("Resources").([]any)
	for _, x := range res {
		ids = append(ids, x.(map[string]any)["id"].(string))
	}
	return ids
}

// TestOktaOPPReplay replays the agent's conversation: capabilities, lookup
// then create, a pending user, activation, profile push, password push, the
// password resent unchanged, deactivation, reactivation, lookups by a custom
// attribute and by an email OR filter, group push with the user's groups.
func TestOktaOPPReplay(t *testing.T) {
	for _, backend := range []string{"openldap", "embedded"} {
		t.Run(backend, func(t *testing.T) {
			s := startOPP(t, backend)
			a, v1 := s.basic, s.header

			// Capabilities, at the bare base URL and at /v1.
			for _, c := range []*oppClient{a, v1} {
				checkOPPCapabilities(t, c)
			}
			// Without credentials, or with wrong ones: 401 in 1.1 shape.
			check11Error(t, s.gw.do("GET", "/Users", nil, "Authorization", ""), 401)
			check11Error(t, s.gw.do("GET", "/v1/Users", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("okta-agent:wrong"))), 401)

			// A group to push the user into, with Okta's description.
			gname := "OPP Group " + randHex(3)
			grp := a.do("POST", "/Groups", map[string]any{"schemas": []string{core11URN, oktaGroupURN}, "displayName": gname,
				oktaGroupURN: map[string]any{"description": "pushed by Okta"}, "members": []any{}}).must(t, 201, "create group")
			gid := grp.str("id")
			if grp.str(oktaGroupURN+".description") != "pushed by Okta" || grp.str("schemas.0") != core11URN {
				t.Fatalf("group as created: %s", grp.Raw)
			}

			// Lookup, then create a pending user.
			uid := "opp." + randHex(4)
			look := a.do("GET", "/Users?filter="+filterQ(`userName eq "`+uid+`"`)+"&startIndex=1&count=100", nil).must(t, 200, "lookup")
			if !strings.Contains(look.Raw, `"totalResults":0`) || look.str("schemas.0") != core11URN {
				t.Fatalf("lookup before create: %s", look.Raw)
			}
			pw1 := "Fir5t-" + randHex(6)
			created := a.do("POST", "/Users", oppUser(uid, "Opal", "Pending", pw1, false, gid)).must(t, 201, "create pending")
			id := created.str("id")
			if created.get("active") != false || created.get("password") != nil || created.str(oktaCustomURN+".departmentName") != "Dept "+uid ||
				created.str(enterprise11URN+".department") != "R&D" || created.str("groups.0.value") != gid {
				t.Fatalf("pending user as created: %s", created.Raw)
			}
			for _, want := range []string{core11URN, enterprise11URN, oktaCustomURN} {
				if !strings.Contains(created.Raw, `"`+want+`"`) {
					t.Errorf("schemas lack %s: %s", want, created.Raw)
				}
			}
			if strings.Contains(created.Raw, "urn:ietf:params") {
				t.Errorf("a 2.0 URN in a 1.1 answer: %s", created.Raw)
			}
			e := s.entry(t, uid, "businessCategory", "departmentNumber", "mail", "memberOf", "userPassword")
			dn := e.DN
			if e.first("businessCategory") != "Dept "+uid || e.first("departmentNumber") != "R&D" || e.first("mail") != uid+"@example.com" ||
				len(e.Attrs["memberof"]) != 1 || len(e.Attrs["mail"]) != 2 {
				t.Fatalf("pending user in the directory: %+v", e.Attrs)
			}
			if ldapWhoami(t, s.URL, dn, pw1) {
				t.Fatal("a pending user can bind")
			}
			dup := a.do("POST", "/Users", oppUser(uid, "Opal", "Pending", pw1, false))
			check11Error(t, dup, 409)

			// Activate: the whole user again, active.
			body := oppUser(uid, "Opal", "Pending", pw1, true, gid)
			a.do("PUT", "/Users/"+id, body).must(t, 200, "activate")
			if !ldapWhoami(t, s.URL, dn, pw1) {
				t.Fatal("the activated user cannot bind")
			}

			// Profile push: what the identity provider does not own survives
			// (externalId is owner "both" and absent here; roomNumber is
			// not mapped at all); what it owns and left out is removed.
			a.do("PUT", "/Users/"+id, func() map[string]any {
				b := oppUser(uid, "Opal", "Pending", pw1, true, gid)
				b["externalId"] = "00u-opp"
				return b
			}()).
				must(t, 200, "externalId")
			ldapModify(t, s, "dn: "+dn+"\nchangetype: modify\nadd: roomNumber\nroomNumber: 42\n")
			body = oppUser(uid, "Opaline", "Pending", pw1, true, gid)
			body["title"] = "Lead"
			delete(body, "phoneNumbers")
			body[oktaCustomURN] = map[string]any{"departmentName": "Research"}
			pushed := a.do("PUT", "/Users/"+id, body).must(t, 200, "profile push")
			if pushed.str("name.givenName") != "Opaline" || pushed.str("title") != "Lead" || pushed.str("externalId") != "00u-opp" || pushed.get("phoneNumbers") != nil {
				t.Fatalf("after profile push: %s", pushed.Raw)
			}
			e = s.entry(t, uid, "roomNumber", "description", "telephoneNumber", "businessCategory", "givenName")
			if e.first("roomNumber") != "42" || e.first("description") != "00u-opp" || e.first("telephoneNumber") != "" ||
				e.first("businessCategory") != "Research" || e.first("givenName") != "Opaline" {
				t.Fatalf("directory after profile push: %+v", e.Attrs)
			}

			// Password push: the new one binds, the old one does not.
			pw2 := "Sec0nd-" + randHex(6)
			body["password"] = pw2
			a.do("PUT", "/Users/"+id, body).must(t, 200, "password push")
			if !ldapWhoami(t, s.URL, dn, pw2) || ldapWhoami(t, s.URL, dn, pw1) {
				t.Fatal("after a password push the new password must bind and the old must not")
			}

			// The password resent unchanged: nothing changes, not the hash,
			// not the password-changed time, not even the entry's version.
			before := s.entry(t, uid, "userPassword", "pwdChangedTime", "modifyTimestamp")
			ver := v1.do("GET", "/Users/"+id, nil).must(t, 200, "get").str("meta.version")
			again := v1.do("PUT", "/Users/"+id, body).must(t, 200, "password resent")
			after := s.entry(t, uid, "userPassword", "pwdChangedTime", "modifyTimestamp")
			for _, attr := range []string{"userPassword", "pwdChangedTime", "modifyTimestamp"} {
				if before.first(attr) != after.first(attr) {
					t.Errorf("resending the password changed %s: %q -> %q", attr, before.first(attr), after.first(attr))
				}
			}
			if backend == "openldap" && before.first("pwdChangedTime") == "" {
				t.Error("OpenLDAP keeps no pwdChangedTime: the check above proves nothing")
			}
			if again.str("meta.version") != ver || ver == "" {
				t.Errorf("resending everything changed the version: %q -> %q", ver, again.str("meta.version"))
			}
			if !ldapWhoami(t, s.URL, dn, pw2) {
				t.Fatal("the password stopped working after it was resent")
			}

			// Deactivate and reactivate, by PUT.
			body["active"] = false
			if r := a.do("PUT", "/Users/"+id, body).must(t, 200, "deactivate"); r.get("active") != false {
				t.Fatalf("deactivated: %s", r.Raw)
			}
			if ldapWhoami(t, s.URL, dn, pw2) {
				t.Fatal("a deactivated user can bind")
			}
			body["active"] = true
			a.do("PUT", "/Users/"+id, body).must(t, 200, "reactivate")
			if !ldapWhoami(t, s.URL, dn, pw2) {
				t.Fatal("the reactivated user cannot bind")
			}
			// Okta cloud's SCIM 1.1 deactivation is a PATCH of active alone.
			if r := v1.do("PATCH", "/Users/"+id, map[string]any{"schemas": []string{core11URN}, "id": id, "active": false}).must(t, 200, "PATCH active false"); r.get("active") != false {
				t.Fatalf("PATCH deactivation: %s", r.Raw)
			}
			v1.do("PATCH", "/Users/"+id, map[string]any{"active": true}).must(t, 200, "PATCH active true")

			// Lookups: by the custom attribute, by an OR of emails, by a
			// sub-attribute, by the 1.1 enterprise URN.
			other := "opp.other." + randHex(4)
			a.do("POST", "/Users", oppUser(other, "Otto", "Other", "", true)).must(t, 201, "create other")
			hourAgo := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
			inAnHour := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
			for f, want := range map[string]int{
				oktaCustomURN + `:departmentName eq "Research"`:                                   1,
				`email eq "` + uid + `@example.com" or email eq "` + other + `@home.example.org"`: 2,
				`name.familyName eq "Other" and name.givenName sw "Ot"`:                           1,
				enterprise11URN + `:employeeNumber eq "E-` + other + `"`:                          1,
				`userName co "` + uid[4:] + `" and title pr`:                                      1,
				`userName eq "` + strings.ToUpper(uid) + `"`:                                      1,
				// uid has no ordering rule in OpenLDAP: order on the times.
				`meta.created ge "` + hourAgo + `" and userName eq "` + uid + `"`:                         1,
				`meta.lastModified le "` + inAnHour + `" and userName eq "` + uid + `"`:                   1,
				`meta.lastModified lt "2001-01-01T00:00:00Z" and userName eq "` + uid + `"`:               0,
				`urn:scim:schemas:core:1.0:userName eq "` + other + `"`:                                   1,
				`emails eq "` + other + `@example.com" or ` + oktaCustomURN + `:departmentName eq "nope"`: 1,
			} {
				r := v1.do("GET", "/Users?filter="+filterQ(f), nil).must(t, 200, f)
				if r.get("totalResults") != float64(want) {
					t.Errorf("filter %s: want %d: %s", f, want, r.Raw)
				}
			}
			for _, f := range []string{`shoeSize eq "9"`, `userName eq`, `meta.lastModified gt "yesterday"`} {
				check11Error(t, v1.do("GET", "/Users?filter="+filterQ(f), nil), 400)
			}
			check11Error(t, v1.do("GET", "/Users/"+randUUID(), nil), 404)

			// Groups over 1.1: list by displayName (any case), externalId,
			// members.value; rename with the full member list; Okta cloud's
			// member removal; the user's groups by PUT; DELETE.
			g2 := a.do("POST", "/Groups", map[string]any{"schemas": []string{core11URN}, "displayName": "OPP Second " + randHex(3),
				"externalId": "ext-" + gid[:8], "members": []any{map[string]any{"value": id}}}).must(t, 201, "second group")
			gid2 := g2.str("id")
			check11Error(t, a.do("POST", "/Groups", map[string]any{"displayName": strings.ToUpper(gname)}), 409)
			for f, want := range map[string]string{
				`displayName eq "` + strings.ToLower(gname) + `"`: gid,
				`externalId eq "ext-` + gid[:8] + `"`:             gid2,
			} {
				r := a.do("GET", "/Groups?filter="+filterQ(f)+"&startIndex=1&count=100", nil).must(t, 200, f)
				if got := idsOf(r); len(got) != 1 || got[0] != want {
					t.Errorf("group filter %s: %s", f, r.Raw)
				}
			}
			r := a.do("GET", "/Groups?filter="+filterQ(`members.value eq "`+id+`"`), nil).must(t, 200, "groups of a member")
			got := idsOf(r)
			sort.Strings(got)
			want := []string{gid, gid2}
			sort.Strings(want)
			if !sameList(got, want) {
				t.Fatalf("groups with member %s: %v, want %v", id, got, want)
			}
			// PUT of the user with only the second group: out of the first.
			body["groups"] = []any{map[string]any{"value": gid2, "display": "second"}}
			r = a.do("PUT", "/Users/"+id, body).must(t, 200, "user PUT with groups")
			if r.str("groups.0.value") != gid2 || r.get("groups.1") != nil {
				t.Fatalf("user's groups after PUT: %s", r.Raw)
			}
			if m := s.peopleMembers(t, gname); len(m) != 0 {
				t.Fatalf("the first group still has members: %v", m)
			}
			// An unknown group id: 400 naming it, and nothing applied.
			bogus := randUUID()
			body["groups"] = []any{map[string]any{"value": gid}, map[string]any{"value": bogus}}
			body["title"] = "Not Applied"
			bad := a.do("PUT", "/Users/"+id, body)
			check11Error(t, bad, 400)
			if !strings.Contains(bad.str("Errors.0.description"), bogus) {
				t.Errorf("the error does not name the unknown group: %s", bad.Raw)
			}
			if e := s.entry(t, uid, "title", "memberOf"); e.first("title") != "Lead" || len(e.Attrs["memberof"]) != 1 {
				t.Fatalf("a refused PUT changed the user: %+v", e.Attrs)
			}
			// Group PUT: rename and the full member list.
			renamed := gname + " Renamed"
			put := a.do("PUT", "/Groups/"+gid, map[string]any{"schemas": []string{core11URN, oktaGroupURN}, "displayName": renamed,
				oktaGroupURN: map[string]any{"description": "renamed"}, "members": []any{map[string]any{"value": id, "display": uid}}}).must(t, 200, "group PUT")
			if put.str("displayName") != renamed || put.str("members.0.value") != id || put.str(oktaGroupURN+".description") != "renamed" {
				t.Fatalf("group after PUT: %s", put.Raw)
			}
			if m := s.peopleMembers(t, renamed); len(m) != 1 || m[0] != strings.ToLower(dn) {
				t.Fatalf("members after group PUT: %v", m)
			}
			// Okta cloud's 1.1 member removal.
			pr := v1.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{core11URN},
				"members": []any{map[string]any{"value": id, "display": uid, "operation": "delete"}}})
			if pr.Status != 200 && pr.Status != 204 {
				t.Fatalf("1.1 member removal: %d %s", pr.Status, pr.Raw)
			}
			if m := s.peopleMembers(t, renamed); len(m) != 0 {
				t.Fatalf("members after 1.1 removal: %v", m)
			}
			a.do("GET", "/Groups/"+gid, nil).must(t, 200, "get group")
			a.do("DELETE", "/Groups/"+gid, nil).must(t, 204, "delete group")
			check11Error(t, a.do("GET", "/Groups/"+gid, nil), 404)
			a.do("DELETE", "/Users/"+id, nil).must(t, 204, "delete user")
			check11Error(t, a.do("GET", "/Users/"+id, nil), 404)
		})
	}
}

// TestOktaOPPImports: a full import of 1,000 users paged by 100 (no
// duplicate, no gap), then an incremental import that returns exactly the
// users changed after the timestamp.
func TestOktaOPPImports(t *testing.T) {
	for _, backend := range []string{"openldap", "embedded"} {
		t.Run(backend, func(t *testing.T) {
			s := startOPP(t, backend)
			a := s.basic
			const n = 1000
			tag := randHex(3)
			ids := seedOPPUsers(t, a, tag, n, 12)
			seen, newest := oppFullImport(t, a)
			for i, id := range ids {
				if !seen[id] {
					t.Fatalf("seeded user %d (%s) missing from the import", i, id)
				}
			}
			if len(seen) != n {
				t.Fatalf("imported %d users, want %d", len(seen), n)
			}
			changed := oppChangeAfter(t, a, ids, tag, newest, 3, 500, 999)
			checkOPPIncremental(t, a, changed.since, changed.ids)
		})
	}
}

// oppImportUser is a user of the import tests: userName imp<i>.<tag>, and
// names that keep AD's derived logon names apart without numbering.
func oppImportUser(i int, tag, given string) map[string]any {
	return map[string]any{"schemas": []string{core11URN}, "userName": fmt.Sprintf("imp%04d.%s", i, tag),
		"name": map[string]any{"givenName": given + tag, "familyName": fmt.Sprint(i)}, "active": true}
}

// seedOPPUsers creates n import users over SCIM 1.1 with a few requests at
// once and returns their ids, in order.
func seedOPPUsers(t *testing.T, a *oppClient, tag string, n, workers int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := a.do("POST", "/Users", oppImportUser(i, tag, "Imp"))
				if r.Status != 201 {
					t.Errorf("seed %d: %d %s", i, r.Status, r.Raw)
					continue
				}
				ids[i] = r.str("id")
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// oppFullImport walks GET /Users by pages of 100 as the agent does, until
// totalResults, and fails on an empty page, a user seen twice, a
// startIndex that is not the integer asked for, or a count of users other
// than totalResults. It returns the ids seen and the newest lastModified.
func oppFullImport(t *testing.T, a *oppClient) (map[string]bool, time.Time) {
	t.Helper()
	seen := map[string]bool{}
	var newest time.Time
	total := -1
	for start := 1; total < 0 || start <= total; start += 100 {
		p := a.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=100", start), nil).must(t, 200, "import page")
		if !strings.Contains(p.Raw, fmt.Sprintf(`"startIndex":%d,`, start)) {
			t.Fatalf("startIndex is not the integer %d: %.300s", start, p.Raw)
		}
		total = int(p.get("totalResults").(float64))
		res, _ := p.get("Resources").([]any)
		if len(res) == 0 {
			t.Fatalf("empty page at %d of %d", start, total)
		}
		for _, x := range res {
			m := x.(map[string]any)
			id := m["id"].(string)
			if seen[id] {
				t.Fatalf("user %s on two pages", id)
			}
			seen[id] = true
			lm, err := time.Parse(time.RFC3339, dig(m, "meta.lastModified").(string))
			if err != nil {
				t.Fatalf("meta.lastModified is not ISO 8601: %v", m["meta"])
			}
			if lm.After(newest) {
				newest = lm
			}
		}
	}
	if len(seen) != total {
		t.Fatalf("imported %d users, totalResults %d", len(seen), total)
	}
	return seen, newest
}

type oppChanges struct {
	since string          // the incremental import's timestamp
	ids   map[string]bool // the users changed or created after it
}

// oppChangeAfter waits until a second later than newest (directories keep
// whole seconds), takes that second as the timestamp, then changes the
// import users numbered which and creates one more.
func oppChangeAfter(t *testing.T, a *oppClient, ids []string, tag string, newest time.Time, which ...int) oppChanges {
	t.Helper()
	for !time.Now().UTC().Truncate(time.Second).After(newest) {
		time.Sleep(50 * time.Millisecond)
	}
	c := oppChanges{since: time.Now().UTC().Truncate(time.Second).Format(time.RFC3339), ids: map[string]bool{}}
	for _, i := range which {
		r := a.do("PUT", "/Users/"+ids[i], oppImportUser(i, tag, "Changed")).must(t, 200, "change")
		c.ids[r.str("id")] = true
	}
	nu := a.do("POST", "/Users", map[string]any{"userName": "imp.new." + tag, "name": map[string]any{"givenName": "New" + tag, "familyName": "New"}}).must(t, 201, "new")
	c.ids[nu.str("id")] = true
	return c
}

// checkOPPIncremental asserts that meta.lastModified gt since returns
// exactly the users in want.
func checkOPPIncremental(t *testing.T, a *oppClient, since string, want map[string]bool) {
	t.Helper()
	got := map[string]bool{}
	inc := a.do("GET", "/Users?filter="+filterQ(`meta.lastModified gt "`+since+`"`)+"&startIndex=1&count=100", nil).must(t, 200, "incremental import")
	for _, id := range idsOf(inc) {
		got[id] = true
	}
	if len(got) != len(want) || inc.get("totalResults") != float64(len(want)) {
		t.Fatalf("incremental import since %s: %d users, want %d: %.500s", since, len(got), len(want), inc.Raw)
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("changed user %s missing from the incremental import", id)
		}
	}
}
