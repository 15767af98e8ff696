package mapping

import (
	"context"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

func TestAccountTransforms(t *testing.T) {
	for in, want := range map[string]string{"Zoë Ångström": "Zoe Angstrom", "Łukasz Żółć": "Lukasz Zolc", "Straße": "Strasse", "Ærø": "AEro", "plain": "plain"} {
		if got := foldAccents(in); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{`a"b/c\d[e]f:g;h|i=j,k+l*m?n<o>p`: "abcdefghijklmnop", " .john smith. ": "johnsmith", "x@y": "x@y"} {
		if got := accountName(in); got != want {
			t.Errorf("accountName(%q) = %q, want %q", in, got, want)
		}
	}
	for _, c := range []struct {
		v    string
		n    int
		max  int
		want string
	}{{"john.smith", 2, 20, "john.smith2"}, {"abcdefghijklmnopqrst", 12, 20, "abcdefghijklmnopqr12"}, {"john.smith@example.test", 3, 0, "john.smith3@example.test"}} {
		if got := withSuffix(c.v, "", c.n, c.max); got != c.want {
			t.Errorf("withSuffix(%q, %d, %d) = %q, want %q", c.v, c.n, c.max, got, c.want)
		}
	}
	if got := fromFiletime(toFiletime("2030-01-02T03:04:05Z")); got != "2030-01-02T03:04:05Z" {
		t.Errorf("filetime round trip: %q", got)
	}
	for _, never := range []string{"0", "9223372036854775807"} {
		if got := fromFiletime(never); got != "" {
			t.Errorf("fromFiletime(%s) = %q, want no value", never, got)
		}
	}
	if !isSuffixed("John Smith 2", "John Smith") || isSuffixed("John Smithers", "John Smith") || isSuffixed("John Smith 1", "John Smith") {
		t.Error("isSuffixed")
	}
}

// taken is a ValueChecker over a fixed set of attr=value pairs.
type taken struct {
	stubRefs
	vals map[string]bool
}

type stubRefs struct{}

func (stubRefs) DNForID(context.Context, string, string) (string, error) {
	return "", bridge.Errorf("stub", bridge.KindNotFound, "")
}
func (stubRefs) IDForDN(context.Context, string) (string, string, error) {
	return "", "", bridge.Errorf("stub", bridge.KindNotFound, "")
}

func (t taken) Taken(_ context.Context, _ string, _ bridge.Scope, f *bridge.Filter, _ string) (bool, error) {
	if f.Op == bridge.FilterOr {
		for _, k := range f.Kids {
			if ok, _ := t.Taken(context.Background(), "", 0, k, ""); ok {
				return true, nil
			}
		}
		return false, nil
	}
	return t.vals[strings.ToLower(f.Attr+"="+f.Value)], nil
}

const accountsTable = `
resource = "User"
container = "ou=people,dc=example,dc=test"
object_classes = ["top", "user"]
rdn = "cn={{.displayName}}"
rdn_unique = true
create_missing_containers = true

[[extension]]
urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

[[placement]]
when = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"'
container = "ou=sales,ou=people,dc=example,dc=test"

[[attribute]]
scim = "userName"
ldap = "uid"

[[attribute]]
scim = "displayName"
ldap = "displayName"

[[attribute]]
scim = "name.givenName"
ldap = "givenName"

[[attribute]]
scim = "name.familyName"
ldap = "sn"

[[attribute]]
scim = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
ldap = "department"

[[attribute]]
ldap = "sAMAccountName"
template = ["{{.name.givenName}}.{{.name.familyName}}", "{{initial .name.givenName}}{{.name.familyName}}"]
transform = ["fold", "lower", "account"]
max_length = 20
unique = "base"

[[attribute]]
ldap = "pwdLastSet"
constant = "0"
create_only = true
`

func TestUniqueNamesAndPlacement(t *testing.T) {
	tb, err := Parse("t.toml", []byte(accountsTable), withStandard(Options{BaseDN: "dc=example,dc=test"}))
	if err != nil {
		t.Fatal(err)
	}
	refs := taken{vals: map[string]bool{"samaccountname=john.smith": true, "samaccountname=jsmith": true, "cn=john smith": true}}
	r := bridge.Resource{Attrs: map[string]any{"userName": "js", "displayName": "John Smith",
		"name":                  map[string]any{"givenName": "Jöhn", "familyName": "Smith"},
		bridge.EnterpriseSchema: map[string]any{"department": "Sales"}}}
	plan, err := tb.NewEntry(context.Background(), r, refs)
	if err != nil {
		t.Fatal(err)
	}
	if plan.DN != "cn=John Smith 2,ou=sales,ou=people,dc=example,dc=test" {
		t.Errorf("DN %q", plan.DN)
	}
	if got := plan.Attrs["sAMAccountName"]; len(got) != 1 || got[0] != "john.smith2" {
		t.Errorf("sAMAccountName %q", got)
	}
	if got := plan.Attrs["pwdLastSet"]; len(got) != 1 || got[0] != "0" {
		t.Errorf("pwdLastSet %q", got)
	}
	if len(plan.Containers) != 1 || plan.Containers[0] != "ou=sales,ou=people,dc=example,dc=test" {
		t.Errorf("Containers %q", plan.Containers)
	}
	// Read back and changed: the suffixed name stays, create-only and
	// unique rows are left alone, a department change moves.
	cur := &bridge.Entry{ID: "x", DN: plan.DN, Attrs: plan.Attrs}
	r.Attrs[bridge.EnterpriseSchema] = map[string]any{"department": "Finance"}
	ch, err := tb.Changes(context.Background(), cur, r, refs)
	if err != nil {
		t.Fatal(err)
	}
	if ch.NewRDN != "" || ch.NewSuperior != "ou=people,dc=example,dc=test" {
		t.Errorf("Changes: NewRDN %q NewSuperior %q", ch.NewRDN, ch.NewSuperior)
	}
	for _, c := range ch.Changes {
		if c.Attr == "sAMAccountName" || c.Attr == "pwdLastSet" {
			t.Errorf("Changes touches %s", c.Attr)
		}
	}
}

func TestPlacementProblems(t *testing.T) {
	bad := strings.Replace(accountsTable, `container = "ou=sales,ou=people,dc=example,dc=test"`, `container = "ou=sales,dc=elsewhere"`, 1)
	if _, err := Parse("t.toml", []byte(bad), withStandard(Options{})); err == nil || !strings.Contains(err.Error(), "not below") {
		t.Errorf("placement outside the container: %v", err)
	}
	bad = strings.Replace(accountsTable, `department eq "Sales"'`, `department co "Sales"'`, 1)
	if _, err := Parse("t.toml", []byte(bad), withStandard(Options{})); err == nil || !strings.Contains(err.Error(), "eq") {
		t.Errorf("placement with co: %v", err)
	}
}
