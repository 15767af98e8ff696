package scimside

import (
	"net/url"
	"reflect"
	"sort"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

func keys(v any) []string {
	m, _ := v.(map[string]any)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestProjection(t *testing.T) {
	e := newEnv(t)
	u := oktaUser("proj@example.com")
	u["externalId"] = "ext-1"
	u["emails"] = []any{map[string]any{"value": "a@x.com", "type": "work", "primary": true}, map[string]any{"value": "b@x.com", "type": "home"}}
	u[bridge.EnterpriseSchema] = map[string]any{"employeeNumber": "7", "department": "Sales"}
	u[oktaCustomURN] = map[string]any{"departmentName": "Ops"}
	r := e.expect(e.do("POST", "/v2/Users", u), 201, "create")
	id := r.str("id")

	cases := []struct {
		query string
		want  []string // top-level keys
		check func(t *testing.T, r resp)
	}{
		{"", []string{"active", "emails", "externalId", "id", "meta", "name", oktaCustomURN, "schemas", "userName", bridge.EnterpriseSchema}, func(t *testing.T, r resp) {
			if lookup(r.json, "schemas") == nil || len(lookup(r.json, "schemas").([]any)) != 3 {
				t.Errorf("schemas: %v", lookup(r.json, "schemas"))
			}
		}},
		{"attributes=userName", []string{"id", "schemas", "userName"}, nil},
		{"attributes=displayName", []string{"id", "schemas", "userName"}, nil}, // userName is returned always
		{"attributes=USERNAME,Name.FamilyName", []string{"id", "name", "schemas", "userName"}, func(t *testing.T, r resp) {
			if !reflect.DeepEqual(keys(r.json["name"]), []string{"familyName"}) {
				t.Errorf("name: %v", r.json["name"])
			}
		}},
		{"attributes=emails.value", []string{"emails", "id", "schemas", "userName"}, func(t *testing.T, r resp) {
			if !reflect.DeepEqual(keys(lookup(r.json, "emails.1")), []string{"value"}) {
				t.Errorf("emails: %v", r.json["emails"])
			}
		}},
		{"attributes=" + url.QueryEscape(bridge.EnterpriseSchema), []string{"id", "schemas", "userName", bridge.EnterpriseSchema}, func(t *testing.T, r resp) {
			if s := lookup(r.json, "schemas").([]any); len(s) != 2 || s[1] != bridge.EnterpriseSchema {
				t.Errorf("schemas: %v", s)
			}
		}},
		{"attributes=" + url.QueryEscape(bridge.EnterpriseSchema+":employeeNumber"), []string{"id", "schemas", "userName", bridge.EnterpriseSchema}, func(t *testing.T, r resp) {
			if !reflect.DeepEqual(keys(r.json[bridge.EnterpriseSchema]), []string{"employeeNumber"}) {
				t.Errorf("extension: %v", r.json[bridge.EnterpriseSchema])
			}
		}},
		// An extension attribute is not reachable without its URN.
		{"attributes=employeeNumber", []string{"id", "schemas", "userName"}, nil},
		{"attributes=meta.lastModified,urn:ietf:params:scim:schemas:core:2.0:User:active", []string{"active", "id", "meta", "schemas", "userName"}, nil},
		{"attributes=password", []string{"id", "schemas", "userName"}, nil},
		{"excludedAttributes=emails,name.givenName,meta,userName", []string{"active", "externalId", "id", "name", oktaCustomURN, "schemas", "userName", bridge.EnterpriseSchema}, func(t *testing.T, r resp) {
			if !reflect.DeepEqual(keys(r.json["name"]), []string{"familyName"}) {
				t.Errorf("name: %v", r.json["name"])
			}
		}},
		{"excludedAttributes=" + url.QueryEscape(oktaCustomURN), []string{"active", "emails", "externalId", "id", "meta", "name", "schemas", "userName", bridge.EnterpriseSchema}, nil},
		{"excludedAttributes=emails.type", []string{"active", "emails", "externalId", "id", "meta", "name", oktaCustomURN, "schemas", "userName", bridge.EnterpriseSchema}, func(t *testing.T, r resp) {
			if !reflect.DeepEqual(keys(lookup(r.json, "emails.0")), []string{"primary", "value"}) {
				t.Errorf("emails: %v", r.json["emails"])
			}
		}},
		{"attributes=a..b,,%20,urn:nope:x", []string{"id", "schemas", "userName"}, nil},
	}
	for _, c := range cases {
		for _, path := range []string{"/v2/Users/" + id, "/v2/Users"} {
			r := e.expect(e.do("GET", path+"?"+c.query, nil), 200, c.query)
			if path == "/v2/Users" {
				r.json, _ = lookup(r.json, "Resources.0").(map[string]any)
			}
			sort.Strings(c.want)
			if got := keys(r.json); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s %s:\n got %v\nwant %v", path, c.query, got, c.want)
				continue
			}
			if c.check != nil {
				c.check(t, r)
			}
		}
	}
	if q := e.users.lastQ; !reflect.DeepEqual(q.Attributes, []string{"a..b", "urn:nope:x"}) {
		t.Errorf("attributes not passed to the service as sent: %+v", q)
	}
}

func TestUserNameAlwaysReturned(t *testing.T) {
	rt := userType()
	rt.Schema.Attr("userName").Returned = "default" // as real mapping tables say
	attrs := map[string]any{"userName": "u", "title": "t"}
	for _, sel := range []selection{parseSelection(rt, []string{"title"}, nil), parseSelection(rt, nil, []string{"userName"})} {
		if out := sel.apply(rt, attrs); out["userName"] != "u" {
			t.Errorf("userName dropped: %v", out)
		}
	}
}

func TestSelectionNeverReturnsPassword(t *testing.T) {
	rt := userType()
	attrs := map[string]any{"userName": "u", "password": "p", "PassWord": "p2"}
	for _, sel := range []selection{{}, parseSelection(rt, []string{"password"}, nil), parseSelection(rt, nil, []string{"userName"})} {
		out := sel.apply(rt, attrs)
		if _, ok := out["password"]; ok {
			t.Errorf("password returned: %v", out)
		}
		if _, ok := out["PassWord"]; ok {
			t.Errorf("password returned: %v", out)
		}
	}
}
