//go:build unix

package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // {SSHA} is what slapd's rootpw expects
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// OpenLDAP is a private, throw-away slapd on loopback: what
// shared/recipes/openldap.sh starts, done in Go. It listens on ldap:// and
// ldaps:// (a self-signed certificate for 127.0.0.1 made here), with
// back_mdb, ppolicy (hashes cleartext, locks out), memberof + refint and
// sssvlv (sort and VLV).
type OpenLDAP struct {
	Dir           string // everything of this instance; removed by Stop
	URL           string // ldap://127.0.0.1:PORT
	LDAPSURL      string // ldaps://127.0.0.1:PORT
	CAFile        string // PEM of the certificate the server presents
	BaseDN        string // dc=example,dc=com
	AdminDN       string // the rootdn
	AdminPassword string
	PeopleDN      string // ou=people,BASE
	GroupsDN      string // ou=groups,BASE
	// ReadOnlyDN and ReadOnlyPassword are OpenLDAPOptions.ReadOnlyAccount's
	// account ("" without it).
	ReadOnlyDN, ReadOnlyPassword string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	urls    string
	stopped bool
	// hashCleartext is olcPPolicyHashCleartext.
	hashCleartext bool

	// repl, when set, makes this instance one provider of a multi-provider
	// set (see StartReplicatedOpenLDAP).
	repl *replication
	// overlays are OpenLDAPOptions.Overlays.
	overlays []string
	// extraSchema is OpenLDAPOptions.ExtraSchema.
	extraSchema string
}

// OpenLDAPOptions tunes StartOpenLDAP; the zero value is fine.
type OpenLDAPOptions struct {
	AdminPassword string // default "admin-secret"
	// Overlays names the overlays to configure, of memberof, refint,
	// ppolicy and sssvlv; nil means all four. Fewer give a directory set
	// up differently (no memberOf, no referential integrity), as
	// shared/recipes/openldap.sh's OLDAP_OVERLAYS does.
	Overlays []string
	// NoHashCleartext turns ppolicy's olcPPolicyHashCleartext off, as a
	// slapd configured without it runs: a cleartext userPassword written
	// by an add or modify is then stored as sent. Tests use it to prove
	// that the gateway hashes passwords itself.
	NoHashCleartext bool
	// ExtraSchema is LDIF of further schema entries (children of
	// cn=schema,cn=config, e.g. "dn: cn=test,cn=schema,cn=config" with
	// olcAttributeTypes and olcObjectClasses), loaded after the standard
	// ones: a directory with an attribute such as 389 DS's nsAccountLock.
	ExtraSchema string
	// ReadOnlyAccount adds a second service account, ReadOnlyDN with
	// ReadOnlyPassword, that the database's access rules let read and not
	// write (like every bound user but the rootdn): the account of an
	// operator who forgot to delegate write rights.
	ReadOnlyAccount bool
}

// ErrNoSlapd means slapd is not installed.
var ErrNoSlapd = errors.New("testenv: slapd is not installed (Debian: apt-get install slapd ldap-utils)")

const (
	slapdBin     = "/usr/sbin/slapd"
	slapaddBin   = "/usr/sbin/slapadd"
	schemaDir    = "/etc/ldap/schema"
	moduleDir    = "/usr/lib/ldap"
	openLDAPBase = "dc=example,dc=com"
)

// StartOpenLDAP starts an instance. With tb, the instance is stopped when
// the test ends, and a missing slapd skips the test, except under CI (env
// CI set), where nothing that needs a directory may be skipped: it fails.
// tb may be nil (then missing slapd is ErrNoSlapd and the caller stops it).
func StartOpenLDAP(tb testing.TB, opts OpenLDAPOptions) (*OpenLDAP, error) {
	if tb != nil {
		tb.Helper()
	}
	return startSlapd(tb, func() (*OpenLDAP, error) { return launchOpenLDAP(opts) })
}

// startSlapd launches slapd instances: a missing slapd skips tb (fails it
// under CI), a launch is tried up to three times, and with tb what was
// started is stopped when the test ends.
func startSlapd[T interface{ Stop() error }](tb testing.TB, launch func() (T, error)) (T, error) {
	var zero T
	if _, err := os.Stat(slapdBin); err != nil {
		if tb != nil {
			if os.Getenv("CI") != "" {
				tb.Fatalf("%v; CI must run every directory test", ErrNoSlapd)
			}
			tb.Skipf("%v", ErrNoSlapd)
		}
		return zero, ErrNoSlapd
	}
	// The ports come from binding :0 and letting go; on a busy machine
	// another process can take one before slapd binds it, and slapd exits.
	// A fresh instance on fresh ports then starts fine.
	var o T
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if o, err = launch(); err == nil {
			break
		}
	}
	if err != nil {
		return zero, err
	}
	if tb != nil {
		tb.Cleanup(func() {
			if err := o.Stop(); err != nil {
				tb.Errorf("stopping slapd: %v", err)
			}
		})
	}
	return o, nil
}

func launchOpenLDAP(opts OpenLDAPOptions) (o *OpenLDAP, err error) {
	o, err = newOpenLDAP(opts)
	if err != nil {
		return nil, err
	}
	dir := o.Dir // a failing return sets o to nil before this runs
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := o.writeConfig(); err != nil {
		return nil, err
	}
	if err := o.start(); err != nil {
		return nil, err
	}
	return o, nil
}

// newOpenLDAP makes an instance's directory, certificate and ports; it
// writes no configuration and starts nothing.
func newOpenLDAP(opts OpenLDAPOptions) (o *OpenLDAP, err error) {
	pw := opts.AdminPassword
	if pw == "" {
		pw = "admin-secret"
	}
	dir, err := os.MkdirTemp("", "dirbridge-oldap-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	for _, sub := range []string{"slapd.d", "data", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tlsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := WriteSelfSigned(certFile, keyFile); err != nil {
		return nil, err
	}
	o = &OpenLDAP{
		Dir:           dir,
		URL:           fmt.Sprintf("ldap://127.0.0.1:%d", port),
		LDAPSURL:      fmt.Sprintf("ldaps://127.0.0.1:%d", tlsPort),
		CAFile:        certFile,
		BaseDN:        openLDAPBase,
		AdminDN:       "cn=admin," + openLDAPBase,
		AdminPassword: pw,
		PeopleDN:      "ou=people," + openLDAPBase,
		GroupsDN:      "ou=groups," + openLDAPBase,
		hashCleartext: !opts.NoHashCleartext,
	}
	o.urls = fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", port, tlsPort)
	o.overlays = opts.Overlays
	o.extraSchema = opts.ExtraSchema
	if opts.ReadOnlyAccount {
		o.ReadOnlyDN, o.ReadOnlyPassword = "cn=readonly-svc,"+openLDAPBase, "readonly-secret"
	}
	return o, nil
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WriteSelfSigned writes a self-signed certificate for 127.0.0.1 and
// localhost, which is also the CA a client trusts.
func WriteSelfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

func sshaHash(pw string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h := sha1.New() //nolint:gosec // see import
	h.Write([]byte(pw))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...)), nil
}

func (o *OpenLDAP) writeConfig() error {
	hash, err := sshaHash(o.AdminPassword)
	if err != nil {
		return err
	}
	overlays := o.overlays
	if overlays == nil {
		overlays = []string{"memberof", "refint", "ppolicy", "sssvlv"}
	}
	// Each overlay's entry, numbered in the order configured.
	sections := map[string]string{
		"memberof": `dn: olcOverlay={%[1]d}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {%[1]d}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
`,
		"refint": `dn: olcOverlay={%[1]d}refint,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {%[1]d}refint
olcRefintAttribute: member
olcRefintAttribute: memberOf
`,
		"ppolicy": `dn: olcOverlay={%[1]d}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {%[1]d}ppolicy
olcPPolicyDefault: cn=default,ou=policies,%[2]s
olcPPolicyHashCleartext: %[3]s
olcPPolicyUseLockout: TRUE
`,
		"sssvlv": `dn: olcOverlay={%[1]d}sssvlv,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSssVlvConfig
olcOverlay: {%[1]d}sssvlv
olcSssVlvMax: 16
olcSssVlvMaxKeys: 4
olcSssVlvMaxPerConn: 16
`,
	}
	// memberOf exists only with the memberof overlay: no index of it, and
	// no refint of it, without.
	indexed := "member"
	if slices.Contains(overlays, "memberof") {
		indexed += ",memberOf"
	} else {
		sections["refint"] = strings.Replace(sections["refint"], "olcRefintAttribute: memberOf\n", "", 1)
	}
	// Without ppolicy its attribute types and object classes do not exist:
	// no index of the lock, no policy entry.
	ppolicy := slices.Contains(overlays, "ppolicy")
	lockIndex, policies := "olcDbIndex: pwdAccountLockedTime eq\n", fmt.Sprintf(policyLDIF, o.BaseDN)
	if !ppolicy {
		lockIndex, policies = "", ""
	}
	extra := strings.TrimSpace(o.extraSchema)
	if extra != "" {
		extra = "\n" + extra + "\n"
	}
	var modules, overlaySections strings.Builder
	for i, name := range overlays {
		sec, ok := sections[name]
		if !ok {
			return fmt.Errorf("testenv: unknown overlay %q", name)
		}
		fmt.Fprintf(&modules, "olcModuleLoad: %s\n", name)
		if i > 0 {
			overlaySections.WriteString("\n")
		}
		fmt.Fprintf(&overlaySections, sec, i, o.BaseDN, strings.ToUpper(strconv.FormatBool(o.hashCleartext)))
	}
	d := o.Dir
	certFile, keyFile := o.CAFile, filepath.Join(d, "key.pem")
	var r replicationLDIF
	if o.repl != nil {
		r = o.repl.ldif(o)
	}
	config := fmt.Sprintf(`dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %[1]s/run/slapd.pid
olcArgsFile: %[1]s/run/slapd.args
olcLogLevel: none
olcTLSCertificateFile: %[2]s
olcTLSCertificateKeyFile: %[3]s
%[9]s
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: %[4]s
olcModuleLoad: back_mdb
%[10]s
dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://%[5]s/core.ldif
include: file://%[5]s/cosine.ldif
include: file://%[5]s/inetorgperson.ldif
include: file://%[5]s/nis.ldif
%[15]s
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcRootDN: %[6]s
olcAccess: {0}to * by dn.exact=%[6]s manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: %[7]s
olcRootDN: %[6]s
olcRootPW: %[8]s
olcDbDirectory: %[1]s/data
olcDbMaxSize: 268435456
olcDbIndex: objectClass eq
olcDbIndex: cn,uid,mail eq,sub
olcDbIndex: %[11]s eq
olcDbIndex: entryUUID eq
%[16]solcLastMod: TRUE
olcSizeLimit: unlimited
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by self read by users read by * none
%[12]s
%[13]s%[14]s`, d, certFile, keyFile, moduleDir, schemaDir, o.AdminDN, o.BaseDN, hash, r.global, modules.String()+r.modules, indexed, r.database,
		overlaySections.String(), strings.ReplaceAll(r.overlays, "{4}", fmt.Sprintf("{%d}", len(overlays))), extra, lockIndex)

	base := fmt.Sprintf(`dn: %[1]s
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,%[1]s
objectClass: organizationalUnit
ou: people

dn: ou=groups,%[1]s
objectClass: organizationalUnit
ou: groups
%[2]s`, o.BaseDN, policies)
	if o.ReadOnlyDN != "" {
		roHash, err := sshaHash(o.ReadOnlyPassword)
		if err != nil {
			return err
		}
		// The access rules above give every bound user read and no write.
		base += fmt.Sprintf(`
dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: readonly-svc
userPassword: %s
`, o.ReadOnlyDN, roHash)
	}
	cfgFile, baseFile := filepath.Join(d, "config.ldif"), filepath.Join(d, "base.ldif")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(baseFile, []byte(base), 0o600); err != nil {
		return err
	}
	data := []string{slapaddBin, "-n1", "-F", filepath.Join(d, "slapd.d"), "-l", baseFile}
	if o.repl != nil {
		// -S stamps the CSNs with this server's id and -w writes the
		// contextCSN, so that a peer loaded from the same export starts
		// in sync instead of replicating (and conflicting on) every entry.
		data = []string{slapaddBin, "-n1", "-F", filepath.Join(d, "slapd.d"), "-q", "-w", "-S", fmt.Sprint(o.repl.serverID), "-l", r.seed}
	}
	for _, step := range [][]string{
		{slapaddBin, "-n0", "-F", filepath.Join(d, "slapd.d"), "-l", cfgFile},
		data,
	} {
		if out, err := exec.Command(step[0], step[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("testenv: %s: %v: %s", strings.Join(step, " "), err, out)
		}
	}
	return nil
}

// policyLDIF is ppolicy's default policy entry (%[1]s: the base DN).
const policyLDIF = `
dn: ou=policies,%[1]s
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,%[1]s
objectClass: top
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMaxFailure: 5
pwdLockout: TRUE
pwdLockoutDuration: 0
pwdFailureCountInterval: 0
pwdAllowUserChange: TRUE
pwdMustChange: FALSE
pwdCheckQuality: 0
`

// start runs slapd in the foreground (-d 0: no fork), so that this process
// owns it, knows its PID without a pid file and reaps it.
func (o *OpenLDAP) start() error {
	logf, err := os.OpenFile(filepath.Join(o.Dir, "slapd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(slapdBin, "-d", "0", "-F", filepath.Join(o.Dir, "slapd.d"), "-h", o.urls)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C at the terminal reaches the test
	// binary, which then stops slapd through Stop.
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
	o.mu.Lock()
	o.cmd, o.exited, o.stopped = cmd, exited, false
	o.mu.Unlock()
	if err := o.waitReady(exited); err != nil {
		_ = o.kill()
		log, _ := os.ReadFile(filepath.Join(o.Dir, "slapd.log"))
		return fmt.Errorf("testenv: slapd did not come up: %v\n%s", err, log)
	}
	return nil
}

// waitReady polls an anonymous root DSE read until slapd answers.
func (o *OpenLDAP) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			return errors.New("slapd exited")
		default:
		}
		l, err := ldap.DialURL(o.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			l.SetTimeout(2 * time.Second)
			_, err = l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", []string{"namingContexts"}, nil))
			l.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PID is the process id of the running slapd, or 0.
func (o *OpenLDAP) PID() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cmd == nil || o.cmd.Process == nil || o.stopped {
		return 0
	}
	return o.cmd.Process.Pid
}

// kill ends slapd by its PID: SIGTERM, then SIGKILL if it does not exit.
func (o *OpenLDAP) kill() error {
	o.mu.Lock()
	cmd, exited := o.cmd, o.exited
	o.stopped = true
	o.mu.Unlock()
	terminate(cmd, exited, 10*time.Second, false)
	return nil
}

// Stop ends slapd (by its PID) and removes the instance's directory.
func (o *OpenLDAP) Stop() error {
	if err := o.kill(); err != nil {
		return err
	}
	return os.RemoveAll(o.Dir)
}

// Restart stops slapd and starts it again on the same ports and data, as a
// directory restart in production: clients' connections break.
func (o *OpenLDAP) Restart() error {
	if err := o.kill(); err != nil {
		return err
	}
	return o.start()
}

// Env returns the connection details as KEY=VALUE lines, the names the
// recipe scripts print.
func (o *OpenLDAP) Env() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "LDAP_URL=%s\nLDAPS_URL=%s\nLDAPS_CA_CERT=%s\nLDAP_BASE_DN=%s\nLDAP_BIND_DN=%s\nLDAP_BIND_PW=%s\nLDAP_USERS_DN=%s\nLDAP_GROUPS_DN=%s\nPID=%d\n",
		o.URL, o.LDAPSURL, o.CAFile, o.BaseDN, o.AdminDN, o.AdminPassword, o.PeopleDN, o.GroupsDN, o.PID())
	return b.String()
}
