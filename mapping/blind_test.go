package mapping

import (
	"context"
	"slices"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// TestBlindChanges: which requests the shipped users table plans without
// the entry's values, and that such a plan is all replaces, of exactly the
// rows the given attributes feed.
func TestBlindChanges(t *testing.T) {
	tb := loadExample(t)
	ctx := context.Background()
	cur := &bridge.Entry{ID: "3eaab4ce-82ca-1041-88a6-53d2ccc983d0", DN: "uid=jdoe,ou=people,dc=example,dc=com",
		Attrs: map[string][]string{"uid": {"jdoe"}}}
	core := bridge.UserSchema
	ent := "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	given := func(keys ...string) map[string]bool {
		m := map[string]bool{}
		for _, k := range keys {
			m[k] = true
		}
		return m
	}
	attrs := func(p *bridge.EntryPlan) []string {
		var out []string
		for _, c := range p.Changes {
			if c.Op != bridge.ChangeReplace {
				t.Fatalf("a blind plan has %+v", c)
			}
			out = append(out, c.Attr)
		}
		return out
	}
	full := map[string]any{"userName": "jdoe", "name": map[string]any{"givenName": "J", "familyName": "Doe"}, "title": "T"}
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		given map[string]bool
		ok    bool
		want  []string // directory attributes replaced (PATCH), or some of them (PUT)
	}{
		{"PATCH title", map[string]any{"title": "Eng"}, given(bridge.BlindKey(core, "title", "")), true, []string{"title"}},
		{"PATCH remove title", map[string]any{}, given(bridge.BlindKey(core, "title", "")), true, []string{"title"}},
		{"PATCH enterprise department", map[string]any{ent: map[string]any{"department": "R&D"}},
			given(bridge.BlindKey(ent, "department", "")), true, []string{"departmentNumber"}},
		{"PATCH active only", map[string]any{"active": false}, given(bridge.BlindKey(core, "active", "")), true, nil},
		// cn's template reads familyName and displayName too.
		{"PATCH givenName", map[string]any{"name": map[string]any{"givenName": "X"}}, given(bridge.BlindKey(core, "name", "givenName")), false, nil},
		{"PATCH displayName", map[string]any{"displayName": "X"}, given(bridge.BlindKey(core, "displayName", "")), false, nil},
		{"PATCH userName to another (a rename)", map[string]any{"userName": "other"}, given(bridge.BlindKey(core, "userName", "")), false, nil},
		// sn's and cn's last template is the userName.
		{"PATCH userName unchanged", map[string]any{"userName": "jdoe"}, given(bridge.BlindKey(core, "userName", "")), false, nil},
		// The manager row reads the whole complex attribute.
		{"PATCH manager.value", map[string]any{ent: map[string]any{"manager": map[string]any{"value": "x"}}},
			given(bridge.BlindKey(ent, "manager", "value")), false, nil},
		{"PUT", full, nil, true, []string{"uid", "cn", "sn", "givenName", "title", "mail", "telephoneNumber", "employeeNumber", "manager"}},
		{"PUT renaming", map[string]any{"userName": "other", "name": map[string]any{"familyName": "Doe"}}, nil, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, ok, err := tb.BlindChanges(ctx, cur, bridge.Resource{ID: cur.ID, Attrs: tc.attrs, Patched: tc.given != nil}, tc.given, nil)
			if err != nil || ok != tc.ok {
				t.Fatalf("ok %t err %v, want ok %t", ok, err, tc.ok)
			}
			if !ok {
				return
			}
			got := attrs(plan)
			if tc.given != nil && !slices.Equal(got, tc.want) {
				t.Fatalf("replaces %v, want %v", got, tc.want)
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("a PUT does not replace %s: %v", w, got)
				}
			}
			if tc.given == nil && slices.Contains(got, "description") {
				t.Errorf("a PUT without externalId replaces description (owner = both: kept): %v", got)
			}
		})
	}
}
