package ldapside

import (
	"context"
	"sync"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// ldapConn is the part of *ldap.Conn this package uses: narrow, so the
// dependency is visible and the pool does not care how a connection was made.
type ldapConn interface {
	Search(*ldap.SearchRequest) (*ldap.SearchResult, error)
	Add(*ldap.AddRequest) error
	Del(*ldap.DelRequest) error
	Modify(*ldap.ModifyRequest) error
	ModifyWithResult(*ldap.ModifyRequest) (*ldap.ModifyResult, error)
	ModifyDN(*ldap.ModifyDNRequest) error
	PasswordModify(*ldap.PasswordModifyRequest) (*ldap.PasswordModifyResult, error)
	Close() error
	IsClosing() bool
}

// pconn is one pooled, bound connection and what is known about it.
type pconn struct {
	l    ldapConn
	url  string
	caps caps
	// secure is true when the connection is encrypted (ldaps:// or
	// StartTLS): only then may a password be sent on it.
	secure bool
	// retire asks the pool to close the connection instead of keeping it:
	// set after a network error, after a cancelled operation, and after a
	// VLV search whose sort context is not kept (sssvlv frees a context
	// only when its connection ends).
	retire bool
	// paged is the Simple Paged Results state pinned to this connection, see
	// searchPaged.
	paged *pagedState
	// vlv is the VLV sort context the server holds for this connection, see
	// searchVLV. At most one: a connection that would get a second is
	// retired instead.
	vlv *vlvState
	// idleSince is when the connection was last put back.
	idleSince time.Time
}

// vlvState is a sssvlv sort context kept on one connection so that the next
// page of the same walk continues from the server's sorted snapshot.
type vlvState struct {
	key   string // query.key of the walk
	ctxID []byte // the contextID the server returned
	next  int    // the offset the next page of the walk starts at
	total int    // the snapshot's number of entries
	used  time.Time
}

// vlvIdle is how long a kept sort context may go unused before its
// connection is closed so that the server frees it: sssvlv's contexts count
// against a server-wide limit (olcSssVlvMax) shared with other clients.
const vlvIdle = 30 * time.Second

// poolIdle and keepIdle shrink the pool after a burst: a connection put
// back poolIdle ago is closed (by the reaper, or when the pool is next
// used) as long as more than keepIdle others are idle. The pool holds up to
// pool_size bound connections (32 by default, so that a burst of that many
// requests does not queue in the gateway); without this the directory
// would see all of them for as long as it keeps idle connections open.
const (
	poolIdle = 5 * time.Minute
	keepIdle = 4
)

// pool is a bounded set of bound connections. At most size connections exist
// at any time; a caller that finds all of them busy waits for one (or for
// its context). Connections are dialed lazily, so a pool survives a
// directory restart: broken connections are discarded when they fail, and
// the next caller dials a fresh one.
type pool struct {
	tokens chan struct{} // one per connection that may exist
	dial   func(ctx context.Context) (*pconn, error)
	// usable, when set, says whether a connection may still be used (it
	// goes to the active server): others are closed instead of lent.
	usable func(*pconn) bool

	mu     sync.Mutex
	idle   []*pconn // most recently used last
	closed bool
	reaper *time.Timer // closes idle connections that expired (scheduleReapLocked)
}

func newPool(size int, dial func(ctx context.Context) (*pconn, error)) *pool {
	p := &pool{tokens: make(chan struct{}, size), dial: dial}
	for range size {
		p.tokens <- struct{}{}
	}
	return p
}

// get returns a connection for exclusive use until put. prefer, when it
// matches an idle connection, is taken in preference to the others.
func (p *pool) get(ctx context.Context, prefer func(*pconn) bool) (*pconn, error) {
	var score func(*pconn) int
	if prefer != nil {
		score = func(pc *pconn) int {
			if prefer(pc) {
				return 1
			}
			return 0
		}
	}
	return p.getScored(ctx, score)
}

// getScored is get with a ranking: the idle connection with the highest
// score is taken, the most recently used among equals.
func (p *pool) getScored(ctx context.Context, score func(*pconn) int) (*pconn, error) {
	const op = "ldapside.(*pool).getScored"
	select {
	case <-p.tokens:
	case <-ctx.Done():
		return nil, bridge.E(op, bridge.KindUnavailable, "", ctx.Err())
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.tokens <- struct{}{}
		return nil, bridge.E(op, bridge.KindUnavailable, "", errPoolClosed)
	}
	stale := p.takeExpiredLocked(time.Now())
	stale = append(stale, p.takeUnusableLocked()...)
	if score == nil {
		// Leave the connections that keep a walk's state to the walk's
		// next page while others are idle.
		score = func(pc *pconn) int {
			if pc.vlv == nil && pc.paged == nil {
				return 1
			}
			return 0
		}
	}
	var pc *pconn
	if len(p.idle) > 0 {
		best, bestScore := -1, 0
		for i := len(p.idle) - 1; i >= 0; i-- {
			if s := score(p.idle[i]); best < 0 || s > bestScore {
				best, bestScore = i, s
			}
		}
		pc = p.idle[best]
		p.idle = append(p.idle[:best], p.idle[best+1:]...)
		if !lendable(pc) {
			stale = append(stale, pc)
			pc = nil
		}
	}
	for pc == nil && len(p.idle) > 0 {
		pc = p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !lendable(pc) { // the server or a cancelled request closed it
			_ = pc.l.Close()
			pc = nil
		}
	}
	p.mu.Unlock()
	for _, s := range stale {
		_ = s.l.Close()
	}
	if pc != nil {
		return pc, nil
	}
	pc, err := p.dial(ctx)
	if err != nil {
		p.tokens <- struct{}{}
		return nil, err
	}
	return pc, nil
}

// idleChecker is implemented by clients that can tell without a request
// that the server closed an idle connection (wireConn; go-ldap's Conn
// notices it in its reader goroutine and says so in IsClosing).
type idleChecker interface{ idleGone() bool }

// lendable reports whether an idle connection may be lent: asked only
// there, since a connection just put back has just been answered on.
func lendable(pc *pconn) bool {
	if pc.l.IsClosing() {
		return false
	}
	ic, ok := pc.l.(idleChecker)
	return !ok || !ic.idleGone()
}

// put gives a connection back. err is the outcome of the last operation on
// it: a connection that failed at the network level is closed, not reused.
func (p *pool) put(pc *pconn, err error) {
	if err != nil && isConnectionError(err) {
		pc.retire = true
	}
	p.mu.Lock()
	if p.closed || pc.retire || pc.l.IsClosing() || p.usable != nil && !p.usable(pc) {
		p.mu.Unlock()
		// Closed now, not later: the server frees what it keeps per
		// connection (sort contexts, paged cookies) only when it ends.
		_ = pc.l.Close()
	} else {
		pc.idleSince = time.Now()
		if pc.vlv != nil {
			pc.vlv.used = pc.idleSince
		}
		p.idle = append(p.idle, pc)
		p.scheduleReapLocked(pc.idleSince)
		p.mu.Unlock()
	}
	p.tokens <- struct{}{}
}

// takeExpiredLocked removes from idle the connections whose sort context
// has been unused for vlvIdle, and those idle for poolIdle beyond the
// keepIdle most recently used, and returns them, to be closed.
func (p *pool) takeExpiredLocked(now time.Time) []*pconn {
	var out []*pconn
	keep := p.idle[:0]
	surplus := len(p.idle) - keepIdle // idle is oldest first
	for _, pc := range p.idle {
		if pc.vlv != nil && now.Sub(pc.vlv.used) >= vlvIdle {
			out = append(out, pc)
			surplus--
			continue
		}
		if surplus > 0 && !pc.idleSince.IsZero() && now.Sub(pc.idleSince) >= poolIdle {
			out = append(out, pc)
			surplus--
			continue
		}
		keep = append(keep, pc)
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	return out
}

// takeUnusableLocked removes from idle the connections usable refuses and
// returns them, to be closed.
func (p *pool) takeUnusableLocked() []*pconn {
	if p.usable == nil {
		return nil
	}
	var out []*pconn
	keep := p.idle[:0]
	for _, pc := range p.idle {
		if !p.usable(pc) {
			out = append(out, pc)
			continue
		}
		keep = append(keep, pc)
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	return out
}

// dropUnusable closes the idle connections usable refuses: after a
// failover, so that none lingers on the server given up.
func (p *pool) dropUnusable() {
	p.mu.Lock()
	drop := p.takeUnusableLocked()
	p.mu.Unlock()
	for _, pc := range drop {
		_ = pc.l.Close()
	}
}

// reap closes the idle connections takeExpiredLocked gives up, and runs
// again while some idle connection will expire: a quiet gateway must keep
// neither the server's sort contexts nor a burst's connections forever.
func (p *pool) reap() {
	now := time.Now()
	p.mu.Lock()
	p.reaper = nil
	stale := p.takeExpiredLocked(now)
	p.scheduleReapLocked(now)
	p.mu.Unlock()
	for _, pc := range stale {
		_ = pc.l.Close()
	}
}

// scheduleReapLocked starts the reaper, unless it runs already, for the
// first moment an idle connection expires: a kept sort context vlvIdle
// after its last use, a connection beyond the keepIdle most recent
// poolIdle after it was put back.
func (p *pool) scheduleReapLocked(now time.Time) {
	if p.reaper != nil || p.closed {
		return
	}
	var first time.Time
	earliest := func(t time.Time) {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	for _, pc := range p.idle {
		if pc.vlv != nil {
			earliest(pc.vlv.used.Add(vlvIdle))
		}
	}
	if len(p.idle) > keepIdle && !p.idle[0].idleSince.IsZero() {
		earliest(p.idle[0].idleSince.Add(poolIdle)) // idle is oldest first
	}
	if !first.IsZero() {
		p.reaper = time.AfterFunc(max(first.Sub(now), time.Millisecond), p.reap)
	}
}

// dropSortContexts closes the idle connections that hold a sort context
// (a kept VLV context, or an open paged walk that the server sorts), so
// that the server frees them: used when the server refuses a sort as busy.
func (p *pool) dropSortContexts() int {
	p.mu.Lock()
	var drop []*pconn
	keep := p.idle[:0]
	for _, pc := range p.idle {
		if pc.vlv != nil || (pc.paged != nil && pc.caps.sort) {
			drop = append(drop, pc)
			continue
		}
		keep = append(keep, pc)
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	p.mu.Unlock()
	for _, pc := range drop {
		_ = pc.l.Close()
	}
	return len(drop)
}

// idleCount is for tests and metrics.
func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// close closes the idle connections and makes every later get fail;
// connections in use are closed when they are put back.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	p.mu.Unlock()
	for _, pc := range idle {
		_ = pc.l.Close()
	}
}
