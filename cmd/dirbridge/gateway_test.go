package main

// Black-box harness: the built binary, started as a user would start it,
// driven over HTTP, checked through SCIM and through the OpenLDAP
// command-line clients.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dirbridge-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "dirbridge")
	build := exec.Command("go", "build", "-race", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if runtime.GOOS != "linux" || build.Run() != nil {
		fmt.Fprintln(os.Stderr, "building dirbridge failed")
		os.Exit(1)
	}
	code := m.Run()
	// The AD tests share one Samba AD per binary (its ports are fixed).
	if err := testenv.StopSharedSambaAD(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping Samba AD:", err)
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output for failure messages and address
// discovery.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type gateway struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	auth   string // Authorization header value
	output *syncBuffer
	done   chan struct{}
}

var listenRE = regexp.MustCompile(`scim_addr=(127\.0\.0\.1:\d+)`)

// startGateway runs the binary with args and env (added to the test's
// environment) and waits until it reports the address it listens on.
func startGateway(t *testing.T, env []string, args ...string) *gateway {
	t.Helper()
	g := &gateway{t: t, output: &syncBuffer{}, done: make(chan struct{})}
	g.cmd = exec.Command(binPath, args...)
	if slices.Contains(args, "--config") && !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "DIRBRIDGE_STATE_DIR=") }) {
		// Every gateway keeps its own journal.
		env = append(env, "DIRBRIDGE_STATE_DIR="+t.TempDir())
	}
	g.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	g.cmd.Stdout = g.output
	g.cmd.Stderr = io.MultiWriter(g.output, pw)
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		g.cmd.Wait()
		pw.Close()
		close(g.done)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	t.Cleanup(g.stop)
	select {
	case a := <-addr:
		g.base = "http://" + a
	case <-g.done:
		t.Fatalf("dirbridge exited before listening:\n%s", g.output)
	case <-time.After(60 * time.Second):
		t.Fatalf("dirbridge did not report its address:\n%s", g.output)
	}
	return g
}

// stop ends the process by its PID and fails the test on a data race report.
func (g *gateway) stop() {
	select {
	case <-g.done:
	default:
		g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.done:
		case <-time.After(20 * time.Second):
			g.cmd.Process.Kill()
			<-g.done
		}
	}
	out := g.output.String()
	if strings.Contains(out, "WARNING: DATA RACE") || strings.Contains(out, "panic:") {
		g.t.Errorf("dirbridge reported a race or panic:\n%s", out)
	} else if g.t.Failed() {
		lines := strings.Split(out, "\n")
		if len(lines) > 200 {
			lines = lines[len(lines)-200:]
		}
		g.t.Logf("dirbridge output (last lines):\n%s", strings.Join(lines, "\n"))
	}
}

type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

var client = &http.Client{Timeout: 60 * time.Second}

// do sends a request; body may be a string (sent as is), nil, or any value
// (sent as JSON). Extra headers come in name, value pairs; a "Content-Type"
// of "" sends none.
func (g *gateway) do(method, path string, body any, hdr ...string) response {
	g.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			g.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, g.base+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	if g.auth != "" {
		req.Header.Set("Authorization", g.auth)
	}
	req.Header.Set("Accept", "application/scim+json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			g.t.Fatalf("%s %s: answer is not a JSON object (%d): %q", method, path, resp.StatusCode, raw)
		}
	}
	return r
}

// must fails the test unless the response has the status.
func (r response) must(t *testing.T, status int, what string) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Raw)
	}
	return r
}

// get walks a dotted path through the JSON body ("meta.version",
// "Resources.0.id").
func (r response) get(path string) any {
	return dig(r.Body, path)
}

func dig(v any, path string) any {
	for path != "" {
		switch t := v.(type) {
		case map[string]any:
			// Keys may hold dots themselves (schema URNs hold "2.0"): take
			// the longest key that the path starts with.
			best := ""
			for k := range t {
				if (path == k || strings.HasPrefix(path, k+".")) && len(k) > len(best) {
					best = k
				}
			}
			if best == "" {
				return nil
			}
			v, path = t[best], strings.TrimPrefix(strings.TrimPrefix(path, best), ".")
		case []any:
			head, rest, _ := strings.Cut(path, ".")
			var i int
			if _, err := fmt.Sscanf(head, "%d", &i); err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v, path = t[i], rest
		default:
			return nil
		}
	}
	return v
}

func (r response) str(path string) string {
	s, _ := r.get(path).(string)
	return s
}

// checkSafeError asserts a SCIM error body that leaks nothing of LDAP.
func checkSafeError(t *testing.T, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	if r.str("status") != fmt.Sprint(status) {
		t.Fatalf("error body status %q, want %q: %s", r.str("status"), fmt.Sprint(status), r.Raw)
	}
	low := strings.ToLower(r.Raw)
	for _, leak := range []string{"dc=example", "ou=people", "ldap result", "ldap:", "goroutine", ".go:"} {
		if strings.Contains(low, leak) {
			t.Fatalf("error body leaks %q: %s", leak, r.Raw)
		}
	}
}
