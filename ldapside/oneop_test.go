package ldapside

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/dirbridge/dirbridge/testenv/embedded"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
)

// LDAP protocol operations (RFC 4511 §4.2-4.12), as application tags.
const (
	opSearch   = ldap.ApplicationSearchRequest
	opModify   = ldap.ApplicationModifyRequest
	opAdd      = ldap.ApplicationAddRequest
	opDelete   = ldap.ApplicationDelRequest
	opModDN    = ldap.ApplicationModifyDNRequest
	opExtended = ldap.ApplicationExtendedRequest
)

// opCounter is a TCP proxy between a Conn and a directory that counts the
// LDAP requests the Conn sends, by operation: what the directory was asked
// to do is seen on the wire, not taken from the code under test. With
// serverTLS it terminates TLS (ldaps://) and speaks TLS upstream, so that
// AD's passwords, which only travel encrypted, can be counted too.
type opCounter struct {
	ln        net.Listener
	upstream  string
	serverTLS *tls.Config // nil: plain LDAP on both sides
	clientTLS *tls.Config

	mu  sync.Mutex
	ops map[int]int
	// down counts the bytes the directory sent back, for tests that check
	// how much a write read (ad_members_test.go).
	down atomic.Int64
}

type countWriter struct{ n *atomic.Int64 }

func (w countWriter) Write(b []byte) (int, error) { w.n.Add(int64(len(b))); return len(b), nil }

// startCountedOpenLDAP starts a slapd and a Conn of poolSize connections
// that reach it through an op counter, for tests that count what a write
// sends on the wire.
func startCountedOpenLDAP(t *testing.T, opts testenv.OpenLDAPOptions, poolSize int) (*testenv.OpenLDAP, *opCounter, *Conn) {
	t.Helper()
	o, err := testenv.StartOpenLDAP(t, opts)
	if err != nil {
		t.Fatalf("StartOpenLDAP: %v", err)
	}
	p := startOpCounter(t, strings.TrimPrefix(o.URL, "ldap://"), nil, nil)
	c, err := Open(Config{URLs: []string{p.url()}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN,
		PoolSize: poolSize, OpTimeout: 30 * time.Second}, hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return o, p, c
}

func startOpCounter(t *testing.T, upstream string, serverTLS, clientTLS *tls.Config) *opCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &opCounter{ln: ln, upstream: upstream, serverTLS: serverTLS, clientTLS: clientTLS, ops: map[int]int{}}
	t.Cleanup(func() { _ = ln.Close() })
	go p.serve()
	return p
}

// url is what the Conn dials.
func (p *opCounter) url() string {
	if p.serverTLS != nil {
		return "ldaps://" + p.ln.Addr().String()
	}
	return "ldap://" + p.ln.Addr().String()
}

func (p *opCounter) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.relay(in)
	}
}

func (p *opCounter) relay(in net.Conn) {
	defer in.Close()
	var out net.Conn
	var err error
	if p.serverTLS != nil {
		in = tls.Server(in, p.serverTLS)
		out, err = tls.Dial("tcp", p.upstream, p.clientTLS)
	} else {
		out, err = net.Dial("tcp", p.upstream)
	}
	if err != nil {
		return
	}
	defer out.Close()
	go func() { _, _ = io.Copy(io.MultiWriter(in, countWriter{&p.down}), out); _ = in.Close() }()
	// Each request goes upstream as the client sent it, but only once it
	// is counted: counted after, its answer could reach the client first
	// and a take() just after the call would miss it.
	var buf bytes.Buffer
	r := io.TeeReader(bufio.NewReader(in), &buf)
	for {
		buf.Reset()
		msg, err := ber.ReadPacket(r)
		if err != nil {
			return
		}
		if len(msg.Children) >= 2 && msg.Children[1].ClassType == ber.ClassApplication {
			p.mu.Lock()
			p.ops[int(msg.Children[1].Tag)]++
			p.mu.Unlock()
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			return
		}
	}
}

// take returns the counts since the last take and starts again from zero.
func (p *opCounter) take() map[int]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.ops
	p.ops = map[int]int{}
	return out
}

// writes reports the write operations of counts: modify, add, delete,
// modify DN and extended (Password Modify is one).
func writeCounts(counts map[int]int) string {
	return fmt.Sprintf("modify=%d add=%d delete=%d modifyDN=%d extended=%d",
		counts[opModify], counts[opAdd], counts[opDelete], counts[opModDN], counts[opExtended])
}

// wantWrites fails unless the operations since the last take were exactly
// want (in the form of writes).
func wantWrites(t *testing.T, p *opCounter, what, want string) {
	t.Helper()
	if got := writeCounts(p.take()); got != want {
		t.Errorf("%s sent %s, want %s", what, got, want)
	}
}

// ldapwhoami binds as dn with password using OpenLDAP's own client, as an
// application would.
func ldapwhoami(t *testing.T, url, dn, password string) error {
	t.Helper()
	bin, err := exec.LookPath("ldapwhoami")
	if err != nil {
		t.Skip("ldapwhoami is not installed (Debian: ldap-utils)")
	}
	out, err := exec.Command(bin, "-x", "-H", url, "-D", dn, "-w", password).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// TestPatchIsOneModifyOnOpenLDAP: a PATCH {title, password, active:false}
// is ONE modify on the wire - no Password Modify, no second modify for the
// lock - on both of Modify's paths (planned on the caller's read with the
// Assertion control, and reading the entry first). On a slapd that stores
// a cleartext userPassword as sent (olcPPolicyHashCleartext off) the
// password still lands hashed, ppolicy stamps pwdChangedTime inside that
// one operation, the lock holds, and after enabling the new password binds
// (ldapwhoami) and the old does not.
func TestPatchIsOneModifyOnOpenLDAP(t *testing.T) {
	o, p, c := startCountedOpenLDAP(t, testenv.OpenLDAPOptions{NoHashCleartext: true}, 2)
	ctx := tctx(t)
	state := func(dn string) (title, stored, changed string, locked bool) {
		e := adminRead(t, o, dn, "title", "userPassword", "pwdChangedTime", "pwdAccountLockedTime")
		return e.GetAttributeValue("title"), e.GetAttributeValue("userPassword"), e.GetAttributeValue("pwdChangedTime"),
			e.GetAttributeValue("pwdAccountLockedTime") == lockedForever
	}
	for _, withCurrent := range []bool{true, false} {
		t.Run(fmt.Sprintf("current=%t", withCurrent), func(t *testing.T) {
			uid := fmt.Sprintf("one%t", withCurrent)
			p.take()
			e := addPerson(t, c, o.PeopleDN, uid, "Old-Secret-1", false)
			wantWrites(t, p, "Add", "modify=0 add=1 delete=0 modifyDN=0 extended=0")
			if _, stored, _, _ := state(e.DN); !strings.HasPrefix(stored, "{SSHA}") {
				t.Fatalf("Add stored userPassword %q, want an {SSHA} hash", stored)
			}
			current := func() *bridge.Entry {
				if !withCurrent {
					return nil
				}
				g, err := c.Get(ctx, "", e.ID, []string{"title"})
				if err != nil {
					t.Fatal(err)
				}
				p.take() // the caller's read is not the write's
				return g
			}
			time.Sleep(1100 * time.Millisecond) // pwdChangedTime has whole seconds
			pw, yes, no := "New-Secret-2", true, false
			cur := current()
			got, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Current: cur, Password: &pw, Disabled: &yes,
				Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"Leaver"}}}})
			if err != nil {
				t.Fatalf("Modify: %v", err)
			}
			wantWrites(t, p, "PATCH {title, password, active:false}", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
			if withCurrent && c.onCurrent.Load() == 0 {
				t.Errorf("the write was not planned on Current")
			}
			title, stored, changed, locked := state(e.DN)
			if title != "Leaver" || !locked || !got.Disabled {
				t.Fatalf("after the PATCH: title %q, locked %t (returned disabled %t)", title, locked, got.Disabled)
			}
			if !strings.HasPrefix(stored, "{SSHA}") || strings.Contains(stored, pw) || !passwordMatches(stored, pw) {
				t.Fatalf("stored userPassword %q: want the new password as an {SSHA} hash", stored)
			}
			if changed == "" {
				t.Fatalf("ppolicy did not stamp pwdChangedTime")
			}
			if err := ldapwhoami(t, o.URL, e.DN, pw); err == nil {
				t.Fatalf("a disabled account binds with its new password")
			}
			// Resending the same password writes nothing at all.
			time.Sleep(1100 * time.Millisecond)
			v := got.Version
			got, err = c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Current: current(), Password: &pw})
			if err != nil {
				t.Fatal(err)
			}
			wantWrites(t, p, "resending the password", "modify=0 add=0 delete=0 modifyDN=0 extended=0")
			if _, _, again, _ := state(e.DN); again != changed || got.Version != v {
				t.Fatalf("resending the password moved pwdChangedTime %s -> %s, Version %s -> %s", changed, again, v, got.Version)
			}
			// A new password for an account that stays disabled: one
			// modify, and the lock holds (ppolicy would drop it).
			pw3 := "Third-Secret-3"
			if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Current: current(), Password: &pw3}); err != nil {
				t.Fatal(err)
			}
			wantWrites(t, p, "a new password while disabled", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
			_, _, moved, locked := state(e.DN)
			if !locked || moved == changed {
				t.Fatalf("new password while disabled: locked %t, pwdChangedTime %s -> %s", locked, changed, moved)
			}
			if err := ldapwhoami(t, o.URL, e.DN, pw3); err == nil {
				t.Fatalf("a disabled account binds after a password change")
			}
			// Enabling with the same password: one modify, the password
			// untouched.
			if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Current: current(), Password: &pw3, Disabled: &no}); err != nil {
				t.Fatal(err)
			}
			wantWrites(t, p, "enable, same password", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
			if _, _, again, locked := state(e.DN); locked || again != moved {
				t.Fatalf("enable: locked %t, pwdChangedTime %s -> %s", locked, moved, again)
			}
			if err := ldapwhoami(t, o.URL, e.DN, pw3); err != nil {
				t.Fatalf("ldapwhoami with the new password: %v", err)
			}
			for _, old := range []string{"Old-Secret-1", pw} {
				if err := ldapwhoami(t, o.URL, e.DN, old); err == nil {
					t.Fatalf("ldapwhoami with an old password succeeds")
				}
			}
			// Disable and a new password at once, then enable and a new
			// password at once: one modify each.
			pw4, pw5 := "Fourth-Secret-4", "Fifth-Secret-5"
			if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Current: current(), Password: &pw4, Disabled: &yes}); err != nil {
				t.Fatal(err)
			}
			wantWrites(t, p, "PATCH {password, active:false}", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
			if _, _, _, locked := state(e.DN); !locked {
				t.Fatalf("disable with a new password left the account unlocked")
			}
			if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Current: current(), Password: &pw5, Disabled: &no}); err != nil {
				t.Fatal(err)
			}
			wantWrites(t, p, "PATCH {password, active:true}", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
			if _, _, _, locked := state(e.DN); locked {
				t.Fatalf("enable with a new password left the account locked")
			}
			if err := c.Authenticate(ctx, e.DN, pw5); err != nil {
				t.Fatalf("bind with the newest password: %v", err)
			}
		})
	}
}

// TestADWritesAreOneOperation: on Samba AD, through a TLS-terminating
// proxy that counts the operations, a create with a password is ONE add
// (unicodePwd, its fingerprint and the final userAccountControl in it), and
// a PATCH {description, password, active:false} is ONE modify.
func TestADWritesAreOneOperation(t *testing.T) {
	s := testenv.SharedSambaAD(t)
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	// The proxy presents Samba's own certificate (made for 127.0.0.1).
	cert, err := tls.LoadX509KeyPair(s.CAFile, filepath.Join(filepath.Dir(s.CAFile), "tls-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	p := startOpCounter(t, strings.TrimPrefix(s.LDAPSURL, "ldaps://"),
		&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	_, c, people, _ := startAD(t, func(cfg *Config) { cfg.URLs = []string{p.url()} })
	ctx := tctx(t)
	uac := func(cn string) (string, string) {
		e := adminSearch(t, s, people, "(cn="+cn+")", "userAccountControl", DefaultADPasswordStateAttr)[0]
		return e.GetAttributeValue("userAccountControl"), e.GetAttributeValue(DefaultADPasswordStateAttr)
	}

	for _, disabled := range []bool{false, true} {
		cn := fmt.Sprintf("one%t%s", disabled, randTag())
		req := adUser(people, cn)
		req.Password, req.Disabled = "Good-Pa55word-1", disabled
		p.take()
		e, err := c.Add(ctx, req)
		if err != nil {
			t.Fatalf("Add(disabled=%t): %v", disabled, err)
		}
		wantWrites(t, p, fmt.Sprintf("Add(disabled=%t)", disabled), "modify=0 add=1 delete=0 modifyDN=0 extended=0")
		want := "512"
		if disabled {
			want = "514"
		}
		if got, fp := uac(cn); got != want || !strings.HasPrefix(fp, fpV2) || e.Disabled != disabled {
			t.Fatalf("Add(disabled=%t): userAccountControl %s (want %s), fingerprint %q", disabled, got, want, fp)
		}
		if err := c.Authenticate(ctx, e.DN, "Good-Pa55word-1"); (err == nil) == disabled {
			t.Fatalf("Add(disabled=%t): bind: %v", disabled, err)
		}
	}

	cn := "patch" + randTag()
	req := adUser(people, cn)
	req.Password = "Good-Pa55word-1"
	e, err := c.Add(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	_, fp1 := uac(cn)
	p.take()
	pw, yes, no := "Good-Pa55word-2", true, false
	if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Password: &pw, Disabled: &yes,
		Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "description", Values: []string{"leaver"}}}}); err != nil {
		t.Fatalf("Modify: %v", err)
	}
	wantWrites(t, p, "PATCH {description, password, active:false}", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
	got, fp2 := uac(cn)
	if got != "514" || fp2 == fp1 || !strings.HasPrefix(fp2, fpV2) {
		t.Fatalf("after the PATCH: userAccountControl %s, fingerprint changed %t", got, fp2 != fp1)
	}
	if d := adminSearch(t, s, people, "(cn="+cn+")", "description")[0].GetAttributeValue("description"); d != "leaver" {
		t.Fatalf("description %q", d)
	}
	// Enable, resending the password: one modify of userAccountControl
	// only, the password and its fingerprint left alone.
	if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Password: &pw, Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, p, "enable, same password", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
	if got, fp3 := uac(cn); got != "512" || fp3 != fp2 {
		t.Fatalf("after enabling: userAccountControl %s, fingerprint rewritten %t", got, fp3 != fp2)
	}
	if err := c.Authenticate(ctx, e.DN, pw); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	if err := c.Authenticate(ctx, e.DN, "Good-Pa55word-1"); err == nil {
		t.Fatalf("the old password still binds")
	}
	// A mapped userAccountControl and the disabled bit in one modify: the
	// table's other bits and the request's bit 0x2 both hold.
	if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Disabled: &yes,
		Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "userAccountControl", Values: []string{"66048"}}}}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, p, "PATCH {userAccountControl, active:false}", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
	if got, _ := uac(cn); got != "66050" {
		t.Fatalf("userAccountControl %s, want 66050", got)
	}
}

// TestPatchIsOneModifyOnTheEmbeddedDirectory: the OpenLDAP dialect against
// the embedded directory served over LDAP: the gateway's {SSHA} hash is
// taken as it is in an add and in a modify (the embedded directory hashes
// only cleartext values), a PATCH {title, password, active:false} is one
// modify, and the directory's binds follow it.
func TestPatchIsOneModifyOnTheEmbeddedDirectory(t *testing.T) {
	fast := embedded.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 8, KeyLen: 16}
	e, err := embedded.OpenEmbedded(embedded.EmbeddedOptions{DataDir: t.TempDir(), AdminPassword: "admin-secret", Argon2: &fast})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	srv, err := embedded.NewLDAPServer(e, embedded.LDAPServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	p := startOpCounter(t, srv.Addr().String(), nil, nil)
	c, err := Open(Config{URLs: []string{p.url()}, BindDN: "cn=admin,dc=example,dc=com", BindPassword: "admin-secret",
		BaseDN: "dc=example,dc=com", PoolSize: 2, OpTimeout: 30 * time.Second}, hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := tctx(t)
	stored := func(id string) []string {
		g, err := e.Get(ctx, "", id, []string{"userPassword"})
		if err != nil {
			t.Fatal(err)
		}
		return g.Values("userPassword")
	}
	ent := addPerson(t, c, "ou=people,dc=example,dc=com", "emb", "Old-Secret-1", false)
	if got := stored(ent.ID); len(got) != 1 || !strings.HasPrefix(got[0], "{SSHA}") {
		t.Fatalf("stored userPassword %q, want the gateway's {SSHA} hash", got)
	}
	p.take()
	pw, yes, no := "New-Secret-2", true, false
	if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: ent.ID, Password: &pw, Disabled: &yes,
		Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"Leaver"}}}}); err != nil {
		t.Fatalf("Modify: %v", err)
	}
	wantWrites(t, p, "PATCH {title, password, active:false}", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
	g, err := e.Get(ctx, "", ent.ID, []string{"title"})
	if err != nil {
		t.Fatal(err)
	}
	if g.First("title") != "Leaver" || !g.Disabled {
		t.Fatalf("after the PATCH: title %q, disabled %t", g.First("title"), g.Disabled)
	}
	if err := c.Authenticate(ctx, ent.DN, pw); err == nil {
		t.Fatalf("a disabled account binds")
	}
	if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: ent.ID, Password: &pw, Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	wantWrites(t, p, "enable, same password", "modify=1 add=0 delete=0 modifyDN=0 extended=0")
	if err := c.Authenticate(ctx, ent.DN, pw); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	if err := c.Authenticate(ctx, ent.DN, "Old-Secret-1"); err == nil {
		t.Fatalf("the old password still binds")
	}
}
