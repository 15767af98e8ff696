package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// The Windows service's parts that do not need Windows: its flags, the
// command line it registers and how log lines reach the event log. They are
// here, built everywhere, so that Linux tests cover them; service_windows.go
// only talks to the service manager.

const (
	defaultServiceName  = "dirbridge"
	serviceDisplayName  = "dirbridge SCIM gateway"
	serviceDescription  = "SCIM 1.1/2.0 to LDAP gateway (dirbridge): provisions users and groups from Okta or Entra ID into the directory."
	defaultServiceUser  = `NT AUTHORITY\LocalService`
	serviceLogFileName  = "dirbridge.log"
	serviceProgramDataD = "dirbridge"
)

// serviceArgs are the parsed flags of `dirbridge service ACTION`.
type serviceArgs struct {
	action  string // install, uninstall, start, stop, run
	name    string
	config  string // absolute, for install and run
	logFile string // absolute; "" is the default under %ProgramData%
	account string // install only
}

var serviceActions = []string{"install", "uninstall", "start", "stop", "run"}

// parseServiceArgs parses `service ACTION [flags]`. abs makes paths
// absolute (filepath.Abs on the platform the service runs on): the service
// manager starts the program in %SystemRoot%\System32, so a relative path
// given at install would name another file when it runs.
func parseServiceArgs(args []string, abs func(string) (string, error)) (serviceArgs, error) {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	config := fs.String("config", "", "configuration file (install, run: required)")
	name := fs.String("name", defaultServiceName, "service name (and event log source); lets several gateways run side by side")
	logFile := fs.String("log-file", "", `log file (install, run); default %ProgramData%\dirbridge\dirbridge.log`)
	account := fs.String("account", defaultServiceUser, `install: account the service runs as (a gMSA as DOMAIN\name$); see docs/windows.md`)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parseFlags(fs, args); err != nil {
			return serviceArgs{}, err
		}
		return serviceArgs{}, usageError{withUsage{errors.New("missing action: install, uninstall, start, stop (run is what the service manager starts)"), commandUsage("service", fs)}}
	}
	sa := serviceArgs{action: args[0]}
	known := false
	for _, a := range serviceActions {
		known = known || a == sa.action
	}
	if !known {
		return serviceArgs{}, usageError{withUsage{fmt.Errorf("unknown action %q: install, uninstall, start, stop", sa.action), commandUsage("service", fs)}}
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return serviceArgs{}, err
	}
	sa.name, sa.account = *name, *account
	if sa.name == "" || strings.ContainsAny(sa.name, `/\`) {
		return serviceArgs{}, usageError{fmt.Errorf("--name %q: a service name is not empty and has no / or \\", sa.name)}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch sa.action {
	case "install", "run":
		if *config == "" {
			return serviceArgs{}, usageError{fmt.Errorf("%s needs --config FILE", sa.action)}
		}
	default:
		for _, f := range []string{"config", "log-file", "account"} {
			if set[f] {
				return serviceArgs{}, usageError{fmt.Errorf("--%s is for install (and run); %s needs only --name", f, sa.action)}
			}
		}
	}
	if set["account"] && sa.action != "install" {
		return serviceArgs{}, usageError{errors.New("--account is for install")}
	}
	var err error
	if *config != "" {
		if sa.config, err = abs(*config); err != nil {
			return serviceArgs{}, fmt.Errorf("--config %q: %w", *config, err)
		}
	}
	if *logFile != "" {
		if sa.logFile, err = abs(*logFile); err != nil {
			return serviceArgs{}, fmt.Errorf("--log-file %q: %w", *logFile, err)
		}
	}
	return sa, nil
}

// runArgs are the arguments after the program's path that the service
// manager passes when it starts the service: `service run` with what
// install was given, so that run reads the same file and logs to the same
// place.
func (sa serviceArgs) runArgs() []string {
	args := []string{"service", "run", "--config", sa.config}
	if sa.name != defaultServiceName {
		args = append(args, "--name", sa.name)
	}
	if sa.logFile != "" {
		args = append(args, "--log-file", sa.logFile)
	}
	return args
}

// serviceCommandLine is the command line the service manager keeps for the
// service: what mgr.CreateService builds from the program and runArgs, each
// quoted as syscall.EscapeArg does on Windows (only when it must be, so a
// path with a space is quoted and its backslashes stay single).
func serviceCommandLine(exe string, args []string) string {
	parts := []string{escapeArg(exe)}
	for _, a := range args {
		parts = append(parts, escapeArg(a))
	}
	return strings.Join(parts, " ")
}

// escapeArg quotes s for CommandLineToArgvW, as syscall.EscapeArg does on
// Windows (that function exists only there): backslashes are literal except
// before a quote, where they are doubled, as they are before the closing
// quote.
func escapeArg(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(c)
	}
	b.WriteString(strings.Repeat(`\`, slashes))
	b.WriteByte('"')
	return b.String()
}

// defaultServiceLogFile is the log file under programData (%ProgramData%,
// C:\ProgramData on a default install).
func defaultServiceLogFile(programData string) string {
	if programData == "" {
		programData = `C:\ProgramData`
	}
	return programData + `\` + serviceProgramDataD + `\` + serviceLogFileName
}

// eventLog is what eventWriter writes to: *eventlog.Log on Windows, a
// recorder in tests.
type eventLog interface {
	Info(eid uint32, msg string) error
	Warning(eid uint32, msg string) error
	Error(eid uint32, msg string) error
}

// Event ids: one per level, so that an admin can filter the Application log
// on them (the source is registered with EventCreate.exe's messages, which
// show any id's text as given).
const (
	eventIDInfo    = 1
	eventIDWarning = 2
	eventIDError   = 3
)

// eventWriter copies the log lines of level warning and above to the
// Windows event log; the file gets every line. hclog writes each entry with
// one Write, so a Write is a line (or a JSON object) whose level is read
// from it. Info lines stay out: the access log would flood the Application
// log, and the file has them. The service's own start and stop are written
// to the event log directly (with Info), not through here.
type eventWriter struct{ log eventLog }

func (w eventWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, "\r\n"))
	var err error
	switch lineLevel(p) {
	case "warn":
		err = w.log.Warning(eventIDWarning, msg)
	case "error":
		err = w.log.Error(eventIDError, msg)
	}
	// A failed event log write must not stop the file's copy (io.MultiWriter
	// stops at the first error), and has nowhere better to be reported.
	_ = err
	return len(p), nil
}

// lineLevel is the level of one hclog line: "[WARN]" in the text format,
// "@level":"warn" in JSON; "" when there is none (a continuation).
func lineLevel(p []byte) string {
	if bytes.HasPrefix(bytes.TrimSpace(p), []byte("{")) {
		for _, l := range []string{"trace", "debug", "info", "warn", "error"} {
			if bytes.Contains(p, []byte(`"@level":"`+l+`"`)) {
				return l
			}
		}
		return ""
	}
	// Text: "2026-01-02T15:04:05.000Z [WARN]  dirbridge: …"; the level is
	// the first bracketed word.
	i := bytes.IndexByte(p, '[')
	if i < 0 || i > 40 {
		return ""
	}
	j := bytes.IndexByte(p[i:], ']')
	if j < 0 {
		return ""
	}
	switch string(p[i+1 : i+j]) {
	case "TRACE":
		return "trace"
	case "DEBUG":
		return "debug"
	case "INFO":
		return "info"
	case "WARN":
		return "warn"
	case "ERROR":
		return "error"
	}
	return ""
}

// serviceCmd is `dirbridge service ACTION`; the actions are the platform's.
func serviceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if !serviceOnThisOS {
		help := false
		for _, a := range args {
			help = help || a == "-h" || a == "--help" || a == "-help"
		}
		if !help {
			return serviceAction(ctx, serviceArgs{}, stdout, stderr)
		}
	}
	sa, err := parseServiceArgs(args, filepath.Abs)
	if err != nil {
		return err
	}
	return serviceAction(ctx, sa, stdout, stderr)
}
