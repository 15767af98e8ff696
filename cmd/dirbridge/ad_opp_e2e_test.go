package main

// Okta's On-Premises Provisioning agent (SCIM 1.1, see okta_opp_e2e_test.go)
// against the shared Samba AD DC, on the shipped conf/examples/ad.toml with
// the README's environment overrides, checked through SCIM and with
// ldapsearch and LDAPS binds as user@EXAMPLE.TEST.

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// startADOPP starts the gateway on AD with groups and the agent's two kinds
// of credentials (Basic and a custom header) configured at once, as
// startOPP does on OpenLDAP.
func startADOPP(t *testing.T) (s *adSetup, basic, header *oppClient) {
	t.Helper()
	user, pass, secret := "okta-agent", "pw-"+randHex(8), randHex(16)
	s = startWithADGroups(t,
		"DIRBRIDGE_SCIM_AUTH_BASIC_USER="+user,
		"DIRBRIDGE_SCIM_AUTH_BASIC_PASSWORD="+pass,
		"DIRBRIDGE_SCIM_AUTH_HEADER_NAME="+oppSecretHeader,
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE="+secret)
	s.gw.auth = ""
	b := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	return s, &oppClient{g: s.gw, base: "", hdr: []string{"Authorization", b}},
		&oppClient{g: s.gw, base: "/v1", hdr: []string{oppSecretHeader, secret}}
}

func (s *adSetup) modify(t *testing.T, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapmodify", "-x", "-H", s.URL, "-D", s.AdminUPN, "-w", s.AdminPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapmodify: %v: %s", err, out)
	}
}

// TestADOktaOPPReplay is TestOktaOPPReplay on AD: capabilities, lookup then
// create, a pending user, activation, profile push, password push, the
// password resent unchanged, deactivation, reactivation, lookups by a
// custom attribute and by an email OR filter, and the user's groups in 1.1
// bodies changing AD's member/memberOf.
func TestADOktaOPPReplay(t *testing.T) {
	s, a, v1 := startADOPP(t)
	for _, c := range []*oppClient{a, v1} {
		checkOPPCapabilities(t, c)
	}
	check11Error(t, s.gw.do("GET", "/Users", nil, "Authorization", ""), 401)
	check11Error(t, s.gw.do("GET", "/v1/Users", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("okta-agent:wrong"))), 401)

	tag := randHex(2)
	gname := "OPP AD " + tag
	gid := a.do("POST", "/Groups", map[string]any{"schemas": []string{core11URN, oktaGroupURN}, "displayName": gname,
		oktaGroupURN: map[string]any{"description": "pushed by Okta"}, "members": []any{}}).must(t, 201, "create group").str("id")
	gid2 := a.do("POST", "/Groups", map[string]any{"schemas": []string{core11URN}, "displayName": "OPP AD Second " + tag}).must(t, 201, "second group").str("id")
	gdn := strings.ToLower(s.group(t, gname).DN)
	gdn2 := strings.ToLower(s.group(t, "OPP AD Second "+tag).DN)

	// Lookup, then create a pending user in the first group.
	uid := "opp." + randHex(4)
	family := "Pending" + tag
	look := a.do("GET", "/Users?filter="+filterQ(`userName eq "`+uid+`"`)+"&startIndex=1&count=100", nil).must(t, 200, "lookup")
	if look.get("totalResults") != float64(0) || look.str("schemas.0") != core11URN {
		t.Fatalf("lookup before create: %s", look.Raw)
	}
	pw1 := "Fir5t-" + randHex(6)
	created := a.do("POST", "/Users", oppUser(uid, "Opal", family, pw1, false, gid)).must(t, 201, "create pending")
	id := created.str("id")
	if created.get("active") != false || created.get("password") != nil || created.str(oktaCustomURN+".departmentName") != "Dept "+uid ||
		created.str(enterprise11URN+".department") != "R&D" || created.str("groups.0.value") != gid || created.get("groups.1") != nil ||
		created.str("emails.0.value") != uid+"@example.com" {
		t.Fatalf("pending user as created: %s", created.Raw)
	}
	if strings.Contains(created.Raw, "urn:ietf:params") {
		t.Errorf("a 2.0 URN in a 1.1 answer: %s", created.Raw)
	}
	e := s.byUserName(t, uid, "msDS-cloudExtensionAttribute2", "department", "mail", "memberOf", "userAccountControl", "userPrincipalName", "pwdLastSet", "objectGUID")
	upn := e.first("userPrincipalName")
	// mail is single-valued in AD: the address the agent types "primary".
	if e.first("msDS-cloudExtensionAttribute2") != "Dept "+uid || e.first("department") != "R&D" || e.first("mail") != uid+"@example.com" ||
		!sameList(lowerSorted(e.Attrs["memberof"]), []string{gdn}) || e.first("userAccountControl") != "514" || guidOf(e.first("objectGUID")) != id {
		t.Fatalf("pending user in AD: %+v", e.Attrs)
	}
	// The password was set with the account (pwdLastSet is stamped), yet
	// the disabled account cannot bind with it.
	pwdSet := e.first("pwdLastSet")
	if pwdSet == "" || pwdSet == "0" {
		t.Fatalf("the pending user has no password: pwdLastSet %q", pwdSet)
	}
	if s.ldapsBind(t, upn, pw1) {
		t.Fatal("a pending user can bind")
	}
	check11Error(t, a.do("POST", "/Users", oppUser(uid, "Opal", family, pw1, false)), 409)

	// Activate: the whole user again, active, the same password, which is
	// not set again: the one the pending create set binds.
	body := oppUser(uid, "Opal", family, pw1, true, gid)
	a.do("PUT", "/Users/"+id, body).must(t, 200, "activate")
	if e := s.byUserName(t, uid, "userAccountControl", "pwdLastSet"); e.first("userAccountControl") != "512" || e.first("pwdLastSet") != pwdSet {
		t.Fatalf("after activation: %+v (pwdLastSet was %s)", e.Attrs, pwdSet)
	}
	if !s.ldapsBind(t, upn, pw1) {
		t.Fatal("the activated user cannot bind")
	}

	// Profile push: what the identity provider does not own survives
	// (externalId is owner "both" and absent here; the office is not
	// mapped; the logon names are the directory's, chosen once); what it
	// owns and left out is removed.
	b := oppUser(uid, "Opal", family, pw1, true, gid)
	b["externalId"] = "00u-opp"
	a.do("PUT", "/Users/"+id, b).must(t, 200, "externalId")
	s.modify(t, "dn: "+s.byUserName(t, uid).DN+"\nchangetype: modify\nadd: physicalDeliveryOfficeName\nphysicalDeliveryOfficeName: 42\n")
	body = oppUser(uid, "Opaline", family, pw1, true, gid)
	body["title"] = "Lead"
	delete(body, "phoneNumbers")
	research := "Research " + tag
	body[oktaCustomURN] = map[string]any{"departmentName": research}
	pushed := a.do("PUT", "/Users/"+id, body).must(t, 200, "profile push")
	if pushed.str("name.givenName") != "Opaline" || pushed.str("title") != "Lead" || pushed.str("externalId") != "00u-opp" || pushed.get("phoneNumbers") != nil {
		t.Fatalf("after profile push: %s", pushed.Raw)
	}
	e2 := s.byUserName(t, uid, "physicalDeliveryOfficeName", "msDS-cloudExtensionAttribute1", "telephoneNumber", "msDS-cloudExtensionAttribute2",
		"givenName", "userPrincipalName", "sAMAccountName", "memberOf")
	if e2.first("physicalDeliveryOfficeName") != "42" || e2.first("msDS-cloudExtensionAttribute1") != "00u-opp" || e2.first("telephoneNumber") != "" ||
		e2.first("msDS-cloudExtensionAttribute2") != research || e2.first("givenName") != "Opaline" || e2.first("userPrincipalName") != upn ||
		!sameList(lowerSorted(e2.Attrs["memberof"]), []string{gdn}) {
		t.Fatalf("AD after profile push: %+v", e2.Attrs)
	}

	// Password push: the new one binds, the old one does not.
	pw2 := "Sec0nd-" + randHex(6)
	body["password"] = pw2
	a.do("PUT", "/Users/"+id, body).must(t, 200, "password push")
	if !s.ldapsBind(t, upn, pw2) || s.ldapsBind(t, upn, pw1) {
		t.Fatal("after a password push the new password must bind and the old must not")
	}

	// The password resent unchanged (with everything else): AD keeps
	// pwdLastSet, the fingerprint, and the entry's version (uSNChanged).
	// No bind happens in between: a logon may move uSNChanged by itself.
	pwAttrs := []string{"pwdLastSet", "msDS-cloudExtensionAttribute20", "uSNChanged"}
	before := s.byUserName(t, uid, pwAttrs...)
	ver := v1.do("GET", "/Users/"+id, nil).must(t, 200, "get").str("meta.version")
	again := v1.do("PUT", "/Users/"+id, body).must(t, 200, "password resent")
	after := s.byUserName(t, uid, pwAttrs...)
	for _, attr := range pwAttrs {
		if before.first(attr) != after.first(attr) || before.first(attr) == "" {
			t.Errorf("resending the password changed %s: %q -> %q", attr, before.first(attr), after.first(attr))
		}
	}
	if again.str("meta.version") != ver || ver == "" {
		t.Errorf("resending everything changed the version: %q -> %q", ver, again.str("meta.version"))
	}
	if !s.ldapsBind(t, upn, pw2) {
		t.Fatal("the password stopped working after it was resent")
	}

	// Deactivate and reactivate, by PUT; Okta cloud's PATCH of active alone.
	body["active"] = false
	if r := a.do("PUT", "/Users/"+id, body).must(t, 200, "deactivate"); r.get("active") != false {
		t.Fatalf("deactivated: %s", r.Raw)
	}
	if uac := s.byUserName(t, uid, "userAccountControl").first("userAccountControl"); uac != "514" {
		t.Fatalf("deactivated: userAccountControl %s, want 514", uac)
	}
	if s.ldapsBind(t, upn, pw2) {
		t.Fatal("a deactivated user can bind")
	}
	body["active"] = true
	a.do("PUT", "/Users/"+id, body).must(t, 200, "reactivate")
	if !s.ldapsBind(t, upn, pw2) {
		t.Fatal("the reactivated user cannot bind")
	}
	if r := v1.do("PATCH", "/Users/"+id, map[string]any{"schemas": []string{core11URN}, "id": id, "active": false}).must(t, 200, "PATCH active false"); r.get("active") != false {
		t.Fatalf("PATCH deactivation: %s", r.Raw)
	}
	v1.do("PATCH", "/Users/"+id, map[string]any{"active": true}).must(t, 200, "PATCH active true")

	// Lookups: by the custom attribute, by an OR of emails (AD keeps the
	// primary address only: a secondary one matches no one), by a
	// sub-attribute, by the 1.1 enterprise URN, by times.
	other := "opp.other." + randHex(4)
	otherFamily := "Other" + tag
	a.do("POST", "/Users", oppUser(other, "Otto", otherFamily, "", true)).must(t, 201, "create other")
	hourAgo := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	inAnHour := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	for f, want := range map[string]int{
		oktaCustomURN + `:departmentName eq "` + research + `"`:                                                                 1,
		`email eq "` + uid + `@example.com" or email eq "` + other + `@example.com"`:                                            2,
		`email eq "` + uid + `@example.com" or email eq "` + other + `@home.example.org"`:                                       1,
		`name.familyName eq "` + otherFamily + `" and name.givenName sw "Ot"`:                                                   1,
		enterprise11URN + `:employeeNumber eq "E-` + other + `"`:                                                                1,
		`userName co "` + uid[4:] + `" and title pr`:                                                                            1,
		`userName eq "` + strings.ToUpper(uid) + `"`:                                                                            1,
		`meta.created ge "` + hourAgo + `" and userName eq "` + uid + `"`:                                                       1,
		`meta.lastModified le "` + inAnHour + `" and userName eq "` + uid + `"`:                                                 1,
		`meta.lastModified lt "2001-01-01T00:00:00Z" and userName eq "` + uid + `"`:                                             0,
		`urn:scim:schemas:core:1.0:userName eq "` + other + `"`:                                                                 1,
		`emails eq "` + other + `@example.com" or ` + oktaCustomURN + `:departmentName eq "nope"`:                               1,
		oktaCustomURN + `:departmentName eq "` + research + `" or ` + oktaCustomURN + `:departmentName eq "Dept ` + other + `"`: 2,
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

	// The user's groups in 1.1 bodies, checked on both sides of AD's link:
	// member on the groups, memberOf on the user.
	dn := strings.ToLower(s.byUserName(t, uid).DN)
	checkGroups := func(what string, want ...string) {
		t.Helper()
		sort.Strings(want)
		if got := s.memberOfUser(t, uid); !sameList(got, want) {
			t.Fatalf("%s: memberOf %v, want %v", what, got, want)
		}
		wantIn := map[string]bool{}
		for _, w := range want {
			wantIn[w] = true
		}
		for cn, gd := range map[string]string{gname: gdn, "OPP AD Second " + tag: gdn2} {
			in := false
			for _, m := range s.members(t, cn) {
				in = in || m == dn
			}
			if in != wantIn[gd] {
				t.Fatalf("%s: user in %s's member: %v, want %v", what, cn, in, wantIn[gd])
			}
		}
	}
	checkGroups("after the profile pushes", gdn)
	body["groups"] = []any{map[string]any{"value": gid, "display": "first"}, map[string]any{"value": gid2, "display": "second"}}
	if r := a.do("PUT", "/Users/"+id, body).must(t, 200, "PUT into both groups"); len(r.get("groups").([]any)) != 2 {
		t.Fatalf("user's groups after PUT: %s", r.Raw)
	}
	checkGroups("PUT into both groups", gdn, gdn2)
	body["groups"] = []any{map[string]any{"value": gid2, "display": "second"}}
	r := a.do("PUT", "/Users/"+id, body).must(t, 200, "PUT with the second group only")
	if r.str("groups.0.value") != gid2 || r.get("groups.1") != nil {
		t.Fatalf("user's groups after PUT: %s", r.Raw)
	}
	checkGroups("PUT with the second group only", gdn2)
	// A PUT without groups leaves them alone.
	delete(body, "groups")
	a.do("PUT", "/Users/"+id, body).must(t, 200, "PUT without groups")
	checkGroups("PUT without groups", gdn2)
	// An unknown group id: 400 naming it, and nothing applied.
	bogus := randUUID()
	body["groups"] = []any{map[string]any{"value": gid}, map[string]any{"value": bogus}}
	body["title"] = "Not Applied"
	bad := a.do("PUT", "/Users/"+id, body)
	check11Error(t, bad, 400)
	if !strings.Contains(bad.str("Errors.0.description"), bogus) {
		t.Errorf("the error does not name the unknown group: %s", bad.Raw)
	}
	if e := s.byUserName(t, uid, "title"); e.first("title") != "Lead" {
		t.Fatalf("a refused PUT changed the title: %+v", e.Attrs)
	}
	checkGroups("a refused PUT", gdn2)
	// The groups listed by member, through SCIM 1.1.
	if got := idsOf(a.do("GET", "/Groups?filter="+filterQ(`members.value eq "`+id+`"`), nil).must(t, 200, "groups of a member")); !sameList(got, []string{gid2}) {
		t.Fatalf("groups with member %s: %v, want %v", id, got, []string{gid2})
	}

	// A new user posted with groups lands in them.
	third := "opp.third." + randHex(4)
	tu := a.do("POST", "/Users", oppUser(third, "Thea", "Third"+tag, "", true, gid, gid2)).must(t, 201, "create in two groups")
	if got := s.memberOfUser(t, third); !sameList(got, lowerSorted([]string{gdn, gdn2})) {
		t.Fatalf("memberOf of a user posted with two groups: %v", got)
	}
	a.do("DELETE", "/Users/"+tu.str("id"), nil).must(t, 204, "delete third")

	a.do("DELETE", "/Users/"+id, nil).must(t, 204, "delete user")
	check11Error(t, a.do("GET", "/Users/"+id, nil), 404)
}

// TestADOktaOPPImports is TestOktaOPPImports on AD: a full import paged by
// 100 (no duplicate, no gap) over the seeded users and whatever other tests
// of this binary left in the shared domain, then an incremental import that
// returns exactly the entries changed after the timestamp (whenChanged,
// whole seconds). A few hundred users: AD's creates are slower than slapd's.
//
// Logons: a user's first logon stamps lastLogonTimestamp, which AD
// replicates, so whenChanged (and uSNChanged) move and the user is in the
// next incremental import although nothing of the profile changed; AD
// refreshes that stamp only every 9 to 14 days after that, so later logons
// change nothing. Okta reading such a user once more costs nothing; the
// test pins both behaviours.
func TestADOktaOPPImports(t *testing.T) {
	s, a, _ := startADOPP(t)
	const n = 300
	tag := randHex(3)
	ids := seedOPPUsers(t, a, tag, n, 4)
	binder := func(name, family string) (id, upn, pw string) {
		pw = "B1nd-Pa55-" + randHex(4)
		id = a.do("POST", "/Users", oppUser(name, "Bind", family, pw, true)).must(t, 201, "create "+name).str("id")
		return id, s.byUserName(t, name, "userPrincipalName").first("userPrincipalName"), pw
	}
	// One user logs on for the first time after the timestamp, one logs on
	// before and again after it.
	firstID, firstUPN, firstPw := binder("opp.first."+tag, "First"+tag)
	againID, againUPN, againPw := binder("opp.again."+tag, "Again"+tag)
	if !s.ldapsBind(t, againUPN, againPw) {
		t.Fatal("a user cannot bind")
	}
	seen, newest := oppFullImport(t, a)
	for i, id := range append(ids, firstID, againID) {
		if !seen[id] {
			t.Fatalf("seeded user %d (%s) missing from the import", i, id)
		}
	}
	changed := oppChangeAfter(t, a, ids, tag, newest, 3, 150, 299)
	if !s.ldapsBind(t, firstUPN, firstPw) || !s.ldapsBind(t, againUPN, againPw) {
		t.Fatal("a user cannot bind")
	}
	changed.ids[firstID] = true
	checkOPPIncremental(t, a, changed.since, changed.ids)
}

// TestADEntraValidatorSequence is TestEntraValidatorSequence on AD: test
// connection, a create without Content-Type carrying Microsoft's extras,
// lookups by unquoted externalId, userName in another case and the work
// email path, a PATCH in Entra's dialect, a soft delete that stays visible,
// pagination with count=5, a hard delete that keeps the leaver disabled.
func TestADEntraValidatorSequence(t *testing.T) {
	s := startWithAD(t)
	g := s.gw
	r := g.do("GET", "/scim/v2/Users?filter="+filterQ(`userName eq "`+randUUID()+`"`), nil).must(t, 200, "test connection")
	if r.get("totalResults") != float64(0) {
		t.Fatalf("test connection: %s", r.Raw)
	}
	ext := "ext-" + randHex(6)
	mgr := g.do("POST", "/scim/v2/Users", map[string]any{
		"schemas": []string{userURN}, "userName": "mgr." + randHex(4) + "@contoso.com", "active": true,
		"name": map[string]any{"givenName": "Mana", "familyName": "Ger" + randHex(2)},
	}).must(t, 201, "create manager")
	userName := "Entra.User." + randHex(4) + "@contoso.com"
	body := fmt.Sprintf(`{"schemas":[%q,%q],"externalId":%q,"userName":%q,"active":true,
		"displayName":"Entra User %s","meta":{"resourceType":"User"},"roles":[],"nickName":null,
		"name":{"formatted":"Entra User","familyName":"User","givenName":"Entra"},
		"emails":[{"primary":true,"type":"work","value":"entra.%s@contoso.com"}],
		"title":"Engineer","preferredLanguage":"en-US",
		%q:{"employeeNumber":"1001","department":"R&D","manager":{"value":%q}}}`,
		userURN, enterpriseURN, ext, userName, ext, ext, enterpriseURN, mgr.str("id"))
	created := g.do("POST", "/scim/v2/Users", body, "Content-Type", "").must(t, 201, "create without Content-Type")
	id := created.str("id")
	if created.str(enterpriseURN+".manager.value") != mgr.str("id") {
		t.Errorf("manager did not round-trip: %s", created.Raw)
	}
	e := s.byUserName(t, userName, "manager", "msDS-cloudExtensionAttribute1", "mail", "objectGUID")
	mgrDN := s.byUserName(t, mgr.str("userName")).DN
	if !strings.EqualFold(e.first("manager"), mgrDN) || e.first("msDS-cloudExtensionAttribute1") != ext ||
		e.first("mail") != "entra."+ext+"@contoso.com" || guidOf(e.first("objectGUID")) != id {
		t.Fatalf("the user in AD: %+v (manager %s)", e.Attrs, mgrDN)
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
		map[string]any{"op": "Replace", "path": "displayName", "value": "Entra Renamed " + ext},
		map[string]any{"op": "Add", "path": `emails[type eq "work"].value`, "value": "renamed." + ext + "@contoso.com"},
		map[string]any{"op": "Replace", "value": map[string]any{"name.givenName": "Entra2", enterpriseURN + ":employeeNumber": "1002"}},
		map[string]any{"op": "Replace", "path": enterpriseURN + ":manager", "value": ""},
	}}).must(t, 200, "entra patch")
	if patched.str("displayName") != "Entra Renamed "+ext || patched.str("name.givenName") != "Entra2" ||
		patched.str(enterpriseURN+".employeeNumber") != "1002" || patched.get(enterpriseURN+".manager") != nil ||
		patched.str("emails.0.value") != "renamed."+ext+"@contoso.com" || patched.get("emails.1") != nil {
		t.Fatalf("entra patch result: %s", patched.Raw)
	}
	// displayName names the entry (cn): the PATCH renamed it, the id stayed.
	e = s.byUserName(t, userName, "cn", "manager", "mail", "employeeNumber", "objectGUID")
	if e.first("cn") != "Entra Renamed "+ext || e.first("manager") != "" || e.first("mail") != "renamed."+ext+"@contoso.com" ||
		e.first("employeeNumber") != "1002" || guidOf(e.first("objectGUID")) != id {
		t.Fatalf("the user in AD after the PATCH: %+v", e.Attrs)
	}
	g.do("PATCH", "/scim/v2/Users/"+id, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
		map[string]any{"op": "Replace", "path": "active", "value": "False"}}}).must(t, 200, "soft delete")
	still := g.do("GET", "/scim/v2/Users?filter="+filterQ(`userName eq "`+userName+`"`), nil).must(t, 200, "find soft-deleted")
	if still.get("totalResults") != float64(1) || still.get("Resources.0.active") != false {
		t.Fatalf("soft-deleted user not returned by filter: %s", still.Raw)
	}
	if uac := s.byUserName(t, userName, "userAccountControl").first("userAccountControl"); uac != "514" {
		t.Fatalf("soft-deleted: userAccountControl %s, want 514", uac)
	}

	// Pagination with count=5 over 11 users: no gap, no duplicate. The
	// domain is shared with this binary's other tests, so the walk is
	// filtered to this test's users.
	for i := 0; i < 11; i++ {
		g.do("POST", "/scim/v2/Users", map[string]any{"userName": fmt.Sprintf("page%02d.%s@contoso.com", i, ext),
			"name": map[string]any{"givenName": "P" + ext[4:], "familyName": fmt.Sprint(i)}}).must(t, 201, "create for paging")
	}
	pf := filterQ(`userName ew ".` + ext + `@contoso.com"`)
	seen := map[string]bool{}
	total := -1
	for start := 1; ; start += 5 {
		p := g.do("GET", fmt.Sprintf("/scim/v2/Users?filter=%s&startIndex=%d&count=5", pf, start), nil).must(t, 200, "page")
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
	if len(seen) != total || total != 11 {
		t.Fatalf("paged %d users, totalResults %d, want 11", len(seen), total)
	}

	g.do("DELETE", "/scim/v2/Users/"+id, nil).must(t, 204, "hard delete")
	checkSafeError(t, g.do("GET", "/scim/v2/Users/"+id, nil), 404)
	checkSafeError(t, g.do("DELETE", "/scim/v2/Users/"+id, nil), 404)
	gone := g.do("GET", "/scim/v2/Users?filter="+filterQ(`userName eq "`+userName+`"`), nil).must(t, 200, "filter deleted")
	if gone.get("totalResults") != float64(0) {
		t.Fatalf("deleted user still listed: %s", gone.Raw)
	}
	left := s.search(t, "OU=Leavers,"+s.BaseDN, userNameFilter(userName), "userAccountControl")
	if len(left) != 1 || left[0].first("userAccountControl") != "514" {
		t.Fatalf("leaver not kept disabled in OU=Leavers: %+v", left)
	}
}
