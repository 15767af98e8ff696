package mapping

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// TestListAttrsReadTheResource: for every shipped users table, a user read
// with only ListAttrs (what an unfiltered list page asks the directory for)
// maps to the same resource as one read with DirectoryAttrs, and ListAttrs
// leaves out objectClass, which only a write's plan needs.
func TestListAttrsReadTheResource(t *testing.T) {
	for _, tc := range []struct{ file, base string }{
		{"openldap-users.toml", "dc=example,dc=com"},
		{"openldap-okta-users.toml", "dc=example,dc=com"},
		{"ad-users.toml", "DC=example,DC=test"},
		{"openldap-groups.toml", "dc=example,dc=com"},
		{"ad-groups.toml", "DC=example,DC=test"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			tb, err := Load("../conf/examples/"+tc.file, withStandard(Options{BaseDN: tc.base}))
			if err != nil {
				t.Fatal(err)
			}
			list, all := tb.ListAttrs(), tb.DirectoryAttrs()
			if slices.ContainsFunc(list, func(a string) bool { return strings.EqualFold(a, "objectClass") }) {
				t.Errorf("ListAttrs %v names objectClass", list)
			}
			if len(list) != len(all)-1 {
				t.Errorf("ListAttrs %v, DirectoryAttrs %v: want all but objectClass", list, all)
			}
			in := map[string]any{"displayName": "Barbara Jensen"}
			if tb.ResourceType().Name == "User" {
				in = map[string]any{"userName": "bjensen@example.test", "displayName": "Barbara Jensen", "title": "Engineer",
					"name":   map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
					"emails": []any{map[string]any{"value": "bjensen@example.test", "type": "work", "primary": true}}}
			}
			attrs, err := bridge.Normalize(tb.ResourceType(), in)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := tb.NewEntry(context.Background(), bridge.Resource{Attrs: attrs}, taken{vals: map[string]bool{}})
			if err != nil {
				t.Fatal(err)
			}
			full := entryFrom(plan)
			if len(full.Values("objectClass")) == 0 {
				t.Fatal("the planned entry has no objectClass: the test proves nothing")
			}
			listed := &bridge.Entry{ID: full.ID, DN: full.DN, Attrs: map[string][]string{}}
			for k, v := range full.Attrs {
				if slices.ContainsFunc(list, func(a string) bool { return strings.EqualFold(a, k) }) {
					listed.Attrs[k] = v
				}
			}
			want, err := tb.Resource(context.Background(), full, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			got, err := tb.Resource(context.Background(), listed, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read with ListAttrs:\n%v\nwith DirectoryAttrs:\n%v", got, want)
			}
		})
	}
}
