//go:build unix

package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// SambaAD is a private, throw-away Samba 4 Active Directory DC on loopback,
// LDAP services only: what shared/recipes/samba-ad.sh starts, done in Go.
//
// Samba's AD LDAP ports are compiled in (389, 636, and the global catalog's
// 3268/3269), so there can be one instance per network namespace, and it
// needs root. Test binaries therefore share one instance each
// (SharedSambaAD), and binaries of different packages, which `go test ./...`
// runs in parallel, take turns through a file lock (sambaLockFile) held for
// the instance's whole life.
//
// Provisioning a domain takes tens of seconds on a small machine, so it is
// done once into a template folder (sambaTemplateDir, keyed by the Samba
// version) and every instance starts from a copy of it: only smb.conf holds
// the folder's path.
type SambaAD struct {
	Dir           string // everything of this instance; removed by Stop
	URL           string // ldap://127.0.0.1:389
	LDAPSURL      string // ldaps://127.0.0.1:636
	CAFile        string // PEM of the certificate the server presents
	BaseDN        string // DC=example,DC=test
	Realm         string // EXAMPLE.TEST (also the UPN suffix)
	Domain        string // EXAMPLE (NetBIOS)
	AdminDN       string // CN=Administrator,CN=Users,BASE
	AdminUPN      string // Administrator@EXAMPLE.TEST
	AdminPassword string
	UsersDN       string // CN=Users,BASE

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	lock   *os.File
}

// SambaADOptions tunes StartSambaAD; the zero value is fine.
type SambaADOptions struct{}

// ErrNoSamba means Samba AD cannot run here: not installed, or not root.
var ErrNoSamba = errors.New("testenv: Samba AD needs root and the Debian packages samba-ad-dc samba-ad-provision (apt-get install -y --no-install-recommends samba-ad-dc samba-ad-provision)")

const (
	sambaBin        = "/usr/sbin/samba"
	sambaToolBin    = "/usr/bin/samba-tool"
	sambaLockFile   = "/tmp/dirbridge-samba.lock"
	sambaStateFile  = "/tmp/dirbridge-samba.state" // "PID DIR" of the running instance
	sambaRealm      = "EXAMPLE.TEST"
	sambaDomain     = "EXAMPLE"
	sambaBaseDN     = "DC=example,DC=test"
	sambaAdminPW    = "Adm1n-Passw0rd!" // satisfies AD's complexity rules
	sambaMaxRuntime = 45 * time.Minute  // Samba ends itself after this, should a test binary die
	templateVersion = "1"               // bump when the provisioning below changes
)

var sambaPorts = []int{389, 636, 3268, 3269}

// sambaUsable reports why Samba AD cannot run here, or nil.
func sambaUsable() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w (running as uid %d)", ErrNoSamba, os.Geteuid())
	}
	for _, b := range []string{sambaBin, sambaToolBin} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%w (%s missing)", ErrNoSamba, b)
		}
	}
	return nil
}

// StartSambaAD starts an instance. With tb, a Samba that cannot run here
// skips the test, except under CI (env CI set), where it fails; and the
// instance is stopped when the test ends. Most tests want SharedSambaAD.
func StartSambaAD(tb testing.TB, opts SambaADOptions) (*SambaAD, error) {
	if tb != nil {
		tb.Helper()
	}
	if err := sambaUsable(); err != nil {
		if tb != nil {
			if os.Getenv("CI") != "" {
				tb.Fatalf("%v; CI must run every directory test", err)
			}
			tb.Skipf("%v", err)
		}
		return nil, err
	}
	s, err := launchSamba()
	if err != nil {
		return nil, err
	}
	if tb != nil {
		tb.Cleanup(func() {
			if err := s.Stop(); err != nil {
				tb.Errorf("stopping samba: %v", err)
			}
		})
	}
	return s, nil
}

var shared struct {
	once sync.Once
	s    *SambaAD
	err  error
}

// SharedSambaAD returns the test binary's one Samba AD, starting it on first
// use. It skips or fails the test as StartSambaAD does. Call
// StopSharedSambaAD from TestMain after m.Run.
func SharedSambaAD(tb testing.TB) *SambaAD {
	tb.Helper()
	if err := sambaUsable(); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%v; CI must run every directory test", err)
		}
		tb.Skipf("%v", err)
	}
	shared.once.Do(func() { shared.s, shared.err = launchSamba() })
	if shared.err != nil {
		tb.Fatalf("starting Samba AD: %v", shared.err)
	}
	return shared.s
}

// StopSharedSambaAD stops the instance SharedSambaAD started, if any.
func StopSharedSambaAD() error {
	if shared.s == nil {
		return nil
	}
	return shared.s.Stop()
}

func launchSamba() (s *SambaAD, err error) {
	lock, err := lockSamba(15 * time.Minute)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = lock.Close() // releases the lock
		}
	}()
	if err := reapOrphan(); err != nil {
		return nil, err
	}
	for _, p := range sambaPorts {
		if l, lerr := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); lerr != nil {
			return nil, fmt.Errorf("testenv: port %d is in use (Samba AD needs 389, 636, 3268 and 3269 free; is a system samba-ad-dc running? stop it, e.g. systemctl stop samba-ad-dc): %v", p, lerr)
		} else {
			l.Close()
		}
	}
	tmpl, err := sambaTemplate()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dirbridge-samba-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if out, err := exec.Command("cp", "-a", tmpl+"/.", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testenv: copying the Samba template: %v: %s", err, out)
	}
	conf := filepath.Join(dir, "etc", "smb.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(string(b), tmpl, dir)), 0o644); err != nil {
		return nil, err
	}
	// A fresh certificate per instance (the template may be days old).
	cert, key := filepath.Join(dir, "private", "tls-cert.pem"), filepath.Join(dir, "private", "tls-key.pem")
	if err := writeRSASelfSigned(cert, key, "dc1."+strings.ToLower(sambaRealm)); err != nil {
		return nil, err
	}
	s = &SambaAD{
		Dir:           dir,
		URL:           "ldap://127.0.0.1:389",
		LDAPSURL:      "ldaps://127.0.0.1:636",
		CAFile:        cert,
		BaseDN:        sambaBaseDN,
		Realm:         sambaRealm,
		Domain:        sambaDomain,
		AdminDN:       "CN=Administrator,CN=Users," + sambaBaseDN,
		AdminUPN:      "Administrator@" + sambaRealm,
		AdminPassword: sambaAdminPW,
		UsersDN:       "CN=Users," + sambaBaseDN,
		lock:          lock,
	}
	if err := s.start(conf); err != nil {
		return nil, err
	}
	return s, nil
}

// lockSamba takes the machine-wide lock that serializes Samba instances
// between test binaries. flock is released by the kernel when the holder
// dies, so a crashed binary never blocks the next one.
func lockSamba(wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(sambaLockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("testenv: locking %s: %v", sambaLockFile, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("testenv: another test binary has held %s for %v", sambaLockFile, wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// reapOrphan stops a Samba that an earlier test binary started and could
// not stop (it was killed): we hold the lock, so its owner is gone. Only a
// process whose command line names samba and the recorded folder is touched.
func reapOrphan() error {
	b, err := os.ReadFile(sambaStateFile)
	if err != nil {
		return nil
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return os.Remove(sambaStateFile)
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 1 {
		return os.Remove(sambaStateFile)
	}
	if ownsSambaDir(pid, fields[1]) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100; i++ {
			if syscall.Kill(pid, 0) != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		time.Sleep(200 * time.Millisecond)
	}
	if strings.HasPrefix(fields[1], os.TempDir()) && strings.Contains(fields[1], "dirbridge-samba-") {
		_ = os.RemoveAll(fields[1])
	}
	return os.Remove(sambaStateFile)
}

// ownsSambaDir reports whether pid is a samba serving the state folder dir,
// so that only our own orphan is stopped, never another program's DC or a
// process that reused the pid. Samba rewrites its command line ("samba: root
// process"), so the folder is looked for among its open files as well.
func ownsSambaDir(pid int, dir string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "samba") {
		return false
	}
	if strings.Contains(string(cmdline), dir) {
		return true
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return false
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && strings.HasPrefix(target, prefix) {
			return true
		}
	}
	return false
}

// sambaTemplate returns the provisioned template folder, making it first if
// need be (under the lock, so only one binary provisions).
func sambaTemplate() (string, error) {
	ver, err := exec.Command(sambaBin, "-V").Output()
	if err != nil {
		return "", fmt.Errorf("testenv: samba -V: %v", err)
	}
	tag := strings.NewReplacer(" ", "-", "/", "-", "\n", "").Replace(strings.TrimSpace(string(ver)))
	dir := filepath.Join(os.TempDir(), "dirbridge-samba-template-"+templateVersion+"-"+tag)
	if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
		return dir, nil
	}
	_ = os.RemoveAll(dir)
	work := dir + ".work"
	_ = os.RemoveAll(work)
	if err := provisionSamba(work); err != nil {
		_ = os.RemoveAll(work)
		return "", err
	}
	// The template's paths must be its final ones: rename, then fix smb.conf.
	if err := os.Rename(work, dir); err != nil {
		return "", err
	}
	conf := filepath.Join(dir, "etc", "smb.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(string(b), work, dir)), 0o644); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644)
}

// provisionSamba provisions a domain into dir, as samba-ad.sh does.
func provisionSamba(dir string) error {
	for _, sub := range []string{"etc", "run", "log", "private"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	empty := filepath.Join(dir, "etc", "empty.conf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return err
	}
	// -s with an empty file: provision must not copy the host's
	// /etc/samba/smb.conf.
	out, err := exec.Command(sambaToolBin, "domain", "provision", "-s", empty,
		"--targetdir="+dir, "--realm="+sambaRealm, "--domain="+sambaDomain, "--host-name=dc1",
		"--server-role=dc", "--dns-backend=NONE", "--use-rfc2307", "--adminpass="+sambaAdminPW,
		"--option=interfaces = 127.0.0.1", "--option=bind interfaces only = yes",
		"--option=server services = ldap",
		"--option=pid directory = "+filepath.Join(dir, "run"),
		"--option=log file = "+filepath.Join(dir, "log", "log.%m"),
	).CombinedOutput()
	if err != nil {
		return fmt.Errorf("testenv: samba-tool domain provision: %v\n%s", err, tail(out, 30))
	}
	// Provision does not carry these into smb.conf:
	//  - simple binds on ldap://:389 (the default demands TLS or sealing);
	//  - an old password stops working at once after a reset (default: 1 h);
	//  - the certificate (written per instance, see launchSamba).
	conf := filepath.Join(dir, "etc", "smb.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	extra := fmt.Sprintf("\tldap server require strong auth = no\n\told password allowed period = 0\n\ttls enabled = yes\n\ttls keyfile = %[1]s/private/tls-key.pem\n\ttls certfile = %[1]s/private/tls-cert.pem\n\ttls cafile = %[1]s/private/tls-cert.pem\n", dir)
	s := strings.Replace(string(b), "[global]\n", "[global]\n"+extra, 1)
	if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
		return err
	}
	// AD's defaults (minimum age 1 day, history 24) make tests that change
	// a password twice fail; complexity stays on, as in real domains.
	out, err = exec.Command(sambaToolBin, "domain", "passwordsettings", "set", "-H", filepath.Join(dir, "private", "sam.ldb"),
		"--min-pwd-age=0", "--max-pwd-age=0", "--history-length=0").CombinedOutput()
	if err != nil {
		return fmt.Errorf("testenv: samba-tool domain passwordsettings: %v\n%s", err, tail(out, 20))
	}
	return nil
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// start runs samba in the foreground, so that this process knows its PID
// and reaps it; --maximum-runtime ends it should this process die first.
func (s *SambaAD) start(conf string) error {
	logf, err := os.OpenFile(filepath.Join(s.Dir, "log", "samba.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(sambaBin, "-F", "--no-process-group", "-s", conf,
		"--maximum-runtime="+strconv.Itoa(int(sambaMaxRuntime.Seconds())))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	_ = os.WriteFile(sambaStateFile, []byte(fmt.Sprintf("%d %s\n", cmd.Process.Pid, s.Dir)), 0o600)
	if err := s.waitReady(exited); err != nil {
		_ = s.kill()
		log, _ := os.ReadFile(filepath.Join(s.Dir, "log", "log.samba"))
		return fmt.Errorf("testenv: samba did not come up: %v\n%s", err, tail(log, 30))
	}
	return nil
}

// waitReady polls an LDAPS bind as the administrator: it succeeds only
// once the directory, TLS and authentication are all up.
func (s *SambaAD) waitReady(exited <-chan struct{}) error {
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	deadline := time.Now().Add(120 * time.Second)
	for {
		select {
		case <-exited:
			return errors.New("samba exited")
		default:
		}
		l, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}),
			ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}))
		if err == nil {
			l.SetTimeout(5 * time.Second)
			err = l.Bind(s.AdminUPN, s.AdminPassword)
			l.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PID is the process id of the running samba master, or 0.
func (s *SambaAD) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	select {
	case <-s.exited:
		return 0
	default:
	}
	return s.cmd.Process.Pid
}

// kill ends samba by its PID: SIGTERM to the master, which ends its
// children; then SIGKILL to the process group this process gave it.
func (s *SambaAD) kill() error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	pid := cmd.Process.Pid
	terminate(cmd, exited, 15*time.Second, true)
	// Workers may outlive the master for a moment; the ports must be free
	// before the lock goes to the next binary.
	for i := 0; i < 100; i++ {
		if syscall.Kill(-pid, 0) != nil {
			break
		}
		if i == 50 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// Stop ends samba (by its PID), removes the instance's folder and lets the
// next test binary have the ports.
func (s *SambaAD) Stop() error {
	err := s.kill()
	_ = os.Remove(sambaStateFile)
	if rerr := os.RemoveAll(s.Dir); err == nil {
		err = rerr
	}
	s.mu.Lock()
	lock := s.lock
	s.lock = nil
	s.mu.Unlock()
	if lock != nil {
		lock.Close()
	}
	return err
}

// Env returns the connection details as KEY=VALUE lines, the names the
// recipe script prints.
func (s *SambaAD) Env() string {
	return fmt.Sprintf("LDAP_URL=%s\nLDAPS_URL=%s\nLDAPS_CA_CERT=%s\nLDAP_BASE_DN=%s\nLDAP_BIND_DN=%s\nLDAP_BIND_DN_FULL=%s\nLDAP_BIND_PW=%s\nLDAP_USERS_DN=%s\nSAD_PID=%d\n",
		s.URL, s.LDAPSURL, s.CAFile, s.BaseDN, s.AdminUPN, s.AdminDN, s.AdminPassword, s.UsersDN, s.PID())
}

// writeRSASelfSigned writes a self-signed RSA certificate for 127.0.0.1,
// localhost and dnsName, and its key with mode 0600 (Samba refuses a key
// file others can read). RSA because that is what Samba's GnuTLS setup is
// known to serve.
func writeRSASelfSigned(certFile, keyFile, dnsName string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "127.0.0.1", Organization: []string{"dirbridge testenv"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost", dnsName},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	_ = os.Remove(keyFile)
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
}
