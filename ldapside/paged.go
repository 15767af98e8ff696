package ldapside

import (
	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// pagedState is a Simple Paged Results search left open on one connection
// (a cookie is only valid on the connection that got it), so that the next
// page of a sequential walk continues where this one stopped.
type pagedState struct {
	key    string
	req    *ldap.SearchRequest
	cookie []byte
	next   int // the offset the cookie continues at
	size   int // the page size of the walk
	total  int
}

// countPageSize is the page size of the walk that counts the matches.
const countPageSize = 1000

// maxServerPage is the most entries one paged round trip asks for: Active
// Directory's default MaxPageSize. A window larger than that takes several
// round trips of this size.
const maxServerPage = 1000

// searchPaged is the fallback for servers without VLV: Simple Paged Results
// (RFC 2696), sorted with Server-Side Sort when the server offers it
// (otherwise in the server's own order, which OpenLDAP and AD keep stable).
//
// Its cost grows with Offset: the Offset entries before the window are read
// and skipped, and the exact total is counted by a separate walk over the
// DNs of all matches. To keep a sequential walk (offset 0, 100, 200, ...)
// from paying that on every page, the connection keeps the open search's
// cookie and total, and the pool hands that connection to the request that
// continues at the cookie's offset; the total is then the one counted at
// the start of the walk. One open search per connection at most: starting
// another abandons the previous one, so the server keeps no state behind.
func (c *Conn) searchPaged(pc *pconn, q *query, offset, count int) (*bridge.SearchResult, error) {
	var ctrls []ldap.Control
	if pc.caps.sort {
		ctrls = append(ctrls, sortControl{ldap.NewControlServerSideSortingWithSortKeys(q.keys)})
	}
	st := pc.paged
	pc.paged = nil
	// sssvlv fixes the page size at the first page of a sorted walk, so a
	// walk keeps one page size: the window's count.
	if st == nil || st.key != q.key() || st.next != offset || st.size != count || len(st.cookie) == 0 {
		pc.paged = st
		c.abandonPaged(pc)
		total, err := c.countMatches(pc, q)
		if err != nil {
			return nil, err
		}
		if count == 0 || offset >= total {
			return &bridge.SearchResult{Total: total}, nil
		}
		st = &pagedState{key: q.key(), total: total, size: count,
			req: ldap.NewSearchRequest(q.base, q.scope, ldap.NeverDerefAliases, 0, 0, false, q.filter, q.attrs, nil)}
		// Skip whole pages before the window.
		for st.next+count <= offset {
			res, err := c.pagedPage(pc, st, ctrls, count)
			if err != nil {
				return nil, err
			}
			st.next += len(res.Entries)
			if len(st.cookie) == 0 || len(res.Entries) == 0 {
				return &bridge.SearchResult{Total: total}, nil
			}
		}
	}
	out := &bridge.SearchResult{Total: st.total}
	for len(out.Entries) < count {
		res, err := c.pagedPage(pc, st, ctrls, count)
		if err != nil {
			return nil, err
		}
		for i, e := range res.Entries {
			if st.next+i >= offset && len(out.Entries) < count {
				x, err := c.pageEntry(pc, e, q.asked)
				if err != nil {
					return nil, err
				}
				out.Entries = append(out.Entries, x)
			}
		}
		st.next += len(res.Entries)
		if len(st.cookie) == 0 || len(res.Entries) == 0 {
			break
		}
	}
	if len(st.cookie) > 0 {
		pc.paged = st
	}
	return out, nil
}

// pagedPage fetches the next page of st with the given size and keeps the
// new cookie in st.
func (c *Conn) pagedPage(pc *pconn, st *pagedState, ctrls []ldap.Control, size int) (*ldap.SearchResult, error) {
	if size > maxServerPage {
		size = maxServerPage
	}
	paging := ldap.NewControlPaging(uint32(size))
	paging.SetCookie(st.cookie)
	st.req.Controls = append(append([]ldap.Control(nil), ctrls...), paging)
	sorted := len(ctrls) > 0
	res, err := c.searchPage(pc.l, st.req, sorted && len(st.cookie) > 0)
	if res != nil {
		c.entriesRead.Add(int64(len(res.Entries)))
	}
	if err != nil {
		if sorted {
			// sssvlv may still hold the walk's sorted list for this
			// connection, and frees it only when the walk ends or the
			// connection closes: a walk that failed part way is not
			// continued, so end the connection.
			pc.retire = true
		}
		st.cookie = nil
		return nil, err
	}
	st.cookie = nil
	if pr, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging); ok {
		st.cookie = pr.Cookie
	}
	if err := sortFailed(res.Controls); err != nil {
		return nil, err
	}
	return res, nil
}

// countMatches counts the entries q matches, reading DNs only.
func (c *Conn) countMatches(pc *pconn, q *query) (int, error) {
	st := &pagedState{req: ldap.NewSearchRequest(q.base, q.scope, ldap.NeverDerefAliases, 0, 0, false, q.filter, []string{"1.1"}, nil)}
	total := 0
	for {
		res, err := c.pagedPage(pc, st, nil, countPageSize) // counting needs no order
		if err != nil {
			return 0, err
		}
		total += len(res.Entries)
		if len(st.cookie) == 0 {
			return total, nil
		}
	}
}

// abandonPaged ends the open paged search of pc, if any, with a page size
// of 0 as RFC 2696 says, so that the server drops its state.
func (c *Conn) abandonPaged(pc *pconn) {
	st := pc.paged
	pc.paged = nil
	if st == nil || len(st.cookie) == 0 {
		return
	}
	var ctrls []ldap.Control
	if pc.caps.sort {
		for _, ct := range st.req.Controls {
			if _, ok := ct.(sortControl); ok {
				ctrls = append(ctrls, ct)
			}
		}
	}
	if _, err := c.pagedPage(pc, st, ctrls, 0); err != nil {
		c.log.Debug("abandoning a paged search failed", "error", err)
		pc.retire = true // the server may still hold it: end the connection
	}
}
