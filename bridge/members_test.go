package bridge

import (
	"context"
	"testing"
)

// recordingDir is a unit-test Directory that records what the service asks
// of it and fails any read that would fetch a member list.
type recordingDir struct {
	Directory
	t       *testing.T
	modify  []ModifyRequest
	fetched [][]string
}

func (d *recordingDir) Get(ctx context.Context, base, id string, attrs []string) (*Entry, error) {
	d.fetched = append(d.fetched, attrs)
	for _, a := range attrs {
		if a == "member" {
			d.t.Fatalf("the member list was read")
		}
	}
	if attrs == nil {
		d.t.Fatalf("every attribute was read")
	}
	return &Entry{ID: id, DN: "cn=g,ou=groups"}, nil
}

func (d *recordingDir) Modify(ctx context.Context, req ModifyRequest) (*Entry, error) {
	d.modify = append(d.modify, req)
	return &Entry{ID: req.ID}, nil
}

type memberOnlyMapper struct {
	Mapper
	changes []Change
}

func (m memberOnlyMapper) Container() string { return "ou=groups" }
func (m memberOnlyMapper) ResourceType() *ResourceType {
	return &ResourceType{Name: "Group"}
}
func (m memberOnlyMapper) MemberChanges(ctx context.Context, ops []PatchOp, refs Refs) ([]Change, bool, error) {
	return m.changes, true, nil
}
func (m memberOnlyMapper) MemberPlaceholder() (string, string) { return "member", "cn=nobody" }

func TestPatchQuietMembershipIsOneWriteWithoutReadingMembers(t *testing.T) {
	d := &recordingDir{t: t}
	add := []Change{{Op: ChangeAdd, Attr: "member", Values: []string{"uid=a,ou=people"}}}
	s := NewService(d, memberOnlyMapper{changes: add}, nil, ServiceConfig{})
	ops := []PatchOp{{Op: "add", Path: &PatchPath{Attr: AttrPath{Attr: "members"}}, Value: []any{map[string]any{"value": "x"}}}}
	if err := s.PatchQuiet(context.Background(), "g1", ops); err != nil {
		t.Fatal(err)
	}
	if len(d.modify) != 1 || len(d.modify[0].Changes) != 1 || d.modify[0].Changes[0].Op != ChangeAdd {
		t.Fatalf("writes: %+v", d.modify)
	}
	if len(d.fetched) != 0 {
		t.Fatalf("reads: %v", d.fetched)
	}
}
