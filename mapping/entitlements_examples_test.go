package mapping

import "testing"

// The shipped entitlement tables (conf/examples) compile with the real loader.

func TestShippedEntitlementTablesLoad(t *testing.T) {
	for f, base := range map[string]string{"../conf/examples/openldap-entitlements.toml": "dc=example,dc=com", "../conf/examples/ad-entitlements.toml": "DC=example,DC=test"} {
		if _, err := LoadEntitlements(f, Options{BaseDN: base}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
