package bridge_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/scimside"
	"github.com/dirbridge/dirbridge/testenv/embedded"
)

// countingDir counts searches: a uniqueness check is one.
type countingDir struct {
	bridge.Directory
	searches atomic.Int64
}

func (d *countingDir) Search(ctx context.Context, req bridge.SearchRequest) (*bridge.SearchResult, error) {
	d.searches.Add(1)
	return d.Directory.Search(ctx, req)
}

func newUsers(t *testing.T) (*bridge.Service, *countingDir) {
	t.Helper()
	e, m := embeddedUsers(t)
	d := &countingDir{Directory: e}
	r := bridge.NewResolver(d, 0)
	r.Register(m)
	return bridge.NewService(d, m, r, bridge.ServiceConfig{Lifecycle: true, HardDelete: true}), d
}

// embeddedUsers opens a fresh embedded directory (with cheap password
// hashing) and the shipped OpenLDAP users table.
func embeddedUsers(t *testing.T) (bridge.Directory, bridge.Mapper) {
	t.Helper()
	e, err := embedded.OpenEmbedded(embedded.EmbeddedOptions{DataDir: t.TempDir(), Argon2: &embedded.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 8, KeyLen: 16}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	m, err := mapping.Load("../conf/examples/openldap-users.toml", mapping.Options{BaseDN: "dc=example,dc=com", Standard: scimside.StandardSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	return e, m
}

func user(name, title string) bridge.Resource {
	return bridge.Resource{Attrs: map[string]any{
		"userName": name, "title": title,
		"name": map[string]any{"givenName": "Jane", "familyName": "Doe"},
	}}
}

// A PUT or PATCH that keeps userName needs no uniqueness search; one that
// changes it still gets one, and still gets 409 when the name is taken.
func TestUniquenessSearchOnlyWhenTheValueChanges(t *testing.T) {
	ctx := context.Background()
	s, d := newUsers(t)
	a, err := s.Create(ctx, user("jdoe", "one"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, user("other", "one")); err != nil {
		t.Fatal(err)
	}

	before := d.searches.Load()
	if _, err := s.Replace(ctx, a.ID, user("jdoe", "two")); err != nil {
		t.Fatal(err)
	}
	ops := []bridge.PatchOp{{Op: "replace", Path: &bridge.PatchPath{Attr: bridge.AttrPath{Attr: "active"}}, Value: false}}
	if _, err := s.Patch(ctx, a.ID, ops); err != nil {
		t.Fatal(err)
	}
	if n := d.searches.Load() - before; n != 0 {
		t.Errorf("PUT and PATCH keeping userName made %d searches, want 0", n)
	}

	before = d.searches.Load()
	if _, err := s.Replace(ctx, a.ID, user("other", "two")); bridge.KindOf(err) != bridge.KindConflict {
		t.Errorf("renaming onto a taken userName: %v, want a conflict", err)
	}
	if d.searches.Load() == before {
		t.Error("changing userName made no uniqueness search")
	}
	// A change of case only is a change: the directory decides.
	before = d.searches.Load()
	if _, err := s.Replace(ctx, a.ID, user("JDoe", "two")); err != nil {
		t.Fatal(err)
	}
	if d.searches.Load() == before {
		t.Error("a case-only change of userName made no uniqueness search")
	}
}
