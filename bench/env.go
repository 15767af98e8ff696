package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// buildGateway builds cmd/dirbridge the way `make build` does (no race
// detector: the bench measures what ships) into dst.
func buildGateway(ctx context.Context, repo, dst string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", dst, "./cmd/dirbridge")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("building dirbridge: %v\n%s", err, out)
	}
	return nil
}

// repoRoot finds the module root from the working directory, so that
// `go run ./bench` and `go test ./bench` both find cmd/dirbridge and the
// example configuration.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "cmd", "dirbridge")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the dirbridge module root (run from inside the repository)")
		}
		dir = parent
	}
}

// gateway is a running bin/dirbridge serving the shipped OpenLDAP example
// configuration, with the directory's address and secrets from the
// environment, as the README tells an operator to run it.
type gateway struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	auth   string // Authorization header value
	pprof  string // pprof address, when asked for
	done   chan struct{}
	state  string // its journal's folder, removed by stop
	mu     sync.Mutex
	output strings.Builder // the process's log (warnings and errors only)
}

var (
	scimAddrRE  = regexp.MustCompile(`scim_addr=(127\.0\.0\.1:\d+)`)
	pprofAddrRE = regexp.MustCompile(`pprof_addr=(127\.0\.0\.1:\d+)`)
)

func (g *gateway) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.output.Len() < 1<<20 { // enough to diagnose, bounded for long runs
		g.output.Write(p)
	}
	return len(p), nil
}

func (g *gateway) log() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.output.String()
}

type gatewayOptions struct {
	bin, config string
	dir         benchDir
	logLevel    string
	pprof       bool
}

// startGateway starts the binary and waits until it answers /readyz.
//
// The gateway logs its SCIM address ("scim_addr=") at info level, but the
// bench runs it at warn so that the audit lines (info, one per write) do not
// cost log I/O the numbers would then include. So the bench picks a free
// port itself; at info or lower the logged address is used instead.
func startGateway(ctx context.Context, o gatewayOptions) (*gateway, error) {
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	g := &gateway{auth: "Bearer " + hex.EncodeToString(tok), done: make(chan struct{})}
	if g.state, err = os.MkdirTemp("", "dirbridge-bench-state-"); err != nil {
		return nil, err
	}
	g.cmd = exec.Command(o.bin, "serve", "--config", o.config)
	env := append(os.Environ(), o.dir.gatewayEnv()...)
	env = append(env,
		"DIRBRIDGE_STATE_DIR="+g.state,
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE="+g.auth,
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:"+strconv.Itoa(port),
		"DIRBRIDGE_LOG_LEVEL="+o.logLevel,
	)
	if o.pprof {
		env = append(env, "DIRBRIDGE_PPROF_LISTEN=127.0.0.1:0")
	}
	g.cmd.Env = env
	pr, pw := io.Pipe()
	g.cmd.Stdout = g
	g.cmd.Stderr = io.MultiWriter(g, pw)
	// Its own process group: a Ctrl-C at the terminal reaches the bench,
	// which then stops the gateway by its PID after reporting.
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = g.cmd.Wait()
		pw.Close()
		close(g.done)
	}()
	logged := make(chan string, 1)
	pprofAddr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := scimAddrRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case logged <- m[1]:
				default:
				}
			}
			if m := pprofAddrRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case pprofAddr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	g.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case a := <-logged:
			g.base = "http://" + a
		case <-g.done:
			return nil, fmt.Errorf("dirbridge exited before it was ready:\n%s", g.log())
		case <-ctx.Done():
			g.stop()
			return nil, ctx.Err()
		default:
		}
		if ready(g.base) {
			break
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, fmt.Errorf("dirbridge was not ready within 60s:\n%s", g.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if o.pprof {
		select {
		case a := <-pprofAddr:
			g.pprof = a
		case <-time.After(5 * time.Second):
		}
	}
	return g, nil
}

func ready(base string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (g *gateway) pid() int { return g.cmd.Process.Pid }

// stop ends the gateway by its PID: SIGTERM, then SIGKILL after 15s.
func (g *gateway) stop() {
	defer os.RemoveAll(g.state)
	stopByPID(g.cmd.Process, g.done, 15*time.Second)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// rssSampler watches a process's resident set: VmHWM is the kernel's peak,
// VmRSS is sampled so that the JSON can show the curve's maximum too (the
// two agree unless the peak fell between samples).
type rssSampler struct {
	pid     int
	stopc   chan struct{}
	done    chan struct{}
	maxRSS  int64 // kB
	samples int
}

func startRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(25 * time.Millisecond)
		defer t.Stop()
		for {
			if v, ok := procStatus(pid, "VmRSS"); ok {
				s.samples++
				s.maxRSS = max(s.maxRSS, v)
			}
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop returns the peak (VmHWM) and the largest sampled VmRSS, in bytes.
func (s *rssSampler) stop() (hwm, sampled int64) {
	close(s.stopc)
	<-s.done
	h, _ := procStatus(s.pid, "VmHWM")
	return h * 1024, s.maxRSS * 1024
}

// procStatus reads one "kB" field of /proc/PID/status.
func procStatus(pid int, field string) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			v, err := strconv.ParseInt(f[0], 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// rawPool is the raw-LDAP side: bound connections of its own, one per
// worker, so that raw operations run at the same concurrency as SCIM ones.
type rawPool struct {
	conns chan *ldap.Conn
	all   []*ldap.Conn
}

func dialRaw(d benchDir) (*ldap.Conn, error) {
	l, err := ldap.DialURL(d.url(), ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return nil, err
	}
	l.SetTimeout(5 * time.Minute) // the big-group build takes a while
	if err := l.Bind(d.admin()); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func newRawPool(d benchDir, n int) (*rawPool, error) {
	p := &rawPool{conns: make(chan *ldap.Conn, n)}
	for range n {
		l, err := dialRaw(d)
		if err != nil {
			p.close()
			return nil, err
		}
		p.all = append(p.all, l)
		p.conns <- l
	}
	return p, nil
}

func (p *rawPool) get() *ldap.Conn  { return <-p.conns }
func (p *rawPool) put(l *ldap.Conn) { p.conns <- l }

func (p *rawPool) close() {
	for _, l := range p.all {
		l.Close()
	}
}

// relay is a running bench/relay: the least an HTTP gateway does for a
// write, measured beside dirbridge as the machine's own bound.
type relay struct {
	cmd  *exec.Cmd
	done chan struct{}
	base string
	out  strings.Builder // its stderr
}

// buildRelay builds bench/relay into dst, as buildGateway builds the
// gateway.
func buildRelay(ctx context.Context, repo, dst string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", dst, "./bench/relay")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the relay: %v\n%s", err, out)
	}
	return nil
}

// startRelay starts the relay on d and waits for its address.
func startRelay(ctx context.Context, bin string, d benchDir) (*relay, error) {
	dn, pw := d.admin()
	r := &relay{cmd: exec.Command(bin), done: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), "BENCH_RELAY_LDAP_URL="+d.url(), "BENCH_RELAY_BIND_DN="+dn, "BENCH_RELAY_BIND_PASSWORD="+pw)
	r.cmd.Stderr = &r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = r.cmd.Wait()
		close(r.done)
	}()
	select {
	case a := <-addr:
		if a == "" {
			r.stop()
			return nil, fmt.Errorf("the relay exited before it listened: %s", r.out.String())
		}
		r.base = "http://" + a
		return r, nil
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	r.stop()
	return nil, errors.New("the relay did not start")
}

// stop ends the relay by its PID.
func (r *relay) stop() { stopByPID(r.cmd.Process, r.done, 5*time.Second) }

// stopByPID ends p, whose Wait closes done: SIGTERM, then SIGKILL after
// grace.
func stopByPID(p *os.Process, done <-chan struct{}, grace time.Duration) {
	select {
	case <-done:
		return
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = p.Kill()
		<-done
	}
}

// client is an HTTP client for the relay, pooled like the SCIM client.
func (r *relay) client() *scimClient { return newHTTPClient(r.base, "none") }

// relayBody is the relay's request for m.
func relayBody(m *ldap.ModifyRequest) map[string]any {
	ops := map[uint]string{ldap.AddAttribute: "add", ldap.DeleteAttribute: "delete", ldap.ReplaceAttribute: "replace"}
	var ch []any
	for _, c := range m.Changes {
		ch = append(ch, map[string]any{"op": ops[c.Operation], "attr": c.Modification.Type, "values": c.Modification.Vals})
	}
	return map[string]any{"dn": m.DN, "changes": ch}
}
