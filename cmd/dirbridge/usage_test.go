package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The flags each command has, as its --help must list them.
var commandFlags = map[string][]string{
	"serve": {"-config", "-scim-listen", "-ldap-listen", "-data"},
	"check": {"-config"},
	"map":   {"-config", "-resource", "-file"},
}

// TestHelpAndUsage: help, <cmd> --help and -h print the command's usage
// with every flag on standard output and exit 0; a wrong flag, an
// argument or an unknown command prints the error and the usage on
// standard error and exits 2.
func TestHelpAndUsage(t *testing.T) {
	runCLI := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, errs := runCLI(args...)
		if code != 0 || errs != "" || !strings.Contains(out, "usage: dirbridge <command>") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
		for c := range commandFlags {
			if !strings.Contains(out, "\n  "+c+" ") {
				t.Errorf("%v: the usage lists no %s", args, c)
			}
		}
	}
	for name, flags := range commandFlags {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			code, out, errs := runCLI(args...)
			if code != 0 || errs != "" || !strings.HasPrefix(out, "usage: dirbridge "+name) {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
				continue
			}
			for _, f := range flags {
				if !strings.Contains(out, "  "+f+" ") {
					t.Errorf("%v: no %s in the usage:\n%s", args, f, out)
				}
			}
			if strings.Contains(out, "help requested") {
				t.Errorf("%v: %q", args, out)
			}
		}
		code, out, errs := runCLI(name, "--no-such-flag")
		if code != 2 || out != "" || !strings.Contains(errs, "flag provided but not defined: -no-such-flag") ||
			!strings.Contains(errs, "usage: dirbridge "+name) || !strings.Contains(errs, flags[0]) {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q", name, code, out, errs)
		}
		code, _, errs = runCLI(name, "--config", "x.toml", "extra")
		if code != 2 || !strings.Contains(errs, `unexpected argument "extra"`) || !strings.Contains(errs, "usage: dirbridge "+name) {
			t.Errorf("%s extra: exit %d, stderr %q", name, code, errs)
		}
	}
	for _, args := range [][]string{{"frobnicate"}, {"help", "frobnicate"}, {}} {
		code, out, errs := runCLI(args...)
		if code != 2 || out != "" || !strings.Contains(errs, "usage: dirbridge <command>") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	code, _, errs := runCLI("check")
	if code != 2 || !strings.Contains(errs, "check needs --config FILE") || !strings.Contains(errs, "usage: dirbridge check") {
		t.Errorf("check without --config: exit %d, stderr %q", code, errs)
	}
	if code, out, _ := runCLI("version"); code != 0 || !strings.HasPrefix(out, "dirbridge ") {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestConfigProblemsOneALine: check, serve and map print every problem of
// a configuration, one a line as FILE:LINE: key: problem, and exit 1; a
// mapping table given as the configuration is said to be one.
func TestConfigProblemsOneALine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(cfg, []byte("[scim]\nlisten = 8080\n[ldap]\nurls = [\"http://x\"]\ndialet = \"ad\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	table, err := filepath.Abs("../../conf/examples/openldap-users.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"check", "serve"} {
		var out, errb bytes.Buffer
		if code := run([]string{cmd, "--config", cfg}, &out, &errb); code != 1 {
			t.Errorf("%s: exit %d: %s", cmd, code, errb.String())
		}
		// serve prints them on stderr; check in its report (stdout), each
		// a finding of the config section.
		var lines []string
		for _, l := range strings.Split(out.String()+errb.String(), "\n") {
			lines = append(lines, strings.TrimLeft(strings.TrimPrefix(l, "ERROR config"), " "))
		}
		for _, want := range []string{
			cfg + ":2: scim.listen: want a string in quotes, got the number 8080\n",
			cfg + ":4: ldap.urls: \"http://x\" is not an ldap:// or ldaps:// URL",
			cfg + ":5: ldap.dialet: unknown key — did you mean ldap.dialect?\n",
			cfg + ": ldap.bind_dn: is required",
		} {
			found := false
			for _, l := range lines {
				found = found || strings.HasPrefix(l+"\n", want)
			}
			if !found {
				t.Errorf("%s: no %q in:\n%s%s", cmd, strings.TrimSpace(want), out.String(), errb.String())
			}
		}
	}
	for _, cmd := range []string{"check", "serve", "map"} {
		var out, errb bytes.Buffer
		code := run([]string{cmd, "--config", table}, &out, &errb)
		want := table + " is a mapping table, not a configuration; pass the config that names it in [mapping]\n"
		got := errb.String()
		if cmd == "check" {
			// check's report says it, as its one finding.
			want, got = "ERROR config     "+want, out.String()
			got = got[:strings.Index(got+"\n", "\n")+1]
		}
		if code != 1 || got != want {
			t.Errorf("%s --config TABLE: exit %d, got %q, want %q", cmd, code, got, want)
		}
	}
}

// TestBuiltBinaryHelp: the built binary exits 0 on --help with the usage
// on standard output, and 2 on a wrong flag with the usage on standard
// error.
func TestBuiltBinaryHelp(t *testing.T) {
	var out, errb bytes.Buffer
	cmd := exec.Command(binPath, "serve", "--help")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "-scim-listen") || errb.Len() != 0 {
		t.Errorf("serve --help: %v, stdout %q, stderr %q", err, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	cmd = exec.Command(binPath, "check", "--bogus")
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || out.Len() != 0 || !strings.Contains(errb.String(), "usage: dirbridge check") {
		t.Errorf("check --bogus: %v, stdout %q, stderr %q", err, out.String(), errb.String())
	}
}

// TestEmbeddedRefusesMisspeltVariables: the embedded default refuses a
// DIRBRIDGE_ variable that names nothing, with the one meant, before
// anything starts.
func TestEmbeddedRefusesMisspeltVariables(t *testing.T) {
	cmd := exec.Command(binPath, "serve", "--data", t.TempDir(), "--scim-listen", "127.0.0.1:0", "--ldap-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "DIRBRIDGE_DEV_TOKN=x")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "DIRBRIDGE_DEV_TOKN: names no configuration key") ||
		!strings.Contains(string(out), "did you mean DIRBRIDGE_DEV_TOKEN?") {
		t.Fatalf("%v: %s", err, out)
	}
}

// TestServeLogsWarnings: serve logs each unsafe setting once at start and
// runs.
func TestServeLogsWarnings(t *testing.T) {
	dir := t.TempDir()
	tables, err := filepath.Abs("../../conf/examples")
	if err != nil {
		t.Fatal(err)
	}
	pass := filepath.Join(dir, "ldap.pass")
	if err := os.WriteFile(pass, []byte("pw"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pass, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(cfg, []byte(`[scim]
listen = "127.0.0.1:0"
[scim.auth]
none = true
[ldap]
urls = ["ldap://127.0.0.1:1"]
bind_dn = "cn=admin,dc=example,dc=com"
bind_password_file = "ldap.pass"
base_dn = "dc=example,dc=com"
insecure_skip_verify = true
[mapping]
users = "`+filepath.Join(tables, "openldap-users.toml")+`"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, nil, "serve", "--config", cfg)
	out := gw.output.String()
	for _, want := range []string{
		`unsafe configuration: warning="` + cfg + `:4: scim.auth.none: true: any client`,
		`unsafe configuration: warning="` + cfg + `:8: ldap.bind_password_file: ` + pass + ` is readable by group or others (mode 0644)`,
		`unsafe configuration: warning="` + cfg + `:10: ldap.insecure_skip_verify: true:`,
	} {
		if strings.Count(out, want) != 1 {
			t.Errorf("not logged once: %s\n%s", want, out)
		}
	}
}
