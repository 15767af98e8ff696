package journal

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/dirbridge/dirbridge/bridge"
)

func TestIntentsSurviveAReopenAndAreRecoveredInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	clock := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	s, err := Open(path, hclog.NewNullLogger(), now, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := s.Begin(ctx, bridge.Intent{Kind: "k", ID: "a", Data: []byte(`{"x":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Begin(ctx, bridge.Intent{Kind: "k", ID: "b"})
	done, _ := s.Begin(ctx, bridge.Intent{Kind: "k", ID: "done"})
	if err := s.Step(a, "renamed"); err != nil {
		t.Fatal(err)
	}
	if err := s.End(done); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// As after a crash: a new process opens the same file.
	s, err = Open(path, hclog.NewNullLogger(), now, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var seen []string
	fail := true
	s.Handle("k", func(_ context.Context, it bridge.Intent) error {
		seen = append(seen, it.ID)
		if it.ID == "a" && (!it.Done("renamed") || string(it.Data) != `{"x":1}`) {
			t.Errorf("intent a read back as %+v", it)
		}
		if it.ID == "b" && fail {
			return errors.New("directory still away")
		}
		return nil
	})
	left, err := s.RecoverOnce(ctx)
	if err != nil || left != 1 {
		t.Fatalf("RecoverOnce: %d left, %v; want 1 (b fails)", left, err)
	}
	if len(seen) != 2 || seen[0] != "a" || seen[1] != "b" {
		t.Fatalf("handled %v, want a then b", seen)
	}
	fail = false
	if left, _ := s.RecoverOnce(ctx); left != 0 {
		t.Fatalf("%d left after b succeeds", left)
	}
	if p, _ := s.Pending(); len(p) != 0 {
		t.Fatalf("pending %+v", p)
	}
	st := s.Stats()
	if st[[2]string{"k", "settled"}] != 2 || st[[2]string{"k", "retry"}] != 1 {
		t.Fatalf("stats %v", st)
	}
	_ = b
}

// An intent of a kind no handler claims is kept, not dropped.
func TestUnknownKindsAreKept(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "j.db"), hclog.NewNullLogger(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Begin(context.Background(), bridge.Intent{Kind: "from.the.future"}); err != nil {
		t.Fatal(err)
	}
	if left, err := s.RecoverOnce(context.Background()); err != nil || left != 1 {
		t.Fatalf("left %d, %v", left, err)
	}
}

// An intent its request still runs is not recovered under it: only once
// the request ends or releases it.
func TestInFlightIntentsAreLeftToTheirRequest(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "j.db"), hclog.NewNullLogger(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	handled := 0
	s.Handle("k", func(context.Context, bridge.Intent) error { handled++; return nil })
	tok, err := s.Begin(context.Background(), bridge.Intent{Kind: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := s.RecoverOnce(context.Background()); left != 1 || handled != 0 {
		t.Fatalf("an in-flight intent was recovered: left %d, handled %d", left, handled)
	}
	s.Release(tok)
	if left, _ := s.RecoverOnce(context.Background()); left != 0 || handled != 1 {
		t.Fatalf("a released intent: left %d, handled %d", left, handled)
	}
}
