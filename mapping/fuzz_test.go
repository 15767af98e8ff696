package mapping

import (
	"context"
	"encoding/json"
	"math/rand"
	"os"
	"reflect"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// FuzzParse: no table text makes the loader panic, and a table it accepts
// can map an empty and a minimal resource without panicking.
func FuzzParse(f *testing.F) {
	for _, p := range []string{exampleUsers} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(string(data))
		}
	}
	f.Add(ownersTable)
	f.Add(groupsTable)
	f.Add(head + "[[attribute]]\nscim = 'emails[type eq \"w\"].value'\nldap = \"mail\"\n")
	f.Add("resource = \"User\"\nrdn = \"uid={{.userName}}{{range .emails}}{{.}}{{end}}\"")
	f.Fuzz(func(t *testing.T, src string) {
		tb, err := Parse("f.toml", []byte(src), withStandard(Options{BaseDN: "dc=x"}))
		if err != nil {
			if tb != nil {
				t.Fatal("a table and an error")
			}
			return
		}
		ctx := context.Background()
		for _, attrs := range []map[string]any{{}, {"userName": "u", "displayName": "d", "name": map[string]any{"familyName": "f"}}} {
			plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: attrs}, newRefs())
			if err != nil {
				continue
			}
			e := entryFrom(plan)
			r, err := tb.Resource(ctx, e, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			if p, err := tb.Changes(ctx, e, r, newRefs()); err == nil && !p.Empty() {
				t.Fatalf("Changes(e, Resource(e)) = %s", changesString(p))
			}
		}
	})
}

// FuzzChanges drives the example table with resources built from the fuzz
// input: no panic, and the round-trip invariants hold.
func FuzzChanges(f *testing.F) {
	f.Add(int64(1), `{"userName":"a"}`)
	f.Add(int64(2), `{"userName":" #x, ","name":{"familyName":"\u0000"},"emails":[{"value":"A"},{"value":"a","primary":true}]}`)
	f.Add(int64(3), `{"phoneNumbers":"x","addresses":[{"type":"work","formatted":"$\\24"}]}`)
	tb := loadExample(f)
	rt := tb.ResourceType()
	f.Fuzz(func(t *testing.T, seed int64, body string) {
		ctx := context.Background()
		var raw map[string]any
		if json.Unmarshal([]byte(body), &raw) != nil {
			raw = map[string]any{}
		}
		// Mix the fuzzer's body with a generated user, so that both
		// arbitrary shapes and full users are exercised.
		u := randUser(rand.New(rand.NewSource(seed)))
		for k, v := range raw {
			u[k] = v
		}
		attrs, err := bridge.Normalize(rt, u)
		if err != nil {
			return
		}
		plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: attrs}, newRefs())
		if err != nil {
			if bridge.KindOf(err) != bridge.KindInvalidValue {
				t.Fatalf("NewEntry: %v", err)
			}
			return
		}
		if _, err := bridge.ParseDN(plan.DN); err != nil {
			t.Fatalf("DN %q does not parse", plan.DN)
		}
		e := entryFrom(plan)
		r, err := tb.Resource(ctx, e, newRefs())
		if err != nil {
			t.Fatal(err)
		}
		p, err := tb.Changes(ctx, e, r, newRefs())
		if err != nil || !p.Empty() {
			t.Fatalf("Changes(e, Resource(e)) = %s, %v", changesString(p), err)
		}
		// Writing back what was read creates the same entry.
		plan2, err := tb.NewEntry(ctx, r, newRefs())
		if err != nil {
			t.Fatal(err)
		}
		if plan2.DN != plan.DN || !reflect.DeepEqual(plan2.Attrs, plan.Attrs) {
			t.Fatalf("NewEntry(Resource(NewEntry(r))) differs:\n%v\n%v", plan.Attrs, plan2.Attrs)
		}
	})
}
