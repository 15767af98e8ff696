package mapping

import (
	"context"
	"reflect"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// RFC 7643 §4.1.1 requires nothing of a user but its userName (§8.1 shows
// such a user), and Entra sends rooms and service accounts that way. Every
// shipped users table must make a whole entry of it, and read it back as
// sent: the values the directory's schema needed (sn, cn, the AD logon
// names) are derived, and not shown as if the client had sent them.
func TestMinimalUserOnEveryShippedTable(t *testing.T) {
	tables := []struct {
		file, base string
		userName   string            // "" is minimal1@example.com
		want       map[string]string // directory attribute → value
	}{
		{"openldap-users.toml", "dc=example,dc=com", "", map[string]string{"uid": "minimal1@example.com", "sn": "minimal1@example.com", "cn": "minimal1@example.com"}},
		{"openldap-okta-users.toml", "dc=example,dc=com", "", map[string]string{"uid": "minimal1@example.com", "sn": "minimal1@example.com", "cn": "minimal1@example.com"}},
		// example.com is no UPN suffix of the forest example.test: the UPN
		// is derived and the userName kept beside it.
		{"ad-users.toml", "DC=example,DC=test", "", map[string]string{"msDS-cloudExtensionAttribute19": "minimal1@example.com", "sAMAccountName": "minimal1",
			"userPrincipalName": "minimal1@example.test", "cn": "minimal1@example.com"}},
		// A UPN of the forest is the UPN, as it is.
		{"ad-users.toml", "DC=example,DC=test", "Minimal1.7@Example.Test", map[string]string{"sAMAccountName": "minimal1.7",
			"userPrincipalName": "Minimal1.7@Example.Test", "cn": "Minimal1.7@Example.Test"}},
	}
	for _, tc := range tables {
		if tc.userName == "" {
			tc.userName = "minimal1@example.com"
		}
		t.Run(tc.file+"/"+tc.userName, func(t *testing.T) {
			tb, err := Load("../conf/examples/"+tc.file, withStandard(Options{BaseDN: tc.base}))
			if err != nil {
				t.Fatal(err)
			}
			in := map[string]any{"userName": tc.userName}
			attrs, err := bridge.Normalize(tb.ResourceType(), in)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := tb.NewEntry(context.Background(), bridge.Resource{Attrs: attrs}, taken{vals: map[string]bool{}})
			if err != nil {
				t.Fatalf("NewEntry of a userName-only user: %v", err)
			}
			if _, ok := tc.want["msDS-cloudExtensionAttribute19"]; !ok && len(attrsFold(plan.Attrs, "msDS-cloudExtensionAttribute19")) > 0 {
				t.Errorf("a userName that is the UPN is also kept in msDS-cloudExtensionAttribute19")
			}
			for k, v := range tc.want {
				if got := attrsFold(plan.Attrs, k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			e := entryFrom(plan)
			got, err := tb.Resource(context.Background(), e, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Attrs, in) {
				t.Errorf("read back %v, want %v", got.Attrs, in)
			}
			if ch, err := tb.Changes(context.Background(), e, got, newRefs()); err != nil || !ch.Empty() {
				t.Errorf("Changes(e, Resource(e)) = %+v, %v", ch, err)
			}
			// A family name sent later is stored and shown; removing it
			// again derives sn once more.
			withName := bridge.Resource{Attrs: map[string]any{"userName": tc.userName, "name": map[string]any{"familyName": "Jensen"}}}
			ch, err := tb.Changes(context.Background(), e, withName, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			e2 := apply(e, ch)
			got2, _ := tb.Resource(context.Background(), e2, newRefs())
			if n, _ := got2.Attrs["name"].(map[string]any); n["familyName"] != "Jensen" {
				t.Errorf("after a PUT with familyName Jensen: %v", got2.Attrs)
			}
		})
	}
}

// A family name that happens to equal the display name is kept when the
// computed cn shows it was sent.
func TestFamilyNameEqualToDisplayNameIsKept(t *testing.T) {
	tb := loadExample(t)
	in := map[string]any{"userName": "js", "displayName": "Smith", "name": map[string]any{"givenName": "John", "familyName": "Smith"}}
	plan, err := tb.NewEntry(context.Background(), bridge.Resource{Attrs: in}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	got, err := tb.Resource(context.Background(), entryFrom(plan), newRefs())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := got.Attrs["name"].(map[string]any)
	if n["familyName"] != "Smith" || n["formatted"] != "John Smith" {
		t.Errorf("name read back %v", n)
	}
}

// RFC 7644 §3.5.2.2: a PATCH remove unassigns the attribute whoever owns
// it; only a PUT that omits an owner = "both" attribute keeps it (Okta's
// agent does not resend every attribute).
func TestPatchedRemoveOfBothOwnedAttribute(t *testing.T) {
	tb := loadExample(t)
	in := map[string]any{"userName": "js", "externalId": "00u1", "name": map[string]any{"familyName": "Smith"}}
	plan, err := tb.NewEntry(context.Background(), bridge.Resource{Attrs: in}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	e := entryFrom(plan)
	without := map[string]any{"userName": "js", "name": map[string]any{"familyName": "Smith"}}
	put, err := tb.Changes(context.Background(), e, bridge.Resource{Attrs: without}, newRefs())
	if err != nil || !put.Empty() {
		t.Fatalf("a PUT without externalId: %+v, %v; want it kept", put, err)
	}
	patch, err := tb.Changes(context.Background(), e, bridge.Resource{Attrs: without, Patched: true}, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	if len(patch.Changes) != 1 || patch.Changes[0].Attr != "description" || len(patch.Changes[0].Values) != 0 {
		t.Fatalf("a PATCH that removed externalId: %+v; want description removed", patch.Changes)
	}
}
