package main

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/dirbridge/dirbridge/conf/examples"
)

// exampleEntitlementType is the [[type]] shape of the entitlement contract;
// decoding the shipped tables into it with no key left over keeps them to
// that shape even before the mapping loader reads them.
type exampleEntitlementType struct {
	Name          string `toml:"name"`
	Endpoint      string `toml:"endpoint"`
	Description   string `toml:"description"`
	UserAttribute string `toml:"user_attribute"`
	Schema        string `toml:"schema"`
	MultiValued   bool   `toml:"multi_valued"`
	Required      bool   `toml:"required"`
	Nested        bool   `toml:"nested"`
	Container     string `toml:"container"`
	Scope         string `toml:"scope"`
	Filter        string `toml:"filter"`
	Member        string `toml:"member"`
	Placeholder   string `toml:"placeholder"`
	Value         struct {
		ID          string `toml:"id"`
		Display     string `toml:"display"`
		Description string `toml:"description"`
	} `toml:"value"`
}

func loadExampleEntitlements(t *testing.T, name, baseDN string) []exampleEntitlementType {
	t.Helper()
	data, err := fs.ReadFile(examples.FS, name)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("${base_dn:-dc=example,dc=com}", baseDN, "${base_dn:-DC=example,DC=test}", baseDN).Replace(string(data))
	var f struct {
		Type []exampleEntitlementType `toml:"type"`
	}
	md, err := toml.Decode(text, &f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, k := range md.Undecoded() {
		t.Errorf("%s: key %s is not in the entitlement contract", name, k)
	}
	return f.Type
}

// TestEmbeddedSeedsMatchTheShippedTable: every group the embedded default
// seeds is a value of exactly one type of openldap-entitlements.toml (its
// container and scope), and every type has a seeded value; so /v2/Roles
// and /v2/Licenses list something on the first `make run`.
func TestEmbeddedSeedsMatchTheShippedTable(t *testing.T) {
	const suffix = "dc=example,dc=com"
	types := loadExampleEntitlements(t, "openldap-entitlements.toml", suffix)
	loadExampleEntitlements(t, "ad-entitlements.toml", "DC=example,DC=test")
	if len(types) == 0 {
		t.Fatal("no [[type]] in openldap-entitlements.toml")
	}
	perType := map[string]int{}
	for _, s := range appRoleSeeds {
		if !strings.HasPrefix(s.rdn, "cn=") {
			continue
		}
		dn := strings.ToLower(s.rdn + "," + suffix)
		var in []string
		for _, ty := range types {
			c := strings.ToLower(ty.Container)
			parent := strings.SplitN(dn, ",", 2)[1]
			if parent == c || (ty.Scope != "one" && strings.HasSuffix(dn, ","+c)) {
				in = append(in, ty.Name)
			}
		}
		if len(in) != 1 {
			t.Errorf("seed %s is a value of %q, want exactly one type", s.rdn, in)
			continue
		}
		perType[in[0]]++
	}
	for _, ty := range types {
		if perType[ty.Name] == 0 {
			t.Errorf("type %s (%s) has no seeded value", ty.Name, ty.Container)
		}
		if ty.Filter != "(objectClass=groupOfNames)" || ty.Placeholder != "cn=nobody,"+suffix {
			t.Errorf("type %s: the seeds are groupOfNames holding cn=nobody; the table says filter %q, placeholder %q", ty.Name, ty.Filter, ty.Placeholder)
		}
	}
}
