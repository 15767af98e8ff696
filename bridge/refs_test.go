package bridge_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv/embedded"
)

// readCountingDir counts the reads a resolver makes.
type readCountingDir struct {
	bridge.Directory
	searches, byDN, gets atomic.Int64
}

func (d *readCountingDir) Search(ctx context.Context, req bridge.SearchRequest) (*bridge.SearchResult, error) {
	d.searches.Add(1)
	return d.Directory.Search(ctx, req)
}

func (d *readCountingDir) GetByDN(ctx context.Context, dn string, attrs []string) (*bridge.Entry, error) {
	d.byDN.Add(1)
	return d.Directory.GetByDN(ctx, dn, attrs)
}

type containerMapper struct {
	bridge.Mapper
	name, container string
}

func (m containerMapper) ResourceType() *bridge.ResourceType {
	return &bridge.ResourceType{Name: m.name}
}
func (m containerMapper) Container() string { return m.container }

// TestIDsForDNs: batch resolution answers exactly what IDForDN answers one
// DN at a time (found, dangling, out of scope, odd escapes, duplicates),
// with a handful of searches instead of one read per DN.
func TestIDsForDNs(t *testing.T) {
	ctx := context.Background()
	emb, err := embedded.OpenEmbedded(embedded.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emb.Close() })
	var dns []string
	add := func(dn string, attrs map[string][]string) {
		t.Helper()
		if _, err := emb.Add(ctx, bridge.AddRequest{DN: dn, Attrs: attrs}); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
		dns = append(dns, dn)
	}
	for i := range 450 {
		uid := fmt.Sprintf("u%03d", i)
		add("uid="+uid+",ou=people,dc=example,dc=com", map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {uid}, "cn": {"x"}, "sn": {"x"}})
	}
	add(`uid=a\,b\+c,ou=people,dc=example,dc=com`, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"a,b+c"}, "cn": {"x"}, "sn": {"x"}})
	for i := range 3 {
		cn := fmt.Sprintf("g%d", i)
		add("cn="+cn+",ou=groups,dc=example,dc=com", map[string][]string{"objectClass": {"groupOfNames"}, "cn": {cn}, "member": {dns[0]}})
	}
	ask := append([]string{}, dns...)
	ask = append(ask,
		"UID=U001,OU=People,DC=example,DC=com",  // a duplicate, in other case
		"uid=gone,ou=people,dc=example,dc=com",  // dangling
		"cn=admin,dc=example,dc=com",            // outside every container
		"cn=x+sn=y,ou=people,dc=example,dc=com") // a multi-valued RDN, absent

	dir := &readCountingDir{Directory: emb}
	r := bridge.NewResolver(dir, 0)
	r.Register(containerMapper{name: "User", container: "ou=people,dc=example,dc=com"})
	r.Register(containerMapper{name: "Group", container: "ou=groups,dc=example,dc=com"})
	got, err := r.IDsForDNs(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	if n := dir.searches.Load() + dir.byDN.Load(); n > 10 {
		t.Errorf("%d reads for %d DNs", n, len(ask))
	}
	one := bridge.NewResolver(emb, 0)
	one.Register(containerMapper{name: "User", container: "ou=people,dc=example,dc=com"})
	one.Register(containerMapper{name: "Group", container: "ou=groups,dc=example,dc=com"})
	for _, dn := range ask {
		id, typ, err := one.IDForDN(ctx, dn)
		ref, ok := got[bridge.NormalizeDN(dn)]
		switch {
		case bridge.KindOf(err) == bridge.KindNotFound:
			if ok {
				t.Errorf("%s: batch found %v, alone not found", dn, ref)
			}
		case err != nil:
			t.Fatalf("IDForDN(%s): %v", dn, err)
		case !ok || ref.ID != id || ref.Type != typ:
			t.Errorf("%s: batch %v (%t), alone %s %s", dn, ref, ok, id, typ)
		}
	}
	if len(got) != len(dns) {
		t.Errorf("%d resolved, want %d", len(got), len(dns))
	}
	// What was resolved is remembered: asking again reads nothing.
	before := dir.searches.Load() + dir.byDN.Load()
	if _, err := r.IDsForDNs(ctx, dns); err != nil {
		t.Fatal(err)
	}
	if after := dir.searches.Load() + dir.byDN.Load(); after != before {
		t.Errorf("a second batch read the directory %d times", after-before)
	}
}

func (d *readCountingDir) Get(ctx context.Context, base, id string, attrs []string) (*bridge.Entry, error) {
	d.gets.Add(1)
	return d.Directory.Get(ctx, base, id, attrs)
}

// TestDNsForIDs: batch resolution of ids answers exactly what DNForID
// answers one id at a time (found, unknown, malformed, of another type,
// in other case, duplicated), with one search per 200 ids instead of a
// read per id; only the ids the batch does not find are read alone.
func TestDNsForIDs(t *testing.T) {
	ctx := context.Background()
	emb, err := embedded.OpenEmbedded(embedded.EmbeddedOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emb.Close() })
	var users, groups []string
	for i := range 450 {
		uid := fmt.Sprintf("u%03d", i)
		e, err := emb.Add(ctx, bridge.AddRequest{DN: "uid=" + uid + ",ou=people,dc=example,dc=com",
			Attrs: map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {uid}, "cn": {"x"}, "sn": {"x"}}})
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, e.ID)
	}
	for i := range 2 {
		cn := fmt.Sprintf("g%d", i)
		e, err := emb.Add(ctx, bridge.AddRequest{DN: "cn=" + cn + ",ou=groups,dc=example,dc=com",
			Attrs: map[string][]string{"objectClass": {"groupOfNames"}, "cn": {cn}, "member": {"uid=u000,ou=people,dc=example,dc=com"}}})
		if err != nil {
			t.Fatal(err)
		}
		groups = append(groups, e.ID)
	}
	odd := []string{
		strings.ToUpper(users[7]),              // another case
		users[8],                               // a duplicate
		groups[0],                              // a group, asked for as a user
		"7a7d4d36-1c2b-403f-8b3e-6f3e2a1b4c5d", // well formed, no entry
		"not-an-id",
	}
	ask := append(append([]string{}, users...), odd...)
	dir := &readCountingDir{Directory: emb}
	r := bridge.NewResolver(dir, 0)
	r.Register(containerMapper{name: "User", container: "ou=people,dc=example,dc=com"})
	r.Register(containerMapper{name: "Group", container: "ou=groups,dc=example,dc=com"})
	got, err := r.DNsForIDs(ctx, "User", ask)
	if err != nil {
		t.Fatal(err)
	}
	if s, g := dir.searches.Load(), dir.gets.Load(); s != 3 || g != 3 {
		t.Errorf("%d searches and %d reads alone for %d ids, want 3 searches (200 ids each) and 3 alone (the ids not found)", s, g, len(ask))
	}
	one := bridge.NewResolver(emb, 0)
	one.Register(containerMapper{name: "User", container: "ou=people,dc=example,dc=com"})
	one.Register(containerMapper{name: "Group", container: "ou=groups,dc=example,dc=com"})
	for _, id := range ask {
		dn, err := one.DNForID(ctx, "User", id)
		bdn, ok := got[strings.ToLower(id)]
		switch {
		case bridge.KindOf(err) == bridge.KindNotFound:
			if ok {
				t.Errorf("%s: batch found %s, alone not found", id, bdn)
			}
		case err != nil:
			t.Fatalf("DNForID(%s): %v", id, err)
		case !ok || bdn != dn:
			t.Errorf("%s: batch %q (%t), alone %q", id, bdn, ok, dn)
		}
	}
	if len(got) != len(users) {
		t.Errorf("%d resolved, want %d", len(got), len(users))
	}
	if g, err := r.DNsForIDs(ctx, "Group", groups); err != nil || len(g) != 2 {
		t.Errorf("groups: %v, %v", g, err)
	}
	if _, err := r.DNsForIDs(ctx, "Role", users[:2]); bridge.KindOf(err) != bridge.KindInternal {
		t.Errorf("an unregistered type: %v, want an internal error", err)
	}
}
