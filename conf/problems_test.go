package conf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// problemsOf returns the located problems of a Load error.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *LoadError", err)
	}
	return le.Problems
}

// wantProblems checks that got is exactly want, each "LINE KEY TEXT" (LINE 0:
// not in the file), in order.
func wantProblems(t *testing.T, got []Problem, want ...string) {
	t.Helper()
	var lines []string
	for _, p := range got {
		lines = append(lines, p.String())
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		f := strings.SplitN(w, " ", 3)
		if g := got[i]; fmt.Sprint(g.Line) != f[0] || g.Key != f[1] || !strings.Contains(g.Msg, f[2]) {
			t.Errorf("problem %d: %q, want %s", i, lines[i], w)
		}
	}
}

// A configuration with five independent mistakes, of every sort (a wrong
// type, an unknown key, values validation refuses, a misspelt variable),
// shows five problems in one run, each where it is.
func TestFiveMistakesFiveLocatedProblems(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	p := writeFile(t, dir, "c.toml", `
[scim]
listen = "127.0.0.1:0"
max_body_bytes = "1MB"
[scim.auth]
header_name = "Authorization"
header_value_file = "token"
[ldap]
urls = ["http://dc1.corp.example"]
bind_dn = "cn=admin,dc=example,dc=com"
bind_password_file = "ldap.pass"
base_dn = "dc=example,dc=com"
dialet = "ad"
[mapping]
users = "users.toml"
[log]
level = "loud"
`)
	_, err := Load(p, envMap(map[string]string{"DIRBRIDGE_LDAP_BIND_DNN": "cn=x", "DIRBRIDGE_PPROF_LISTEN": "127.0.0.1:0", "DIRBRIDGE_TEST_CRASH_AFTER_WRITES": "2"}))
	got := problemsOf(t, err)
	wantProblems(t, got,
		"4 scim.max_body_bytes want a whole number without quotes, got the string \"1MB\"",
		"9 ldap.urls \"http://dc1.corp.example\" is not an ldap:// or ldaps:// URL",
		"13 ldap.dialet unknown key — did you mean ldap.dialect?",
		"17 log.level \"loud\" — want trace",
		"0 DIRBRIDGE_LDAP_BIND_DNN names no configuration key (nor another variable dirbridge reads) — did you mean DIRBRIDGE_LDAP_BIND_DN?",
	)
	text := err.Error()
	if !strings.Contains(text, p+":4: scim.max_body_bytes: want") {
		t.Errorf("not in the FILE:LINE: key: problem format:\n%s", text)
	}
}

// Every value of the wrong type is reported at its own line, and a key so
// reported is not reported again as missing.
func TestWrongTypesAtTheirLines(t *testing.T) {
	_, err := Parse([]byte(`[scim]
listen = 8080
allow_plain_http = "yes"

[ldap]
urls = "ldap://127.0.0.1"
bind_dn = 5
op_timeout = "30"
pool_size = 8.5

[scim.auth]
none = 1
`), envMap(nil))
	wantProblems(t, problemsOf(t, err),
		"2 scim.listen want a string in quotes, got the number 8080",
		"3 scim.allow_plain_http want true or false, got the string \"yes\"",
		"6 ldap.urls want a list of strings",
		"7 ldap.bind_dn want a string",
		"8 ldap.op_timeout missing unit",
		"9 ldap.pool_size want a whole number",
		"12 scim.auth.none want true or false",
	)
	dir := t.TempDir()
	p := writeFile(t, dir, "c.toml", "[scim.auth]\nnone = true\n[ldap]\nurls = [\"ldap://127.0.0.1\"]\nbind_dn = 5\nbase_dn = \"dc=x\"\n[mapping]\nusers = \"c.toml\"\n")
	_, err = Load(p, envMap(nil))
	wantProblems(t, problemsOf(t, err), "5 ldap.bind_dn want a string in quotes, got the number 5")
}

// A syntax error is reported at its line; nothing else can be checked.
func TestSyntaxErrorIsLocated(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.toml", "[ldap]\nurls = [\"ldap://x\"\nbind_dn = \"cn=x\"\n")
	_, err := Load(p, envMap(nil))
	got := problemsOf(t, err)
	if len(got) != 1 || got[0].Line < 2 || !strings.Contains(got[0].Msg, "not valid TOML") || !strings.HasPrefix(got[0].String(), p+":") {
		t.Fatalf("got %v", got)
	}
}

// A variable under DIRBRIDGE_ that names no key is a typo, and is said
// with the nearest key; the documented variables that are not keys pass.
func TestEnvTypos(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	p := writeFile(t, dir, "c.toml", minimal)
	ok := map[string]string{"DIRBRIDGE_DEV_TOKEN": "x", "DIRBRIDGE_DEV_LDAP_PASSWORD": "x", "DIRBRIDGE_PPROF_LISTEN": "127.0.0.1:0",
		"DIRBRIDGE_TEST_CRASH_AFTER_WRITES": "1", "DIRBRIDGE_TESTENV_DURABILITY_DIR": "/tmp", "DIRBRIDGE_LDAP_POOL_SIZE": "2", "OTHER_X": "1"}
	if _, err := Load(p, envMap(ok)); err != nil {
		t.Fatal(err)
	}
	ok["DIRBRIDGE_SCIM_LISTN"] = "127.0.0.1:1"
	ok["DIRBRIDGE_ZZZZZZZZZZZZZZZZZZZZZ"] = "1"
	ok["DIRBRIDGE_LDAP_POOL_SIZE"] = "two"
	ok["DIRBRIDGE_DEV_TOKN"] = "x"
	_, err := Load(p, envMap(ok))
	wantProblems(t, problemsOf(t, err),
		"0 DIRBRIDGE_LDAP_POOL_SIZE \"two\": want a whole number",
		"0 DIRBRIDGE_DEV_TOKN did you mean DIRBRIDGE_DEV_TOKEN?",
		"0 DIRBRIDGE_SCIM_LISTN did you mean DIRBRIDGE_SCIM_LISTEN?",
		"0 DIRBRIDGE_ZZZZZZZZZZZZZZZZZZZZZ names no configuration key (nor another variable dirbridge reads) — the variables are",
	)
	// A value the environment set is named by its variable.
	_, err = Load(p, envMap(map[string]string{"DIRBRIDGE_LDAP_DIALECT": "novell"}))
	got := problemsOf(t, err)
	if len(got) != 1 || got[0].String() != p+`: ldap.dialect (DIRBRIDGE_LDAP_DIALECT): "novell" — want "openldap" or "ad"` {
		t.Errorf("got %v", got)
	}
}

// The TLS files are read and parsed when the configuration is: each
// problem names the key and the file.
func TestTLSFilesArePEMAndLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	cert, key := writeCert(t, dir, "server")
	other, otherKey := writeCert(t, dir, "other")
	notPEM := writeFile(t, dir, "ca.der", "\x30\x82\x01\x0a")
	load := func(extra string) error {
		p := writeFile(t, dir, "c.toml", strings.Replace(minimal, "[scim.auth]", extra+"\n[scim.auth]", 1))
		_, err := Load(p, envMap(nil))
		return err
	}
	if err := load(fmt.Sprintf("tls_cert_file = %q\ntls_key_file = %q", cert, key)); err != nil {
		t.Fatal(err)
	}
	err := load(fmt.Sprintf("tls_cert_file = %q\ntls_key_file = %q", cert, otherKey))
	wantProblems(t, problemsOf(t, err), "5 scim.tls_key_file "+otherKey+" and "+cert+" do not load as a pair")
	err = load(fmt.Sprintf("tls_cert_file = %q\ntls_key_file = %q", notPEM, other))
	wantProblems(t, problemsOf(t, err),
		"4 scim.tls_cert_file "+notPEM+" holds no PEM certificate",
		"5 scim.tls_key_file "+other+" holds no PEM private key")
	err = load(`tls_cert_file = "missing.crt"`)
	wantProblems(t, problemsOf(t, err), "4 scim.tls_cert_file set without scim.tls_key_file")

	withCA := func(ca string) error {
		p := writeFile(t, dir, "c.toml", strings.Replace(minimal, "[mapping]", "ca_file = \""+ca+"\"\n[mapping]", 1))
		_, err := Load(p, envMap(nil))
		return err
	}
	if err := withCA(cert); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, problemsOf(t, withCA("ca.der")), "12 ldap.ca_file "+notPEM+" holds no PEM certificate")
	wantProblems(t, problemsOf(t, withCA("nope.pem")), "12 ldap.ca_file cannot read "+filepath.Join(dir, "nope.pem")+": no such file")
	wantProblems(t, problemsOf(t, withCA("server.key")), "12 ldap.ca_file "+key+" holds no PEM certificate")
}

// Unsafe but allowed settings are warnings, each naming its key and what
// to do; a safe configuration has none.
func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	c, err := Load(writeFile(t, dir, "c.toml", minimal), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Fatalf("warnings for a safe configuration: %q", w)
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(filepath.Join(dir, "ldap.pass"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := writeFile(t, dir, "c.toml", `[scim]
listen = "0.0.0.0:0"
allow_plain_http = true
[scim.auth]
none = true
[ldap]
urls = ["ldap://dc1.corp.example", "ldap://127.0.0.1:389", "ldaps://dc2.corp.example"]
bind_dn = "cn=admin,dc=example,dc=com"
bind_password_file = "ldap.pass"
base_dn = "dc=example,dc=com"
insecure_skip_verify = true
[mapping]
users = "users.toml"
`)
	c, err = Load(p, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		p + ":9: ldap.bind_password_file: " + filepath.Join(dir, "ldap.pass") + " is readable by group or others (mode 0644) — chmod 600",
		p + ":11: ldap.insecure_skip_verify: true: the directory's certificate is not verified",
		p + ":7: ldap.urls: ldap://dc1.corp.example is plain LDAP without start_tls: the service account's password and every password SCIM syncs",
		p + ":5: scim.auth.none: true: any client that reaches 0.0.0.0:0",
		p + ":3: scim.allow_plain_http: true on 0.0.0.0:0",
	}
	if runtime.GOOS == "windows" {
		want = want[1:]
	}
	got := c.Warnings()
	if len(got) != len(want) {
		t.Fatalf("%d warnings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) || !strings.Contains(got[i], " — ") {
			t.Errorf("warning %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
}

// A mapping table given where the configuration belongs is said to be one.
func TestTablePassedAsConfig(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "users.toml", "resource = \"User\"\ncontainer = \"ou=people,dc=x\"\n[[attribute]]\nscim = \"userName\"\nldap = \"uid\"\n")
	want := p + " is a mapping table, not a configuration; pass the config that names it in [mapping]"
	if _, err := Load(p, envMap(nil)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load: %v", err)
	}
	if _, err := LoadTables(p, envMap(nil)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("LoadTables: %v", err)
	}
}

// leavers_dn inside the users container is located like any problem.
func TestCheckLeavers(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	p := writeFile(t, dir, "c.toml", minimal+"[users]\nleavers_dn = \"ou=leavers,ou=people,dc=example,dc=com\"\n")
	c, err := Load(p, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckLeavers("ou=staff,dc=example,dc=com"); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, problemsOf(t, c.CheckLeavers("ou=People,dc=example,dc=com")), "15 users.leavers_dn lies inside the users container")
	_, err = Load(writeFile(t, dir, "c.toml", minimal+"[users]\nleavers_dn = \"DC=example,dc=com\"\n"), envMap(nil))
	wantProblems(t, problemsOf(t, err), "15 users.leavers_dn is the base DN itself")
}

// The shipped example configurations load, given the secrets the README
// says to set, without problems or warnings.
func TestShippedExamplesLoad(t *testing.T) {
	for _, f := range []string{"examples/openldap.toml", "examples/ad.toml"} {
		c, err := Load(f, Env{"DIRBRIDGE_LDAP_BIND_PASSWORD": "x", "DIRBRIDGE_SCIM_AUTH_HEADER_VALUE": "Bearer x"})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if w := c.Warnings(); len(w) > 0 {
			t.Errorf("%s: warnings %q", f, w)
		}
	}
	for _, dn := range []string{"svc@CORP.EXAMPLE", `CORP\svc`, "cn=svc,dc=x"} {
		c := &Config{SCIM: SCIM{Auth: SCIMAuth{None: true}}, LDAP: LDAP{URLs: []string{"ldap://127.0.0.1"}, BindDN: dn, BindPassword: "x", BaseDN: "dc=x"}}
		if _, err := c.Resolve(); err != nil && strings.Contains(err.Error(), "bind_dn") {
			t.Errorf("bind_dn %q: %v", dn, err)
		}
	}
}
