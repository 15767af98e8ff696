package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// adGroupsNaming lists, lower-cased, the DNs of the groups below the base
// whose member names dn, as AD answers an application that asks.
func (s *adSetup) adGroupsNaming(t *testing.T, dn string) []string {
	t.Helper()
	var out []string
	for _, e := range s.search(t, s.BaseDN, "(member="+ldap.EscapeFilter(dn)+")", "1.1") {
		out = append(out, strings.ToLower(e.DN))
	}
	return out
}

func (s *adSetup) adNewGroup(t *testing.T, name string, ids ...string) {
	t.Helper()
	var members []any
	for _, id := range ids {
		members = append(members, map[string]any{"value": id})
	}
	s.gw.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": name, "members": members}).must(t, 201, "create group")
}

// TestADDeleteLeavesEveryGroup: on AD a DELETE takes the user out of its
// SCIM groups (one of which it was alone in: AD groups may be empty) and
// out of a group an administrator made in another OU; memberOf, AD's
// back-link, is then empty; the primary group (primaryGroupID, Domain
// Users, never a member value) stays. With strip_groups_on_disable a
// PATCH active false strips too; without it, it does not.
func TestADDeleteLeavesEveryGroup(t *testing.T) {
	for _, onDisable := range []bool{false, true} {
		t.Run(fmt.Sprintf("strip_groups_on_disable=%v", onDisable), func(t *testing.T) {
			s := startWithADGroups(t, fmt.Sprintf("DIRBRIDGE_USERS_STRIP_GROUPS_ON_DISABLE=%v", onDisable))
			g := s.gw
			ids, names, dns := adGroupUsers(t, s, "dp", 2)
			only, shared := "Only "+randHex(3), "Shared "+randHex(3)
			s.adNewGroup(t, only, ids[0])
			s.adNewGroup(t, shared, ids[0], ids[1])
			vpnCN := "VPN " + randHex(3)
			vpn := strings.ToLower("CN=" + vpnCN + ",OU=Apps," + s.BaseDN)
			cmd := exec.Command("ldapadd", "-c", "-x", "-H", s.URL, "-D", s.AdminUPN, "-w", s.AdminPassword)
			cmd.Stdin = strings.NewReader(fmt.Sprintf("dn: OU=Apps,%s\nobjectClass: organizationalUnit\nou: Apps\n\ndn: %s\nobjectClass: group\ncn: %s\nsAMAccountName: vpn%s\nmember: %s\nmember: %s\n",
				s.BaseDN, vpn, vpnCN, randHex(3), dns[0], dns[1]))
			if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "Already exists") {
				t.Fatalf("ldapadd: %v: %s", err, out)
			}
			if got := s.memberOfUser(t, names[0]); len(got) != 3 {
				t.Fatalf("before: memberOf %v", got)
			}

			g.do("PATCH", "/v2/Users/"+ids[1], patchActive(false)).must(t, 200, "deactivate")
			if got := s.adGroupsNaming(t, dns[1]); (len(got) == 0) != onDisable {
				t.Errorf("after active false the user is in %v", got)
			}
			if onDisable {
				line := strings.ToLower(auditLine(t, g, "leave_groups", ids[1]))
				if !strings.Contains(line, "reason=disable") || !strings.Contains(line, vpn) {
					t.Errorf("audit line: %s", line)
				}
			}

			g.do("DELETE", "/v2/Users/"+ids[0], nil).must(t, 204, "delete")
			leaver := s.byUserName(t, names[0], "memberOf", "primaryGroupID")
			if !strings.Contains(strings.ToLower(leaver.DN), "ou=leavers,") {
				t.Fatalf("the leaver is at %s", leaver.DN)
			}
			es := []ldapEntry{leaver}
			if got := es[0].Attrs["memberof"]; len(got) != 0 {
				t.Errorf("the leaver's memberOf: %v", got)
			}
			if got := s.adGroupsNaming(t, es[0].DN); len(got) != 0 {
				t.Errorf("groups name the leaver: %v", got)
			}
			if es[0].first("primaryGroupID") != "513" {
				t.Errorf("primary group: %q", es[0].first("primaryGroupID"))
			}
			if got := s.members(t, only); len(got) != 0 {
				t.Errorf("the emptied group holds %v", got)
			}
			want := []string{dns[1]}
			if onDisable {
				want = nil
			}
			if got := s.members(t, shared); !sameList(got, want) {
				t.Errorf("the shared group holds %v, want %v", got, want)
			}
			line := strings.ToLower(auditLine(t, g, "leave_groups", ids[0]))
			for _, w := range []string{"reason=delete", strings.ToLower("cn=" + only), strings.ToLower("cn=" + shared), vpn} {
				if !strings.Contains(line, w) {
					t.Errorf("audit line lacks %q: %s", w, line)
				}
			}
			checkSafeError(t, g.do("DELETE", "/v2/Users/"+ids[0], nil), 404)
		})
	}
}
