package main

// A Role type whose values are identified by cn (`[type.value] id = "cn"`)
// on OpenLDAP, through the built binary: the value ids a client sees and
// sends are the groups' names, and an assignment is still one member value
// of the group, checked with ldapsearch.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

func TestEntitlementsIDAttrOpenLDAP(t *testing.T) {
	raw, err := os.ReadFile("../../conf/examples/openldap-entitlements.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The first value table is the Role type's.
	table := strings.Replace(string(raw), "[type.value]\n# \"\" = the entry's entryUUID: a rename of the group keeps every assignment\n# Okta has recorded.\nid = \"\"",
		"[type.value]\nid = \"cn\"", 1)
	if table == string(raw) {
		t.Fatal("the example table did not change: update this test's edit")
	}
	path := filepath.Join(t.TempDir(), "entitlements-cn.toml")
	if err := os.WriteFile(path, []byte(table), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := startWithOpenLDAPSeeded(t, testenv.OpenLDAPOptions{}, false, func(url, admin, pw, base string) {
		ldapAddLDIF(t, url, admin, pw, appRoleLDIF(base, false))
	}, "DIRBRIDGE_MAPPING_ENTITLEMENTS="+path)
	b := &entBackend{gw: s.gw, search: s.search, roles: "ou=App Roles," + s.BaseDN}
	gw := s.gw

	r := gw.do("GET", "/v2/Roles?startIndex=1&count=100", nil).must(t, 200, "list roles")
	var ids []string
	for i := 0; r.get("Resources."+strconv.Itoa(i)) != nil; i++ {
		ids = append(ids, r.str("Resources."+strconv.Itoa(i)+".id"))
	}
	if strings.Join(ids, "|") != "App Administrator|App Editor|App Viewer" {
		t.Fatalf("role ids %q, want the groups' cn", ids)
	}
	r = gw.do("GET", "/v2/Roles/App%20Editor", nil).must(t, 200, "get by cn")
	if r.str("id") != "App Editor" || r.str("displayName") != "App Editor" {
		t.Errorf("GET /v2/Roles/App Editor: %s", r.Raw)
	}
	checkSafeError(t, gw.do("GET", "/v2/Roles/No%20Such%20Role", nil), 404)

	userName := "cn" + randHex(4) + "@example.test"
	r = gw.do("POST", "/v2/Users", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName, "name": map[string]any{"givenName": "Cn", "familyName": "Tester"},
		"roles": []any{map[string]any{"value": "App Viewer"}},
	}).must(t, 201, "create with a role by cn")
	id := r.str("id")
	if r.str("roles.0.value") != "App Viewer" {
		t.Errorf("POST answer roles: %s", r.Raw)
	}
	dn := oneDN(t, s.search(t, s.PeopleDN, "(uid="+ldap.EscapeFilter(userName)+")", "dn"))
	if !b.holds(t, "App Viewer", dn) || b.holds(t, "App Editor", dn) {
		t.Fatalf("after POST: ldapsearch does not show %s in App Viewer only", dn)
	}
	r = gw.do("GET", "/v2/Users/"+id, nil).must(t, 200, "read back")
	if r.str("roles.0.value") != "App Viewer" || r.get("roles.1") != nil {
		t.Errorf("GET user roles: %s", r.Raw)
	}

	patch := func(op, value string) response {
		return gw.do("PATCH", "/v2/Users/"+id, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": op, "path": "roles", "value": []any{map[string]any{"value": value}}}},
		})
	}
	patch("add", "App Editor").must(t, 200, "assign by cn")
	if !b.holds(t, "App Editor", dn) {
		t.Errorf("after PATCH add: not in App Editor")
	}
	patch("remove", "App Viewer").must(t, 200, "revoke by cn")
	if b.holds(t, "App Viewer", dn) || !b.holds(t, "App Editor", dn) {
		t.Errorf("after PATCH remove: membership wrong")
	}
	// An unknown cn is the client's mistake, and nothing is written.
	checkSafeError(t, patch("add", "No Such Role"), 400)
	if b.holds(t, "App Viewer", dn) || !b.holds(t, "App Editor", dn) {
		t.Errorf("a refused PATCH changed memberships")
	}
}
