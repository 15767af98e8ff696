package scimside

import (
	"fmt"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

func TestDecodePatch(t *testing.T) {
	rt := userType()
	c := v2codec{}
	cases := []struct {
		body string
		want string // fmt of the ops
	}{
		{`{"schemas":["` + patchOpURN + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
			`[{replace <nil> map[active:false]}]`},
		{`{"operations":[{"OP":"Add","PATH":"emails[type eq \"work\"].value","VALUE":"x"}]}`,
			`[{add emails[type eq "work"].value x}]`},
		{`{"Operations":[{"op":"Remove","path":"members[value eq \"u1\"]"}]}`,
			`[{remove members[value eq "u1"] <nil>}]`},
		{`{"Operations":[{"op":"remove","path":"","value":null}]}`, `[{remove <nil> <nil>}]`},
		{`{"Operations":[{"op":"replace","path":null,"value":{"name.givenName":"X"}}]}`, `[{replace <nil> map[name.givenName:X]}]`},
		{`{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}]}`,
			`[{replace urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager }]`},
		// A whole extension as the path.
		{`{"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"department":"X"}}]}`,
			`[{add <nil> map[urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:map[department:X]]}]`},
		{`{"Operations":[{"op":"remove","path":"urn:okta:onprem_app:1.0:user:custom"}]}`,
			`[{remove urn:okta:onprem_app:1.0:user:custom:departmentName <nil>} {remove urn:okta:onprem_app:1.0:user:custom:costCenter <nil>}]`},
		{`{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User","value":{"title":"X"}}]}`,
			`[{replace <nil> map[title:X]}]`},
	}
	for _, cs := range cases {
		body, err := decodeJSONObject([]byte(cs.body))
		if err != nil {
			t.Fatalf("%s: %v", cs.body, err)
		}
		ops, err := c.decodePatch(rt, body)
		if err != nil {
			t.Errorf("%s: %v", cs.body, err)
			continue
		}
		var got []string
		for _, o := range ops {
			p := "<nil>"
			if o.Path != nil {
				p = o.Path.String()
			}
			got = append(got, fmt.Sprintf("{%s %s %v}", o.Op, p, o.Value))
		}
		if s := fmt.Sprintf("%v", got); s != cs.want {
			t.Errorf("%s:\n got %s\nwant %s", cs.body, s, cs.want)
		}
	}
}

// FuzzDecodePatch: any body gives operations or a 4xx kind, and the
// operations never make bridge.ApplyPatch panic.
func FuzzDecodePatch(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"Operations":[{"op":"Add","path":"emails[type eq \"work\"].value","value":"a@b"}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"1"},{"value":"2"}]}]}`,
		`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"Operations":[{"op":"replace","value":{"name.givenName":"X","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"7"}}]}`,
		`{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"value":"m"}]}]}`,
		`{"Operations":[{"op":"remove","path":"urn:okta:onprem_app:1.0:user:custom"}]}`,
		`{"Operations":[{"op":"add","path":"phoneNumbers[type eq \"mobile\" and primary eq true]","value":{"value":"1"}}]}`,
		`{"Operations":[]}`, `[]`, `{`, "\xff",
	} {
		f.Add([]byte(s))
	}
	rt := userType()
	base := bridge.Resource{ID: "u1", Attrs: map[string]any{
		"userName": "u", "active": true, "name": map[string]any{"givenName": "G"},
		"emails":                map[string]any{"value": "a@x", "type": "work"},
		bridge.EnterpriseSchema: map[string]any{"manager": map[string]any{"value": "m"}},
	}, Meta: bridge.Meta{Created: time.Unix(0, 0)}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		body, err := decodeJSONObject(data)
		if err != nil {
			if k := bridge.KindOf(err); k != bridge.KindInvalidSyntax {
				t.Fatalf("decode kind %v", k)
			}
			return
		}
		ops, err := v2codec{}.decodePatch(rt, body)
		if err != nil {
			switch bridge.KindOf(err) {
			case bridge.KindInvalidSyntax, bridge.KindInvalidPath, bridge.KindTooMany:
			default:
				t.Fatalf("patch kind %v: %v", bridge.KindOf(err), err)
			}
			return
		}
		if len(ops) == 0 {
			t.Fatal("no operations and no error")
		}
		if _, err := bridge.ApplyPatch(rt, base, ops); err != nil {
			if st := statusOf(err); st.Status != 400 {
				t.Fatalf("ApplyPatch: status %d for %v", st.Status, err)
			}
		}
	})
}
