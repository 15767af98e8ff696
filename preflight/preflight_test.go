package preflight

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/ldapside"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/scimside"
)

// A small directory schema: core's person chain, inetOrgPerson, an INTEGER
// attribute, an operational one, groupOfNames.
var (
	fakeAttrs = []string{
		"( 2.5.4.0 NAME 'objectClass' SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
		"( 2.5.4.41 NAME 'name' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
		"( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )",
		"( 2.5.4.4 NAME ( 'sn' 'surname' ) SUP name )",
		"( 2.5.4.13 NAME 'description' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
		"( 0.9.2342.19200300.100.1.1 NAME 'uid' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
		"( 2.16.840.1.113730.3.1.241 NAME 'displayName' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
		"( 1.3.6.1.1.1.1.0 NAME 'uidNumber' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
		"( 1.2.840.113556.1.4.8 NAME 'userAccountControl' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
		"( 1.3.6.1.1.16.4 NAME 'entryUUID' SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
		"( 2.5.18.1 NAME 'createTimestamp' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 NO-USER-MODIFICATION USAGE directoryOperation )",
		"( 2.5.4.31 NAME 'member' SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
		"( 1.3.6.1.4.1.42.2.27.8.1.17 NAME 'pwdAccountLockedTime' SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 USAGE directoryOperation )",
	}
	fakeClasses = []string{
		"( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
		"( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( description ) )",
		"( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL )",
		"( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL MAY ( uid $ displayName ) )",
		"( 1.3.6.1.1.1.2.0 NAME 'posixAccount' SUP top AUXILIARY MAY ( uidNumber ) )",
		"( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST ( member $ cn ) )",
	}
	allControls = []string{"2.16.840.1.113730.3.4.9", "1.2.840.113556.1.4.473", "1.2.840.113556.1.4.319", "1.3.6.1.1.12",
		"1.3.6.1.1.13.2", "1.2.826.0.1.3344810.2.3", "1.2.840.113556.1.4.1413"}
)

type fakeDir struct {
	schema   *ldapside.Schema
	controls []string
	entries  map[string]bool  // existing DNs, lower case
	urlErr   map[string]error // CheckURL's answers
	probeErr error
	probes   []string
}

func newFakeDir(t *testing.T) *fakeDir {
	s, errs := ldapside.ParseSchema(fakeAttrs, fakeClasses, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return &fakeDir{schema: s, controls: allControls, entries: map[string]bool{"ou=people,dc=example,dc=com": true, "ou=groups,dc=example,dc=com": true}}
}

func (f *fakeDir) CheckURL(_ context.Context, u string) error { return f.urlErr[u] }

func (f *fakeDir) RootDSE(context.Context) (ldapside.RawEntry, error) {
	return ldapside.RawEntry{Attrs: map[string][]string{"supportedcontrol": f.controls, "subschemasubentry": {"cn=Subschema"}}}, nil
}

func (f *fakeDir) ReadSchema(context.Context, string) (*ldapside.Schema, []error, error) {
	return f.schema, nil, nil
}

func (f *fakeDir) ReadEntry(_ context.Context, dn string, _ []string) (ldapside.RawEntry, error) {
	if f.entries[strings.ToLower(dn)] {
		return ldapside.RawEntry{DN: dn}, nil
	}
	return ldapside.RawEntry{}, bridge.Errorf("fake", bridge.KindNotFound, "no such entry")
}

func (f *fakeDir) FindEntry(context.Context, string, []string, []string) (ldapside.RawEntry, bool, error) {
	return ldapside.RawEntry{}, false, nil
}

func (f *fakeDir) ADSearchFlags(context.Context, string, []string) (map[string]int, error) {
	return map[string]int{}, nil
}

func (f *fakeDir) ProbeWrite(_ context.Context, dn string, _ map[string][]string) error {
	f.probes = append(f.probes, dn)
	return f.probeErr
}

func table(t *testing.T, body string) *mapping.Table {
	t.Helper()
	tb, err := mapping.Parse("users.toml", []byte(body), mapping.Options{BaseDN: "dc=example,dc=com", Standard: scimside.StandardSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

const goodUsers = `resource = "User"
container = "ou=people,dc=example,dc=com"
object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]
rdn = "uid={{.userName}}"

[[attribute]]
scim = "userName"
ldap = "uid"
required = true

[[attribute]]
scim = "name.familyName"
ldap = "sn"
template = ["{{.userName}}"]
required = true

[[attribute]]
ldap = "cn"
template = ["{{.userName}}"]
required = true

[[attribute]]
scim = "displayName"
ldap = "displayName"
`

func run(t *testing.T, d *fakeDir, users string, o Options) Report {
	t.Helper()
	if o.URLs == nil {
		o.URLs = []string{"ldap://a"}
	}
	if o.Lifecycle.Disable == "" {
		o.Lifecycle = DefaultLifecycle(o.Dialect)
	}
	rep, unreachable := Directory(context.Background(), d, Tables{Users: table(t, users)}, o)
	if unreachable {
		t.Fatal("unreachable")
	}
	return rep
}

func find(rep Report, level Level, sub string) *Finding {
	for i, f := range rep.Findings {
		if f.Level == level && strings.Contains(f.Where+": "+f.Msg, sub) {
			return &rep.Findings[i]
		}
	}
	return nil
}

func text(rep Report) string {
	var b bytes.Buffer
	_ = rep.Write(&b, "text")
	return b.String()
}

func TestGoodTableIsReady(t *testing.T) {
	rep := run(t, newFakeDir(t), goodUsers, Options{})
	if !rep.Ready() || rep.Count(Warn) != 0 {
		t.Fatalf("not ready:\n%s", text(rep))
	}
}

func TestSchemaFindings(t *testing.T) {
	bad := goodUsers + `
[[attribute]]
scim = "nickName"
ldap = "dispalyName"

[[attribute]]
scim = "title"
ldap = "userAccountControl"

[[attribute]]
ldap = "uidNumber"
constant = "ten"

[[attribute]]
scim = "externalId"
ldap = "entryUUID"
`
	rep := run(t, newFakeDir(t), bad, Options{})
	for _, want := range []string{
		`users.toml:26: attribute dispalyName (scim nickName) is not in the directory's schema (did you mean "displayName"?)`,
		`users.toml:30: attribute userAccountControl (scim title) is not allowed on entries of object classes`,
		`users.toml:34: attribute uidNumber is not allowed`,
		`constant "ten" of attribute uidNumber is not an integer`,
		`attribute entryUUID (scim externalId) is kept by the directory (NO-USER-MODIFICATION)`,
	} {
		f := find(rep, Error, want)
		if f == nil {
			t.Errorf("no error %q in:\n%s", want, text(rep))
		} else if !f.Fatal {
			t.Errorf("%q is not fatal", want)
		}
	}
	// The auxiliary class that allows uidNumber makes it allowed.
	aux := strings.Replace(bad, `"inetOrgPerson"]`, `"inetOrgPerson", "posixAccount"]`, 1)
	if f := find(run(t, newFakeDir(t), aux, Options{}), Error, "uidNumber is not allowed"); f != nil {
		t.Errorf("with posixAccount: %s", f.Msg)
	}
}

func TestClassesAndRequiredAttributes(t *testing.T) {
	noSN := strings.Replace(goodUsers, `scim = "name.familyName"
ldap = "sn"`, `scim = "name.familyName"
ldap = "description"`, 1)
	noSN = strings.Replace(noSN, `"inetOrgPerson"]`, `"inetOrgPersn"]`, 1)
	rep := run(t, newFakeDir(t), noSN, Options{})
	if find(rep, Error, `users.toml:3: object class "inetOrgPersn" is not in the directory's schema (did you mean "inetOrgPerson"?)`) == nil {
		t.Errorf("unknown class not named:\n%s", text(rep))
	}
	rep = run(t, newFakeDir(t), strings.Replace(noSN, "inetOrgPersn", "inetOrgPerson", 1), Options{})
	if find(rep, Error, "require attribute sn, which the table does not write") == nil {
		t.Errorf("missing MUST not named:\n%s", text(rep))
	}
}

func TestServersControlsLifecycleContainers(t *testing.T) {
	d := newFakeDir(t)
	d.urlErr = map[string]error{
		"ldap://dead": bridge.E("x", bridge.KindUnavailable, "", &ldapside.URLError{Stage: ldapside.StageReach, Err: context.DeadlineExceeded}),
		"ldaps://tls": bridge.E("x", bridge.KindUnavailable, "", &ldapside.URLError{Stage: ldapside.StageTLS, Err: context.Canceled}),
		"ldap://pw":   bridge.E("x", bridge.KindUnavailable, "", &ldapside.URLError{Stage: ldapside.StageBind, Err: context.Canceled}),
	}
	d.controls = []string{"1.2.840.113556.1.4.319"}
	d.schema, _ = ldapside.ParseSchema(fakeAttrs[:len(fakeAttrs)-1], fakeClasses, nil) // no ppolicy
	delete(d.entries, "ou=groups,dc=example,dc=com")
	users := strings.Replace(goodUsers, `rdn = "uid={{.userName}}"`, `rdn = "uid={{.userName}}"

[[placement]]
when = 'userType eq "Contractor"'
container = "ou=contractors,ou=people,dc=example,dc=com"
`, 1) + `
[[attribute]]
scim = "userType"
ldap = "description"
`
	groups := table(t, strings.NewReplacer("User", "Group", "ou=people", "ou=groups", `["top", "person", "organizationalPerson", "inetOrgPerson"]`, `["top", "groupOfNames"]`,
		`rdn = "uid={{.userName}}"`, `rdn = "cn={{.displayName}}"`).Replace(`resource = "User"
container = "ou=people,dc=example,dc=com"
object_classes = ["top", "person", "organizationalPerson", "inetOrgPerson"]
rdn = "uid={{.userName}}"

[[attribute]]
scim = "displayName"
ldap = "cn"
required = true

[[attribute]]
scim = "members"
ldap = "member"
reference = ["User"]
placeholder = "cn=nobody"
`))
	rep, _ := Directory(context.Background(), d, Tables{Users: table(t, users), Groups: groups}, Options{
		URLs: []string{"ldap://dead", "ldap://ok", "ldaps://tls", "ldap://pw"}, Lifecycle: DefaultLifecycle("openldap"),
		LeaversDN: "ou=leavers,dc=example,dc=com", WriteProbe: true,
	})
	for _, want := range []string{
		"ldap.urls[0] ldap://dead: cannot be reached",
		"ldap.urls[2] ldaps://tls: the TLS handshake fails",
		"ldap.urls[3] ldap://pw: the service bind is refused",
		"ppolicy overlay is not loaded",
		"ou=groups,dc=example,dc=com: the groups container does not exist",
		"ou=contractors,ou=people,dc=example,dc=com: the placement container does not exist",
	} {
		if find(rep, Error, want) == nil {
			t.Errorf("no error %q in:\n%s", want, text(rep))
		}
	}
	for _, want := range []string{"the VLV control is not supported", "the Post-Read control is not supported"} {
		if find(rep, Warn, want) == nil {
			t.Errorf("no warning %q", want)
		}
	}
	if find(rep, OK, "ldap.urls[1] ldap://ok: reachable") == nil || find(rep, OK, "leavers container does not exist yet") == nil {
		t.Errorf("ok lines missing:\n%s", text(rep))
	}
	// One probe, in the users container (the others do not exist), named
	// by the table's RDN attribute.
	if len(d.probes) != 1 || !strings.HasPrefix(d.probes[0], "uid=dirbridge-probe-") || !strings.HasSuffix(d.probes[0], ",ou=people,dc=example,dc=com") {
		t.Errorf("probes %v", d.probes)
	}
	if rep.Ready() || !strings.Contains(text(rep), "not ready: ") {
		t.Error("ready")
	}
	// Sorted: servers before containers, whatever the order found.
	out := text(rep)
	if strings.Index(out, "servers") > strings.Index(out, "containers") {
		t.Errorf("not sorted:\n%s", out)
	}
}

func TestLifecycleAttribute(t *testing.T) {
	lc := Lifecycle{Disable: "attribute", Attribute: "nsAccountLock", DisabledValue: "TRUE"}
	rep := run(t, newFakeDir(t), goodUsers, Options{Lifecycle: lc})
	if find(rep, Error, `[lifecycle] attribute "nsAccountLock" is not in the directory's schema`) == nil {
		t.Errorf("missing nsAccountLock not named:\n%s", text(rep))
	}
	lc.Attribute = "description"
	if rep := run(t, newFakeDir(t), goodUsers, Options{Lifecycle: lc}); find(rep, OK, "accounts are disabled with description") == nil {
		t.Errorf("description not accepted:\n%s", text(rep))
	}
}

func TestProbeRefused(t *testing.T) {
	d := newFakeDir(t)
	d.probeErr = bridge.Errorf("x", bridge.KindForbidden, "insufficient access rights")
	rep := run(t, d, goodUsers, Options{WriteProbe: true})
	if find(rep, Error, "the service account may not write in the users container") == nil {
		t.Errorf("refusal not named:\n%s", text(rep))
	}
}

func TestReadiness(t *testing.T) {
	now := time.Unix(1000, 0)
	exists := false
	calls := 0
	r := NewReadiness(func(context.Context) error { return nil }, func(_ context.Context, dn string) error {
		calls++
		if exists {
			return nil
		}
		return bridge.Errorf("x", bridge.KindNotFound, "no such entry")
	}, Tables{Users: table(t, goodUsers)}, 3*time.Second, func() time.Time { return now })
	err := r.Ready(context.Background())
	if err == nil || bridge.SafeMessage(err) != "the users container ou=people,dc=example,dc=com does not exist" || bridge.KindOf(err) != bridge.KindUnavailable {
		t.Fatalf("missing container: %v", err)
	}
	if d := r.Detail(); len(d) != 1 || d[0] != "reason: the users container does not exist (the log names it)" {
		t.Errorf("detail %v", d)
	}
	exists = true
	if err := r.Ready(context.Background()); err == nil || calls != 1 {
		t.Errorf("not cached: %v, %d calls", err, calls)
	}
	now = now.Add(4 * time.Second)
	if err := r.Ready(context.Background()); err != nil || r.Detail() != nil {
		t.Errorf("after the container was made: %v %v", err, r.Detail())
	}
	// A directory that does not answer is not ready, whatever the cache.
	r.ping = func(context.Context) error { return bridge.Errorf("x", bridge.KindUnavailable, "") }
	if err := r.Ready(context.Background()); err == nil {
		t.Error("ready without the directory")
	}
}

func TestReportJSON(t *testing.T) {
	var rep Report
	rep.err(SectionSchema, "u.toml:3", "bad")
	rep.warn(SectionControls, "", "meh")
	var b bytes.Buffer
	if err := rep.Write(&b, "json"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ready": false`, `"errors": 1`, `"level": "ERROR"`, `"where": "u.toml:3"`, `"section": "controls"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("json lacks %s:\n%s", want, b.String())
		}
	}
}
