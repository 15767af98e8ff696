package main

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
)

// The directory cut away between two LDAP steps of one request: a proxy
// between the gateway and slapd drops every connection right after the
// Nth LDAP response of the request, for every N the request has, and the
// directory is then checked directly (not through the proxy) once the
// gateway's journal has settled what was in flight: all of the request or
// none of it, never a part.

type cutSetup struct {
	*ldapSetup
	proxy *testenv.FaultProxy
}

func startCuttable(t *testing.T, extraEnv ...string) *cutSetup {
	t.Helper()
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartFaultProxy(t, strings.TrimPrefix(o.URL, "ldap://"))
	if err != nil {
		t.Fatal(err)
	}
	token := "Bearer " + randHex(16)
	gw := startGateway(t, append([]string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=" + token,
		"DIRBRIDGE_LDAP_URLS=" + p.URL(),
		"DIRBRIDGE_LDAP_BIND_DN=" + o.AdminDN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + o.AdminPassword,
		"DIRBRIDGE_LDAP_BASE_DN=" + o.BaseDN,
		"DIRBRIDGE_LDAP_OP_TIMEOUT=3s",
		"DIRBRIDGE_LDAP_DIAL_TIMEOUT=1s",
		"DIRBRIDGE_STATE_RECOVERY_INTERVAL=300ms",
	}, extraEnv...), "serve", "--config", "../../conf/examples/openldap.toml")
	gw.auth = token
	return &cutSetup{ldapSetup: &ldapSetup{gw: gw, URL: o.URL, BaseDN: o.BaseDN, AdminDN: o.AdminDN, AdminPassword: o.AdminPassword,
		PeopleDN: o.PeopleDN, GroupsDN: o.GroupsDN}, proxy: p}
}

func (s *cutSetup) cuts(t *testing.T, setup func(i int) any, request func(state any) response, check func(state any, r response)) {
	t.Helper()
	runCuts(t, s.gw, s.proxy, setup, request, check)
}

// settle waits until the directory is back and the journal holds nothing.
func settle(t *testing.T, gw *gateway, p *testenv.FaultProxy) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if !p.Down() {
			if st, body := readyz(gw); st == http.StatusOK && strings.Contains(body, "pending_recoveries 0") {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, body := readyz(gw)
	t.Fatalf("the journal did not settle: %s", body)
}

// readyz is /readyz's status and text.
func readyz(gw *gateway) (int, string) {
	resp, err := http.Get(gw.base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// runCuts runs setup (unarmed), then the request with the directory cut
// after response n, for every n the request has (and two more, as
// reconnects can shift them), and check on the settled directory.
func runCuts(t *testing.T, gw *gateway, p *testenv.FaultProxy, setup func(i int) any, request func(state any) response, check func(state any, r response)) {
	t.Helper()
	state := setup(0)
	p.Arm(0, 0)
	request(state)
	n := p.Responses()
	if n < 2 {
		t.Fatalf("the request takes %d LDAP responses: nothing to cut", n)
	}
	for i := 1; i <= n+2; i++ {
		settle(t, gw, p)
		state := setup(i)
		readyz(gw) // warm the pool after the last outage
		p.Arm(i, time.Second)
		r := request(state)
		if r.Status != http.StatusServiceUnavailable && (r.Status < 200 || r.Status > 299) {
			t.Errorf("cut after response %d: status %d %s", i, r.Status, r.Raw)
		}
		cut := p.Cuts()
		p.Arm(0, 0)
		settle(t, gw, p)
		t.Logf("cut after response %d of %d: answer %d (cuts so far %d)", i, n, r.Status, cut)
		check(state, r)
	}
	if p.Cuts() == 0 {
		t.Fatal("the proxy never cut")
	}
}

// A rename (userName is the RDN) with attributes, password and lock: two
// LDAP operations.
func TestCutRenameAndModify(t *testing.T) {
	s := startCuttable(t)
	g := s.gw
	type user struct{ id, old, new string }
	s.cuts(t, func(i int) any {
		name := "cut" + randHex(3)
		body := oktaUser(name, "Cut", "Here", "Old-Pa55-"+randHex(3))
		return user{id: g.do("POST", "/v2/Users", body).must(t, 201, "create").str("id"), old: name, new: name + "-renamed"}
	}, func(st any) response {
		u := st.(user)
		return g.do("PATCH", "/v2/Users/"+u.id, patchBody(
			map[string]any{"op": "replace", "path": "userName", "value": u.new},
			map[string]any{"op": "replace", "path": "title", "value": "Moved"},
			map[string]any{"op": "replace", "path": "password", "value": "New-Pa55-" + randHex(3)},
			map[string]any{"op": "replace", "path": "active", "value": false}))
	}, func(st any, r response) {
		u := st.(user)
		old := s.search(t, s.PeopleDN, "(uid="+u.old+")", "title", "pwdAccountLockedTime")
		renamed := s.search(t, s.PeopleDN, "(uid="+u.new+")", "title", "pwdAccountLockedTime")
		switch {
		case len(renamed) == 1 && len(old) == 0:
			if renamed[0].first("title") != "Moved" || renamed[0].first("pwdAccountLockedTime") == "" {
				t.Errorf("renamed but not modified (answer %d): %+v", r.Status, renamed[0].Attrs)
			}
		case len(old) == 1 && len(renamed) == 0:
			if r.Status/100 == 2 {
				t.Errorf("answered %d but nothing applied", r.Status)
			}
			if old[0].first("title") == "Moved" || old[0].first("pwdAccountLockedTime") != "" {
				t.Errorf("modified but not renamed (answer %d): %+v", r.Status, old[0].Attrs)
			}
		default:
			t.Errorf("old %d, renamed %d entries", len(old), len(renamed))
		}
	})
}

// A DELETE of a user in two groups: the groups, the move, the disable.
func TestCutDelete(t *testing.T) {
	s := startCuttable(t)
	cutDelete(t, s.ldapSetup, s.proxy, "pwdAccountLockedTime", "")
}

// cutDelete cuts a DELETE of a user in two groups after each of its LDAP
// steps: the user is then deprovisioned whole (out of people, locked in
// lockAttr — with lockedValue, or any value when it is "" — and in no group)
// or left as it was. The lock attribute is the users table's [lifecycle].
func cutDelete(t *testing.T, s *ldapSetup, p *testenv.FaultProxy, lockAttr, lockedValue string) {
	t.Helper()
	g := s.gw
	type user struct{ id, name string }
	runCuts(t, g, p, func(i int) any {
		name := "leaver" + randHex(3)
		id := g.do("POST", "/v2/Users", oktaUser(name, "Lea", "Ver", "")).must(t, 201, "create").str("id")
		for _, gn := range []string{"a", "b"} {
			g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": name + "-" + gn,
				"members": []any{map[string]any{"value": id}}}).must(t, 201, "group")
		}
		return user{id, name}
	}, func(st any) response {
		return g.do("DELETE", "/v2/Users/"+st.(user).id, nil)
	}, func(st any, r response) {
		u := st.(user)
		inPeople := s.search(t, s.PeopleDN, "(uid="+u.name+")", lockAttr)
		leavers := s.search(t, s.BaseDN, "(&(uid="+u.name+")(!(entryDN:dnSubtreeMatch:="+s.PeopleDN+")))", lockAttr)
		naming := 0
		for _, e := range s.search(t, s.GroupsDN, "(cn="+u.name+"-*)", "member") {
			for _, m := range e.Attrs["member"] {
				if strings.Contains(strings.ToLower(m), "uid="+u.name+",") {
					naming++
				}
			}
		}
		switch {
		case len(inPeople) == 0 && len(leavers) == 1:
			lock := leavers[0].first(lockAttr)
			if lock == "" || (lockedValue != "" && lock != lockedValue) || naming != 0 {
				t.Errorf("deleted but not whole (answer %d): %s %q, %d groups still name it", r.Status, lockAttr, lock, naming)
			}
		case len(inPeople) == 1 && len(leavers) == 0:
			if r.Status/100 == 2 {
				t.Errorf("answered %d but nothing applied", r.Status)
			}
			if lock := inPeople[0].first(lockAttr); lock != "" || naming != 2 {
				t.Errorf("still in scope but changed (answer %d): %s %q, in %d of 2 groups", r.Status, lockAttr, lock, naming)
			}
		default:
			t.Errorf("in people %d, in leavers %d", len(inPeople), len(leavers))
		}
	})
}

// On AD a placement rule moves a user whose department changes: the move
// and the modify are two operations. Plain ldap:// through the proxy (the
// proxy cannot frame TLS; this request carries no password).
func TestADCutMoveAndModify(t *testing.T) {
	s, p := startCuttableAD(t)
	g := s.gw
	type user struct{ id, name string }
	runCuts(t, g, p, func(i int) any {
		un := "cutmove." + randHex(4) + "@example.com"
		body := adUserBody(un, "Cut", "Mover"+randHex(2), "")
		delete(body, "password")
		body[enterpriseURN] = map[string]any{"department": "Sales"}
		return user{g.do("POST", "/v2/Users", body).must(t, 201, "create in Sales").str("id"), un}
	}, func(st any) response {
		return g.do("PATCH", "/v2/Users/"+st.(user).id, patchBody(
			map[string]any{"op": "replace", "path": enterpriseURN + ":department", "value": "Engineering"},
			map[string]any{"op": "replace", "path": "title", "value": "Moved"}))
	}, func(st any, r response) {
		e := s.byUserName(t, st.(user).name, "department", "title")
		inEng := strings.Contains(strings.ToLower(e.DN), ",ou=engineering,ou=people,")
		switch {
		case inEng && (e.first("department") != "Engineering" || e.first("title") != "Moved"):
			t.Errorf("moved but not modified (answer %d): %s %v", r.Status, e.DN, e.Attrs)
		case !inEng && (e.first("department") != "Sales" || e.first("title") == "Moved"):
			t.Errorf("modified but not moved (answer %d): %s %v", r.Status, e.DN, e.Attrs)
		case !inEng && r.Status/100 == 2:
			t.Errorf("answered %d but nothing applied: %s", r.Status, e.DN)
		}
	})
}

// Okta's agent's 1.1 PUT carries the user's groups: the user's write and
// then one write per group changed.
func TestCutV1PutWithGroups(t *testing.T) {
	s := startCuttable(t)
	g := s.gw
	type user struct{ id, name, a, b string }
	body := func(u user, title string, groups ...string) map[string]any {
		var gs []any
		for _, id := range groups {
			gs = append(gs, map[string]any{"value": id})
		}
		return map[string]any{"schemas": []string{"urn:scim:schemas:core:1.0"}, "userName": u.name,
			"name": map[string]any{"givenName": "Put", "familyName": "Groups"}, "title": title, "groups": gs}
	}
	s.cuts(t, func(i int) any {
		u := user{name: "v1put" + randHex(3)}
		u.id = g.do("POST", "/v2/Users", oktaUser(u.name, "Put", "Groups", "")).must(t, 201, "create").str("id")
		for _, gn := range []*string{&u.a, &u.b} {
			*gn = g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": u.name + "-" + randHex(2)}).must(t, 201, "group").str("id")
		}
		g.do("PUT", "/Users/"+u.id, body(u, "Before", u.a)).must(t, 200, "join a")
		return u
	}, func(st any) response {
		u := st.(user)
		return g.do("PUT", "/Users/"+u.id, body(u, "After", u.b))
	}, func(st any, r response) {
		u := st.(user)
		got := g.do("GET", "/v2/Users/"+u.id, nil).must(t, 200, "get")
		var in []string
		for _, x := range asList(got.get("groups")) {
			in = append(in, x.(map[string]any)["value"].(string))
		}
		title := got.str("title")
		switch {
		case title == "After" && len(in) == 1 && in[0] == u.b:
		case title == "Before" && len(in) == 1 && in[0] == u.a:
			if r.Status/100 == 2 {
				t.Errorf("answered %d but nothing applied", r.Status)
			}
		default:
			t.Errorf("half applied (answer %d): title %q, groups %v (a %s, b %s)", r.Status, title, in, u.a, u.b)
		}
	})
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// With strip_groups_on_disable, active: false leaves the groups first,
// then disables the user.
func TestCutDisableThatStripsGroups(t *testing.T) {
	s := startCuttable(t, "DIRBRIDGE_USERS_STRIP_GROUPS_ON_DISABLE=true")
	g := s.gw
	type user struct{ id, name string }
	s.cuts(t, func(i int) any {
		name := "strip" + randHex(3)
		id := g.do("POST", "/v2/Users", oktaUser(name, "Str", "Ip", "")).must(t, 201, "create").str("id")
		for _, gn := range []string{"a", "b"} {
			g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": name + "-" + gn,
				"members": []any{map[string]any{"value": id}}}).must(t, 201, "group")
		}
		return user{id, name}
	}, func(st any) response {
		return g.do("PATCH", "/v2/Users/"+st.(user).id, patchBody(map[string]any{"op": "replace", "path": "active", "value": false}))
	}, func(st any, r response) {
		u := st.(user)
		e := s.search(t, s.PeopleDN, "(uid="+u.name+")", "pwdAccountLockedTime")
		naming := 0
		for _, grp := range s.search(t, s.GroupsDN, "(cn="+u.name+"-*)", "member") {
			for _, m := range grp.Attrs["member"] {
				if strings.Contains(strings.ToLower(m), "uid="+u.name+",") {
					naming++
				}
			}
		}
		locked := len(e) == 1 && e[0].first("pwdAccountLockedTime") != ""
		switch {
		case len(e) != 1:
			t.Errorf("%d entries", len(e))
		case locked && naming != 0:
			t.Errorf("disabled but still in %d groups (answer %d)", naming, r.Status)
		case !locked && naming != 2:
			t.Errorf("enabled but in %d of 2 groups (answer %d)", naming, r.Status)
		case !locked && r.Status/100 == 2:
			t.Errorf("answered %d but nothing applied", r.Status)
		}
	})
}

// On AD a DELETE leaves the groups, then disables and moves the user.
func TestADCutDelete(t *testing.T) {
	s, p := startCuttableAD(t)
	g := s.gw
	type user struct{ id, name string }
	runCuts(t, g, p, func(i int) any {
		un := "cutdel." + randHex(4) + "@example.com"
		body := adUserBody(un, "Cut", "Leaver"+randHex(2), "")
		delete(body, "password")
		id := g.do("POST", "/v2/Users", body).must(t, 201, "create").str("id")
		for _, gn := range []string{"a", "b"} {
			g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": "cutdel-" + randHex(3) + gn,
				"members": []any{map[string]any{"value": id}}}).must(t, 201, "group")
		}
		return user{id, un}
	}, func(st any) response {
		return g.do("DELETE", "/v2/Users/"+st.(user).id, nil)
	}, func(st any, r response) {
		e := s.byUserName(t, st.(user).name, "memberOf", "userAccountControl")
		uac, _ := strconv.Atoi(e.first("userAccountControl"))
		disabled, left := uac&2 != 0, strings.Contains(strings.ToLower(e.DN), "ou=leavers,")
		groups := len(e.Attrs["memberof"])
		switch {
		case left && (!disabled || groups != 0):
			t.Errorf("moved but not whole (answer %d): disabled %v, in %d groups", r.Status, disabled, groups)
		case !left && (disabled || groups != 2):
			t.Errorf("not moved but changed (answer %d): disabled %v, in %d of 2 groups", r.Status, disabled, groups)
		case !left && r.Status/100 == 2:
			t.Errorf("answered %d but nothing applied", r.Status)
		}
	})
}

// A group PATCH on AD that adds one member and removes another: the
// group's find, the search for the named members' presence and one modify
// that asks nothing back (Samba sends no Post-Read, so the gateway answers
// 204 without reading the group again). Cut after each of them, the group
// has both changes or neither, a 2xx means both, and the client's retry of
// the same PATCH then leaves both in place.
func TestADCutGroupMemberPatch(t *testing.T) {
	s, p := startCuttableAD(t)
	g := s.gw
	type state struct{ group, cn, joiner, leaver, joinerDN, leaverDN string }
	body := func(st state) map[string]any {
		return patchBody(
			map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": st.joiner}}},
			map[string]any{"op": "remove", "path": `members[value eq "` + st.leaver + `"]`})
	}
	// applied reports whether the group holds the joiner and not the
	// leaver (true) or the leaver and not the joiner (false); anything
	// else is a half-written group.
	applied := func(st state, r response) bool {
		m := s.members(t, st.cn)
		has := func(dn string) bool { return slices.Contains(m, dn) }
		switch {
		case has(st.joinerDN) && !has(st.leaverDN):
			return true
		case has(st.leaverDN) && !has(st.joinerDN):
			return false
		}
		t.Fatalf("half-written group (answer %d): members %v", r.Status, m)
		return false
	}
	setup := func(int) any {
		ids, _, dns := adGroupUsers(t, s, "cutgrp", 2)
		cn := "cutgrp-" + randHex(4)
		gid := g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": cn,
			"members": []any{map[string]any{"value": ids[1]}}}).must(t, 201, "group").str("id")
		return state{gid, cn, ids[0], ids[1], dns[0], dns[1]}
	}
	request := func(st any) response { return g.do("PATCH", "/v2/Groups/"+st.(state).group, body(st.(state))) }
	runCuts(t, g, p, setup, request, func(st any, r response) {
		s := st.(state)
		if !applied(s, r) && r.Status/100 == 2 {
			t.Errorf("answered %d but nothing applied", r.Status)
		}
		if r.Status/100 == 2 {
			return
		}
		// The identity provider retries what it got no 2xx for.
		again := g.do("PATCH", "/v2/Groups/"+s.group, body(s))
		if again.Status/100 != 2 || !applied(s, again) {
			t.Errorf("retry after a cut: answer %d, applied %v: %s", again.Status, applied(s, again), again.Raw)
		}
	})

	// The modify applied and its answer lost: the last response of the
	// request is the modify's.
	settle(t, g, p)
	st := setup(0).(state)
	p.Arm(0, 0)
	request(setup(0))
	last := p.Responses()
	readyz(g)
	p.ArmDrop(last, time.Second)
	r := request(st)
	sent := p.Requests()
	p.Arm(0, 0)
	settle(t, g, p)
	t.Logf("modify's answer dropped: answer %d, sent %v", r.Status, sent)
	if sent["modify"] != 1 {
		t.Fatalf("dropped answer: the gateway sent %v, want one modify", sent)
	}
	if r.Status/100 != 2 && r.Status != http.StatusServiceUnavailable {
		t.Errorf("dropped answer: status %d %s", r.Status, r.Raw)
	}
	if !applied(st, r) {
		t.Errorf("dropped answer (%d): the modify did not apply", r.Status)
	}
	if again := request(st); again.Status/100 != 2 || !applied(st, again) {
		t.Errorf("retry after a dropped answer: %d %s", again.Status, again.Raw)
	}
}

// startCuttableAD starts a gateway on the AD tier's DC behind a
// FaultProxy, with the timeouts and the recovery interval the cut tests
// settle within. Plain ldap:// through the proxy, which cannot frame TLS:
// the requests cut carry no password. The groups container is made too
// (startWithADGroups): without it /readyz stays 503 and settle waits in
// vain, so a test that needs no groups would pass only after one that
// made it.
func startCuttableAD(t *testing.T) (*adSetup, *testenv.FaultProxy) {
	t.Helper()
	sa := testenv.SharedSambaAD(t)
	p, err := testenv.StartFaultProxy(t, strings.TrimPrefix(sa.URL, "ldap://"))
	if err != nil {
		t.Fatal(err)
	}
	s := startWithADGroups(t, "DIRBRIDGE_LDAP_URLS="+p.URL(), "DIRBRIDGE_LDAP_OP_TIMEOUT=3s", "DIRBRIDGE_LDAP_DIAL_TIMEOUT=1s",
		"DIRBRIDGE_STATE_RECOVERY_INTERVAL=300ms")
	return s, p
}
