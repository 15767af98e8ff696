package preflight

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/conf"
	"github.com/dirbridge/dirbridge/ldapside"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/scimside"
)

func entTable(t *testing.T, body string) *mapping.Entitlements {
	t.Helper()
	e, err := mapping.ParseEntitlements("ent.toml", []byte(body), mapping.Options{BaseDN: "dc=example,dc=com", Standard: scimside.StandardSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const goodEnt = `[[type]]
name = "Role"
endpoint = "/Roles"
user_attribute = "roles"
container = "ou=App Roles,dc=example,dc=com"
filter = "(objectClass=groupOfNames)"
[type.value]
display = "cn"
description = "description"
`

func runEnt(t *testing.T, d Inspector, ent string, o Options) Report {
	t.Helper()
	o.URLs = []string{"ldap://a"}
	o.Lifecycle = DefaultLifecycle(o.Dialect)
	rep, unreachable := Directory(context.Background(), d, Tables{Users: table(t, goodUsers), Entitlements: entTable(t, ent)}, o)
	if unreachable {
		t.Fatal("unreachable")
	}
	return rep
}

// A good type on a directory that has its container is ready; without
// the container it is an error naming the container and the type.
func TestEntitlementContainer(t *testing.T) {
	d := newFakeDir(t)
	d.entries["ou=app roles,dc=example,dc=com"] = true
	rep := runEnt(t, d, goodEnt, Options{})
	if !rep.Ready() || find(rep, OK, "type Role: the filter") == nil || find(rep, OK, "container of the Role values exists") == nil {
		t.Fatalf("a good type is not ready:\n%s", text(rep))
	}
	delete(d.entries, "ou=app roles,dc=example,dc=com")
	rep = runEnt(t, d, goodEnt, Options{})
	f := find(rep, Error, "container of the Role values does not exist")
	if rep.Ready() || f == nil || f.Where != "ou=App Roles,dc=example,dc=com" || !strings.Contains(f.Msg, "/Roles") {
		t.Fatalf("a missing container is not reported:\n%s", text(rep))
	}
}

// Every problem of every type is reported in one run, each fatal (an
// unknown attribute in the filter matches nothing: the type would list no
// values without saying why).
func TestEntitlementSchemaProblemsTogether(t *testing.T) {
	d := newFakeDir(t)
	d.entries["ou=app roles,dc=example,dc=com"] = true
	d.entries["ou=lic,dc=example,dc=com"] = true
	bad := `[[type]]
name = "Role"
endpoint = "/Roles"
user_attribute = "roles"
container = "ou=App Roles,dc=example,dc=com"
filter = "(&(objectClass=groupOfNames)(bogusAttr=x))"
member = "uid"
[type.value]
display = "cnn"
[[type]]
name = "License"
endpoint = "/Licenses"
user_attribute = "entitlements"
container = "ou=lic,dc=example,dc=com"
filter = "(objectClass=groupOfNamez)"
member = "memberz"
[type.value]
display = "cn"
`
	rep := runEnt(t, d, bad, Options{})
	for _, want := range []string{
		"type Role: filter (&(objectClass=groupOfNames)(bogusAttr=x)) tests attribute bogusAttr",
		"type Role: value.display cnn is not in the directory's schema",
		"type Role: member attribute uid does not hold DNs",
		"type License: filter (objectClass=groupOfNamez) asks for object classes groupOfNamez, none of which",
		"type License: member attribute memberz is not in the directory's schema",
	} {
		f := find(rep, Error, want)
		if f == nil || !f.Fatal || f.Where != "ent.toml:1" && f.Where != "ent.toml:10" {
			t.Errorf("not reported as fatal at its type's line: %q", want)
		}
	}
	if t.Failed() {
		t.Log(text(rep))
	}
}

// A member attribute the filter's class does not allow is refused.
func TestEntitlementMemberNotAllowed(t *testing.T) {
	d := newFakeDir(t)
	d.entries["ou=app roles,dc=example,dc=com"] = true
	ent := strings.Replace(goodEnt, `filter = "(objectClass=groupOfNames)"`, `filter = "(objectClass=person)"`, 1)
	rep := runEnt(t, d, ent, Options{})
	if f := find(rep, Error, "member attribute member is not allowed on entries of person"); f == nil || !f.Fatal {
		t.Fatalf("not reported:\n%s", text(rep))
	}
}

type rightsDir struct {
	*fakeDir
	allowed []string
}

func (r rightsDir) FindEntry(_ context.Context, base string, classes, _ []string) (ldapside.RawEntry, bool, error) {
	return ldapside.RawEntry{DN: "cn=x," + base, Attrs: map[string][]string{"allowedattributeseffective": r.allowed}}, true, nil
}

func (r rightsDir) ReadEntry(ctx context.Context, dn string, attrs []string) (ldapside.RawEntry, error) {
	e, err := r.fakeDir.ReadEntry(ctx, dn, attrs)
	e.Attrs = map[string][]string{"allowedchildclasseseffective": {"inetOrgPerson", "user"}}
	return e, err
}

// On AD the service account's right to write member on the value groups
// is asked of one group.
func TestEntitlementADRights(t *testing.T) {
	d := newFakeDir(t)
	d.entries["ou=app roles,dc=example,dc=com"] = true
	rep := runEnt(t, rightsDir{fakeDir: d, allowed: []string{"cn", "description"}}, goodEnt, Options{Dialect: "ad"})
	if f := find(rep, Error, "cannot write member on the Role groups"); f == nil {
		t.Fatalf("a missing Write Members right is not reported:\n%s", text(rep))
	}
	rep = runEnt(t, rightsDir{fakeDir: d, allowed: []string{"cn", "member"}}, goodEnt, Options{Dialect: "ad"})
	if find(rep, OK, "can write member on the Role groups") == nil || find(rep, Error, "Role groups") != nil {
		t.Fatalf("the right is not seen:\n%s", text(rep))
	}
}

// nested = true is refused at load on a directory that is not AD, with the
// type's line, in the same run as the other problems.
func TestEntitlementNestedNeedsAD(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := &conf.Config{}
	cfg.LDAP.Dialect = "openldap"
	cfg.LDAP.BaseDN = "dc=example,dc=com"
	cfg.Mapping.Users = write("users.toml", goodUsers)
	cfg.Mapping.Entitlements = write("ent.toml", strings.Replace(goodEnt, "[type.value]", "nested = true\n[type.value]", 1))
	tables, rep := Config(cfg, mapping.Options{BaseDN: "dc=example,dc=com", Standard: scimside.StandardSchemas()})
	f := find(rep, Error, "type Role: nested = true")
	if f == nil || !f.Fatal || !strings.HasSuffix(f.Where, "ent.toml:1") || tables.Entitlements == nil {
		t.Fatalf("nested on OpenLDAP is not refused:\n%s", text(rep))
	}
	cfg.LDAP.Dialect = "ad"
	if _, rep = Config(cfg, mapping.Options{BaseDN: "dc=example,dc=com", Standard: scimside.StandardSchemas()}); find(rep, Error, "nested") != nil {
		t.Fatalf("nested on AD is refused:\n%s", text(rep))
	}
	// A broken table is reported at its line, not as a bare error.
	cfg.Mapping.Entitlements = write("ent.toml", goodEnt+"bogus = 1\n")
	if _, rep = Config(cfg, mapping.Options{BaseDN: "dc=example,dc=com", Standard: scimside.StandardSchemas()}); find(rep, Error, "ent.toml:10: type[0].value.bogus: unknown key") == nil || len(rep.Fatal()) != 1 {
		t.Fatalf("a bad table is not located:\n%s", text(rep))
	}
}
