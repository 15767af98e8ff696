package scimside

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

func capsOf(t *testing.T, r resp) map[string]bool {
	t.Helper()
	list, _ := lookup(r.json, oktaProviderURN+".userManagementCapabilities").([]any)
	if list == nil {
		// The key holds dots: look it up whole.
		m, _ := r.json[oktaProviderURN].(map[string]any)
		list, _ = m["userManagementCapabilities"].([]any)
	}
	out := map[string]bool{}
	for _, x := range list {
		out[x.(string)] = true
	}
	return out
}

// Capabilities follow the configuration.
func TestV1ServiceProviderConfigsCapabilities(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/ServiceProviderConfigs", "/v1/ServiceProviderConfigs", "/v1/ServiceProviderConfig"} {
		r := e.expect(e.do("GET", p, nil), 200, p)
		if lookup(r.json, "schemas.0") != coreURN11 || lookup(r.json, "schemas.1") != oktaProviderURN {
			t.Errorf("%s schemas: %s", p, r.body)
		}
		caps := capsOf(t, r)
		for _, c := range []string{"GROUP_PUSH", "IMPORT_NEW_USERS", "IMPORT_PROFILE_UPDATES", "PUSH_NEW_USERS", "PUSH_PASSWORD_UPDATES",
			"PUSH_PENDING_USERS", "PUSH_PROFILE_UPDATES", "PUSH_USER_DEACTIVATION", "REACTIVATE_USERS", "OPP_SCIM_INCREMENTAL_IMPORTS"} {
			if !caps[c] {
				t.Errorf("%s lacks %s: %s", p, c, r.body)
			}
		}
		if !bytes.Contains(r.body, []byte(`"maxResults":100`)) || lookup(r.json, "changePassword.supported") != true {
			t.Errorf("%s: %s", p, r.body)
		}
	}
	e = newEnv(t, func(c *Config, s *Services) { c.DisablePasswordSync = true; s.Groups = nil })
	r := e.expect(e.do("GET", "/ServiceProviderConfigs", nil), 200, "no passwords, no groups")
	caps := capsOf(t, r)
	if caps["PUSH_PASSWORD_UPDATES"] || caps["GROUP_PUSH"] || !caps["PUSH_NEW_USERS"] || lookup(r.json, "changePassword.supported") != false {
		t.Errorf("capabilities without password sync and groups: %s", r.body)
	}
	r = e.expect(e.do("GET", "/v2/ServiceProviderConfig", nil), 200, "2.0 without password sync")
	if lookup(r.json, "changePassword.supported") != false {
		t.Errorf("2.0 changePassword with password sync off: %s", r.body)
	}
}

// Password sync off: a password in a body is not written.
func TestV1PasswordSyncOff(t *testing.T) {
	e := newEnv(t, func(c *Config, s *Services) { c.DisablePasswordSync = true })
	for _, base := range []string{"", "/v2"} {
		u := oktaUser("nopw" + strings.Trim(base, "/") + "@example.com")
		r := e.expect(e.do("POST", base+"/Users", u), 201, "create "+base)
		if stored := e.users.byID[r.str("id")]; stored.Attrs["password"] != nil {
			t.Errorf("%s: the password was passed on with password sync off", base)
		}
	}
}

// 1.1 URNs in, 1.1 URNs out; the canonical model in between.
func TestV1URNTranslation(t *testing.T) {
	e := newEnv(t)
	body := map[string]any{
		"schemas":       []string{coreURN11, enterpriseURN11, oktaCustomURN},
		"userName":      "urn11@example.com",
		"name":          map[string]any{"givenName": "U", "familyName": "Rn"},
		"emails":        []any{map[string]any{"value": "a@example.com", "type": "secondary"}, map[string]any{"value": "b@example.com", "type": "primary"}},
		enterpriseURN11: map[string]any{"employeeNumber": "7"},
		oktaCustomURN:   map[string]any{"departmentName": "Sales"},
		"password":      "x-Pa55-word",
	}
	r := e.expect(e.do("POST", "/Users", body), 201, "create")
	id := r.str("id")
	stored := e.users.byID[id]
	if ent, _ := stored.Attrs[bridge.EnterpriseSchema].(map[string]any); ent["employeeNumber"] != "7" {
		t.Fatalf("the 1.1 enterprise URN did not reach the canonical one: %#v", stored.Attrs)
	}
	if emails, _ := stored.Attrs["emails"].([]any); len(emails) != 2 || emails[1].(map[string]any)["primary"] != true {
		t.Errorf("the email typed primary is not primary: %#v", stored.Attrs["emails"])
	}
	if strings.Contains(string(r.body), "urn:ietf:params") || r.json[enterpriseURN11] == nil || r.json[oktaCustomURN] == nil ||
		r.json["password"] != nil || !strings.Contains(string(r.body), `"schemas":["`+coreURN11+`"`) {
		t.Errorf("1.1 rendering: %s", r.body)
	}
	if !strings.Contains(string(r.body), `"lastModified":"2024-05-01T12:00:00Z"`) {
		t.Errorf("meta dates are not ISO 8601: %s", r.body)
	}
	for _, f := range []string{
		enterpriseURN11 + `:employeeNumber eq "7"`,
		bridge.EnterpriseSchema + `:employeeNumber eq "7"`,
		oktaCustomURN + `:departmentName eq "Sales"`,
		coreURN11 + `:userName eq "urn11@example.com"`,
	} {
		r := e.expect(e.do("GET", "/v1/Users?filter="+strings.ReplaceAll(f, " ", "%20"), nil), 200, f)
		if lookup(r.json, "totalResults") != 1.0 || lookup(r.json, "schemas.0") != coreURN11 {
			t.Errorf("filter %s: %s", f, r.body)
		}
	}
	r = e.expect(e.do("GET", "/v1/Users/"+id+"?attributes="+enterpriseURN11+":employeeNumber", nil), 200, "projection")
	if r.json[enterpriseURN11] == nil || r.json["name"] != nil {
		t.Errorf("1.1 attribute names in attributes=: %s", r.body)
	}
}

// A table may give its extension a 1.1 alias: both names resolve to the
// same schema, and 1.1 answers use the alias.
func TestV1NamesAliases(t *testing.T) {
	rt := userType()
	rt.Extensions[1].ID = "urn:example:custom:2.0:User"
	rt.Extensions[1].Aliases = []string{oktaCustomURN}
	n := v1NamesFor(rt)
	for in, want := range map[string]string{
		oktaCustomURN:                       "urn:example:custom:2.0:User",
		strings.ToUpper(enterpriseURN11):    bridge.EnterpriseSchema,
		coreURN11:                           bridge.UserSchema,
		"urn:example:custom:2.0:User":       "urn:example:custom:2.0:User",
		oktaCustomURN + ":departmentName":   "urn:example:custom:2.0:User:departmentName",
		enterpriseURN11 + ":employeeNumber": bridge.EnterpriseSchema + ":employeeNumber",
		"name.givenName":                    "name.givenName",
	} {
		if got := n.translateName(in); got != want {
			t.Errorf("translateName(%q) = %q, want %q", in, got, want)
		}
	}
	if n.urnOut("urn:example:custom:2.0:User") != oktaCustomURN || n.urnOut(bridge.EnterpriseSchema) != enterpriseURN11 || n.urnOut(bridge.UserSchema) != coreURN11 {
		t.Errorf("urnOut: %v", n.out)
	}
}

// Errors in 1.1 shape, with the right status.
func TestV1Errors(t *testing.T) {
	e := newEnv(t)
	e.expect(e.do("POST", "/Users", oktaUser("dup@example.com")), 201, "create")
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		hdr          []string
	}{
		{"GET", "/Users/nope", nil, 404, nil},
		{"POST", "/v1/Users", oktaUser("dup@example.com"), 409, nil},
		{"GET", "/Users?filter=userName%20zz%20%22x%22", nil, 400, nil},
		{"POST", "/Users", `{"userName":`, 400, nil},
		{"GET", "/v1/Users", nil, 401, []string{"Authorization", "Bearer wrong"}},
		{"DELETE", "/ServiceProviderConfigs", nil, 405, nil},
	} {
		r := e.expect(e.do(c.method, c.path, c.body, c.hdr...), c.status, c.method+" "+c.path)
		if !bytes.Contains(r.body, []byte(`"code":`)) || r.json["schemas"] != nil {
			t.Errorf("%s %s: %s", c.method, c.path, r.body)
		}
	}
	e.users.fail = bridge.Errorf("fake", bridge.KindUnavailable, "the directory is not reachable; try again later")
	r := e.expect(e.do("GET", "/Users", nil), 503, "directory down")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

// Okta cloud's SCIM 1.1 PATCH forms.
func TestV1PatchForms(t *testing.T) {
	c := v1codec{}
	ops, err := c.decodePatch(userType(), map[string]any{"schemas": []any{coreURN11}, "id": "u1", "active": false})
	if err != nil || len(ops) != 1 || ops[0].Op != "replace" || ops[0].Path != nil || ops[0].Value.(map[string]any)["active"] != false {
		t.Fatalf("deactivation: %+v %v", ops, err)
	}
	ops, err = c.decodePatch(groupType(), map[string]any{"schemas": []any{coreURN11},
		"members": []any{map[string]any{"value": "u1", "display": "U", "operation": "delete"}, map[string]any{"value": "u2"}}})
	if err != nil || len(ops) != 2 || ops[0].Op != "remove" || ops[0].Path.Attr.Attr != "members" || ops[1].Op != "add" {
		t.Fatalf("member removal: %+v %v", ops, err)
	}
	if v := ops[0].Value.([]any)[0].(map[string]any); v["operation"] != nil || v["value"] != "u1" {
		t.Errorf("operation leaked into the value: %v", v)
	}
	ops, err = c.decodePatch(userType(), map[string]any{"meta": map[string]any{"attributes": []any{"title", enterpriseURN11 + ":department"}}})
	if err != nil || len(ops) != 2 || ops[1].Path.Attr.URN != bridge.EnterpriseSchema || ops[1].Op != "remove" {
		t.Fatalf("meta.attributes: %+v %v", ops, err)
	}
	if _, err := c.decodePatch(userType(), map[string]any{"meta": map[string]any{"attributes": "title"}}); bridge.KindOf(err) != bridge.KindInvalidSyntax {
		t.Errorf("meta.attributes as a string: %v", err)
	}

	e := newEnv(t)
	id := e.expect(e.do("POST", "/Users", oktaUser("patch11@example.com")), 201, "create").str("id")
	r := e.expect(e.do("PATCH", "/v1/Users/"+id, map[string]any{"schemas": []any{coreURN11}, "id": id, "active": false}), 200, "PATCH active")
	if lookup(r.json, "active") != false {
		t.Errorf("PATCH active false: %s", r.body)
	}
	g := e.expect(e.do("POST", "/Groups", map[string]any{"displayName": "G11", "members": []any{map[string]any{"value": id}}}), 201, "group")
	e.expect(e.do("PATCH", "/v1/Groups/"+g.str("id"), map[string]any{"members": []any{map[string]any{"value": id, "operation": "delete"}}}), 204, "remove member")
	if m := e.groups.byID[g.str("id")].Attrs["members"]; m != nil {
		t.Errorf("member not removed: %v", m)
	}
}

// gt on meta.lastModified includes the timestamp's second; under not it is
// left exact.
func TestV1InclusiveTimes(t *testing.T) {
	x, err := v1codec{}.parseFilter(userType(), `meta.lastModified gt "2020-04-07T14:19:34Z" and not (meta.created gt "2020-01-01T00:00:00Z")`)
	if err != nil {
		t.Fatal(err)
	}
	if got := x.(*bridge.LogicalExpr).Left.(*bridge.CompareExpr).Op; got != bridge.OpGe {
		t.Errorf("meta.lastModified gt became %s", got)
	}
	if got := x.(*bridge.LogicalExpr).Right.(*bridge.NotExpr).X.(*bridge.CompareExpr).Op; got != bridge.OpGt {
		t.Errorf("under not: %s", got)
	}
}

// A user body's groups: validated first (an unknown id is a 400 naming it,
// nothing written), then written through the groups.
func TestV1UserGroups(t *testing.T) {
	e := newEnv(t)
	g := e.expect(e.do("POST", "/v1/Groups", map[string]any{"displayName": "Pushed"}), 201, "group").str("id")
	u := oktaUser("grouped@example.com")
	u["groups"] = []any{map[string]any{"value": g, "display": "Pushed"}, map[string]any{"value": "no-such-group"}}
	r := e.expect(e.do("POST", "/Users", u), 400, "unknown group")
	if !strings.Contains(r.str("Errors.0.description"), "no-such-group") {
		t.Errorf("the unknown group is not named: %s", r.body)
	}
	if len(e.users.byID) != 0 {
		t.Fatalf("a user was created despite the unknown group")
	}
	u["groups"] = []any{map[string]any{"value": g, "display": "Pushed"}}
	id := e.expect(e.do("POST", "/Users", u), 201, "create with groups").str("id")
	members, _ := e.groups.byID[g].Attrs["members"].([]any)
	if len(members) != 1 || members[0].(map[string]any)["value"] != id {
		t.Fatalf("group members after create: %v", members)
	}
	if s := e.users.byID[id]; s.Attrs["groups"] != nil {
		t.Errorf("groups reached the user service: %v", s.Attrs["groups"])
	}
	// 2.0 bodies' groups are read-only as RFC 7643 says: nothing is written.
	u2 := oktaUser("v2groups@example.com")
	u2["groups"] = []any{map[string]any{"value": g}}
	e.expect(e.do("POST", "/v2/Users", u2), 201, "2.0 create with groups")
	if members, _ := e.groups.byID[g].Attrs["members"].([]any); len(members) != 1 {
		t.Errorf("a 2.0 body's groups changed memberships: %v", members)
	}
	// Groups off: groups in a 1.1 body are ignored.
	e = newEnv(t, func(c *Config, s *Services) { s.Groups = nil })
	u3 := oktaUser("nogroups@example.com")
	u3["groups"] = []any{map[string]any{"value": "anything"}}
	e.expect(e.do("POST", "/Users", u3), 201, "groups off")
}

// 1.1 /Schemas: definitions named by 1.1 URNs.
func TestV1Schemas(t *testing.T) {
	e := newEnv(t)
	r := e.expect(e.do("GET", "/v1/Schemas", nil), 200, "schemas")
	if !bytes.Contains(r.body, []byte(`"id":"`+enterpriseURN11+`"`)) || !bytes.Contains(r.body, []byte(`"id":"`+coreURN11+`"`)) ||
		bytes.Contains(r.body, []byte("urn:ietf:params:scim:schemas:extension")) {
		t.Errorf("1.1 schemas: %s", r.body)
	}
	for _, p := range []string{"/v1/Schemas/Users", "/v1/Schemas/" + enterpriseURN11, "/v1/Schemas/" + bridge.EnterpriseSchema} {
		e.expect(e.do("GET", p, nil), 200, p)
	}
	e.expect(e.do("GET", "/v1/Schemas/urn:nope", nil), 404, "unknown schema")
}

// SCIM 2.0 reads meta.lastModified gt the same way: a 2.0 incremental sync
// must not miss a change made in the second of its last timestamp.
func TestV2InclusiveTimes(t *testing.T) {
	x, err := v2codec{}.parseFilter(userType(), `meta.lastModified gt "2020-04-07T14:19:34Z"`)
	if err != nil {
		t.Fatal(err)
	}
	if got := x.(*bridge.CompareExpr).Op; got != bridge.OpGe {
		t.Errorf("meta.lastModified gt became %s", got)
	}
}
