package main

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// winAbs stands for filepath.Abs on Windows: the service's paths are
// Windows paths whichever system the test runs on.
func winAbs(p string) (string, error) {
	if strings.Contains(p, `:\`) {
		return p, nil
	}
	return `C:\Program Files\dirbridge\` + p, nil
}

func TestServiceArgs(t *testing.T) {
	sa, err := parseServiceArgs([]string{"install", "--config", "dirbridge.toml"}, winAbs)
	if err != nil {
		t.Fatal(err)
	}
	if sa.action != "install" || sa.name != "dirbridge" || sa.config != `C:\Program Files\dirbridge\dirbridge.toml` || sa.account != `NT AUTHORITY\LocalService` || sa.logFile != "" {
		t.Fatalf("parsed %+v", sa)
	}
	// The command line the service manager keeps: the program and the
	// configuration quoted (they have a space), backslashes single.
	got := serviceCommandLine(`C:\Program Files\dirbridge\dirbridge.exe`, sa.runArgs())
	want := `"C:\Program Files\dirbridge\dirbridge.exe" service run --config "C:\Program Files\dirbridge\dirbridge.toml"`
	if got != want {
		t.Fatalf("command line\n got %s\nwant %s", got, want)
	}
	sa, err = parseServiceArgs([]string{"install", "--config", `D:\gw\b.toml`, "--name", "dirbridge-b", "--log-file", `D:\logs\b.log`, "--account", `CORP\svc-dirbridge$`}, winAbs)
	if err != nil {
		t.Fatal(err)
	}
	got = serviceCommandLine(`D:\gw\dirbridge.exe`, sa.runArgs())
	want = `D:\gw\dirbridge.exe service run --config D:\gw\b.toml --name dirbridge-b --log-file D:\logs\b.log`
	if got != want || sa.account != `CORP\svc-dirbridge$` {
		t.Fatalf("command line\n got %s\nwant %s (account %s)", got, want, sa.account)
	}
	for _, ok := range [][]string{{"start"}, {"stop", "--name", "x"}, {"uninstall"}, {"run", "--config", `C:\a.toml`}} {
		if _, err := parseServiceArgs(ok, winAbs); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range [][]string{
		nil,                             // no action
		{"restart"},                     // no such action
		{"install"},                     // no --config
		{"start", "--config", "a.toml"}, // --config is install's
		{"stop", "--account", "x"},      // --account is install's
		{"install", "--config", "a", "--name", `a\b`},
		{"install", "--config", "a", "extra"},
	} {
		_, err := parseServiceArgs(bad, winAbs)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: want a usage error, got %v", bad, err)
		}
	}
}

// The quoting is syscall.EscapeArg's (Windows only), which CreateService
// applies to what install registers.
func TestEscapeArg(t *testing.T) {
	for in, want := range map[string]string{
		``:                    `""`,
		`C:\dirbridge\a.toml`: `C:\dirbridge\a.toml`,
		`C:\Program Files\x`:  `"C:\Program Files\x"`,
		`C:\dir with space\`:  `"C:\dir with space\\"`,
		`say "hi"`:            `"say \"hi\""`,
		`a\"b c`:              `"a\\\"b c"`,
	} {
		if got := escapeArg(in); got != want {
			t.Errorf("escapeArg(%q) = %s, want %s", in, got, want)
		}
	}
}

type recordedEvent struct{ kind, msg string }

type recorder struct{ events []recordedEvent }

func (r *recorder) Info(_ uint32, m string) error {
	r.events = append(r.events, recordedEvent{"info", m})
	return nil
}
func (r *recorder) Warning(_ uint32, m string) error {
	r.events = append(r.events, recordedEvent{"warning", m})
	return nil
}
func (r *recorder) Error(_ uint32, m string) error {
	r.events = append(r.events, recordedEvent{"error", m})
	return errors.New("event log full") // must not reach the logger
}

// Warnings and errors of the gateway's logger, text or JSON, reach the
// event log with their level; info and debug only the file.
func TestEventWriterLevels(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		rec := &recorder{}
		var file bytes.Buffer
		logger := newLogger("debug", format, io.MultiWriter(&file, eventWriter{rec}))
		logger.Debug("pool opened")
		logger.Info("request", "status", 200)
		logger.Warn("the directory is not reachable yet", "urls", []string{"ldaps://dc1"})
		logger.Error("journal", "error", "disk full")
		if len(rec.events) != 2 || rec.events[0].kind != "warning" || !strings.Contains(rec.events[0].msg, "not reachable") ||
			rec.events[1].kind != "error" || !strings.Contains(rec.events[1].msg, "disk full") {
			t.Fatalf("%s: events %+v", format, rec.events)
		}
		if strings.HasSuffix(rec.events[0].msg, "\n") {
			t.Errorf("%s: event message keeps its newline", format)
		}
		if n := strings.Count(file.String(), "\n"); n != 4 {
			t.Errorf("%s: the file has %d lines, want all 4:\n%s", format, n, file.String())
		}
	}
}

func TestServiceElsewhereSaysWindowsOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the service command works here")
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"service", "install", "--config", "x.toml"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2; stderr %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "for Windows") || !strings.Contains(errOut.String(), "docs/install.md") {
		t.Fatalf("stderr: %s", errOut.String())
	}
	out.Reset()
	if code := run([]string{"help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "service install|uninstall|start|stop") {
		t.Fatalf("usage lacks the service command: %s", out.String())
	}
}
