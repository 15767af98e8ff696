package main

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/hashicorp/go-hclog"
)

func TestDescribeModify(t *testing.T) {
	yes, no, pw := true, false, "s3cret"
	cases := []struct {
		name  string
		req   bridge.ModifyRequest
		op    string
		attrs []string
	}{
		{"disable", bridge.ModifyRequest{Disabled: &yes}, "disable", []string{"disabled"}},
		{"enable", bridge.ModifyRequest{Disabled: &no}, "enable", []string{"disabled"}},
		{"deprovision", bridge.ModifyRequest{Disabled: &yes, NewSuperior: "ou=leavers,dc=x"}, "deprovision", []string{"dn", "disabled"}},
		{"move", bridge.ModifyRequest{NewSuperior: "ou=b,dc=x"}, "move", []string{"dn"}},
		{"rename", bridge.ModifyRequest{NewRDN: "uid=new"}, "rename", []string{"dn"}},
		{"member add", bridge.ModifyRequest{Changes: []bridge.Change{{Op: bridge.ChangeDelete, Attr: "member", Values: nil}, {Op: bridge.ChangeAdd, Attr: "member", Values: []string{"uid=a"}}}},
			"update", []string{"member"}},
		{"one member add", bridge.ModifyRequest{Changes: []bridge.Change{{Op: bridge.ChangeAdd, Attr: "member", Values: []string{"uid=a", "uid=b"}}}}, "member_add", []string{"member"}},
		{"member remove", bridge.ModifyRequest{Changes: []bridge.Change{{Op: bridge.ChangeDelete, Attr: "member", Values: []string{"uid=a"}}}}, "member_remove", []string{"member"}},
		{"update", bridge.ModifyRequest{Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "sn", Values: []string{"X"}}}, Password: &pw}, "update", []string{"sn", "password"}},
	}
	for _, c := range cases {
		op, attrs, extra := describeModify(c.req)
		if op != c.op || !reflect.DeepEqual(attrs, c.attrs) {
			t.Errorf("%s: op=%s attributes=%v, want op=%s attributes=%v", c.name, op, attrs, c.op, c.attrs)
		}
		for _, v := range extra {
			if v == pw {
				t.Errorf("%s: the password value is in the audit fields %v", c.name, extra)
			}
		}
	}
}

// staleDir refuses every Guessed modify, as a directory does when the
// remembered entry changed.
type staleDir struct{ bridge.Directory }

func (staleDir) Modify(_ context.Context, req bridge.ModifyRequest) (*bridge.Entry, error) {
	if req.Guessed {
		return nil, bridge.E("test", bridge.KindPrecondition, "", bridge.ErrStaleCurrent)
	}
	return &bridge.Entry{ID: req.ID, DN: "uid=a,dc=x"}, nil
}

// TestAuditSkipsRefusedGuess: a refused guess wrote nothing, so it is no
// "directory write failed" line; the write that follows is audited.
func TestAuditSkipsRefusedGuess(t *testing.T) {
	var buf bytes.Buffer
	a := auditDirectory{Directory: staleDir{}, log: hclog.New(&hclog.LoggerOptions{Output: &buf, JSONFormat: true})}
	ch := []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"x"}}}
	if _, err := a.Modify(context.Background(), bridge.ModifyRequest{ID: "i", Changes: ch, Guessed: true}); !errors.Is(err, bridge.ErrStaleCurrent) {
		t.Fatalf("the refusal was not passed on: %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("a refused guess was audited: %s", buf.String())
	}
	if _, err := a.Modify(context.Background(), bridge.ModifyRequest{ID: "i", Changes: ch}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), `"directory write"`); n != 1 || strings.Contains(buf.String(), "failed") {
		t.Fatalf("the write after it: %s", buf.String())
	}
}

// TestAuditAtWarnCostsNothing: below info (make bench runs at warn) a
// successful write's audit line is dropped, so describing the write for it
// would be work thrown away on every PUT and PATCH: none is done. A failed
// write is still described (its line is a warning).
func TestAuditAtWarnCostsNothing(t *testing.T) {
	var buf bytes.Buffer
	a := auditDirectory{Directory: okDir{}, log: hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Warn})}
	req := bridge.ModifyRequest{ID: "i", Changes: []bridge.Change{
		{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"x"}},
		{Op: bridge.ChangeAdd, Attr: "member", Values: []string{"uid=b,dc=x"}}}}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		if _, err := a.Modify(ctx, req); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("an audited modify at warn allocates %.0f times, want 0", n)
	}
	if buf.Len() != 0 {
		t.Errorf("logged at warn: %s", buf.String())
	}
	failing := auditDirectory{Directory: failDir{}, log: a.log}
	if _, err := failing.Modify(ctx, bridge.ModifyRequest{ID: "i", Changes: req.Changes}); err == nil {
		t.Fatal("the failing directory did not fail")
	}
	if !strings.Contains(buf.String(), "directory write failed") || !strings.Contains(buf.String(), "op=update") {
		t.Errorf("a failed write at warn: %q", buf.String())
	}
}

// okDir answers every modify with the same entry, so that what is
// counted is the audit's own work.
type okDir struct{ bridge.Directory }

var okEntry = &bridge.Entry{ID: "i", DN: "uid=a,dc=x"}

func (okDir) Modify(context.Context, bridge.ModifyRequest) (*bridge.Entry, error) {
	return okEntry, nil
}

type failDir struct{ bridge.Directory }

func (failDir) Modify(context.Context, bridge.ModifyRequest) (*bridge.Entry, error) {
	return nil, bridge.Errorf("test", bridge.KindUnavailable, "down")
}
