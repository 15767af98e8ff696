package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// The AD group tests run the built binary on the shipped conf/examples/ad.toml
// (with ad-groups.toml) against the shared Samba AD DC, and check every step
// through SCIM and through ldapsearch: member DNs on the group, memberOf on
// the users.

// startWithADGroups starts the gateway on AD with the groups container the
// shipped table names.
func startWithADGroups(t *testing.T, extraEnv ...string) *adSetup {
	t.Helper()
	s := startWithAD(t, extraEnv...)
	cmd := exec.Command("ldapadd", "-c", "-x", "-H", s.URL, "-D", s.AdminUPN, "-w", s.AdminPassword)
	cmd.Stdin = strings.NewReader(fmt.Sprintf("dn: OU=Groups,%s\nobjectClass: organizationalUnit\nou: Groups\n\n", s.BaseDN))
	if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "Already exists") {
		t.Fatalf("ldapadd OU=Groups: %v: %s", err, out)
	}
	return s
}

func (s *adSetup) groupsDN() string { return "OU=Groups," + s.BaseDN }

// group reads a group entry by cn with ldapsearch.
func (s *adSetup) group(t *testing.T, cn string, attrs ...string) ldapEntry {
	t.Helper()
	es := s.search(t, s.groupsDN(), "(&(objectClass=group)(cn="+ldap.EscapeFilter(cn)+"))", attrs...)
	if len(es) != 1 {
		t.Fatalf("ldapsearch group cn=%s: %d entries", cn, len(es))
	}
	return es[0]
}

// members lists a group's member DNs as ldapsearch sees them, lower-cased
// and sorted.
func (s *adSetup) members(t *testing.T, cn string) []string {
	t.Helper()
	return lowerSorted(s.group(t, cn, "member").Attrs["member"])
}

// memberOfUser lists the groups AD says a user is in.
func (s *adSetup) memberOfUser(t *testing.T, userName string) []string {
	t.Helper()
	return lowerSorted(s.byUserName(t, userName, "memberOf").Attrs["memberof"])
}

func lowerSorted(in []string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		out = append(out, strings.ToLower(v))
	}
	sort.Strings(out)
	return out
}

// adGroupUsers creates n users through SCIM 2.0 and returns their ids,
// userNames and DNs (lower-cased, as ldapsearch shows them).
func adGroupUsers(t *testing.T, s *adSetup, prefix string, n int) (ids, names, dns []string) {
	t.Helper()
	for i := 0; i < n; i++ {
		tag := randHex(3)
		un := fmt.Sprintf("%s%d.%s@example.com", prefix, i, tag)
		u := s.gw.do("POST", "/v2/Users", oktaUser(un, "Grp"+tag, fmt.Sprintf("%s%d", prefix, i), "")).must(t, 201, "create user")
		ids = append(ids, u.str("id"))
		names = append(names, un)
		dns = append(dns, strings.ToLower(s.byUserName(t, un).DN))
	}
	return ids, names, dns
}

// TestADOktaGroupPush replays Okta's group push against AD, over SCIM 2.0
// and over SCIM 1.1 at the bare base path (Okta's on-premises agent):
// create, duplicate, rename, members added (idempotently) and removed, an
// unknown member refused with nothing applied, PUT of the full list, an
// empty group, filters, a nested group, the users' groups from memberOf,
// delete leaving the members.
func TestADOktaGroupPush(t *testing.T) {
	s := startWithADGroups(t)
	g := s.gw
	ids, names, dns := adGroupUsers(t, s, "gp", 3)
	for _, version := range []string{"2.0", "1.1"} {
		t.Run(version, func(t *testing.T) {
			base, schemas := "/v2", []string{groupURN}
			patch := func(id string, ops ...any) response {
				return g.do("PATCH", base+"/Groups/"+id, map[string]any{"schemas": []string{patchURN}, "Operations": ops})
			}
			errCheck := func(r response, status int) { checkSafeError(t, r, status) }
			detail := func(r response) string { return r.str("detail") }
			if version == "1.1" {
				base, schemas = "", []string{core11URN, oktaGroupURN}
				errCheck = func(r response, status int) { check11Error(t, r, status) }
				detail = func(r response) string { return r.str("Errors.0.description") }
			}
			name := "Okta " + strings.ReplaceAll(version, ".", "") + " " + randHex(3)
			ext := "00g" + randHex(8)
			grp := g.do("POST", base+"/Groups", map[string]any{"schemas": schemas, "displayName": name, "externalId": ext,
				oktaGroupURN: map[string]any{"description": "pushed by Okta"},
				"members":    []any{map[string]any{"value": ids[0], "display": "x"}}}).must(t, 201, "create group")
			gid := grp.str("id")
			e := s.group(t, name, "groupType", "sAMAccountName", "description", "adminDescription", "objectGUID", "member")
			if e.first("groupType") != "-2147483646" || e.first("sAMAccountName") == "" || len(e.first("sAMAccountName")) > 20 ||
				e.first("description") != "pushed by Okta" || e.first("adminDescription") != ext || guidOf(e.first("objectGUID")) != gid {
				t.Fatalf("group entry: %+v", e.Attrs)
			}
			if got := s.members(t, name); !sameList(got, dns[:1]) {
				t.Fatalf("members after create: %v", got)
			}
			errCheck(g.do("POST", base+"/Groups", map[string]any{"schemas": schemas, "displayName": strings.ToUpper(name)}), 409)

			// Rename: 2.0 by a path-less replace whose value carries the
			// id; 1.1 by a PUT of the whole group.
			renamed := name + " Renamed"
			if version == "2.0" {
				if r := patch(gid, map[string]any{"op": "replace", "value": map[string]any{"id": gid, "displayName": renamed}}); r.Status != 204 && r.Status != 200 {
					t.Fatalf("rename: %d %s", r.Status, r.Raw)
				}
			} else {
				g.do("PUT", "/Groups/"+gid, map[string]any{"schemas": schemas, "displayName": renamed, "externalId": ext,
					"members": []any{map[string]any{"value": ids[0]}}}).must(t, 200, "rename by PUT")
			}
			if got := g.do("GET", base+"/Groups/"+gid, nil).must(t, 200, "get renamed"); got.str("displayName") != renamed || got.str("members.0.value") != ids[0] {
				t.Fatalf("renamed group: %s", got.Raw)
			}
			if e := s.group(t, renamed, "cn", "objectGUID"); guidOf(e.first("objectGUID")) != gid {
				t.Fatalf("the rename made another entry: %+v", e.Attrs)
			}

			// Add all three, one already present: idempotent, twice over.
			all := []any{map[string]any{"value": ids[0]}, map[string]any{"value": ids[1]}, map[string]any{"value": ids[2]}}
			for i := 0; i < 2; i++ {
				var r response
				if version == "2.0" {
					r = patch(gid, map[string]any{"op": "add", "path": "members", "value": all})
				} else {
					r = g.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{core11URN}, "members": all})
				}
				if r.Status != 204 && r.Status != 200 {
					t.Fatalf("add members: %d %s", r.Status, r.Raw)
				}
			}
			if got := s.members(t, renamed); !sameList(got, lowerSorted(dns)) {
				t.Fatalf("members after add: %v", got)
			}
			groupDN := strings.ToLower(s.group(t, renamed).DN)
			if got := s.memberOfUser(t, names[1]); !sameList(got, []string{groupDN}) {
				t.Fatalf("memberOf of a member: %v", got)
			}

			// Remove one, twice: removing an absent member succeeds.
			for i := 0; i < 2; i++ {
				var r response
				if version == "2.0" {
					r = patch(gid, map[string]any{"op": "remove", "path": `members[value eq "` + ids[1] + `"]`})
				} else {
					r = g.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{core11URN},
						"members": []any{map[string]any{"value": ids[1], "operation": "delete"}}})
				}
				if r.Status != 204 && r.Status != 200 {
					t.Fatalf("remove member: %d %s", r.Status, r.Raw)
				}
			}
			if got := s.members(t, renamed); !sameList(got, lowerSorted([]string{dns[0], dns[2]})) {
				t.Fatalf("members after remove: %v", got)
			}
			if got := s.memberOfUser(t, names[1]); len(got) != 0 {
				t.Fatalf("memberOf after remove: %v", got)
			}

			// An unknown member: 400 naming it, and nothing applied.
			bogus := randUUID()
			var bad response
			if version == "2.0" {
				bad = patch(gid, map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": ids[1]}, map[string]any{"value": bogus}}})
			} else {
				bad = g.do("PUT", "/Groups/"+gid, map[string]any{"schemas": schemas, "displayName": renamed,
					"members": []any{map[string]any{"value": ids[1]}, map[string]any{"value": bogus}}})
			}
			errCheck(bad, 400)
			if !strings.Contains(detail(bad), bogus) {
				t.Errorf("the error does not name the unknown id: %s", bad.Raw)
			}
			if got := s.members(t, renamed); !sameList(got, lowerSorted([]string{dns[0], dns[2]})) {
				t.Fatalf("members after a refused change: %v", got)
			}

			// PUT with the full member list replaces it.
			g.do("PUT", base+"/Groups/"+gid, map[string]any{"schemas": schemas, "displayName": renamed, "externalId": ext,
				"members": []any{map[string]any{"value": ids[1]}}}).must(t, 200, "put members")
			if got := s.members(t, renamed); !sameList(got, dns[1:2]) {
				t.Fatalf("members after PUT: %v", got)
			}

			// Filters: displayName in any case without members, externalId,
			// members.value.
			l := g.do("GET", base+"/Groups?excludedAttributes=members&filter="+filterQ(`displayName eq "`+strings.ToLower(renamed)+`"`), nil).must(t, 200, "filter by displayName")
			if got := idsOf(l); len(got) != 1 || got[0] != gid || l.get("Resources.0.members") != nil {
				t.Fatalf("filter by displayName: %s", l.Raw)
			}
			for f, want := range map[string]string{`externalId eq "` + ext + `"`: gid, `members.value eq "` + ids[1] + `"`: gid} {
				if got := idsOf(g.do("GET", base+"/Groups?filter="+filterQ(f), nil).must(t, 200, f)); len(got) != 1 || got[0] != want {
					t.Errorf("filter %s: %v", f, got)
				}
			}

			// AD groups may be empty.
			if version == "2.0" {
				patch(gid, map[string]any{"op": "remove", "path": `members[value eq "` + ids[1] + `"]`}).must(t, 204, "empty the group")
			} else {
				g.do("PATCH", "/Groups/"+gid, map[string]any{"schemas": []string{core11URN},
					"members": []any{map[string]any{"value": ids[1], "operation": "delete"}}})
			}
			if got := s.members(t, renamed); len(got) != 0 {
				t.Fatalf("members of the emptied group: %v", got)
			}
			if m, _ := g.do("GET", base+"/Groups/"+gid, nil).must(t, 200, "get empty").get("members").([]any); len(m) != 0 {
				t.Fatalf("the empty group shows members: %v", m)
			}

			// A group in a group reads back as type Group; a user's groups
			// come from memberOf.
			sub := g.do("POST", base+"/Groups", map[string]any{"schemas": schemas, "displayName": "Sub " + randHex(3)}).must(t, 201, "create sub group")
			if version == "2.0" {
				patch(gid, map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": sub.str("id")}, map[string]any{"value": ids[0]}}}).must(t, 204, "nest")
			} else {
				g.do("PUT", "/Groups/"+gid, map[string]any{"schemas": schemas, "displayName": renamed,
					"members": []any{map[string]any{"value": sub.str("id")}, map[string]any{"value": ids[0]}}}).must(t, 200, "nest")
			}
			got := g.do("GET", "/v2/Groups/"+gid, nil).must(t, 200, "get nested")
			types := map[string]string{}
			for _, m := range got.get("members").([]any) {
				mm := m.(map[string]any)
				types[mm["value"].(string)], _ = mm["type"].(string)
			}
			if types[sub.str("id")] != "Group" || types[ids[0]] != "User" || len(types) != 2 {
				t.Fatalf("member types: %s", got.Raw)
			}
			if got := s.memberOfUser(t, names[0]); !sameList(got, []string{groupDN}) {
				t.Fatalf("memberOf of a member: %v", got)
			}
			u0 := g.do("GET", base+"/Users/"+ids[0], nil).must(t, 200, "get member")
			if u0.str("groups.0.value") != gid || u0.get("groups.1") != nil {
				t.Fatalf("user's groups: %s", u0.Raw)
			}

			// Deleting the groups leaves their members.
			for _, id := range []string{gid, sub.str("id")} {
				g.do("DELETE", base+"/Groups/"+id, nil).must(t, 204, "delete group")
				errCheck(g.do("GET", base+"/Groups/"+id, nil), 404)
			}
			for i, id := range ids {
				g.do("GET", "/v2/Users/"+id, nil).must(t, 200, "member after group delete")
				if got := s.memberOfUser(t, names[i]); len(got) != 0 {
					t.Fatalf("memberOf after the group's delete: %v", got)
				}
			}
		})
	}
}

// TestADEntraGroupDialect: capitalised ops, removal with a value list, many
// members in one operation, $ref null, Entra's extra schema URN.
func TestADEntraGroupDialect(t *testing.T) {
	s := startWithADGroups(t)
	g := s.gw
	ids, _, dns := adGroupUsers(t, s, "eg", 12)
	var members []any
	for _, id := range ids {
		members = append(members, map[string]any{"value": id, "$ref": nil})
	}
	name := "Entra Group " + randHex(3)
	grp := g.do("POST", "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
		"displayName": name, "externalId": randUUID(), "members": []any{}}).must(t, 201, "create group")
	gid := grp.str("id")
	op := func(o map[string]any, what string) {
		t.Helper()
		g.do("PATCH", "/scim/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{o}}).must(t, 204, what)
	}
	op(map[string]any{"op": "Add", "path": "members", "value": members}, "add 12")
	if got := s.members(t, name); !sameList(got, lowerSorted(dns)) {
		t.Fatalf("members after adding 12: %v", got)
	}
	op(map[string]any{"op": "Remove", "path": "members", "value": members[:5]}, "remove 5")
	if got := s.members(t, name); !sameList(got, lowerSorted(dns[5:])) {
		t.Fatalf("members after removing 5: %v", got)
	}
	op(map[string]any{"op": "Remove", "path": "members", "value": members[:5]}, "remove 5 again")
	op(map[string]any{"op": "Replace", "path": "displayName", "value": name + " 2"}, "rename")
	l := g.do("GET", "/scim/v2/Groups?excludedAttributes=members&filter="+filterQ(`displayName eq "`+name+` 2"`), nil).must(t, 200, "filter")
	if got := idsOf(l); len(got) != 1 || got[0] != gid {
		t.Fatalf("filter by displayName: %s", l.Raw)
	}
	if got := s.members(t, name+" 2"); len(got) != 7 {
		t.Fatalf("%d members after the rename", len(got))
	}
}

// TestADLargeGroup: a group of 3,000 members (past AD's 1,500 values per
// read) is filled through SCIM PATCH and reads back complete through SCIM
// and through ldapsearch; a member far down the list is removed.
func TestADLargeGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s := startWithADGroups(t)
	g := s.gw
	const n = 3000
	tag := randHex(3)
	dns := seedADUsers(t, s, "big"+tag, n)
	idOf := map[string]string{} // lower-cased DN → objectGUID
	for _, e := range s.search(t, "OU=People,"+s.BaseDN, "(sAMAccountName=big"+tag+"*)", "objectGUID") {
		idOf[strings.ToLower(e.DN)] = guidOf(e.first("objectGUID"))
	}
	if len(idOf) != n {
		t.Fatalf("%d seeded users found, want %d", len(idOf), n)
	}
	name := "Everyone " + tag
	gid := g.do("POST", "/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": name}).must(t, 201, "create").str("id")
	// Okta and Entra push large groups in batches.
	for start := 0; start < n; start += 1000 {
		var batch []any
		for _, dn := range dns[start : start+1000] {
			batch = append(batch, map[string]any{"value": idOf[strings.ToLower(dn)]})
		}
		g.do("PATCH", "/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "add", "path": "members", "value": batch}}}).must(t, 204, "add 1,000")
	}
	want := map[string]bool{}
	for _, id := range idOf {
		want[id] = true
	}
	checkSCIM := func(want map[string]bool) {
		t.Helper()
		r := g.do("GET", "/v2/Groups/"+gid, nil).must(t, 200, "get large group")
		ms, _ := r.get("members").([]any)
		got := map[string]bool{}
		for _, m := range ms {
			got[m.(map[string]any)["value"].(string)] = true
		}
		if len(ms) != len(want) || len(got) != len(want) {
			t.Fatalf("GET shows %d members (%d distinct), want %d", len(ms), len(got), len(want))
		}
		for id := range want {
			if !got[id] {
				t.Fatalf("member %s missing from GET", id)
			}
		}
	}
	checkSCIM(want)
	if got := s.members(t, name); len(got) != n {
		t.Fatalf("ldapsearch shows %d members, want %d", len(got), n)
	}
	// Remove a member far beyond the first 1,500 values, and one twice.
	gone := idOf[strings.ToLower(dns[2800])]
	for i := 0; i < 2; i++ {
		g.do("PATCH", "/v2/Groups/"+gid, map[string]any{"schemas": []string{patchURN}, "Operations": []any{
			map[string]any{"op": "remove", "path": `members[value eq "` + gone + `"]`}}}).must(t, 204, "remove member 2,800")
	}
	delete(want, gone)
	checkSCIM(want)
	got := s.members(t, name)
	if len(got) != n-1 {
		t.Fatalf("ldapsearch shows %d members after a removal, want %d", len(got), n-1)
	}
	for _, m := range got {
		if m == strings.ToLower(dns[2800]) {
			t.Fatalf("the removed member is still in the group")
		}
	}
	groupDN := strings.ToLower(s.group(t, name).DN)
	if mo := lowerSorted(s.search(t, dns[2999], "(objectClass=*)", "memberOf")[0].Attrs["memberof"]); !sameList(mo, []string{groupDN}) {
		t.Fatalf("memberOf of the last member: %v", mo)
	}
	if mo := s.search(t, dns[2800], "(objectClass=*)", "memberOf")[0].Attrs["memberof"]; len(mo) != 0 {
		t.Fatalf("memberOf of the removed member: %v", mo)
	}
	// A member's groups, through SCIM.
	u := g.do("GET", "/v2/Users/"+idOf[strings.ToLower(dns[1700])], nil).must(t, 200, "get a member")
	if u.str("groups.0.value") != gid {
		t.Fatalf("a member's groups: %s", u.Raw)
	}
	// Listing groups without members stays cheap; with members, complete.
	l := g.do("GET", "/v2/Groups?filter="+filterQ(`displayName eq "`+name+`"`), nil).must(t, 200, "list with members")
	if ms, _ := l.get("Resources.0.members").([]any); len(ms) != n-1 {
		t.Fatalf("the list shows %d members, want %d", len(ms), n-1)
	}
}

// seedADUsers adds n plain user entries to OU=People with raw LDAP adds
// over LDAPS (SCIM creates would take minutes), a few connections at once,
// and returns their DNs.
func seedADUsers(t *testing.T, s *adSetup, prefix string, n int) []string {
	t.Helper()
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	dns := make([]string, n)
	for i := range dns {
		dns[i] = fmt.Sprintf("CN=%s%05d,OU=People,%s", prefix, i, s.BaseDN)
	}
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan error, 8)
	for w := 0; w < 6; w++ {
		l, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}))
		if err != nil {
			t.Fatalf("dial LDAPS: %v", err)
		}
		defer l.Close()
		if err := l.Bind(s.AdminUPN, s.AdminPassword); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				name := fmt.Sprintf("%s%05d", prefix, i)
				ar := ldap.NewAddRequest(dns[i], nil)
				ar.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
				ar.Attribute("sAMAccountName", []string{name})
				// As an administrator makes users: a UPN in the forest's
				// suffix, which the shipped table reads as the userName.
				ar.Attribute("userPrincipalName", []string{name + "@example.test"})
				ar.Attribute("sn", []string{name})
				if err := l.Add(ar); err != nil {
					select {
					case errs <- fmt.Errorf("add %s: %v", dns[i], err):
					default:
					}
				}
			}
		}()
	}
	for i := range dns {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return dns
}
