package mapping

import (
	"context"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// The round-trip property, over the example table:
//
//  1. Resource(entry of NewEntry(r)) equals project(Normalize(r)): the
//     resource restricted to what the table stores, as the table's comments
//     promise (values trimmed, the primary email first, one value per phone
//     type, name.formatted showing the computed cn, ...). project is written
//     from the table's documentation, not from the code under test.
//  2. Changes(e, Resource(e)) is empty.
//  3. Updating e1 (made from r1) to r2 and reading back gives project(r2),
//     except that externalId (owner "both") survives an r2 without one.

var fragments = []string{
	"a", "b", "Zed", "o'", "Ö", "é", "日本", "😀", ",", "+", `"`, `\`, "#", " ", "=", "<", ">", ";", "*", "(", ")",
	"$", "\n", "x y", "-", ".", "@", "Σ",
}

func randString(rng *rand.Rand) string {
	var b strings.Builder
	n := 1 + rng.Intn(5)
	for i := 0; i < n; i++ {
		b.WriteString(fragments[rng.Intn(len(fragments))])
	}
	s := b.String()
	if strings.TrimSpace(s) == "" {
		s += "q"
	}
	// Pad now and then: the table trims.
	switch rng.Intn(4) {
	case 0:
		s = " " + s
	case 1:
		s += "  "
	}
	return s
}

func maybe(rng *rand.Rand) bool { return rng.Intn(3) > 0 }

var phoneTypes = []string{"work", "mobile", "fax", "home", "other", "WORK"}
var addrTypes = []string{"work", "home", "other", "Work"}

func randUser(rng *rand.Rand) map[string]any {
	u := map[string]any{"userName": randString(rng)}
	name := map[string]any{}
	if maybe(rng) {
		name["givenName"] = randString(rng)
	}
	if rng.Intn(4) > 0 {
		name["familyName"] = randString(rng)
	}
	if maybe(rng) {
		name["formatted"] = randString(rng)
	}
	u["name"] = name
	for _, k := range []string{"displayName", "title", "userType", "preferredLanguage", "externalId", "nickName"} {
		if maybe(rng) {
			u[k] = randString(rng)
		}
	}
	if maybe(rng) {
		var emails []any
		n := rng.Intn(4)
		prim := rng.Intn(n + 1)
		for i := 0; i < n; i++ {
			e := map[string]any{"value": randString(rng), "type": []string{"work", "home", "primary"}[rng.Intn(3)]}
			if i == prim {
				e["primary"] = true
			}
			emails = append(emails, e)
		}
		u["emails"] = emails
	}
	if maybe(rng) {
		var phones []any
		for i := rng.Intn(5); i > 0; i-- {
			phones = append(phones, map[string]any{"value": randString(rng), "type": phoneTypes[rng.Intn(len(phoneTypes))]})
		}
		u["phoneNumbers"] = phones
	}
	if maybe(rng) {
		var addrs []any
		for i := rng.Intn(3); i > 0; i-- {
			a := map[string]any{"type": addrTypes[rng.Intn(len(addrTypes))]}
			for _, s := range []string{"streetAddress", "locality", "region", "postalCode", "country", "formatted"} {
				if maybe(rng) {
					a[s] = randString(rng)
				}
			}
			addrs = append(addrs, a)
		}
		u["addresses"] = addrs
	}
	ent := map[string]any{}
	for _, k := range []string{"employeeNumber", "department", "organization", "division", "costCenter"} {
		if maybe(rng) {
			ent[k] = randString(rng)
		}
	}
	if maybe(rng) {
		ent["manager"] = []any{"mgr-1", map[string]any{"value": "mgr-2"}}[rng.Intn(2)]
	}
	u[bridge.EnterpriseSchema] = ent
	return u
}

// project is what the example table stores of a normalized user, as its
// documentation describes.
func project(in map[string]any) map[string]any {
	out := map[string]any{}
	trim := func(v any) string { s, _ := v.(string); return strings.TrimSpace(s) }
	set := func(m map[string]any, k string, v any) {
		if s := trim(v); s != "" {
			m[k] = s
		}
	}
	for _, k := range []string{"userName", "externalId", "userType", "displayName", "title", "preferredLanguage"} {
		set(out, k, in[k])
	}
	name := map[string]any{}
	n, _ := in["name"].(map[string]any)
	set(name, "givenName", n["givenName"])
	// sn is the family name, else the display name, else the userName; a
	// derived sn is not read back as a family name, and neither is one sent
	// that equals what would have been derived.
	derived := trim(in["displayName"])
	if derived == "" {
		derived = trim(in["userName"])
	}
	collapse := func(v any) string { s, _ := v.(string); return strings.Join(strings.Fields(s), " ") }
	cnOf := func(family string) string {
		cn := collapse(trim(n["givenName"]) + " " + family)
		if cn == "" {
			cn = collapse(in["displayName"])
		}
		if cn == "" {
			cn = collapse(in["userName"])
		}
		return cn
	}
	f := trim(n["familyName"])
	cn := cnOf(f)
	// Unless the cn shows that the family name was there.
	if f != derived || cn != cnOf("") {
		set(name, "familyName", f)
	}
	// name.formatted shows cn only when it was made of name parts.
	if _, hasFamily := name["familyName"]; hasFamily || trim(n["givenName"]) != "" {
		name["formatted"] = cn
	}
	if len(name) > 0 {
		out["name"] = name
	}

	// Emails: primary first, trimmed, duplicates (ignoring case) once.
	var emails []any
	var seen []string
	list, _ := in["emails"].([]any)
	for pass := 0; pass < 2; pass++ {
		for _, it := range list {
			m := it.(map[string]any)
			if (m["primary"] == true) != (pass == 0) {
				continue
			}
			v := trim(m["value"])
			if v == "" || hasFold(seen, v) {
				continue
			}
			seen = append(seen, v)
			emails = append(emails, map[string]any{"value": v, "type": "work"})
		}
	}
	if len(emails) > 0 {
		emails[0].(map[string]any)["primary"] = true
		out["emails"] = emails
	}

	// Typed values: per mapped type, in the table's order, the first value
	// of that type that has the sub-attribute.
	typed := func(attr string, types []string, subs []string) {
		items, _ := in[attr].([]any)
		var res []any
		for _, typ := range types {
			got := map[string]any{}
			for _, sub := range subs {
				for _, it := range items {
					m := it.(map[string]any)
					if !strings.EqualFold(trim(m["type"]), typ) {
						continue
					}
					if _, ok := m[sub]; ok {
						set(got, sub, m[sub])
						break
					}
				}
			}
			if len(got) > 0 {
				got["type"] = typ
				res = append(res, got)
			}
		}
		if len(res) > 0 {
			out[attr] = res
		}
	}
	typed("phoneNumbers", []string{"work", "mobile", "fax", "home"}, []string{"value"})
	// The work address's rows come before the home one's; formatted keeps
	// its inner text (postal is reversible) but is not trimmed.
	items, _ := in["addresses"].([]any)
	var addrs []any
	for _, typ := range []string{"work", "home"} {
		subs := []string{"streetAddress", "locality", "region", "postalCode", "formatted"}
		if typ == "home" {
			subs = []string{"formatted"}
		}
		got := map[string]any{}
		for _, sub := range subs {
			for _, it := range items {
				m := it.(map[string]any)
				if !strings.EqualFold(trim(m["type"]), typ) {
					continue
				}
				if v, ok := m[sub]; ok {
					if sub == "formatted" {
						if s := v.(string); strings.TrimSpace(s) != "" {
							got[sub] = strings.ReplaceAll(s, "\r\n", "\n")
						}
					} else {
						set(got, sub, v)
					}
					break
				}
			}
		}
		if len(got) > 0 {
			got["type"] = typ
			addrs = append(addrs, got)
		}
	}
	if len(addrs) > 0 {
		out["addresses"] = addrs
	}

	ent := map[string]any{}
	inEnt, _ := in[bridge.EnterpriseSchema].(map[string]any)
	for _, k := range []string{"employeeNumber", "department", "organization", "division"} {
		set(ent, k, inEnt[k])
	}
	if m, ok := inEnt["manager"].(map[string]any); ok {
		ent["manager"] = map[string]any{"value": m["value"]}
	}
	if len(ent) > 0 {
		out[bridge.EnterpriseSchema] = ent
	}
	return out
}

func TestRoundTripProperty(t *testing.T) {
	tb := loadExample(t)
	ctx := context.Background()
	refs := newRefs()
	rng := rand.New(rand.NewSource(1))
	rt := tb.ResourceType()
	entries := 0
	for i := 0; i < 3000; i++ {
		raw := randUser(rng)
		attrs, err := bridge.Normalize(rt, raw)
		if err != nil {
			t.Fatalf("case %d: Normalize: %v", i, err)
		}
		plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: attrs}, refs)
		if err != nil {
			t.Fatalf("case %d: NewEntry(%v): %v", i, attrs, err)
		}
		e := entryFrom(plan)
		got, err := tb.Resource(ctx, e, refs)
		if err != nil {
			t.Fatal(err)
		}
		if want := project(attrs); !reflect.DeepEqual(got.Attrs, want) {
			t.Fatalf("case %d: Resource(NewEntry(r)) differs from the projection of r\nr:    %s\ngot:  %s\nwant: %s", i, toJSON(attrs), toJSON(got.Attrs), toJSON(want))
		}
		if ch, err := tb.Changes(ctx, e, got, refs); err != nil || !ch.Empty() {
			t.Fatalf("case %d: Changes(e, Resource(e)) = %+v, %v; want nothing", i, ch, err)
		}

		// Update to another random user.
		raw2 := randUser(rng)
		attrs2, err := bridge.Normalize(rt, raw2)
		if err != nil {
			t.Fatal(err)
		}
		plan2, err := tb.Changes(ctx, e, bridge.Resource{Attrs: attrs2}, refs)
		if err != nil {
			t.Fatalf("case %d: Changes: %v", i, err)
		}
		e2 := apply(e, plan2)
		got2, err := tb.Resource(ctx, e2, refs)
		if err != nil {
			t.Fatal(err)
		}
		want2 := project(attrs2)
		if _, ok := want2["externalId"]; !ok {
			if x, ok := got.Attrs["externalId"]; ok {
				want2["externalId"] = x // owner "both": kept
			}
		}
		if !reflect.DeepEqual(got2.Attrs, want2) {
			t.Fatalf("case %d: after Changes the entry reads\n%s\nwant\n%s\nplan %+v", i, toJSON(got2.Attrs), toJSON(want2), plan2)
		}
		if rdns, err := bridge.ParseDN(e2.DN); err != nil || rdns[0][0].Value != strings.TrimSpace(attrs2["userName"].(string)) &&
			!strings.EqualFold(rdns[0][0].Value, strings.TrimSpace(attrs2["userName"].(string))) {
			t.Fatalf("case %d: DN %q does not name userName %q", i, e2.DN, attrs2["userName"])
		}
		if ch, err := tb.Changes(ctx, e2, got2, refs); err != nil || !ch.Empty() {
			t.Fatalf("case %d: Changes(e2, Resource(e2)) = %+v, %v; want nothing", i, ch, err)
		}
		entries++
	}
	if entries < 3000 {
		t.Fatalf("only %d cases ran", entries)
	}
}
