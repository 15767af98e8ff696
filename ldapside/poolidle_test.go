package ldapside

import (
	"context"
	"testing"
	"time"
)

// closeCounter is a pooled connection that only counts its closes.
type closeCounter struct {
	ldapConn
	closed int
}

func (c *closeCounter) Close() error    { c.closed++; return nil }
func (c *closeCounter) IsClosing() bool { return c.closed > 0 }

// TestPoolShrinksAfterBurst: connections put back poolIdle ago or more are
// taken out, oldest first, down to the keepIdle most recently used; a
// kept sort context that expired goes whatever the count; recent
// connections stay.
func TestPoolShrinksAfterBurst(t *testing.T) {
	now := time.Now()
	mk := func(age time.Duration) *pconn {
		return &pconn{l: &closeCounter{}, idleSince: now.Add(-age)}
	}
	p := newPool(32, nil)
	var old, recent []*pconn
	for range 7 {
		old = append(old, mk(poolIdle+time.Minute))
	}
	for range 3 {
		recent = append(recent, mk(time.Second))
	}
	p.idle = append(append([]*pconn{}, old...), recent...)
	out := p.takeExpiredLocked(now)
	if len(out) != len(old)+len(recent)-keepIdle || len(p.idle) != keepIdle {
		t.Fatalf("took %d, kept %d; want %d and %d", len(out), len(p.idle), len(old)+len(recent)-keepIdle, keepIdle)
	}
	for i, pc := range out {
		if pc != old[i] {
			t.Errorf("took #%d out of order: want the oldest first", i)
		}
	}
	for _, pc := range recent {
		found := false
		for _, k := range p.idle {
			found = found || k == pc
		}
		if !found {
			t.Error("a recently used connection was taken")
		}
	}

	// Few idle connections are kept however old; an expired sort context
	// is not.
	p.idle = []*pconn{mk(time.Hour), mk(time.Hour)}
	if out := p.takeExpiredLocked(now); len(out) != 0 {
		t.Errorf("took %d of 2 idle connections, want none (keepIdle %d)", len(out), keepIdle)
	}
	withCtx := mk(time.Hour)
	withCtx.vlv = &vlvState{used: now.Add(-2 * vlvIdle)}
	p.idle = append(p.idle, withCtx)
	if out := p.takeExpiredLocked(now); len(out) != 1 || out[0] != withCtx {
		t.Errorf("took %v, want only the connection with the expired sort context", out)
	}
}

// TestPoolReaperShrinksQuietPool: with no request coming, the reaper is
// scheduled once more than keepIdle connections are idle, and closes the
// surplus that expired; with keepIdle or fewer idle nothing is scheduled.
func TestPoolReaperShrinksQuietPool(t *testing.T) {
	var conns []*pconn
	p := newPool(32, func(context.Context) (*pconn, error) {
		pc := &pconn{l: &closeCounter{}}
		conns = append(conns, pc)
		return pc, nil
	})
	t.Cleanup(p.close)
	borrow := func(n int) []*pconn {
		var out []*pconn
		for range n {
			pc, err := p.get(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, pc)
		}
		return out
	}
	reaping := func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.reaper != nil
	}
	for _, pc := range borrow(keepIdle) {
		p.put(pc, nil)
	}
	if reaping() {
		t.Errorf("a reaper runs for %d idle connections, want none", keepIdle)
	}
	// A burst: all idle ones are busy and 3 more are dialled.
	for _, pc := range borrow(keepIdle + 3) {
		p.put(pc, nil)
	}
	if len(conns) != keepIdle+3 {
		t.Fatalf("dialled %d connections, want %d", len(conns), keepIdle+3)
	}
	if !reaping() {
		t.Fatalf("no reaper for %d idle connections", keepIdle+3)
	}
	p.mu.Lock()
	// As if they had been put back poolIdle ago: the reaper is due.
	oldest := append([]*pconn(nil), p.idle[:3]...)
	for _, pc := range p.idle {
		pc.idleSince = pc.idleSince.Add(-poolIdle - time.Second)
	}
	p.mu.Unlock()
	p.reap()
	closed := 0
	for _, pc := range conns {
		if pc.l.(*closeCounter).closed > 0 {
			closed++
			if pc != oldest[0] && pc != oldest[1] && pc != oldest[2] {
				t.Error("a connection other than the 3 oldest idle ones was closed")
			}
		}
	}
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if closed != 3 || idle != keepIdle {
		t.Errorf("reap closed %d and left %d idle; want 3 and %d", closed, idle, keepIdle)
	}
	if reaping() {
		t.Error("the reaper runs again with nothing left to expire")
	}
}
