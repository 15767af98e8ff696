package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
)

// Deprovisioning removes access in the directory: after a DELETE no group
// names the user, as an LDAP application that authorises by group sees it
// with ldapsearch. Run on OpenLDAP as shipped, on an OpenLDAP without the
// memberof and refint overlays (nothing there keeps memberOf or cleans up
// member values), and on the embedded directory.
var stripBackends = []struct {
	name  string
	start func(t *testing.T, env ...string) *ldapSetup
}{
	{"openldap", startWithOpenLDAP},
	{"openldap-without-memberof", func(t *testing.T, env ...string) *ldapSetup {
		return startWithOpenLDAPOptions(t, testenv.OpenLDAPOptions{Overlays: []string{"ppolicy", "sssvlv"}}, env...)
	}},
	{"embedded", func(t *testing.T, env ...string) *ldapSetup {
		for _, e := range env {
			t.Setenv(strings.SplitN(e, "=", 2)[0], strings.SplitN(e, "=", 2)[1])
		}
		return startEmbedded(t)
	}},
}

func (s *ldapSetup) ldapAdd(t *testing.T, ldif string) {
	t.Helper()
	cmd := exec.Command("ldapadd", "-x", "-H", s.URL, "-D", s.AdminDN, "-w", s.AdminPassword)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldapadd: %v: %s", err, out)
	}
}

// groupsNaming lists, lower-cased, the DNs of the entries anywhere below
// the base whose member names dn.
func (s *ldapSetup) groupsNaming(t *testing.T, dn string) []string {
	t.Helper()
	var out []string
	for _, e := range s.search(t, s.BaseDN, "(member="+dn+")", "1.1") {
		out = append(out, strings.ToLower(e.DN))
	}
	return out
}

func (s *ldapSetup) newGroup(t *testing.T, name string, ids ...string) string {
	t.Helper()
	var members []any
	for _, id := range ids {
		members = append(members, map[string]any{"value": id})
	}
	return s.gw.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": name, "members": members}).must(t, 201, "create group").str("id")
}

// auditLine waits for the audit line of op about the user id.
func auditLine(t *testing.T, g *gateway, op, id string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^.*audit: directory write.*op=` + op + ` id=` + regexp.QuoteMeta(id) + `.*$`)
	for i := 0; i < 100; i++ {
		if m := re.FindString(g.output.String()); m != "" {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no audit line op=%s for %s in:\n%s", op, id, g.output)
	return ""
}

func patchActive(active bool) map[string]any {
	return map[string]any{"schemas": []string{patchURN},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": active}}}
}

// TestDeleteLeavesEveryGroup: a user in two SCIM groups (one of which then
// holds only this user) and in a group an administrator made outside
// dirbridge's container is DELETEd: no group names it any more, under its
// old DN or in the leavers; the emptied groupOfNames keeps its placeholder;
// the other member stays; the audit line names the three groups. A PATCH
// active false leaves the groups alone by default.
func TestDeleteLeavesEveryGroup(t *testing.T) {
	for _, b := range stripBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.start(t)
			g := s.gw
			leaver, stayer := "leaver."+randHex(3), "stayer."+randHex(3)
			lid := g.do("POST", "/v2/Users", oktaUser(leaver, "L", "Eaver", "")).must(t, 201, "create").str("id")
			sid := g.do("POST", "/v2/Users", oktaUser(stayer, "S", "Tayer", "")).must(t, 201, "create").str("id")
			lDN := strings.ToLower("uid=" + leaver + "," + s.PeopleDN)
			sDN := strings.ToLower("uid=" + stayer + "," + s.PeopleDN)
			only, shared := "Only "+randHex(3), "Shared "+randHex(3)
			s.newGroup(t, only, lid)
			s.newGroup(t, shared, lid, sid)
			vpn := strings.ToLower("cn=vpn " + randHex(3) + ",ou=apps," + s.BaseDN)
			s.ldapAdd(t, fmt.Sprintf("dn: ou=apps,%s\nobjectClass: organizationalUnit\nou: apps\n\ndn: %s\nobjectClass: groupOfNames\ncn: %s\nmember: %s\nmember: %s\n",
				s.BaseDN, vpn, strings.TrimPrefix(strings.SplitN(vpn, ",", 2)[0], "cn="), lDN, sDN))
			if got := s.groupsNaming(t, lDN); len(got) != 3 {
				t.Fatalf("before: groups naming the user: %v", got)
			}

			// Default: deactivation keeps the memberships.
			g.do("PATCH", "/v2/Users/"+sid, patchActive(false)).must(t, 200, "deactivate")
			if got := s.groupsNaming(t, sDN); len(got) != 2 {
				t.Fatalf("strip_groups_on_disable is off, yet the deactivated user is in %v", got)
			}

			g.do("DELETE", "/v2/Users/"+lid, nil).must(t, 204, "delete")
			if got := s.groupsNaming(t, lDN); len(got) != 0 {
				t.Errorf("after DELETE, groups still name the user: %v", got)
			}
			leavers := s.search(t, "ou=leavers,"+s.BaseDN, "(uid="+leaver+")", "1.1")
			if len(leavers) != 1 {
				t.Fatalf("leaver: %d entries", len(leavers))
			}
			if got := s.groupsNaming(t, strings.ToLower(leavers[0].DN)); len(got) != 0 {
				t.Errorf("groups name the leaver in ou=leavers: %v", got)
			}
			if got := s.memberDNs(t, only); !sameList(got, []string{"cn=nobody," + s.BaseDN}) {
				t.Errorf("the emptied group holds %v, want its placeholder", got)
			}
			if got := s.memberDNs(t, shared); !sameList(got, []string{sDN}) {
				t.Errorf("the shared group holds %v, want the other member", got)
			}
			line := strings.ToLower(auditLine(t, g, "leave_groups", lid))
			for _, want := range []string{"reason=delete", strings.ToLower("cn=" + only), strings.ToLower("cn=" + shared), vpn} {
				if !strings.Contains(line, want) {
					t.Errorf("audit line lacks %q: %s", want, line)
				}
			}
			checkSafeError(t, g.do("DELETE", "/v2/Users/"+lid, nil), 404)
			if got := g.do("GET", "/v2/Users/"+sid, nil).must(t, 200, "get"); got.get("active") != false {
				t.Errorf("other user: %s", got.Raw)
			}
		})
	}
}

// TestDisableLeavesGroupsWhenConfigured: with
// users.strip_groups_on_disable = true a PATCH active false takes the
// user out of its groups (the emptied one keeps its placeholder);
// re-activating does not bring them back.
func TestDisableLeavesGroupsWhenConfigured(t *testing.T) {
	for _, b := range stripBackends {
		t.Run(b.name, func(t *testing.T) {
			s := b.start(t, "DIRBRIDGE_USERS_STRIP_GROUPS_ON_DISABLE=true")
			g := s.gw
			un := "pat." + randHex(3)
			id := g.do("POST", "/v2/Users", oktaUser(un, "P", "At", "")).must(t, 201, "create").str("id")
			dn := strings.ToLower("uid=" + un + "," + s.PeopleDN)
			a, b := "A "+randHex(3), "B "+randHex(3)
			s.newGroup(t, a, id)
			s.newGroup(t, b, id)
			g.do("PATCH", "/v2/Users/"+id, patchActive(false)).must(t, 200, "deactivate")
			if got := s.groupsNaming(t, dn); len(got) != 0 {
				t.Errorf("after active false, groups name the user: %v", got)
			}
			if got := s.memberDNs(t, a); !sameList(got, []string{"cn=nobody," + s.BaseDN}) {
				t.Errorf("the emptied group holds %v", got)
			}
			line := strings.ToLower(auditLine(t, g, "leave_groups", id))
			if !strings.Contains(line, "reason=disable") || !strings.Contains(line, strings.ToLower("cn="+a)) || !strings.Contains(line, strings.ToLower("cn="+b)) {
				t.Errorf("audit line: %s", line)
			}
			g.do("PATCH", "/v2/Users/"+id, patchActive(true)).must(t, 200, "reactivate")
			if got := s.groupsNaming(t, dn); len(got) != 0 {
				t.Errorf("re-activation restored %v", got)
			}
		})
	}
}
