package mapping

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (run go test -update if the change is intended):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// toJSON renders v indented, without HTML escaping, for golden files.
func toJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return b.String()
}

// renderPlan prints a plan deterministically.
func renderPlan(p *bridge.EntryPlan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\n", p.DN)
	keys := make([]string, 0, len(p.Attrs))
	for k := range p.Attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range p.Attrs[k] {
			fmt.Fprintf(&b, "%s: %q\n", k, v)
		}
	}
	return b.String()
}

// richUsers are users whose names exercise RFC 4514 escaping and
// non-ASCII text.
var richUsers = map[string]string{
	"rich": `{
	  "userName": "jane.doe",
	  "externalId": "00u1abcDEF",
	  "userType": "Employee",
	  "name": {"givenName": "Jane", "familyName": "Doe", "formatted": "Ms Jane Doe", "middleName": "Q"},
	  "displayName": "Jane Doe",
	  "nickName": "JD",
	  "title": "Engineer",
	  "preferredLanguage": "en-GB",
	  "locale": "en-GB",
	  "timezone": "Europe/London",
	  "emails": [{"value": "jd@home.example", "type": "home"}, {"value": "jane.doe@example.com", "type": "work", "primary": true}],
	  "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "work"}, {"value": "+44 7700 900000", "type": "mobile"},
	                   {"value": "+44 20 7946 0001", "type": "fax"}, {"value": "+44 20 7946 0002", "type": "home"},
	                   {"value": "+1 000", "type": "other"}],
	  "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "London", "region": "LDN",
	                 "postalCode": "EC1A 1BB", "country": "GB", "formatted": "1 Main St\nLondon EC1A 1BB\nCost: $5 \\ each"},
	                {"type": "home", "formatted": "2 Side St\nLondon"}],
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
	    "employeeNumber": "7", "costCenter": "CC1", "organization": "Example Ltd", "division": "R&D",
	    "department": "Platform", "manager": {"value": "mgr-2", "displayName": "Pat"}}
	}`,
	"comma-plus-quote": `{"userName": "O'Brien, \"Pat\" + co", "name": {"familyName": "O'Brien", "givenName": "Pat"}}`,
	"leading-hash":     `{"userName": "#admin", "name": {"familyName": "Hash"}}`,
	"trailing-space":   `{"userName": "  spaced out ", "name": {"familyName": "Space "}, "displayName": " Spacey "}`,
	"non-ascii":        `{"userName": "zoë.łukasz=日本", "name": {"givenName": "Zoë", "familyName": "Łukasz;<x>"}, "emails": "zoe@例え.jp"}`,
	"only-username":    `{"userName": "u1", "name": {"familyName": "F"}}`,
}

func TestGoldenNewEntryAndResource(t *testing.T) {
	tb := loadExample(t)
	ctx := context.Background()
	names := make([]string, 0, len(richUsers))
	for n := range richUsers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var body map[string]any
			if err := json.Unmarshal([]byte(richUsers[name]), &body); err != nil {
				t.Fatal(err)
			}
			attrs, err := bridge.Normalize(tb.ResourceType(), body)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: attrs}, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			// The DN must parse back to the userName it was made from.
			rdns, err := bridge.ParseDN(plan.DN)
			if err != nil {
				t.Fatalf("DN %q does not parse: %v", plan.DN, err)
			}
			if got, want := rdns[0][0].Value, strings.TrimSpace(attrs["userName"].(string)); got != want {
				t.Errorf("RDN value %q, want %q", got, want)
			}
			e := entryFrom(plan)
			r, err := tb.Resource(ctx, e, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "user-"+name, "# NewEntry\n"+renderPlan(plan)+"\n# Resource\n"+toJSON(r.Attrs))
			ch, err := tb.Changes(ctx, e, r, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			if !ch.Empty() {
				t.Errorf("Changes(e, Resource(e)) = %+v, want none", ch)
			}
		})
	}
}

func TestGoldenPreview(t *testing.T) {
	tb := loadExample(t)
	var body map[string]any
	if err := json.Unmarshal([]byte(richUsers["rich"]), &body); err != nil {
		t.Fatal(err)
	}
	body["userName"] = " Zoë "
	s, err := tb.Preview(bridge.Resource{Attrs: body})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "preview-rich", s)
}

func TestGoldenSchema(t *testing.T) {
	tb := loadExample(t)
	golden(t, "schema-users", toJSON(tb.ResourceType()))
}

// adUsers are the two paths of the shipped AD table: a userName that is a
// UPN of the forest (the UPN as it is) and one that is not (a derived UPN,
// the userName beside it).
var adUsers = map[string]string{
	"upn": `{"userName": "John.Smith.7@Example.Test", "externalId": "00u1abcDEF", "name": {"givenName": "John", "familyName": "Smith"},
	         "emails": [{"value": "john.smith@example.test", "type": "work", "primary": true}],
	         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales", "manager": {"value": "mgr-2"}}}`,
	"no-upn": `{"userName": "zoë@gmail.com", "externalId": "5f2b8c1e-0000-4000-8000-00000000abcd", "name": {"givenName": "Zoë", "familyName": "Ångström"}}`,
}

func TestGoldenADUsers(t *testing.T) {
	tb, err := Load("../conf/examples/ad-users.toml", withStandard(Options{BaseDN: "DC=example,DC=test"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"upn", "no-upn"} {
		t.Run(name, func(t *testing.T) {
			var body map[string]any
			if err := json.Unmarshal([]byte(adUsers[name]), &body); err != nil {
				t.Fatal(err)
			}
			attrs, err := bridge.Normalize(tb.ResourceType(), body)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: attrs}, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			e := entryFrom(plan)
			r, err := tb.Resource(ctx, e, newRefs())
			if err != nil {
				t.Fatal(err)
			}
			if r.Attrs["userName"] != body["userName"] {
				t.Errorf("userName read back %v, want %v", r.Attrs["userName"], body["userName"])
			}
			golden(t, "ad-user-"+name, "# NewEntry\n"+renderPlan(plan)+"\n# Resource\n"+toJSON(r.Attrs))
			if ch, err := tb.Changes(ctx, e, r, newRefs()); err != nil || !ch.Empty() {
				t.Errorf("Changes(e, Resource(e)) = %+v, %v, want none", ch, err)
			}
		})
	}
}
