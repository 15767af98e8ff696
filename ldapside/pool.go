package ldapside

import (
	"context"
	"sync"

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
	// VLV search (sssvlv keeps its sort context until the connection ends).
	retire bool
	// paged is the Simple Paged Results state pinned to this connection, see
	// searchPaged.
	paged *pagedState
}

// pool is a bounded set of bound connections. At most size connections exist
// at any time; a caller that finds all of them busy waits for one (or for
// its context). Connections are dialed lazily, so a pool survives a
// directory restart: broken connections are discarded when they fail, and
// the next caller dials a fresh one.
type pool struct {
	tokens chan struct{} // one per connection that may exist
	dial   func(ctx context.Context) (*pconn, error)

	mu     sync.Mutex
	idle   []*pconn // most recently used last
	closed bool
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
	const op = "ldapside.(*pool).get"
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
	var pc *pconn
	if prefer != nil {
		for i := len(p.idle) - 1; i >= 0; i-- {
			if prefer(p.idle[i]) {
				pc = p.idle[i]
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				break
			}
		}
	}
	for pc == nil && len(p.idle) > 0 {
		pc = p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if pc.l.IsClosing() { // the server or a cancelled request closed it
			_ = pc.l.Close()
			pc = nil
		}
	}
	p.mu.Unlock()
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

// put gives a connection back. err is the outcome of the last operation on
// it: a connection that failed at the network level is closed, not reused.
func (p *pool) put(pc *pconn, err error) {
	if err != nil && isConnectionError(err) {
		pc.retire = true
	}
	p.mu.Lock()
	if p.closed || pc.retire || pc.l.IsClosing() {
		p.mu.Unlock()
		// Closed now, not later: the server frees what it keeps per
		// connection (sort contexts, paged cookies) only when it ends.
		_ = pc.l.Close()
	} else {
		p.idle = append(p.idle, pc)
		p.mu.Unlock()
	}
	p.tokens <- struct{}{}
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
	p.mu.Unlock()
	for _, pc := range idle {
		_ = pc.l.Close()
	}
}
