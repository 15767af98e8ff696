package bridge

import (
	"context"
	"strings"
	"testing"
)

// searchOnlyDir answers searches from entries and records them; a Get by
// immutable id fails the test, as a type named by an attribute must never
// look its ids up as immutable ids.
type searchOnlyDir struct {
	recordingDir
	entries  []*Entry
	searches []SearchRequest
}

func (d *searchOnlyDir) Get(ctx context.Context, base, id string, attrs []string) (*Entry, error) {
	d.t.Fatalf("Get(%q): an attribute's value was used as an immutable id", id)
	return nil, nil
}

func (d *searchOnlyDir) Search(ctx context.Context, req SearchRequest) (*SearchResult, error) {
	d.searches = append(d.searches, req)
	return &SearchResult{Total: len(d.entries), Entries: d.entries}, nil
}

type idAttrMapper struct{ memberOnlyMapper }

func (idAttrMapper) IDAttr() string           { return "cn" }
func (idAttrMapper) ObjectFilter() *Filter    { return Eq("objectClass", "groupOfNames") }
func (idAttrMapper) DirectoryAttrs() []string { return []string{"objectClass"} }
func (idAttrMapper) SearchScope() Scope       { return ScopeOne }
func (idAttrMapper) Resource(_ context.Context, e *Entry, _ Refs) (Resource, error) {
	return Resource{Attrs: map[string]any{"displayName": e.First("cn")}}, nil
}

func TestServiceIDAttr(t *testing.T) {
	ctx := context.Background()
	add := []Change{{Op: ChangeAdd, Attr: "member", Values: []string{"uid=a,ou=people"}}}
	admins := &Entry{ID: "uuid-1", DN: "cn=Admins,ou=groups", Attrs: map[string][]string{"cn": {"Admins"}}}
	d := &searchOnlyDir{recordingDir: recordingDir{t: t}, entries: []*Entry{admins}}
	s := NewService(d, idAttrMapper{memberOnlyMapper{changes: add}}, nil, ServiceConfig{EntryCache: 10})

	r, err := s.Get(ctx, "a*(")
	if err != nil || r.ID != "Admins" {
		t.Fatalf("Get: %+v %v, want the id attribute's value as id", r, err)
	}
	q := d.searches[0]
	if q.Base != "ou=groups" || q.Scope != ScopeOne || q.Count != 2 || q.Filter.String() != `(&(objectClass=groupOfNames)(cn=a\2a\28))` {
		t.Errorf("search %+v filter %s", q, q.Filter)
	}
	if !containsFold(q.Attrs, "cn") {
		t.Errorf("the id attribute is not read: %v", q.Attrs)
	}

	ops := []PatchOp{{Op: "add", Path: &PatchPath{Attr: AttrPath{Attr: "members"}}, Value: []any{map[string]any{"value": "x"}}}}
	if err := s.PatchQuiet(ctx, "Admins", ops); err != nil {
		t.Fatal(err)
	}
	if len(d.modify) != 1 || d.modify[0].ID != "uuid-1" {
		t.Fatalf("the write must go to the entry's immutable id: %+v", d.modify)
	}

	d.entries = nil
	if _, err := s.Get(ctx, "Nope"); KindOf(err) != KindNotFound {
		t.Errorf("no match: %v", err)
	}
	if err := s.PatchQuiet(ctx, "Nope", ops); KindOf(err) != KindNotFound || len(d.modify) != 1 {
		t.Errorf("assign to no match: %v, writes %d", err, len(d.modify))
	}

	d.entries = []*Entry{admins, {ID: "uuid-2", DN: "cn=Admins2,ou=groups", Attrs: map[string][]string{"cn": {"Admins2", "Admins"}}}}
	_, err = s.Get(ctx, "Admins")
	if KindOf(err) != KindMisconfigured || !strings.Contains(FixOf(err), "cn") || strings.Contains(SafeMessage(err), "ou=groups") {
		t.Errorf("two matches: %v (fix %q, client sees %q)", err, FixOf(err), SafeMessage(err))
	}
	if err := s.PatchQuiet(ctx, "Admins", ops); KindOf(err) != KindMisconfigured || len(d.modify) != 1 {
		t.Errorf("assign to two matches: %v, writes %d", err, len(d.modify))
	}
}
