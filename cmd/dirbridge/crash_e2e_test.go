package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
)

// The gateway killed between two directory writes of one request (the
// crash hook exits at once, as kill -9 does, right after the Nth write the
// directory acknowledged), then started again on the same journal: the
// start settles what was in flight, and the directory is whole.

// crashTarget starts gateways, one after the other, on one directory and
// one journal.
type crashTarget struct {
	start func(t *testing.T, env ...string) (*gateway, *ldapSetup)
}

func openLDAPCrashTarget(t *testing.T) crashTarget {
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	state, token := t.TempDir(), "Bearer "+randHex(16)
	return crashTarget{start: func(t *testing.T, env ...string) (*gateway, *ldapSetup) {
		gw := startGateway(t, append([]string{
			"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
			"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=" + token,
			"DIRBRIDGE_LDAP_URLS=" + o.URL,
			"DIRBRIDGE_LDAP_BIND_DN=" + o.AdminDN,
			"DIRBRIDGE_LDAP_BIND_PASSWORD=" + o.AdminPassword,
			"DIRBRIDGE_LDAP_BASE_DN=" + o.BaseDN,
			"DIRBRIDGE_STATE_DIR=" + state,
		}, env...), "serve", "--config", "../../conf/examples/openldap.toml")
		gw.auth = token
		return gw, &ldapSetup{gw: gw, URL: o.URL, BaseDN: o.BaseDN, AdminDN: o.AdminDN, AdminPassword: o.AdminPassword,
			PeopleDN: o.PeopleDN, GroupsDN: o.GroupsDN}
	}}
}

func embeddedCrashTarget(t *testing.T) crashTarget {
	data, token, adminPw := t.TempDir(), randHex(16), "adm-"+randHex(8)
	return crashTarget{start: func(t *testing.T, env ...string) (*gateway, *ldapSetup) {
		gw := startGateway(t, append([]string{"DIRBRIDGE_DEV_TOKEN=" + token, "DIRBRIDGE_DEV_LDAP_PASSWORD=" + adminPw}, env...),
			"serve", "--data", data, "--scim-listen", "127.0.0.1:0", "--ldap-listen", "127.0.0.1:0")
		gw.auth = "Bearer " + token
		var m []string
		for i := 0; i < 200 && m == nil; i++ {
			m = ldapAddrRE.FindStringSubmatch(gw.output.String())
			time.Sleep(25 * time.Millisecond)
		}
		if m == nil {
			t.Fatalf("no LDAP address in the output:\n%s", gw.output)
		}
		return gw, &ldapSetup{gw: gw, URL: "ldap://" + m[1], BaseDN: "dc=example,dc=com", AdminDN: "cn=admin,dc=example,dc=com",
			AdminPassword: adminPw, PeopleDN: "ou=people,dc=example,dc=com", GroupsDN: "ou=groups,dc=example,dc=com"}
	}}
}

// settled waits until the journal holds nothing.
func settled(t *testing.T, gw *gateway) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if st, body := readyz(gw); st == http.StatusOK && strings.Contains(body, "pending_recoveries 0") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, body := readyz(gw)
	t.Fatalf("the journal did not settle: %s", body)
}

func TestCrashBetweenDeleteSteps(t *testing.T) {
	for _, b := range []struct {
		name   string
		target func(t *testing.T) crashTarget
	}{{"openldap", openLDAPCrashTarget}, {"embedded", embeddedCrashTarget}} {
		t.Run(b.name, func(t *testing.T) {
			target := b.target(t)
			// A DELETE of a user in two groups is three writes: two groups
			// left, then the user disabled and moved. Crash after each.
			for k := 1; k <= 3; k++ {
				gw, _ := target.start(t)
				name := "crash" + randHex(3)
				id := gw.do("POST", "/v2/Users", oktaUser(name, "Cra", "Sh", "")).must(t, 201, "create").str("id")
				for _, gn := range []string{"a", "b"} {
					gw.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": name + "-" + gn,
						"members": []any{map[string]any{"value": id}}}).must(t, 201, "group")
				}
				gw.stop()

				crashing, _ := target.start(t, crashEnv+"="+strconv.Itoa(k))
				req, _ := http.NewRequest("DELETE", crashing.base+"/v2/Users/"+id, nil)
				req.Header.Set("Authorization", crashing.auth)
				if resp, err := client.Do(req); err == nil {
					resp.Body.Close()
					if k < 3 {
						t.Errorf("crash after write %d: the DELETE was answered %d", k, resp.StatusCode)
					}
				}
				select {
				case <-crashing.done:
				case <-time.After(30 * time.Second):
					t.Fatalf("crash after write %d: the gateway did not exit", k)
				}

				gw, s := target.start(t)
				settled(t, gw)
				inPeople := s.search(t, s.PeopleDN, "(uid="+name+")", "pwdAccountLockedTime")
				all := s.search(t, s.BaseDN, "(uid="+name+")", "pwdAccountLockedTime")
				naming := 0
				for _, e := range s.search(t, s.GroupsDN, "(cn="+name+"-*)", "member") {
					for _, m := range e.Attrs["member"] {
						if strings.Contains(strings.ToLower(m), "uid="+name+",") {
							naming++
						}
					}
				}
				if len(inPeople) != 0 || len(all) != 1 || all[0].first("pwdAccountLockedTime") == "" || naming != 0 {
					t.Errorf("crash after write %d: not whole after the restart: in people %d, found %d, locked %v, named by %d groups",
						k, len(inPeople), len(all), len(all) == 1 && all[0].first("pwdAccountLockedTime") != "", naming)
				}
				if r := gw.do("GET", "/v2/Users/"+id, nil); r.Status != 404 {
					t.Errorf("crash after write %d: GET after recovery %d", k, r.Status)
				}
				gw.stop()
			}
		})
	}
}
