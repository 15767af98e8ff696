package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envMap(m map[string]string) Env {
	if m == nil {
		return Env{}
	}
	return Env(m)
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimal = `
[scim]
listen = "127.0.0.1:0"
[scim.auth]
header_name = "Authorization"
header_value_file = "token"
[ldap]
urls = ["ldap://127.0.0.1:389"]
bind_dn = "cn=admin,dc=example,dc=com"
bind_password_file = "ldap.pass"
base_dn = "dc=example,dc=com"
[mapping]
users = "users.toml"
`

func TestLoadResolvesFilesDefaultsAndRelativePaths(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	p := writeFile(t, dir, "c.toml", minimal)
	c, err := Load(p, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SCIM.Auth.HeaderValue != "Bearer s3cret" || c.LDAP.BindPassword != "pw" {
		t.Fatalf("secrets not read: %+v %+v", c.SCIM.Auth, c.LDAP)
	}
	if c.Mapping.Users != filepath.Join(dir, "users.toml") {
		t.Fatalf("mapping path not made relative to the config: %q", c.Mapping.Users)
	}
	if c.LDAP.Dialect != "openldap" || c.LDAP.PoolSize != DefaultPoolSize || c.Users.LeaversDN != "ou=leavers,dc=example,dc=com" {
		t.Fatalf("defaults not applied: %+v %+v", c.LDAP, c.Users)
	}
}

func TestUnknownKeysAreNamed(t *testing.T) {
	_, err := Parse([]byte(strings.Replace(minimal, `base_dn =`, "bsae_dn = \"x\"\nbase_dn =", 1)+"\n[log]\nlevle = \"debug\"\n"), envMap(nil))
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{"ldap.bsae_dn", "log.levle"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestEnvironmentOverridesUseDocumentedNames(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "users.toml", "")
	p := writeFile(t, dir, "c.toml", `[mapping]
users = "users.toml"
`)
	ca, _ := writeCert(t, dir, "ca")
	env := envMap(map[string]string{
		"DIRBRIDGE_SCIM_LISTEN":              "127.0.0.1:9999",
		"DIRBRIDGE_SCIM_AUTH_BASIC_USER":     "okta",
		"DIRBRIDGE_SCIM_AUTH_BASIC_PASSWORD": "pw1",
		"DIRBRIDGE_SCIM_AUTH_HEADER_NAME":    "X-Api-Key",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE":   "k",
		"DIRBRIDGE_LDAP_URLS":                "ldap://127.0.0.1:1, ldaps://127.0.0.1:2",
		"DIRBRIDGE_LDAP_BIND_DN":             "cn=admin,dc=example,dc=com",
		"DIRBRIDGE_LDAP_BIND_PASSWORD":       "pw2",
		"DIRBRIDGE_LDAP_BASE_DN":             "dc=example,dc=com",
		"DIRBRIDGE_LDAP_CA_FILE":             ca,
		"DIRBRIDGE_LDAP_POOL_SIZE":           "3",
		"DIRBRIDGE_USERS_HARD_DELETE":        "true",
	})
	c, err := Load(p, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.SCIM.Listen != "127.0.0.1:9999" || c.SCIM.Auth.BasicUser != "okta" || c.SCIM.Auth.BasicPassword != "pw1" ||
		c.SCIM.Auth.HeaderName != "X-Api-Key" || c.SCIM.Auth.HeaderValue != "k" ||
		len(c.LDAP.URLs) != 2 || c.LDAP.URLs[1] != "ldaps://127.0.0.1:2" || c.LDAP.BindDN != "cn=admin,dc=example,dc=com" ||
		c.LDAP.BindPassword != "pw2" || c.LDAP.BaseDN != "dc=example,dc=com" || c.LDAP.CAFile != ca ||
		c.LDAP.PoolSize != 3 || !c.Users.HardDelete {
		t.Fatalf("overrides not applied: %+v", c)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	c, err := Parse([]byte(`
[scim]
listen = "0.0.0.0:8443"
[ldap]
urls = ["http://x"]
dialect = "novell"
[log]
format = "xml"
`), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"not a loopback", "scim.auth", "ldap.urls", "ldap.dialect", "ldap.bind_dn", "ldap.base_dn", "mapping.users", "log.format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %q in:\n%v", want, err)
		}
	}
}

func TestResolveDoesNotChangeTheOriginal(t *testing.T) {
	c := &Config{LDAP: LDAP{URLs: []string{"ldap://127.0.0.1:1"}}}
	out, _ := c.Resolve()
	if c.LDAP.Dialect != "" || c.SCIM.Listen != "" {
		t.Fatal("defaults were applied to the original")
	}
	_ = out
}

func TestSecretAndFileBothSetIsAnError(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ldap.pass", "pw")
	c := &Config{dir: dir, LDAP: LDAP{BindPassword: "x", BindPasswordFile: "ldap.pass"}}
	_, err := c.Resolve()
	if err == nil || !strings.Contains(err.Error(), "both set") {
		t.Fatalf("got %v", err)
	}
}

// The journal's directory: state.dir, else systemd's STATE_DIRECTORY, else
// var next to the config file.
func TestStateDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	base := "[scim.auth]\nnone = true\n[ldap]\nurls = [\"ldap://127.0.0.1:389\"]\nbind_dn = \"cn=admin,dc=x\"\nbind_password = \"pw\"\nbase_dn = \"dc=x\"\n[mapping]\nusers = \"u.toml\"\n"
	if err := os.WriteFile(filepath.Join(dir, "u.toml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		extra string
		env   map[string]string
		want  string
	}{
		{"", nil, filepath.Join(dir, "var")},
		{"", map[string]string{"STATE_DIRECTORY": "/var/lib/dirbridge:/var/lib/other"}, "/var/lib/dirbridge"},
		{"[state]\ndir = \"/srv/db\"\n", map[string]string{"STATE_DIRECTORY": "/var/lib/dirbridge"}, "/srv/db"},
		{"", map[string]string{"DIRBRIDGE_STATE_DIR": "rel"}, filepath.Join(dir, "rel")},
	} {
		if err := os.WriteFile(path, []byte(base+tc.extra), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, envMap(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if c.State.Dir != tc.want {
			t.Errorf("%q %v: state.dir %q, want %q", tc.extra, tc.env, c.State.Dir, tc.want)
		}
	}
}

func TestStripGroupsKeys(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	c, err := Load(writeFile(t, dir, "c.toml", minimal), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Users.StripGroups != "all" || c.Users.StripGroupsOnDisable {
		t.Fatalf("defaults: %+v", c.Users)
	}
	_, err = Load(writeFile(t, dir, "c.toml", minimal), envMap(map[string]string{
		"DIRBRIDGE_USERS_STRIP_GROUPS": "none", "DIRBRIDGE_USERS_STRIP_GROUPS_ON_DISABLE": "true"}))
	if err == nil || !strings.Contains(err.Error(), "strip_groups_on_disable") {
		t.Fatalf("on_disable with none accepted: %v", err)
	}
	_, err = Load(writeFile(t, dir, "c.toml", minimal+"[users]\nstrip_groups = \"managed\"\n"), envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "needs mapping.groups") {
		t.Fatalf("managed without a groups table accepted: %v", err)
	}
	_, err = Load(writeFile(t, dir, "c.toml", minimal+"[users]\nstrip_groups = \"some\"\nmax_page_size = 0\ndefault_page_size = -1\n"), envMap(nil))
	if err == nil || !strings.Contains(err.Error(), `strip_groups: "some"`) || !strings.Contains(err.Error(), "default_page_size") {
		t.Fatalf("a bad value is not reported with the others: %v", err)
	}
}
