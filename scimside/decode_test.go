package scimside

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
		// Strict input: twins in any case, controls, lone surrogates, schemas.
		`{"Operations":[{"op":"add","path":"title","value":"x"}],"operations":[]}`,
		`{"Operations":[{"op":"add","OP":"remove","path":"title","value":"x"}]}`,
		`{"Operations":[{"op":"add","path":"title","value":"a\u0000b"}]}`,
		`{"Operations":[{"op":"add","path":"addresses[type eq \"work\"].formatted","value":"a\nb"}]}`,
		`{"Operations":[{"op":"add","path":"title\u0001","value":"x"}]}`,
		`{"Operations":[{"op":"add","path":"title","value":"\ud800"}]}`,
		`{"Operations":[{"op":"add","path":"emails[value eq \"\udc00\ud800\"]","value":"x"}]}`,
		`{"schemas":["urn:evil:schema"],"Operations":[{"op":"add","path":"title","value":"x"}]}`,
		`{"schemas":"x","Operations":[{"op":"add","path":"title","value":"x"}]}`,
		`{"a\u0000":1,"Operations":[{"op":"add","path":"title","value":"\ud83d\ude00"}]}`,
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
			switch k := bridge.KindOf(err); k {
			case bridge.KindInvalidSyntax, bridge.KindInvalidValue, bridge.KindInvalidPath, bridge.KindInvalidFilter:
			default:
				t.Fatalf("decode kind %v", k)
			}
			return
		}
		ops, err := v2codec{}.decodePatch(rt, body)
		if err != nil {
			switch bridge.KindOf(err) {
			case bridge.KindInvalidSyntax, bridge.KindInvalidPath, bridge.KindTooMany, bridge.KindInvalidValue:
			default:
				t.Fatalf("patch kind %v: %v", bridge.KindOf(err), err)
			}
			return
		}
		if len(ops) == 0 {
			t.Fatal("no operations and no error")
		}
		// What passed holds no control character outside multi-line text.
		if err := checkOpsText(ops); err != nil {
			t.Fatalf("decodePatch let through: %v", err)
		}
		if _, err := bridge.ApplyPatch(rt, base, ops); err != nil {
			if st := statusOf(err); st.Status != 400 {
				t.Fatalf("ApplyPatch: status %d for %v", st.Status, err)
			}
		}
	})
}

// TestScanJSON: what encoding/json lets through and the raw pass refuses,
// with the kind and the name the message must carry; and what it must let
// pass.
func TestScanJSON(t *testing.T) {
	cases := []struct {
		body string
		kind bridge.Kind // KindInternal: accepted
		name string      // in the message
	}{
		{`{"userName":"a","USERNAME":"b"}`, bridge.KindInvalidSyntax, `"USERNAME"`},
		{`{"userName":"a","user\u004eame":"b"}`, bridge.KindInvalidSyntax, `"userName"`},
		{`{"Operations":[],"operations":[]}`, bridge.KindInvalidSyntax, `"operations"`},
		{`{"name":{"givenName":"a","givenname":"b"}}`, bridge.KindInvalidSyntax, `"name.givenname"`},
		{`{"emails":[{"value":"a","type":"work","Value":"b"}]}`, bridge.KindInvalidSyntax, `"emails.Value"`},
		{`{"Operations":[{"op":"add","OP":"remove","path":"title"}]}`, bridge.KindInvalidSyntax, `"Operations.OP"`},
		{`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"a","Department":"b"}}`, bridge.KindInvalidSyntax, `2.0:User:Department"`},
		// The Kelvin sign folds to k: lookupFold would take it for "kind".
		{`{"kind":"a","\u212aind":"b"}`, bridge.KindInvalidSyntax, `ind"`},
		{`{"a\u0000":"x"}`, bridge.KindInvalidSyntax, "U+0000"},
		{`{"a\nb":"x"}`, bridge.KindInvalidSyntax, "U+000A"},
		{`{"\ud800x":"x"}`, bridge.KindInvalidSyntax, "surrogate"},
		{`{"userName":"\ud800"}`, bridge.KindInvalidValue, `"userName"`},
		{`{"userName":"a\udc00b"}`, bridge.KindInvalidValue, `"userName"`},
		{`{"password":"x\ud83dy"}`, bridge.KindInvalidValue, `"password"`},
		{`{"emails":[{"value":"\ud800\ud800"}]}`, bridge.KindInvalidValue, `"emails.value"`},
		{`{"Operations":[{"op":"add","path":"title\udfff","value":"x"}]}`, bridge.KindInvalidPath, `"Operations.path"`},
		{`{"filter":"userName eq \"\ud800\""}`, bridge.KindInvalidFilter, `"filter"`},
		{`{"schemas":["\udbff"]}`, bridge.KindInvalidValue, `"schemas"`},
		// Accepted: pairs, escaped backslashes before a u, distinct members
		// in different objects, the same name at different levels, many
		// members.
		{`{"displayName":"\ud83d\ude00 \u00e9 \\ud800 \"q\\"}`, bridge.KindInternal, ""},
		{`{"emails":[{"value":"a"},{"value":"b"}],"value":"c","name":{"value":"d"}}`, bridge.KindInternal, ""},
		{`{"a":{"b":{"c":1}},"b":{"a":[1,[2,{"a":3}]]},"c":null,"d":true,"e":-1.5e3}`, bridge.KindInternal, ""},
		{`{"title":"\u001f"}`, bridge.KindInternal, ""}, // values' controls are checkText's, with the attribute known
	}
	for _, c := range cases {
		m, err := decodeJSONObject([]byte(c.body))
		if c.kind == bridge.KindInternal {
			if err != nil || m == nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		if bridge.KindOf(err) != c.kind || !strings.Contains(bridge.SafeMessage(err), c.name) {
			t.Errorf("%s: got %v (%s), want %v naming %s", c.body, bridge.KindOf(err), bridge.SafeMessage(err), c.kind, c.name)
		}
		if strings.Contains(c.body, "password") && strings.Contains(bridge.SafeMessage(err), "x") {
			t.Errorf("%s: the message echoes the password: %s", c.body, bridge.SafeMessage(err))
		}
	}
	// Many members: the check moves to a map and still finds the twin.
	var b strings.Builder
	b.WriteString("{")
	for i := range 200 {
		fmt.Fprintf(&b, `"k%d":1,`, i)
	}
	b.WriteString(`"K150":2}`)
	if _, err := decodeJSONObject([]byte(b.String())); bridge.KindOf(err) != bridge.KindInvalidSyntax || !strings.Contains(bridge.SafeMessage(err), `"K150"`) {
		t.Errorf("200 members with a twin: %v", err)
	}
	if _, err := decodeJSONObject([]byte(strings.Replace(b.String(), `"K150"`, `"K200"`, 1))); err != nil {
		t.Errorf("200 distinct members: %v", err)
	}
}

// TestSchemasAttribute: RFC 7643 §3's schemas, for each codec and message.
func TestSchemasAttribute(t *testing.T) {
	users, groups := userType(), groupType()
	const evil = "urn:evil:schema"
	body := func(schemas any) map[string]any {
		m := map[string]any{"userName": "u", "displayName": "g"}
		if schemas != "-" {
			m["schemas"] = schemas
		}
		return m
	}
	l := func(s ...any) []any { return s }
	cases := []struct {
		name    string
		rt      *bridge.ResourceType
		c       codec
		schemas any
		ok      bool
	}{
		{"v2 core", users, v2codec{}, l(bridge.UserSchema), true},
		{"v2 core, any case", users, v2codec{}, l(strings.ToUpper(bridge.UserSchema)), true},
		{"v2 core and extensions", users, v2codec{}, l(bridge.UserSchema, bridge.EnterpriseSchema, oktaCustomURN), true},
		{"v2 no schemas key", users, v2codec{}, "-", true},
		{"v2 evil only", users, v2codec{}, l(evil), false},
		{"v2 empty", users, v2codec{}, l(), false},
		{"v2 not a list", users, v2codec{}, "notalist", false},
		{"v2 null", users, v2codec{}, nil, false},
		{"v2 number in list", users, v2codec{}, l(bridge.UserSchema, 5.0), false},
		{"v2 core and evil extension", users, v2codec{}, l(bridge.UserSchema, "urn:evil:ext"), false},
		{"v2 extension without core", users, v2codec{}, l(bridge.EnterpriseSchema), false},
		{"v2 the group's core on users", users, v2codec{}, l(bridge.GroupSchema), false},
		{"v2 1.1 core", users, v2codec{}, l(coreURN11), false},
		{"v2 Entra's group URN", groups, v2codec{}, l(bridge.GroupSchema, entraGroupURN), true},
		{"v2 Entra's group URN on users", users, v2codec{}, l(bridge.UserSchema, entraGroupURN), false},
		{"v1 core", users, v1codec{}, l(coreURN11, enterpriseURN11, oktaCustomURN), true},
		{"v1 2.0 names", users, v1codec{}, l(bridge.UserSchema, bridge.EnterpriseSchema), true},
		{"v1 group", groups, v1codec{}, l(coreURN11), true},
		{"v1 no schemas key", users, v1codec{}, "-", true},
		{"v1 evil", users, v1codec{}, l(coreURN11, "urn:okta:other_app:1.0:user:custom"), false},
		{"v1 empty", users, v1codec{}, l(), false},
		{"v1 not a list", users, v1codec{}, coreURN11, false},
		{"v1 enterprise without core", users, v1codec{}, l(enterpriseURN11), false},
	}
	for _, c := range cases {
		_, err := c.c.decodeResource(c.rt, body(c.schemas))
		if c.ok != (err == nil) || err != nil && bridge.KindOf(err) != bridge.KindInvalidSyntax {
			t.Errorf("%s: resource: %v", c.name, err)
		}
		// 1.1 PATCH is a partial resource: the same rule.
		if _, isV1 := c.c.(v1codec); isV1 {
			b := body(c.schemas)
			delete(b, "userName")
			b["title"] = "t"
			_, err := c.c.decodePatch(c.rt, b)
			if c.ok != (err == nil) || err != nil && bridge.KindOf(err) != bridge.KindInvalidSyntax {
				t.Errorf("%s: 1.1 patch: %v", c.name, err)
			}
		}
	}
	if _, err := (v2codec{}).decodeResource(users, body(l(bridge.UserSchema, evil))); !strings.Contains(bridge.SafeMessage(err), evil) {
		t.Errorf("the message does not name the URN: %v", err)
	}

	ops := []any{map[string]any{"op": "replace", "path": "title", "value": "x"}}
	patch := func(schemas any) map[string]any {
		m := map[string]any{"Operations": ops}
		if schemas != "-" {
			m["schemas"] = schemas
		}
		return m
	}
	for _, c := range []struct {
		name    string
		c       codec
		schemas any
		ok      bool
	}{
		{"PatchOp", v2codec{}, l(patchOpURN), true},
		{"no schemas", v2codec{}, "-", true},
		{"core", v2codec{}, l(bridge.UserSchema), false},
		{"PatchOp and evil", v2codec{}, l(patchOpURN, evil), false},
		{"empty", v2codec{}, l(), false},
		{"string", v2codec{}, patchOpURN, false},
		{"1.1 with PatchOp", v1codec{}, l(patchOpURN), true},
		{"1.1 with its core", v1codec{}, l(coreURN11), true},
		{"1.1 evil", v1codec{}, l(evil), false},
	} {
		_, err := c.c.decodePatch(users, patch(c.schemas))
		if c.ok != (err == nil) || err != nil && bridge.KindOf(err) != bridge.KindInvalidSyntax {
			t.Errorf("patch %s: %v", c.name, err)
		}
	}
	for _, c := range []struct {
		schemas any
		ok      bool
	}{{l(searchURN), true}, {"-", true}, {l(patchOpURN), false}, {l(), false}, {searchURN, false}} {
		b := map[string]any{"filter": `userName eq "a"`}
		if c.schemas != "-" {
			b["schemas"] = c.schemas
		}
		if _, err := (v2codec{}).decodeSearch(b); c.ok != (err == nil) {
			t.Errorf("search %v: %v", c.schemas, err)
		}
	}
}

// TestControlCharacters: C0 controls in values are invalidValue naming the
// attribute (never the value); TAB, LF and CR only in multi-line text; in
// filters invalidFilter, in PATCH paths invalidPath.
func TestControlCharacters(t *testing.T) {
	users, groups := userType(), groupType()
	for _, c := range []struct {
		body map[string]any
		rt   *bridge.ResourceType
		name string // "": accepted
	}{
		{map[string]any{"userName": "a\x00b"}, users, `"userName"`},
		{map[string]any{"userName": "a\tb"}, users, `"userName"`},
		{map[string]any{"password": "se\x01cret"}, users, `"password"`},
		{map[string]any{"name": map[string]any{"familyName": "x\ny"}}, users, `"name.familyName"`},
		{map[string]any{"emails": []any{map[string]any{"value": "a@b\r"}}}, users, `"emails.value"`},
		{map[string]any{bridge.EnterpriseSchema: map[string]any{"department": "\x1f"}}, users, "department"},
		{map[string]any{"addresses": []any{map[string]any{"formatted": "1 Main St\x00"}}}, users, `"addresses.formatted"`},
		{map[string]any{"addresses": []any{map[string]any{"formatted": "1 Main St\r\nSpringfield\tUSA", "streetAddress": "1 Main St"}}}, users, ""},
		{map[string]any{"addresses": []any{map[string]any{"streetAddress": "1 Main St\nx"}}}, users, `"addresses.streetAddress"`},
		{map[string]any{"name": map[string]any{"formatted": "A\nB"}}, users, `"name.formatted"`},
		{map[string]any{"displayName": "g", "urn:okta:custom:group:1.0": map[string]any{"description": "line 1\nline 2"}}, groups, ""},
		{map[string]any{"userName": "Zoë \u2028 é \x7f"}, users, ""},
	} {
		for _, cd := range []codec{v2codec{}, v1codec{}} {
			_, err := cd.decodeResource(c.rt, c.body)
			if c.name == "" {
				if err != nil {
					t.Errorf("%T %v: %v", cd, c.body, err)
				}
				continue
			}
			msg := bridge.SafeMessage(err)
			if bridge.KindOf(err) != bridge.KindInvalidValue || !strings.Contains(msg, c.name) || strings.Contains(msg, "cret") || strings.Contains(msg, "Main") {
				t.Errorf("%T %v: %v %q", cd, c.body, bridge.KindOf(err), msg)
			}
		}
	}
	patch := func(op map[string]any) map[string]any { return map[string]any{"Operations": []any{op}} }
	for _, c := range []struct {
		body map[string]any
		kind bridge.Kind // KindInternal: accepted
	}{
		{patch(map[string]any{"op": "replace", "path": "title", "value": "a\x00"}), bridge.KindInvalidValue},
		{patch(map[string]any{"op": "replace", "value": map[string]any{"name.givenName": "a\nb"}}), bridge.KindInvalidValue},
		{patch(map[string]any{"op": "replace", "value": map[string]any{"addresses.formatted": "a\nb"}}), bridge.KindInternal},
		{patch(map[string]any{"op": "add", "path": `addresses[type eq "work"].formatted`, "value": "a\nb"}), bridge.KindInternal},
		{patch(map[string]any{"op": "add", "path": "addresses", "value": []any{map[string]any{"formatted": "a\nb", "locality": "c\nd"}}}), bridge.KindInvalidValue},
		{patch(map[string]any{"op": "replace", "path": "title\x00", "value": "a"}), bridge.KindInvalidPath},
		{patch(map[string]any{"op": "replace", "path": "ti\ttle", "value": "a"}), bridge.KindInvalidPath},
		{patch(map[string]any{"op": "replace", "path": "emails[value eq \"a\x01\"].type", "value": "a"}), bridge.KindInvalidPath},
		{patch(map[string]any{"op": "replace", "path": `emails[value eq "a\u0001"].type`, "value": "a"}), bridge.KindInvalidPath},
		{patch(map[string]any{"op": "replace", "path": `emails[value eq "\ud800"].type`, "value": "a"}), bridge.KindInvalidPath},
		{map[string]any{"active": "\x00"}, bridge.KindInvalidValue}, // 1.1 only
		{map[string]any{"meta": map[string]any{"attributes": []any{"title\x00"}}}, bridge.KindInvalidPath},
	} {
		for _, cd := range []codec{v2codec{}, v1codec{}} {
			if _, ok := c.body["Operations"]; !ok {
				if _, v1 := cd.(v1codec); !v1 {
					continue
				}
			}
			_, err := cd.decodePatch(users, c.body)
			if c.kind == bridge.KindInternal && err != nil || c.kind != bridge.KindInternal && bridge.KindOf(err) != c.kind {
				t.Errorf("%T %v: %v, want %v", cd, c.body, err, c.kind)
			}
		}
	}
	for _, c := range []struct {
		filter string
		ok     bool
	}{
		{"userName eq \"\xff\"", false},
		{"userName eq \xff", false},
		{"userName eq \"a\x00\"", false},
		{"userName eq a\x00", false},
		{"userName\x1feq \"a\"", false},
		{`userName eq "a\u0000"`, false},
		{`userName eq "a\b"`, false},
		{`userName eq "\ud800"`, false},
		{`userName eq "\udc00\ud800"`, false},
		{`userName eq "\ud83d\ude00"`, true},
		{`userName eq "a\nb"`, true}, // a JSON escape: the value may be multi-line text
		{"userName eq \"a\"\tand\ndisplayName pr", true},
	} {
		_, err := parseFilter(users, c.filter)
		if c.ok != (err == nil) || err != nil && bridge.KindOf(err) != bridge.KindInvalidFilter {
			t.Errorf("filter %q: %v", c.filter, err)
		}
	}
	for _, q := range []string{"filter=userName+eq+%22%FF%22", "filter=userName%20eq%20%22a%00%22", "filter=userName%20eq%20%22a%0Ab%22"} {
		lp, err := listParamsFromQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseFilter(users, lp.filter); bridge.KindOf(err) != bridge.KindInvalidFilter {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// A typical user body as Okta or Entra posts it, about 2 KB.
func typicalUserBody() []byte {
	u := map[string]any{
		"schemas":     []string{bridge.UserSchema, bridge.EnterpriseSchema},
		"externalId":  "00u1a2b3c4d5e6f7g8h9",
		"userName":    "jane.doe@example.com",
		"name":        map[string]any{"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe", "middleName": "Q"},
		"displayName": "Jane Doe", "nickName": "JD", "title": "Senior Engineer", "locale": "en-US", "timezone": "Europe/Berlin",
		"preferredLanguage": "en-US", "userType": "Employee", "active": true, "password": "Sup3r-Secret-Pa55word!",
		"emails": []any{map[string]any{"primary": true, "value": "jane.doe@example.com", "type": "work"},
			map[string]any{"primary": false, "value": "jane@home.example.org", "type": "home"}},
		"phoneNumbers": []any{map[string]any{"value": "+49 30 1234567", "type": "work"}, map[string]any{"value": "+49 170 7654321", "type": "mobile"}},
		"addresses": []any{map[string]any{"type": "work", "streetAddress": "Unter den Linden 1", "locality": "Berlin", "postalCode": "10117",
			"country": "DE", "formatted": "Unter den Linden 1\n10117 Berlin\nDE", "primary": true}},
		"meta":  map[string]any{"resourceType": "User"},
		"roles": []any{}, "groups": []any{},
		bridge.EnterpriseSchema: map[string]any{"employeeNumber": "100234", "costCenter": "CC-4711", "organization": "Example GmbH",
			"division": "Platform", "department": "Identity & Access", "manager": map[string]any{"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
		oktaCustomURN: map[string]any{"departmentName": "Identity & Access Management (IAM), Platform Engineering, Berlin"},
	}
	b, _ := json.MarshalIndent(u, "", "  ")
	return b
}

// BenchmarkDecodeUserBody: the whole of decodeJSONObject on a typical user
// body, and the raw pass alone; compare the two for the pass's share.
func BenchmarkDecodeUserBody(b *testing.B) {
	data := typicalUserBody()
	benchDecodeAndScan(b, data)
	b.Run("decodeResource", func(b *testing.B) {
		m, _ := decodeJSONObject(data)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := (v2codec{}).decodeResource(userType(), m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchDecodeAndScan measures decodeJSONObject on data and its raw pass
// alone: the pass's share is the second over the first.
func benchDecodeAndScan(b *testing.B, data []byte) {
	b.Run("decodeJSONObject", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeJSONObject(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scanJSON", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if err := scanJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodePatch10000: a PATCH of the most operations allowed.
func BenchmarkDecodePatch10000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"schemas":["` + patchOpURN + `"],"Operations":[`)
	for i := range maxPatchOps {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"op":"Add","path":"members","value":[{"value":"%08d-6090-4610-87e4-49d8ca9f808d","display":"User %d"}]}`, i, i)
	}
	sb.WriteString("]}")
	data := []byte(sb.String())
	benchDecodeAndScan(b, data)
	b.Run("decodePatch", func(b *testing.B) {
		m, _ := decodeJSONObject(data)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := (v2codec{}).decodePatch(groupType(), m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzScanJSON holds the raw pass to a reference built on json.Decoder's
// tokens: on any JSON object it finds a member twice (under EqualFold)
// exactly when the reference does.
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"A":2}`, `{"a":{"b":1},"b":[{"a":1,"a\"":2}]}`, `{"\\":1,"\\\\":2,"\\u005c":3}`,
		`{"k":1,"\u212a":2}`, `{"x":"\"}\"","X":"{"}`, `{"a":[1,{"a":[]},"a"],"b":{"":1,"":2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<14 {
			return
		}
		var v map[string]any
		if json.Unmarshal(data, &v) != nil || !utf8.Valid(data) {
			return
		}
		err := scanJSON(data)
		if err != nil && bridge.KindOf(err) == bridge.KindInternal {
			t.Fatalf("kind %v", err)
		}
		gotDup := err != nil && strings.Contains(bridge.SafeMessage(err), "more than once")
		if err != nil && !gotDup {
			return // a control character or a lone surrogate came first
		}
		if dup := refDuplicate(data); gotDup != dup {
			t.Fatalf("%q: scanJSON %v, reference duplicate %v", data, err, dup)
		}
	})
}

// refDuplicate walks data with json.Decoder and reports a member name
// repeated in one object.
func refDuplicate(data []byte) bool {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	type frame struct {
		obj     bool
		wantKey bool
		seen    []string
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch x := tok.(type) {
		case json.Delim:
			if x == '{' || x == '[' {
				if top != nil && top.obj {
					top.wantKey = true
				}
				stack = append(stack, &frame{obj: x == '{', wantKey: x == '{'})
				continue
			}
			stack = stack[:len(stack)-1]
			continue
		case string:
			if top != nil && top.obj && top.wantKey {
				for _, k := range top.seen {
					if strings.EqualFold(k, x) {
						return true
					}
				}
				top.seen = append(top.seen, x)
				top.wantKey = false
				continue
			}
		}
		if top != nil && top.obj {
			top.wantKey = true
		}
	}
}
