package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

// Blind writes (issue #15): a PUT or PATCH of a user the gateway does not
// remember in full, whose outcome does not depend on the entry's values,
// is one modify to the DN the id -> DN index remembers, guarded by an
// Assertion on entryUUID and answered from Post-Read.

// TestBlindWriteSameAsReading applies the same random-ish PUT and PATCH
// bodies through a gateway that writes blind (users.entry_cache = 0, so
// every write of a known DN is blind) and one that reads first
// (users.dn_index = 0 too), to two users alike but for their names, and
// compares the entries attribute by attribute after every step. The
// blind gateway's eligible requests must be exactly one modify.
func TestBlindWriteSameAsReading(t *testing.T) {
	t.Run("ppolicy", func(t *testing.T) {
		o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
		if err != nil {
			t.Fatal(err)
		}
		blindSameAsReading(t, o, "../../conf/examples/openldap.toml", 0)
	})
	t.Run("attribute lock, no ppolicy or memberof", func(t *testing.T) {
		// Without memberof the answer's groups come from a search of the
		// groups (at most one per answer), which is not the write's.
		o, cfg := plainOpenLDAP(t)
		blindSameAsReading(t, o, cfg, 1)
	})
}

func blindSameAsReading(t *testing.T, o *testenv.OpenLDAP, config string, groupSearches int) {
	p, err := testenv.StartFaultProxy(t, strings.TrimPrefix(o.URL, "ldap://"))
	if err != nil {
		t.Fatal(err)
	}
	blind := startPlainOpenLDAP(t, o, config, p.URL(), "DIRBRIDGE_USERS_ENTRY_CACHE=0")
	reading := startPlainOpenLDAP(t, o, config, "", "DIRBRIDGE_USERS_ENTRY_CACHE=0", "DIRBRIDGE_USERS_DN_INDEX=0")
	admin := adminLDAP(t, blind)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 15))
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	nb, nr := "bl"+randHex(3), "rd"+randHex(3)
	user := func(name string) map[string]any {
		u := oktaUser(name, "Ann", "Lee", "")
		u["externalId"] = "00u-same"
		return u
	}
	idB := blind.gw.do("POST", "/v2/Users", user(nb)).must(t, 201, "create (blind)").str("id")
	idR := reading.gw.do("POST", "/v2/Users", user(nr)).must(t, 201, "create (reading)").str("id")
	entry := func(name string) map[string][]string {
		t.Helper()
		res, err := admin.Search(ldap.NewSearchRequest(o.PeopleDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(uid="+name+")", []string{"*", "pwdAccountLockedTime"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read %s: %v (%d entries)", name, err, len(res.Entries))
		}
		out := map[string][]string{}
		for _, a := range res.Entries[0].Attributes {
			vs := slices.Clone(a.Values)
			for i := range vs {
				vs[i] = strings.ReplaceAll(vs[i], name, "NAME")
			}
			slices.Sort(vs)
			out[strings.ToLower(a.Name)] = vs
		}
		return out
	}
	type step struct {
		what   string
		method string
		body   func(name string) map[string]any
		blind  bool // one modify and nothing else on the blind gateway
	}
	scalar := []string{"title", "userType", "preferredLanguage", "externalId"}
	ent := "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	steps := func() step {
		switch rng.IntN(7) {
		case 0:
			a, v := pick(scalar...), pick("Engineer", "Lead", " padded ", "x")
			return step{"PATCH replace " + a, "PATCH", func(string) map[string]any {
				return patchBody(map[string]any{"op": "replace", "path": a, "value": v})
			}, true}
		case 1:
			a := pick(scalar...)
			return step{"PATCH remove " + a, "PATCH", func(string) map[string]any {
				return patchBody(map[string]any{"op": "remove", "path": a})
			}, true}
		case 2:
			act := rng.IntN(2) == 0
			return step{fmt.Sprintf("PATCH active %t", act), "PATCH", func(string) map[string]any {
				return patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": act}})
			}, true}
		case 3:
			d, act, v := pick("R&D", "Sales"), rng.IntN(2) == 0, pick("A", "B")
			return step{"PATCH path-less title, enterprise department, active", "PATCH", func(string) map[string]any {
				return patchBody(map[string]any{"op": "replace", "value": map[string]any{"title": v, "active": act,
					ent: map[string]any{"department": d}}})
			}, true}
		case 4:
			g := pick("Bo", "Cy")
			return step{"PATCH name.givenName (cn reads familyName too: reads first)", "PATCH", func(string) map[string]any {
				return patchBody(map[string]any{"op": "replace", "path": "name.givenName", "value": g})
			}, false}
		default:
			opt := map[string]string{}
			for _, a := range []string{"title", "userType", "preferredLanguage", "externalId", "displayName"} {
				if rng.IntN(2) == 0 {
					opt[a] = pick("P1", "P2", "P3")
				}
			}
			given, family, act := pick("Ann", "Bo"), pick("Lee", "Ray"), rng.IntN(3) > 0
			phone, emp := rng.IntN(2) == 0, rng.IntN(2) == 0
			return step{fmt.Sprintf("PUT %v active %t phone %t employeeNumber %t", opt, act, phone, emp), "PUT", func(name string) map[string]any {
				u := oktaUser(name, given, family, "")
				delete(u, "groups")
				delete(u, "password")
				delete(u, "externalId") // owner = "both": kept when absent
				delete(u, "displayName")
				u["active"] = act
				for k, v := range opt {
					u[k] = v
				}
				if phone {
					u["phoneNumbers"] = []any{map[string]any{"type": "work", "value": "+1 555 0100"}}
				}
				if emp {
					u[ent] = map[string]any{"employeeNumber": "E7"}
				}
				return u
			}, false}
		}
	}
	// The blind gateway has seen its user's create. A first write, not
	// counted, lets its pool settle.
	warm := patchBody(map[string]any{"op": "replace", "path": "title", "value": "Warm"})
	blind.gw.do("PATCH", "/v2/Users/"+idB, warm).must(t, 200, "first PATCH (blind)")
	reading.gw.do("PATCH", "/v2/Users/"+idR, warm).must(t, 200, "first PATCH (reading)")
	for i := 0; i < 40; i++ {
		s := steps()
		p.Arm(0, 0)
		rb := blind.gw.do(s.method, "/v2/Users/"+idB, s.body(nb))
		sent := p.Requests()
		rr := reading.gw.do(s.method, "/v2/Users/"+idR, s.body(nr))
		if rb.Status != rr.Status {
			t.Fatalf("step %d %s: blind answered %d %s, reading %d %s", i, s.what, rb.Status, rb.Raw, rr.Status, rr.Raw)
		}
		if s.blind && rb.Status == http.StatusOK && (sent["modify"] != 1 || sent["search"] > groupSearches || len(sent) > 2) {
			t.Errorf("step %d %s: the blind gateway sent %v, want one modify", i, s.what, sent)
		}
		eb, er := entry(nb), entry(nr)
		for _, m := range []map[string][]string{eb, er} {
			delete(m, "uid")
		}
		for _, k := range unionKeys(eb, er) {
			if !slices.Equal(eb[k], er[k]) {
				t.Errorf("step %d %s: %s is %q written blind, %q read first", i, s.what, k, eb[k], er[k])
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

func unionKeys(a, b map[string][]string) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestBlindWriteAfterImport: users made directly in slapd and seen by the
// gateway only in an import walk (as make bench's) are written with one
// modify each by a PATCH (a PUT reads first); a user renamed, or deleted and made again at the same DN,
// directly in slapd is refused by the guard and answered by the reading
// path: the right entry, or 404.
func TestBlindWriteAfterImport(t *testing.T) {
	s := startCuttable(t)
	g, p := s.gw, s.proxy
	admin := adminLDAP(t, s.ldapSetup)
	names := make([]string, 6)
	for i := range names {
		names[i] = fmt.Sprintf("imp%s%d", randHex(2), i)
		a := ldap.NewAddRequest("uid="+names[i]+","+s.PeopleDN, nil)
		a.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"})
		a.Attribute("uid", []string{names[i]})
		a.Attribute("cn", []string{"Imp " + names[i]})
		a.Attribute("sn", []string{"Imp"})
		a.Attribute("title", []string{"Seeded"})
		if err := admin.Add(a); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]string{}
	for start := 1; ; start += 2 {
		r := g.do("GET", fmt.Sprintf("/v2/Users?startIndex=%d&count=2", start), nil).must(t, 200, "import page")
		res, _ := r.get("Resources").([]any)
		for _, x := range res {
			u := x.(map[string]any)
			ids[u["userName"].(string)] = u["id"].(string)
		}
		if len(res) < 2 {
			break
		}
	}
	sent := func() map[string]int {
		n := p.Requests()
		p.Arm(0, 0)
		return n
	}
	// The import's VLV searches retire their connections: the first write
	// after it dials (a bind and the rootDSE search), not counted.
	g.do("POST", "/v2/Users", oktaUser("warm"+randHex(3), "Warm", "Up", "")).must(t, 201, "create")
	sent()
	one := func(what string) {
		t.Helper()
		if n := sent(); n["modify"] != 1 || len(n) != 1 {
			t.Errorf("%s sent %v, want one modify", what, n)
		}
	}
	title := func(uid string) string {
		return s.search(t, s.PeopleDN, "(uid="+uid+")", "title")[0].first("title")
	}
	r := g.do("PATCH", "/v2/Users/"+ids[names[0]], patchBody(map[string]any{"op": "replace", "path": "title", "value": "T1"})).must(t, 200, "cold PATCH title")
	one("a cold PATCH title")
	if r.str("title") != "T1" || title(names[0]) != "T1" || r.str("userName") != names[0] {
		t.Errorf("cold PATCH title: answered %q for %q, directory %q", r.str("title"), r.str("userName"), title(names[0]))
	}
	r = g.do("PATCH", "/v2/Users/"+ids[names[1]], patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": false}})).must(t, 200, "cold PATCH active")
	one("a cold PATCH active:false")
	if r.get("active") != false || s.search(t, s.PeopleDN, "(uid="+names[1]+")", "pwdAccountLockedTime")[0].first("pwdAccountLockedTime") == "" {
		t.Errorf("cold PATCH active:false: answered %v, or not locked", r.get("active"))
	}
	put := map[string]any{"schemas": []string{userURN}, "userName": names[2], "name": map[string]any{"givenName": "Imp", "familyName": "Imp"},
		"title": "T2", "active": true}
	r = g.do("PUT", "/v2/Users/"+ids[names[2]], put).must(t, 200, "cold PUT")
	if n := sent(); n["search"] != 1 || n["modify"] != 1 {
		t.Errorf("a cold PUT sent %v, want the reading path (1 search, 1 modify: a PUT is not written blind)", n)
	}
	if e := s.search(t, s.PeopleDN, "(uid="+names[2]+")", "title", "cn"); e[0].first("title") != "T2" || e[0].first("cn") != "Imp Imp" || r.str("title") != "T2" {
		t.Errorf("cold PUT: answered %q, directory %+v", r.str("title"), e[0].Attrs)
	}
	// Not blind: familyName feeds cn with givenName, which the PATCH does
	// not give.
	g.do("PATCH", "/v2/Users/"+ids[names[3]], patchBody(map[string]any{"op": "replace", "path": "name.familyName", "value": "Other"})).must(t, 200, "PATCH familyName")
	if n := sent(); n["search"] != 1 || n["modify"] != 1 {
		t.Errorf("a PATCH of familyName sent %v, want the reading path (1 search, 1 modify)", n)
	}
	// Renamed directly: no entry at the remembered DN; the reading path
	// finds it by id and writes it.
	if err := admin.ModifyDN(ldap.NewModifyDNRequest("uid="+names[4]+","+s.PeopleDN, "uid="+names[4]+"x", true, "")); err != nil {
		t.Fatal(err)
	}
	r = g.do("PATCH", "/v2/Users/"+ids[names[4]], patchBody(map[string]any{"op": "replace", "path": "title", "value": "T4"})).must(t, 200, "PATCH after a rename")
	if n := sent(); n["modify"] != 2 || n["search"] != 1 {
		t.Errorf("a PATCH after a direct rename sent %v, want a refused modify, a search and a modify", n)
	}
	if r.str("userName") != names[4]+"x" || title(names[4]+"x") != "T4" {
		t.Errorf("after a rename: answered %q, directory %q", r.str("userName"), title(names[4]+"x"))
	}
	// Deleted and made again at the same DN: another entry, whose
	// entryUUID fails the assertion; the old id is gone.
	dn5 := "uid=" + names[5] + "," + s.PeopleDN
	if err := admin.Del(ldap.NewDelRequest(dn5, nil)); err != nil {
		t.Fatal(err)
	}
	a := ldap.NewAddRequest(dn5, nil)
	a.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"})
	a.Attribute("uid", []string{names[5]})
	a.Attribute("cn", []string{"Again"})
	a.Attribute("sn", []string{"Again"})
	a.Attribute("title", []string{"New entry"})
	if err := admin.Add(a); err != nil {
		t.Fatal(err)
	}
	sent()
	r = g.do("PATCH", "/v2/Users/"+ids[names[5]], patchBody(map[string]any{"op": "replace", "path": "title", "value": "T5"}))
	if r.Status != http.StatusNotFound {
		t.Errorf("PATCH of a deleted id made again at its DN: %d %s, want 404", r.Status, r.Raw)
	}
	if n := sent(); n["modify"] != 1 || n["search"] != 1 {
		t.Errorf("PATCH of a deleted id sent %v, want a refused modify and a search", n)
	}
	if got := title(names[5]); got != "New entry" {
		t.Errorf("the entry made again at the DN has title %q", got)
	}
}

// TestBlindWriteCut: the blind modify of a PATCH of title and active is
// the request's only operation; the directory goes away before it is sent,
// or after slapd did it and before its answer arrives (the proxy drops the
// answer). Either the whole request is applied or nothing, and 2xx only
// for all.
func TestBlindWriteCut(t *testing.T) {
	s := startCuttable(t, "DIRBRIDGE_USERS_ENTRY_CACHE=0")
	g, p := s.gw, s.proxy
	for _, drop := range []bool{false, true} {
		settle(t, g, p)
		name := "cutb" + randHex(3)
		id := g.do("POST", "/v2/Users", oktaUser(name, "Cut", "Blind", "")).must(t, 201, "create").str("id")
		readyz(g)
		if drop {
			p.ArmDrop(1, time.Second)
		} else {
			p.CutFor(time.Second)
		}
		r := g.do("PATCH", "/v2/Users/"+id, patchBody(map[string]any{"op": "replace", "value": map[string]any{"title": "Cut", "active": false}}))
		sent := p.Requests()
		p.Arm(0, 0)
		settle(t, g, p)
		if r.Status != http.StatusServiceUnavailable && r.Status/100 != 2 {
			t.Errorf("cut (drop %t): status %d %s", drop, r.Status, r.Raw)
		}
		if drop && (sent["modify"] != 1 || sent["search"] != 0) {
			t.Errorf("dropped answer: the gateway sent %v, want the one blind modify", sent)
		}
		e := s.search(t, s.PeopleDN, "(uid="+name+")", "title", "pwdAccountLockedTime")
		if len(e) != 1 {
			t.Fatalf("%d entries", len(e))
		}
		titled, locked := e[0].first("title") == "Cut", e[0].first("pwdAccountLockedTime") != ""
		t.Logf("drop %t: answer %d, title %t, locked %t", drop, r.Status, titled, locked)
		switch {
		case titled != locked:
			t.Errorf("half a PATCH (answer %d): title %t, locked %t", r.Status, titled, locked)
		case r.Status/100 == 2 && !titled:
			t.Errorf("answered %d but nothing applied", r.Status)
		case drop && !titled:
			t.Errorf("the dropped answer's modify is not in the directory")
		}
	}
}
