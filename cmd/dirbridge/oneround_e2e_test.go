package main

import (
	"net/http"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// One round trip for a PUT or PATCH (issue #15): the gateway that has just
// seen a user (its create, a GET, a search, its last write) sends the next
// PUT or PATCH as ONE modify planned on that entry and guarded by an
// Assertion on the entry's CSN and entryUUID, answered from Post-Read.
// When the entry changed beside the gateway the guess is refused by slapd
// and the request takes the reading path, with the same outcome as
// without the cache. Counted on the wire by the proxy between gateway and
// slapd.

// adminLDAP binds to the directory as its rootdn, not through the proxy.
func adminLDAP(t *testing.T, s *ldapSetup) *ldap.Conn {
	t.Helper()
	l, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if err := l.Bind(s.AdminDN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestPutPatchOneRoundTrip(t *testing.T) {
	s := startCuttable(t)
	g, p := s.gw, s.proxy
	admin := adminLDAP(t, s.ldapSetup)
	// sent is what the gateway asked of slapd since the last call.
	sent := func() map[string]int {
		n := p.Requests()
		p.Arm(0, 0)
		return n
	}
	want := func(what string, got map[string]int, search, modify int) {
		t.Helper()
		total := 0
		for _, v := range got {
			total += v
		}
		if got["search"] != search || got["modify"] != modify || total != search+modify {
			t.Errorf("%s sent %v, want %d search and %d modify", what, got, search, modify)
		}
	}
	title := func(v string) map[string]any {
		return patchBody(map[string]any{"op": "replace", "path": "title", "value": v})
	}
	dirTitle := func(uid string) string {
		t.Helper()
		e := s.search(t, s.PeopleDN, "(uid="+uid+")", "title")
		if len(e) != 1 {
			t.Fatalf("%d entries with uid %s", len(e), uid)
		}
		return e[0].first("title")
	}
	name := "one" + randHex(3)
	dn := "uid=" + name + "," + s.PeopleDN
	id := g.do("POST", "/v2/Users", oktaUser(name, "One", "Trip", "")).must(t, 201, "create").str("id")
	sent()

	// Warm from the create's answer: PATCH title, PATCH active, PUT.
	r := g.do("PATCH", "/v2/Users/"+id, title("T1")).must(t, 200, "PATCH title")
	want("PATCH title after the create", sent(), 0, 1)
	if r.str("title") != "T1" || dirTitle(name) != "T1" {
		t.Fatalf("PATCH title: answered %q, directory %q", r.str("title"), dirTitle(name))
	}
	r = g.do("PATCH", "/v2/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "active", "value": false})).must(t, 200, "PATCH active")
	want("PATCH active:false after a PATCH", sent(), 0, 1)
	if r.get("active") != false || s.search(t, s.PeopleDN, "(uid="+name+")", "pwdAccountLockedTime")[0].first("pwdAccountLockedTime") == "" {
		t.Fatalf("PATCH active:false: answered active %v, or the account is not locked", r.get("active"))
	}
	put := oktaUser(name, "One", "Trip", "")
	delete(put, "groups")
	put["title"], put["active"] = "T2", true
	r = g.do("PUT", "/v2/Users/"+id, put).must(t, 200, "PUT")
	want("PUT after a PATCH", sent(), 0, 1)
	if r.str("title") != "T2" || r.get("active") != true || dirTitle(name) != "T2" {
		t.Fatalf("PUT: answered title %q active %v, directory %q", r.str("title"), r.get("active"), dirTitle(name))
	}
	// The same PUT again changes nothing, not even the version: the
	// remembered entry cannot prove that, so the entry is read.
	v := r.str("meta.version")
	r = g.do("PUT", "/v2/Users/"+id, put).must(t, 200, "the same PUT again")
	want("a PUT that changes nothing", sent(), 1, 0)
	if r.str("meta.version") != v {
		t.Errorf("a PUT that changes nothing moved the version %s -> %s", v, r.str("meta.version"))
	}
	// A new password: its hash is read beside the one modify. Resent, it
	// writes nothing and leaves the version as it was.
	pw := patchBody(map[string]any{"op": "replace", "path": "password", "value": "New-Pa55-" + randHex(4)})
	v = g.do("PATCH", "/v2/Users/"+id, pw).must(t, 200, "PATCH password").str("meta.version")
	want("PATCH password", sent(), 1, 1)
	r = g.do("PATCH", "/v2/Users/"+id, pw).must(t, 200, "PATCH the same password")
	if got := sent(); got["modify"] != 0 || r.str("meta.version") != v {
		t.Errorf("resending the password sent %v, version %s -> %s", got, v, r.str("meta.version"))
	}
	// Warm from a GET, as an identity provider reads before it writes.
	g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "GET")
	sent()
	g.do("PATCH", "/v2/Users/"+id, title("T3")).must(t, 200, "PATCH after GET")
	want("PATCH after a GET", sent(), 0, 1)
	// If-Match: the check reads, the write asserts what it read.
	r = g.do("PATCH", "/v2/Users/"+id, title("T4"), "If-Match", `W/"not-the-version"`)
	if r.Status != http.StatusPreconditionFailed {
		t.Fatalf("PATCH with a wrong If-Match: %d %s", r.Status, r.Raw)
	}
	want("PATCH with a wrong If-Match", sent(), 1, 0)
	cur := g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "GET").str("meta.version")
	sent()
	g.do("PATCH", "/v2/Users/"+id, title("T4"), "If-Match", cur).must(t, 200, "PATCH with If-Match")
	want("PATCH with the right If-Match", sent(), 1, 1)

	// Changed directly in the directory: slapd refuses the guess, the
	// gateway reads and writes; the direct change stays.
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace("description", []string{"set beside the gateway"})
	if err := admin.Modify(m); err != nil {
		t.Fatal(err)
	}
	sent()
	g.do("PATCH", "/v2/Users/"+id, title("T5")).must(t, 200, "PATCH after a direct change")
	want("PATCH after a direct change", sent(), 1, 2)
	if e := s.search(t, s.PeopleDN, "(uid="+name+")", "title", "description")[0]; e.first("title") != "T5" || e.first("description") != "set beside the gateway" {
		t.Fatalf("after a direct change: %+v", e.Attrs)
	}
	// Renamed directly: the guess meets no entry at the remembered DN.
	if err := admin.ModifyDN(ldap.NewModifyDNRequest(dn, "uid="+name+"x", true, "")); err != nil {
		t.Fatal(err)
	}
	g.do("PATCH", "/v2/Users/"+id, title("T6")).must(t, 200, "PATCH after a direct rename")
	want("PATCH after a direct rename", sent(), 1, 2)
	if dirTitle(name+"x") != "T6" {
		t.Fatalf("after a direct rename: title %q", dirTitle(name+"x"))
	}
	// Moved directly out of people and another entry made at the old DN
	// (a new entryUUID): the guess is refused, the id is gone for SCIM,
	// and the new entry is untouched.
	if err := admin.ModifyDN(ldap.NewModifyDNRequest("uid="+name+"x,"+s.PeopleDN, "uid="+name+"x", true, s.GroupsDN)); err != nil {
		t.Fatal(err)
	}
	a := ldap.NewAddRequest("uid="+name+"x,"+s.PeopleDN, nil)
	a.Attribute("objectClass", []string{"inetOrgPerson"})
	a.Attribute("uid", []string{name + "x"})
	a.Attribute("cn", []string{"Other"})
	a.Attribute("sn", []string{"Other"})
	a.Attribute("title", []string{"theirs"})
	if err := admin.Add(a); err != nil {
		t.Fatal(err)
	}
	sent()
	r = g.do("PATCH", "/v2/Users/"+id, title("T7"))
	checkSafeError(t, r, http.StatusNotFound)
	if dirTitle(name+"x") != "theirs" {
		t.Fatalf("the entry made at the old DN was written: title %q", dirTitle(name+"x"))
	}
	if got := sent(); got["modify"] != 1 {
		t.Errorf("PATCH of a moved entry sent %v, want the one refused modify and the read", got)
	}
}

// TestCutGuessedPatch cuts the directory away after each LDAP response of
// a PATCH {title, active:false} whose remembered entry was changed beside
// the gateway (the refused guess, the read, the modify): the user is then
// fully patched or as it was.
func TestCutGuessedPatch(t *testing.T) {
	s := startCuttable(t)
	g := s.gw
	admin := adminLDAP(t, s.ldapSetup)
	type user struct{ id, name string }
	s.cuts(t, func(i int) any {
		name := "guess" + randHex(3)
		id := g.do("POST", "/v2/Users", oktaUser(name, "Gu", "Ess", "")).must(t, 201, "create").str("id")
		m := ldap.NewModifyRequest("uid="+name+","+s.PeopleDN, nil)
		m.Replace("description", []string{"beside"})
		if err := admin.Modify(m); err != nil {
			t.Fatal(err)
		}
		return user{id, name}
	}, func(st any) response {
		return g.do("PATCH", "/v2/Users/"+st.(user).id, patchBody(
			map[string]any{"op": "replace", "path": "title", "value": "Cut"},
			map[string]any{"op": "replace", "path": "active", "value": false}))
	}, func(st any, r response) {
		e := s.search(t, s.PeopleDN, "(uid="+st.(user).name+")", "title", "pwdAccountLockedTime")
		if len(e) != 1 {
			t.Fatalf("%d entries", len(e))
		}
		titled, locked := e[0].first("title") == "Cut", e[0].first("pwdAccountLockedTime") != ""
		switch {
		case titled != locked:
			t.Errorf("half a PATCH (answer %d): title %t, locked %t", r.Status, titled, locked)
		case r.Status/100 == 2 && !titled:
			t.Errorf("answered %d but nothing applied", r.Status)
		}
	})
}

// TestEntryCacheOff: users.entry_cache = 0 and users.dn_index = 0 (here
// from the environment) turn the remembered entries and DNs off, so the
// PATCH that is one modify in TestPutPatchOneRoundTrip (and, with the DN
// index alone, in TestBlindWriteCut) reads the entry first.
func TestEntryCacheOff(t *testing.T) {
	s := startCuttable(t, "DIRBRIDGE_USERS_ENTRY_CACHE=0", "DIRBRIDGE_USERS_DN_INDEX=0")
	g, p := s.gw, s.proxy
	name := "off" + randHex(3)
	id := g.do("POST", "/v2/Users", oktaUser(name, "Cache", "Off", "")).must(t, 201, "create").str("id")
	p.Arm(0, 0)
	r := g.do("PATCH", "/v2/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "title", "value": "T1"})).must(t, 200, "PATCH title")
	if n := p.Requests(); n["search"] != 1 || n["modify"] != 1 {
		t.Errorf("with the cache off a PATCH after the create sent %v, want 1 search and 1 modify", n)
	}
	if r.str("title") != "T1" {
		t.Errorf("PATCH title answered %q", r.str("title"))
	}
}
