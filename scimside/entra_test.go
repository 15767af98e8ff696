package scimside

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// TestEntraValidatorSequence replays what Microsoft Entra ID's SCIM
// validator and provisioning service send for users and groups.
func TestEntraValidatorSequence(t *testing.T) {
	e := newEnv(t)
	const v2 = "/scim/v2"

	// "Test connection": a filter on a random GUID must be 200 and empty.
	r := e.expect(e.do("GET", v2+"/Users?filter=userName+eq+%22c4f7c2b4-9f1a-4e5d-8a0e-3b6f2d9c1e77%22", nil), 200, "test connection")
	if lookup(r.json, "totalResults") != 0.0 || fmt.Sprint(lookup(r.json, "Resources")) != "[]" {
		t.Errorf("test connection: %s", r.body)
	}

	// Create, with Entra's extras: meta.resourceType, roles: [], nulls.
	create := map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"externalId":  "3b4d9f21-e3b4-4a5c-9b0d-5e3e1f6a7b8c",
		"userName":    "Test_User_ab6490ee@contoso.com",
		"active":      true,
		"displayName": "Test User",
		"emails":      []any{map[string]any{"primary": true, "type": "work", "value": "Test_User_ab6490ee@contoso.com"}},
		"meta":        map[string]any{"resourceType": "User"},
		"name":        map[string]any{"formatted": "Test User", "familyName": "User", "givenName": "Test"},
		"roles":       []any{},
		"title":       nil,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{
			"employeeNumber": "1234", "department": "Sales", "manager": "m-0001",
		},
	}
	r = e.expect(e.do("POST", v2+"/Users", create), 201, "create")
	id := r.str("id")
	if entStr(r, "manager.value") != "m-0001" {
		t.Errorf("manager as string: %s", r.body)
	}
	e.expect(e.do("POST", v2+"/Users", create), 409, "duplicate")

	// Lookups: userName in another case, unquoted externalId with '+' for
	// spaces, emails value path.
	for _, f := range []string{
		"filter=userName+eq+%22test_user_AB6490EE%40contoso.com%22",
		"filter=externalId+eq+3b4d9f21-e3b4-4a5c-9b0d-5e3e1f6a7b8c",
		"filter=" + url.QueryEscape(`emails[type eq "work"].value eq "Test_User_ab6490ee@contoso.com"`),
		"filter=" + url.QueryEscape(`userName eq "Test_User_ab6490ee@contoso.com" and externalId eq "3b4d9f21-e3b4-4a5c-9b0d-5e3e1f6a7b8c"`),
	} {
		r = e.expect(e.do("GET", v2+"/Users?"+f, nil), 200, f)
		if lookup(r.json, "totalResults") != 1.0 || r.str("Resources.0.id") != id {
			t.Errorf("%s: %s", f, r.body)
		}
	}

	patch := func(what string, ops ...any) resp {
		t.Helper()
		return e.expect(e.do("PATCH", v2+"/Users/"+id, map[string]any{
			"schemas": []string{patchOpURN}, "Operations": ops,
		}), 200, what)
	}
	// Path-less replace with dotted and URN keys, capitalised op.
	r = patch("dotted keys", map[string]any{"op": "Replace", "value": map[string]any{
		"name.givenName": "Changed",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7",
		"displayName": "Changed User",
	}})
	if r.str("name.givenName") != "Changed" || entStr(r, "employeeNumber") != "7" {
		t.Errorf("dotted keys: %s", r.body)
	}
	// Value-filter path creating a work email's value, adding a phone.
	r = patch("value path", map[string]any{"op": "Add", "path": `emails[type eq "work"].value`, "value": "new@contoso.com"},
		map[string]any{"op": "Add", "path": `phoneNumbers[type eq "mobile"].value`, "value": "+1 555 0100"})
	if r.str("emails.0.value") != "new@contoso.com" || r.str("phoneNumbers.0.value") != "+1 555 0100" || r.str("phoneNumbers.0.type") != "mobile" {
		t.Errorf("value path: %s", r.body)
	}
	// Manager as object, as array, then removed with "".
	const mgr = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
	r = patch("manager object", map[string]any{"op": "Replace", "path": mgr, "value": map[string]any{"value": "m-0002"}})
	if entStr(r, "manager.value") != "m-0002" {
		t.Errorf("manager object: %s", r.body)
	}
	r = patch("manager array", map[string]any{"op": "Replace", "path": mgr, "value": []any{map[string]any{"value": "m-0003"}}})
	if entStr(r, "manager.value") != "m-0003" {
		t.Errorf("manager array: %s", r.body)
	}
	r = patch("manager removed", map[string]any{"op": "Replace", "path": mgr, "value": ""})
	if lookup(r.json[bridge.EnterpriseSchema], "manager") != nil {
		t.Errorf("manager removed: %s", r.body)
	}
	// Soft delete with a string boolean; the user stays visible.
	r = patch("soft delete", map[string]any{"op": "Replace", "path": "active", "value": "False"})
	if lookup(r.json, "active") != false {
		t.Errorf("soft delete: %s", r.body)
	}
	e.expect(e.do("GET", v2+"/Users/"+id, nil), 200, "get soft-deleted")
	r = e.expect(e.do("GET", v2+"/Users?filter=userName+eq+%22Test_User_ab6490ee%40contoso.com%22", nil), 200, "filter soft-deleted")
	if lookup(r.json, "totalResults") != 1.0 {
		t.Errorf("soft-deleted user not found: %s", r.body)
	}
	// Hard delete; then 404 twice.
	e.expect(e.do("DELETE", v2+"/Users/"+id, nil), 204, "delete")
	e.expect(e.do("GET", v2+"/Users/"+id, nil), 404, "get deleted")
	e.expect(e.do("DELETE", v2+"/Users/"+id, nil), 404, "delete again")

	// Pagination with count=5 over 12 users.
	for i := range 12 {
		e.expect(e.do("POST", v2+"/Users", map[string]any{"userName": fmt.Sprintf("p%02d@contoso.com", i)}), 201, "create page user")
	}
	seen := map[string]bool{}
	for start := 1; start <= 12; start += 5 {
		r = e.expect(e.do("GET", fmt.Sprintf("%s/Users?startIndex=%d&count=5", v2, start), nil), 200, "page")
		if lookup(r.json, "totalResults") != 12.0 || lookup(r.json, "startIndex") != float64(start) {
			t.Errorf("page %d: %s", start, r.body)
		}
		for _, it := range lookup(r.json, "Resources").([]any) {
			seen[it.(map[string]any)["id"].(string)] = true
		}
		if n := len(lookup(r.json, "Resources").([]any)); lookup(r.json, "itemsPerPage") != float64(n) {
			t.Errorf("itemsPerPage != returned: %s", r.body)
		}
	}
	if len(seen) != 12 {
		t.Errorf("paging saw %d users", len(seen))
	}

	// Groups: create, add members, remove many with a value list, remove by
	// filter path, filter by displayName without members. PATCH answers 204.
	r = e.expect(e.do("POST", v2+"/Groups", map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
		"displayName": "Group1DisplayName", "externalId": "g-ext-1", "members": []any{},
	}), 201, "create group")
	gid := r.str("id")
	gpatch := func(what string, status int, ops ...any) resp {
		t.Helper()
		return e.expect(e.do("PATCH", v2+"/Groups/"+gid, map[string]any{"schemas": []string{patchOpURN}, "Operations": ops}), status, what)
	}
	r = gpatch("add members", 204, map[string]any{"op": "Add", "path": "members", "value": []any{
		map[string]any{"value": "u-0002"}, map[string]any{"value": "u-0003"}, map[string]any{"value": "u-0004", "$ref": nil}}})
	if len(r.body) != 0 {
		t.Errorf("204 with a body: %s", r.body)
	}
	gpatch("remove list", 204, map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"value": "u-0002"}, map[string]any{"value": "u-0003"}}})
	gpatch("remove by filter", 204, map[string]any{"op": "remove", "path": `members[value eq "u-0004"]`})
	gpatch("rename", 204, map[string]any{"op": "Replace", "value": map[string]any{"id": gid, "displayName": "Renamed"}})
	r = e.expect(e.do("GET", v2+"/Groups?excludedAttributes=members&filter=displayName+eq+%22renamed%22", nil), 200, "group filter")
	if lookup(r.json, "totalResults") != 1.0 || lookup(r.json, "Resources.0.members") != nil || r.str("Resources.0.displayName") != "Renamed" {
		t.Errorf("group filter: %s", r.body)
	}
	if fmt.Sprint(e.groups.lastQ.ExcludedAttributes) != "[members]" {
		t.Errorf("excludedAttributes not passed to the service: %v", e.groups.lastQ.ExcludedAttributes)
	}
	r = e.expect(e.do("PATCH", v2+"/Groups/"+gid+"?attributes=displayName", map[string]any{"Operations": []any{
		map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "u-0005"}}}}}), 200, "group patch with attributes")
	if r.str("displayName") != "Renamed" || lookup(r.json, "members") != nil {
		t.Errorf("group patch with attributes: %s", r.body)
	}
	e.expect(e.do("POST", v2+"/Groups", map[string]any{"displayName": "renamed"}), 409, "duplicate group")
}

// entStr reads a string below the enterprise extension of a response.
func entStr(r resp, path string) string {
	s, _ := lookup(r.json[bridge.EnterpriseSchema], path).(string)
	return s
}
