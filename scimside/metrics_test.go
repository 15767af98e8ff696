package scimside

import "testing"

func TestRouteLabelIsBounded(t *testing.T) {
	for path, want := range map[string]string{
		"/v2/Users":                        "v2 Users",
		"/scim/v2/Users/abc":               "v2 Users/{id}",
		"/Users":                           "v1 Users",
		"/v1/Groups/x/y":                   "v1 Groups/{id}",
		"/ServiceProviderConfigs":          "v1 ServiceProviderConfigs",
		"/v2/serviceproviderconfig":        "v2 ServiceProviderConfig",
		"/healthz":                         "healthz",
		"/metrics":                         "metrics",
		"/v2/../../etc/passwd":             "other",
		"/wp-login.php":                    "other",
		"/":                                "other",
		"/v2/Users/../x":                   "v2 Users/{id}",
		"/v2/AAAAAAAAAAAAAAAAAAAAAAAAAAAA": "other",
	} {
		if got := routeLabel(path); got != want {
			t.Errorf("routeLabel(%q) = %q, want %q", path, got, want)
		}
	}
}
