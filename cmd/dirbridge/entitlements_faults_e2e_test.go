package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

// An assignment with a change of the user's own attributes is two kinds of
// write: the value group's member values, then the user's entry. The
// directory is cut after every LDAP response of such a request; once the
// journal has settled, ldapsearch must see all of it (the role held and the
// new displayName) or none of it, and a 2xx only for all of it.

// entCut is one round's user and the role it is assigned.
type entCut struct{ id, name, role string }

func startEntCuttable(t *testing.T) (*ldapSetup, *testenv.FaultProxy, map[string]string) {
	t.Helper()
	s, p := startWithOpenLDAPSeeded(t, testenv.OpenLDAPOptions{}, true, func(u, admin, pw, base string) {
		ldapAddLDIF(t, u, admin, pw, appRoleLDIF(base, false))
	}, "DIRBRIDGE_LDAP_OP_TIMEOUT=3s", "DIRBRIDGE_LDAP_DIAL_TIMEOUT=1s", "DIRBRIDGE_STATE_RECOVERY_INTERVAL=300ms")
	roles := map[string]string{}
	for _, x := range asList(s.gw.do("GET", "/v2/Roles?startIndex=1&count=100", nil).must(t, 200, "list roles").get("Resources")) {
		m := x.(map[string]any)
		roles[m["displayName"].(string)] = m["id"].(string)
	}
	if len(roles) != 3 {
		t.Fatalf("roles: %v", roles)
	}
	return s, p, roles
}

// holdsRole is what ldapsearch says: does the role group list the user?
func holdsRole(t *testing.T, s *ldapSetup, cn, userName string) (bool, string) {
	t.Helper()
	users := s.search(t, s.PeopleDN, "(uid="+ldap.EscapeFilter(userName)+")", "displayName")
	if len(users) != 1 {
		t.Fatalf("ldapsearch finds %d users %s", len(users), userName)
	}
	g := s.search(t, "ou=App Roles,"+s.BaseDN, "(cn="+ldap.EscapeFilter(cn)+")", "member")
	if len(g) != 1 {
		t.Fatalf("ldapsearch finds %d groups %s", len(g), cn)
	}
	for _, m := range g[0].Attrs["member"] {
		if strings.EqualFold(m, users[0].DN) {
			return true, users[0].first("displayName")
		}
	}
	return false, users[0].first("displayName")
}

func TestCutEntitlementPatch(t *testing.T) {
	s, p, roles := startEntCuttable(t)
	g := s.gw
	runCuts(t, g, p, func(i int) any {
		u := entCut{name: "entcut" + randHex(3) + "@example.test", role: "App Editor"}
		body := oktaUser(u.name, "Ent", "Cut", "")
		body["displayName"] = "Before"
		u.id = g.do("POST", "/v2/Users", body).must(t, 201, "create").str("id")
		return u
	}, func(st any) response {
		u := st.(entCut)
		return g.do("PATCH", "/v2/Users/"+url.PathEscape(u.id), map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{
				map[string]any{"op": "replace", "path": "displayName", "value": "After"},
				map[string]any{"op": "add", "path": "roles", "value": []any{map[string]any{"value": roles[u.role]}}},
			}})
	}, func(st any, r response) {
		u := st.(entCut)
		held, dn := holdsRole(t, s, u.role, u.name)
		switch {
		case held && dn == "After":
		case !held && dn == "Before":
			if r.Status/100 == 2 {
				t.Errorf("answered %d but nothing applied", r.Status)
			}
		default:
			t.Errorf("half applied (answer %d): role held %v, displayName %q", r.Status, held, dn)
		}
	})
}

// A create with a role: the user's entry, then the group's member value.
// Either the user exists and holds the role, or no user of that name exists
// and no role group names it.
func TestCutEntitlementCreate(t *testing.T) {
	s, p, roles := startEntCuttable(t)
	g := s.gw
	runCuts(t, g, p, func(i int) any {
		return entCut{name: "entnew" + randHex(3) + "@example.test", role: "App Viewer"}
	}, func(st any) response {
		u := st.(entCut)
		body := oktaUser(u.name, "Ent", "New", "")
		body["roles"] = []any{map[string]any{"value": roles[u.role]}}
		return g.do("POST", "/v2/Users", body)
	}, func(st any, r response) {
		u := st.(entCut)
		users := s.search(t, s.PeopleDN, "(uid="+ldap.EscapeFilter(u.name)+")", "dn")
		if len(users) == 0 {
			if r.Status/100 == 2 {
				t.Errorf("answered %d but no user exists", r.Status)
			}
			if g := s.search(t, "ou=App Roles,"+s.BaseDN, "(member=uid="+ldap.EscapeFilter(ldap.EscapeDN(u.name))+","+s.PeopleDN+")", "dn"); len(g) != 0 {
				t.Errorf("no user, but %s names it", g[0].DN)
			}
			return
		}
		if held, _ := holdsRole(t, s, u.role, u.name); !held {
			t.Errorf("half applied (answer %d): the user exists without its role", r.Status)
		}
	})
}

// `dirbridge check` on a real slapd with the shipped entitlements table:
// ready once ou=App Roles is there; with a misspelt filter attribute and
// member attribute and the licenses' container missing, each is named in
// one run, and serve refuses to start on the schema problems.
func TestCheckEntitlements(t *testing.T) {
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := exampleConfig(t, func(s string) string {
		return strings.Replace(s, `# entitlements = "openldap-entitlements.toml"`, `entitlements = "openldap-entitlements.toml"`, 1)
	}, nil)
	dir := filepath.Dir(cfg)
	ent, err := os.ReadFile("../../conf/examples/openldap-entitlements.toml")
	if err != nil {
		t.Fatal(err)
	}
	writeEnt := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "openldap-entitlements.toml"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeEnt(string(ent))
	env := openLDAPEnv(o, o.URL, o.AdminDN, o.AdminPassword)
	out, code := runBinary(t, env, "check", "--config", cfg)
	if code != 1 {
		t.Fatalf("check without ou=App Roles: exit %d:\n%s", code, out)
	}
	wantLines(t, out, "ou=App Roles,"+o.BaseDN+": the container of the Role values does not exist",
		"ou=Licenses,ou=App Roles,"+o.BaseDN+": the container of the License values does not exist")

	ldapAddLDIF(t, o.URL, o.AdminDN, o.AdminPassword, appRoleLDIF(o.BaseDN, false))
	out, code = runBinary(t, env, "check", "--config", cfg)
	if code != 0 {
		t.Fatalf("check with ou=App Roles: exit %d:\n%s", code, out)
	}
	wantLines(t, out, "type Role: the filter, the value attributes and member attribute member are in the schema",
		"the container of the License values exists")

	bad := strings.Replace(string(ent), `filter = "(objectClass=groupOfNames)"`, `filter = "(&(objectClass=groupOfNames)(businesCategory=apps))"`, 1)
	bad = strings.Replace(bad, `member = "member"`, `member = "membr"`, 1)
	bad = strings.Replace(bad, `container = "ou=Licenses,ou=App Roles,${base_dn:-dc=example,dc=com}"`, `container = "ou=Licences,ou=App Roles,${base_dn:-dc=example,dc=com}"`, 1)
	writeEnt(bad)
	out, code = runBinary(t, env, "check", "--config", cfg)
	if code != 1 {
		t.Fatalf("check with a broken table: exit %d:\n%s", code, out)
	}
	wantLines(t, out, "tests attribute businesCategory, which is not in the directory's schema",
		"type Role: member attribute membr is not in the directory's schema",
		"ou=Licences,ou=App Roles,"+o.BaseDN+": the container of the License values does not exist")
	out, code = runBinary(t, env, "serve", "--config", cfg)
	if code == 0 || !strings.Contains(out, "refusing to start") || !strings.Contains(out, "businesCategory") || !strings.Contains(out, "membr") {
		t.Fatalf("serve started on a broken entitlements table (exit %d):\n%s", code, out)
	}
}
