package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

// benchDir is the directory a run measures, as the workloads need it: the
// raw side's address and credentials, where users and groups live, how a
// seeded user looks and is named, and the gateway configuration that
// serves it. openldapDir is a slapd of the bench's own; adDir is the AD
// tier's Samba DC (testenv), taken for the whole run.
type benchDir interface {
	kind() string
	url() string // raw go-ldap side
	admin() (dn, password string)
	people() string // the users table's container
	groups() string // the groups table's container
	pid() int       // the directory's process, for the CPU table (0: not measured)
	gatewayConfig(root string) string
	gatewayEnv() []string
	// userAdd is a seeded user shaped as the shipped users table creates
	// one; userDN is its DN and userName its SCIM userName.
	userAdd(uid string, i int) *ldap.AddRequest
	userDN(uid string, i int) string
	userName(uid string) string
	// lookupFilter is the raw side of a userName eq lookup.
	lookupFilter(uid string) string
	userFilter() string
	userAttrs() []string
	idOf(e *ldap.Entry) string // the SCIM id of an entry read with idAttr
	idAttr() string
	keyFilter(uid string) string // finds a seeded user by its uid
	groupAdd(cn string, members []string) *ldap.AddRequest
	groupDN(cn string) string
	// deactivate is the raw side of PATCH active=false.
	deactivate(m *ldap.ModifyRequest)
	// prepare runs once before seeding; seedSync turns per-commit sync
	// off (false) for seeding and back on.
	prepare(l *ldap.Conn) error
	seedSync(l *ldap.Conn, on bool) error
	stop()
}

// openldapDir is testenv's OpenLDAP, as `make bench` always ran it.
type openldapDir struct{ o *testenv.OpenLDAP }

var _ benchDir = openldapDir{}

func (d openldapDir) kind() string            { return "openldap" }
func (d openldapDir) url() string             { return d.o.URL }
func (d openldapDir) admin() (string, string) { return d.o.AdminDN, d.o.AdminPassword }
func (d openldapDir) people() string          { return d.o.PeopleDN }
func (d openldapDir) groups() string          { return d.o.GroupsDN }
func (d openldapDir) pid() int                { return d.o.PID() }
func (d openldapDir) gatewayConfig(root string) string {
	return filepath.Join(root, "conf", "examples", "openldap.toml")
}
func (d openldapDir) gatewayEnv() []string {
	return []string{"DIRBRIDGE_LDAP_URLS=" + d.o.URL, "DIRBRIDGE_LDAP_BIND_DN=" + d.o.AdminDN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + d.o.AdminPassword, "DIRBRIDGE_LDAP_BASE_DN=" + d.o.BaseDN}
}
func (d openldapDir) userAdd(uid string, i int) *ldap.AddRequest {
	return userAdd(d.o.PeopleDN, uid, i)
}
func (d openldapDir) userDN(uid string, _ int) string { return "uid=" + uid + "," + d.o.PeopleDN }
func (d openldapDir) userName(uid string) string      { return uid }
func (d openldapDir) lookupFilter(uid string) string  { return "(&" + userFilter + uidFilter(uid) + ")" }
func (d openldapDir) userFilter() string              { return userFilter }
func (d openldapDir) userAttrs() []string             { return userAttrs }
func (d openldapDir) idAttr() string                  { return "entryUUID" }
func (d openldapDir) idOf(e *ldap.Entry) string       { return e.GetAttributeValue("entryUUID") }
func (d openldapDir) keyFilter(uid string) string     { return uidFilter(uid) }
func (d openldapDir) groupDN(cn string) string        { return "cn=" + cn + "," + d.o.GroupsDN }
func (d openldapDir) groupAdd(cn string, members []string) *ldap.AddRequest {
	ar := ldap.NewAddRequest(d.groupDN(cn), nil)
	ar.Attribute("objectClass", []string{"top", "groupOfNames"})
	ar.Attribute("cn", []string{cn})
	ar.Attribute("member", members)
	return ar
}

// deactivate: the ppolicy lock of the OpenLDAP dialect.
func (d openldapDir) deactivate(m *ldap.ModifyRequest) {
	m.Replace("pwdAccountLockedTime", []string{"000001010000Z"})
}
func (d openldapDir) prepare(l *ldap.Conn) error {
	if err := growDatabase(l); err != nil {
		return fmt.Errorf("raising the database size: %w", err)
	}
	return nil
}
func (d openldapDir) seedSync(l *ldap.Conn, on bool) error { return setNoSync(l, !on) }
func (d openldapDir) stop()                                { _ = d.o.Stop() }

// adDir is the AD tier's Samba DC. The gateway runs the shipped ad.toml
// over LDAPS, as an operator would; the raw side uses plain LDAP on the
// same DC, which is what a program reading AD directly would do locally
// (Samba accepts simple binds in the clear here).
type adDir struct{ s *testenv.SambaAD }

var _ benchDir = adDir{}

const (
	adUPNSuffix = "@example.test"
	// adUACEnabled is NORMAL_ACCOUNT | PASSWD_NOTREQD: an enabled account
	// without a password, so that PATCH active=false has work to do.
	adUACEnabled  = "544"
	adUACDisabled = "546"
)

func (d adDir) kind() string            { return "ad" }
func (d adDir) url() string             { return d.s.URL }
func (d adDir) admin() (string, string) { return d.s.AdminUPN, d.s.AdminPassword }
func (d adDir) people() string          { return "OU=People," + d.s.BaseDN }
func (d adDir) groups() string          { return "OU=Groups," + d.s.BaseDN }
func (d adDir) pid() int                { return 0 } // samba is a tree of processes: not attributed
func (d adDir) gatewayConfig(root string) string {
	return filepath.Join(root, "conf", "examples", "ad.toml")
}
func (d adDir) gatewayEnv() []string {
	return []string{"DIRBRIDGE_LDAP_URLS=" + d.s.LDAPSURL, "DIRBRIDGE_LDAP_BIND_DN=" + d.s.AdminUPN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + d.s.AdminPassword, "DIRBRIDGE_LDAP_BASE_DN=" + d.s.BaseDN,
		"DIRBRIDGE_LDAP_CA_FILE=" + d.s.CAFile}
}

// userAdd is what ad-users.toml makes of userBody: cn from the names (the
// RDN template, so a PUT renames nothing), the UPN from userName, the
// sAMAccountName unique.
func (d adDir) userAdd(uid string, i int) *ldap.AddRequest {
	given, family := "Given"+strconv.Itoa(i), "Family"+strconv.Itoa(i)
	ar := ldap.NewAddRequest(d.userDN(uid, i), nil)
	ar.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	ar.Attribute("userPrincipalName", []string{uid + adUPNSuffix})
	ar.Attribute("sAMAccountName", []string{uid})
	ar.Attribute("sn", []string{family})
	ar.Attribute("givenName", []string{given})
	ar.Attribute("mail", []string{uid + "@example.com"})
	ar.Attribute("userAccountControl", []string{adUACEnabled})
	return ar
}
func (d adDir) userDN(_ string, i int) string {
	return "CN=Given" + strconv.Itoa(i) + " Family" + strconv.Itoa(i) + "," + d.people()
}
func (d adDir) userName(uid string) string { return uid + adUPNSuffix }
func (d adDir) lookupFilter(uid string) string {
	return "(&" + d.userFilter() + "(userPrincipalName=" + ldap.EscapeFilter(uid+adUPNSuffix) + "))"
}
func (d adDir) userFilter() string {
	return "(&(objectClass=top)(objectClass=person)(objectClass=organizationalPerson)(objectClass=user))"
}
func (d adDir) userAttrs() []string {
	return []string{"*", "objectGUID", "whenCreated", "whenChanged", "uSNChanged", "userAccountControl"}
}
func (d adDir) idAttr() string { return "objectGUID" }
func (d adDir) idOf(e *ldap.Entry) string {
	b := e.GetRawAttributeValue("objectGUID")
	if len(b) != 16 {
		return ""
	}
	return fmt.Sprintf("%08x-%04x-%04x-%s-%s", binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]), hex.EncodeToString(b[8:10]), hex.EncodeToString(b[10:16]))
}
func (d adDir) keyFilter(uid string) string { return "(sAMAccountName=" + ldap.EscapeFilter(uid) + ")" }
func (d adDir) groupDN(cn string) string    { return "CN=" + cn + "," + d.groups() }
func (d adDir) groupAdd(cn string, members []string) *ldap.AddRequest {
	ar := ldap.NewAddRequest(d.groupDN(cn), nil)
	ar.Attribute("objectClass", []string{"top", "group"})
	ar.Attribute("cn", []string{cn})
	ar.Attribute("sAMAccountName", []string{cn})
	ar.Attribute("groupType", []string{"-2147483646"})
	ar.Attribute("member", members)
	return ar
}
func (d adDir) deactivate(m *ldap.ModifyRequest) {
	m.Replace("userAccountControl", []string{adUACDisabled})
}

// prepare makes the containers the shipped tables name (they exist in a
// domain that uses them; create_missing_containers is off as shipped).
func (d adDir) prepare(l *ldap.Conn) error {
	for _, ou := range []string{d.people(), d.groups(), "OU=Sales," + d.people(), "OU=Engineering," + d.people(), "OU=Leavers," + d.s.BaseDN} {
		ar := ldap.NewAddRequest(ou, nil)
		ar.Attribute("objectClass", []string{"organizationalUnit"})
		if err := l.Add(ar); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return fmt.Errorf("adding %s: %w", ou, err)
		}
	}
	return nil
}

// seedSync: Samba has no per-commit sync switch over LDAP; seeding runs
// at its own pace.
func (d adDir) seedSync(*ldap.Conn, bool) error { return nil }
func (d adDir) stop()                           { _ = d.s.Stop() }

// startDir starts the directory -dir names.
func startDir(ctx context.Context, kind string, log func(string, ...any)) (benchDir, error) {
	switch kind {
	case "", "openldap":
		o, err := testenv.StartOpenLDAP(nil, testenv.OpenLDAPOptions{})
		if err != nil {
			return nil, err
		}
		return openldapDir{o}, nil
	case "ad":
		// StartSambaAD takes the flock every Samba test takes and holds
		// it until stop: no test can reset the DC under the bench.
		// A DC another program left running holds the fixed ports
		// without the lock for a while: wait for them, bounded.
		deadline := time.Now().Add(20 * time.Minute)
		for {
			s, err := testenv.StartSambaAD(nil, testenv.SambaADOptions{})
			if err == nil {
				return adDir{s}, nil
			}
			if !strings.Contains(err.Error(), "is in use") || time.Now().After(deadline) {
				return nil, err
			}
			log("waiting for the Samba ports: %v", err)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(15 * time.Second):
			}
		}
	}
	return nil, fmt.Errorf("unknown -dir %q (openldap or ad)", kind)
}
