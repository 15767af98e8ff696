package embedded

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/dirbridge/dirbridge/bridge"
)

// cheapArgon2 keeps tests fast; the format is the same as the default's.
var cheapArgon2 = Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// fakeClock advances one second per call, so that every write gets a new
// timestamp without any test waiting.
type fakeClock struct{ n atomic.Int64 }

func (c *fakeClock) Now() time.Time {
	return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(c.n.Add(1)) * time.Second)
}

func testOptions(t testing.TB, dir string) EmbeddedOptions {
	clock := &fakeClock{}
	return EmbeddedOptions{
		DataDir:       dir,
		AdminPassword: "admin-secret",
		Logger:        hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Warn}),
		Clock:         clock.Now,
		Argon2:        &cheapArgon2,
	}
}

func newTestEmbedded(t testing.TB) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(testOptions(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func person(uid string, extra ...string) bridge.AddRequest {
	attrs := map[string][]string{
		"objectClass": {"top", "person", "organizationalPerson", "inetOrgPerson"},
		"uid":         {uid},
		"cn":          {"User " + uid},
		"sn":          {uid},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = append(attrs[extra[i]], extra[i+1])
	}
	return bridge.AddRequest{DN: "uid=" + uid + ",ou=people,dc=example,dc=com", Attrs: attrs}
}

func mustAdd(t testing.TB, e *Embedded, req bridge.AddRequest) *bridge.Entry {
	t.Helper()
	ent, err := e.Add(context.Background(), req)
	if err != nil {
		t.Fatalf("add %s: %v", req.DN, err)
	}
	return ent
}

func wantKind(t testing.TB, err error, k bridge.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error of kind %v, got nil", k)
	}
	if got := bridge.KindOf(err); got != k {
		t.Fatalf("want kind %v, got %v (%v)", k, got, err)
	}
}

func TestEmbeddedSeedAndReopen(t *testing.T) {
	dir := t.TempDir()
	e, err := OpenEmbedded(testOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, d := range []string{"dc=example,dc=com", "ou=people,dc=example,dc=com", "ou=groups,dc=example,dc=com"} {
		if _, err := e.GetByDN(ctx, d, nil); err != nil {
			t.Fatalf("%s: %v", d, err)
		}
	}
	u := mustAdd(t, e, person("jdoe"))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wantKind(t, e.Ping(ctx), bridge.KindUnavailable)
	e2, err := OpenEmbedded(testOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	got, err := e2.Get(ctx, "", u.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.DN != u.DN || got.Version != u.Version {
		t.Fatalf("after reopen: %+v, want %+v", got, u)
	}
}

func TestEmbeddedAddGetModify(t *testing.T) {
	e := newTestEmbedded(t)
	ctx := context.Background()
	req := person("jdoe", "mail", "JDoe@Example.com", "givenName", "John")
	req.Password = "s3cret"
	u := mustAdd(t, e, req)
	if _, err := uuidParse(u.ID); err != nil {
		t.Fatalf("id %q is not a UUID: %v", u.ID, err)
	}
	if u.DN != "uid=jdoe,ou=people,dc=example,dc=com" {
		t.Fatalf("dn %q", u.DN)
	}
	if _, ok := u.Attrs["userPassword"]; ok {
		t.Fatal("userPassword returned without being asked for")
	}
	withPw, err := e.Get(ctx, "", u.ID, []string{"userPassword", "entryUUID"})
	if err != nil {
		t.Fatal(err)
	}
	if h := withPw.First("userPassword"); !strings.HasPrefix(h, "{ARGON2}$argon2id$v=19$") {
		t.Fatalf("stored password %q is not an argon2 hash", h)
	}
	if withPw.First("entryUUID") != u.ID {
		t.Fatal("entryUUID differs from id")
	}
	if err := e.Authenticate(ctx, u.DN, "s3cret"); err != nil {
		t.Fatal(err)
	}
	wantKind(t, e.Authenticate(ctx, u.DN, "wrong"), bridge.KindUnauthorized)
	wantKind(t, e.Authenticate(ctx, u.DN, ""), bridge.KindUnauthorized)

	// Resending the same password and an already-present value change nothing.
	same := "s3cret"
	m, err := e.Modify(ctx, bridge.ModifyRequest{ID: u.ID, Password: &same,
		Changes: []bridge.Change{{Op: bridge.ChangeAdd, Attr: "mail", Values: []string{"jdoe@example.COM"}},
			{Op: bridge.ChangeDelete, Attr: "title", Values: []string{"absent"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != u.Version || !m.Modified.Equal(u.Modified) {
		t.Fatalf("no-op modify changed version %s → %s", u.Version, m.Version)
	}
	// Disable: bind fails; enable: it works again.
	yes, no := true, false
	m, err = e.Modify(ctx, bridge.ModifyRequest{ID: u.ID, Disabled: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Disabled || m.Version == u.Version {
		t.Fatalf("disable: %+v", m)
	}
	got, _ := e.Get(ctx, "", u.ID, []string{"pwdAccountLockedTime"})
	if got.First("pwdAccountLockedTime") != "000001010000Z" {
		t.Fatalf("lock stored as %q", got.First("pwdAccountLockedTime"))
	}
	wantKind(t, e.Authenticate(ctx, u.DN, "s3cret"), bridge.KindUnauthorized)
	if _, err := e.Modify(ctx, bridge.ModifyRequest{ID: u.ID, Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	if err := e.Authenticate(ctx, u.DN, "s3cret"); err != nil {
		t.Fatal(err)
	}
	// Rename: old RDN value goes, new one comes, id stays.
	r, err := e.Modify(ctx, bridge.ModifyRequest{ID: u.ID, NewRDN: "uid=john.doe",
		Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "sn", Values: []string{"Doe"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != u.ID || r.DN != "uid=john.doe,ou=people,dc=example,dc=com" || len(r.Values("uid")) != 1 || r.First("uid") != "john.doe" {
		t.Fatalf("after rename: %+v", r)
	}
	if _, err := e.GetByDN(ctx, u.DN, nil); bridge.KindOf(err) != bridge.KindNotFound {
		t.Fatalf("old DN still there: %v", err)
	}
	// Schema: missing sn, unknown attribute, two display names.
	bad := person("x")
	delete(bad.Attrs, "sn")
	_, err = e.Add(ctx, bad)
	wantKind(t, err, bridge.KindMisconfigured)
	if !strings.Contains(bridge.SafeMessage(err), "sn") {
		t.Fatalf("message %q does not name sn", bridge.SafeMessage(err))
	}
	_, err = e.Add(ctx, person("y", "bogusAttr", "1"))
	wantKind(t, err, bridge.KindMisconfigured)
	_, err = e.Add(ctx, person("z", "displayName", "a", "displayName", "b"))
	wantKind(t, err, bridge.KindInvalidValue)
	_, err = e.Add(ctx, person("john.doe"))
	wantKind(t, err, bridge.KindConflict)
	noParent := person("p")
	noParent.DN = "uid=p,ou=nowhere,dc=example,dc=com"
	_, err = e.Add(ctx, noParent)
	wantKind(t, err, bridge.KindNotFound)
	// Delete.
	if err := e.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	wantKind(t, e.Delete(ctx, u.ID), bridge.KindNotFound)
	_, err = e.Get(ctx, "", u.ID, nil)
	wantKind(t, err, bridge.KindNotFound)
}

func uuidParse(s string) (string, error) {
	if len(s) != 36 || strings.ToLower(s) != s || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return "", errors.New("not a lower-case UUID")
	}
	return s, nil
}
