package conf

import (
	"strings"
	"testing"
)

func TestPublicURLAndTrustedProxies(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	p := writeFile(t, dir, "c.toml", strings.Replace(minimal, "[scim.auth]",
		"public_url = \"https://file.example/x\"\ntrusted_proxies = [\"10.0.0.1\"]\n[scim.auth]", 1))
	c, err := Load(p, envMap(map[string]string{
		"DIRBRIDGE_SCIM_PUBLIC_URL":      "https://scim.corp.example/dirbridge/",
		"DIRBRIDGE_SCIM_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::/32",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SCIM.PublicURL != "https://scim.corp.example/dirbridge" {
		t.Errorf("public_url %q: the override, its trailing slash trimmed", c.SCIM.PublicURL)
	}
	if strings.Join(c.SCIM.TrustedProxies, "|") != "10.0.0.0/8|192.0.2.7|2001:db8::/32" {
		t.Errorf("trusted_proxies %q", c.SCIM.TrustedProxies)
	}

	bad, err := Parse([]byte(strings.Replace(minimal, "[scim.auth]",
		"public_url = \"https://u@x.example/?q\"\ntrusted_proxies = [\"10.0.0.0/8\", \"nope\", \"10.0.0.0/99\"]\n[scim.auth]", 1)), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	bad.dir = dir
	_, err = bad.Resolve()
	if err == nil {
		t.Fatal("invalid public_url and trusted_proxies accepted")
	}
	for _, want := range []string{"scim.public_url", `"nope"`, `"10.0.0.0/99"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problem %s not reported: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"10.0.0.0/8"`) {
		t.Errorf("a valid entry reported: %v", err)
	}
	for _, u := range []string{"scim.example", "ftp://x.example", "https://x.example/#f", "https:///path"} {
		c := *bad
		c.SCIM.PublicURL, c.SCIM.TrustedProxies = u, nil
		if _, err := c.Resolve(); err == nil || !strings.Contains(err.Error(), "scim.public_url") {
			t.Errorf("public_url %q: %v", u, err)
		}
	}
}
