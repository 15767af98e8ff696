package ldapside

import (
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
