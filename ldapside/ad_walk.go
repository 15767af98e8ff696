package ldapside

import (
	"fmt"
	"hash/fnv"
	"strings"
	"sync"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// The AD walk: on Active Directory a search in the default order (SortBy
// "" or the id) is an unsorted Simple Paged Results search instead of a
// VLV window. Samba sorts the whole result again for every VLV page (no
// context is kept between pages: about 0.55 s a page at 10,000 users),
// while a paged search reads its matches once, at its first page, and
// every later page continues from the cookie.
//
// Order: the server's own order of the search, the same for the same
// search whatever attributes or page size are asked for. On Samba 4.17 it
// is ascending objectGUID bytes, which is the id order the Directory
// contract asks for (TestSambaPagedResultsFacts records both facts).
//
// Walks: the cookie is valid only on the connection that got it, so the
// connection keeps it (pconn.paged), and the pool hands that connection to
// the request that continues at the cookie's offset (adWalkScore). Such a
// walk reads the snapshot Samba took at the walk's first page: entries
// added later are not in it, deleted ones are skipped, Total is the
// snapshot's size (Samba's paged response carries it).
//
// A page that continues no kept cookie (a random startIndex, a walk whose
// connection was dropped, a DC that forgot the cookie, a busy pool that
// gave the walk another connection) starts the search again and skips to
// its offset, reading the skipped entries (a cookie continues only the
// same search, attributes included, so the skip cannot be cheaper than
// the pages it skips). Random pages and walks therefore agree on the
// order. To make a restarted walk never skip or repeat an entry silently,
// the gateway remembers, for each position where a walk page ended, a
// fingerprint of the ids served before it (adWalkLog); a restart at such a
// position compares the fingerprint of the entries it skipped with it and
// fails the page (KindUnavailable: start the walk again) when the
// directory changed in between.

// adWalk reports whether a search in the order sortBy is served by the
// unsorted AD walk.
func (c *Conn) adWalk(sortBy string) bool {
	if _, ad := c.d.(activeDirectory); !ad || c.noADWalk {
		return false
	}
	return sortBy == "" || strings.EqualFold(sortBy, bridge.VirtualID)
}

// adWalkScore ranks idle connections for a page of q's AD walk at offset:
// the one whose cookie continues there, then those that keep no cookie
// (a new search there abandons none), then the others.
func (q *query) adWalkScore(offset int) func(*pconn) int {
	return func(pc *pconn) int {
		switch {
		case pc.paged == nil:
			return 1
		case offset > 0 && pc.paged.next == offset && pc.paged.key == q.key():
			return 2
		}
		return 0
	}
}

// errWalkChanged is the answer to a restarted walk page whose skipped
// entries are not the ones the walk served.
const errWalkChangedMsg = "the list changed in the directory since this walk of its pages began, so its next page would skip or repeat resources; start again at startIndex 1"

// searchADWalk serves [offset, offset+count) of q from an unsorted paged
// search (see the comment at the top of this file).
func (c *Conn) searchADWalk(pc *pconn, q *query, offset, count int) (*bridge.SearchResult, error) {
	const op = "ldapside.(*Conn).searchADWalk"
	key := q.key()
	recorded, walked := c.adWalkLog.get(key, offset)
	if st := pc.paged; st != nil && offset > 0 && st.key == key && st.next == offset && len(st.cookie) > 0 {
		if walked && recorded != st.sum {
			// Another walk of the same search stopped here with other
			// entries before it: which of them asks is unknown.
			return nil, bridge.Errorf(op, bridge.KindUnavailable, errWalkChangedMsg)
		}
		pc.paged = nil
		out, err := c.adWalkWindow(pc, st, q, count)
		if err == nil || isConnectionError(err) {
			return out, err
		}
		c.log.Debug("continuing an AD walk failed, starting its search again", "error", err)
	}
	if !walked && offset > 0 && count > 0 {
		return c.adRandomPage(pc, q, offset, count)
	}
	kept := pc.paged
	pc.paged = nil
	st := &pagedState{key: key, total: -1, size: count, sum: fnvOffset,
		req: ldap.NewSearchRequest(q.base, q.scope, ldap.NeverDerefAliases, 0, 0, false, q.filter, q.attrs, nil)}
	// Skip to offset, in the largest pages the server allows.
	for st.next < offset {
		res, err := c.pagedPage(pc, st, nil, offset-st.next)
		if err != nil {
			pc.paged = kept
			return nil, err
		}
		for _, e := range res.Entries {
			st.sum = fnvAdd(st.sum, e.GetEqualFoldRawAttributeValue(attrObjectGUID))
			st.next++
		}
		if err := c.learnTotal(pc, st, q, res); err != nil {
			pc.paged = kept
			return nil, err
		}
		if len(st.cookie) == 0 {
			break
		}
	}
	if walked && (st.next != offset || st.sum != recorded) {
		pc.paged = kept
		c.abandonCookie(pc, st)
		return nil, bridge.Errorf(op, bridge.KindUnavailable, errWalkChangedMsg)
	}
	if st.next < offset {
		// The search ended before offset: an empty window.
		pc.paged = kept
		return &bridge.SearchResult{Total: st.total}, nil
	}
	if len(st.cookie) == 0 && offset > 0 {
		pc.paged = kept
		return &bridge.SearchResult{Total: st.total}, nil
	}
	if kept != nil && len(kept.cookie) > 0 {
		// Replaced below when this search keeps a cookie of its own;
		// until then the other walk's stays usable.
		pc.paged = kept
		defer func() {
			if pc.paged != kept {
				saved := pc.paged
				pc.paged = kept
				c.abandonPaged(pc)
				pc.paged = saved
			}
		}()
	}
	return c.adWalkWindow(pc, st, q, count)
}

// adRandomPage serves a page that continues no walk: the ids of the
// entries up to its end are read by a paged search of objectGUID alone (in
// the search's own order, the same as with every attribute), and the
// window's entries are then read by their ids, at most adByIDChunk a
// search, and put in that order. Far cheaper than reading the skipped
// entries whole, it keeps no cookie; a walk continuing from it is a
// verified restart.
func (c *Conn) adRandomPage(pc *pconn, q *query, offset, count int) (*bridge.SearchResult, error) {
	const op = "ldapside.(*Conn).adRandomPage"
	st := &pagedState{key: q.key(), total: -1, sum: fnvOffset,
		req: ldap.NewSearchRequest(q.base, q.scope, ldap.NeverDerefAliases, 0, 0, false, q.filter, []string{attrObjectGUID}, nil)}
	var window [][]byte
	for st.next < offset+count {
		res, err := c.pagedPage(pc, st, nil, offset+count-st.next)
		if err != nil {
			return nil, err
		}
		for _, e := range res.Entries {
			g := e.GetEqualFoldRawAttributeValue(attrObjectGUID)
			if st.next >= offset {
				window = append(window, g)
			}
			st.sum = fnvAdd(st.sum, g)
			st.next++
		}
		if err := c.learnTotal(pc, st, q, res); err != nil {
			c.abandonCookie(pc, st)
			return nil, err
		}
		if len(st.cookie) == 0 {
			break
		}
	}
	c.abandonCookie(pc, st)
	out := &bridge.SearchResult{Total: st.total}
	byID := map[string]*ldap.Entry{}
	for i := 0; i < len(window); i += adByIDChunk {
		var f strings.Builder
		f.WriteString("(&" + q.filter + "(|")
		for _, g := range window[i:min(len(window), i+adByIDChunk)] {
			f.WriteString("(" + attrObjectGUID + "=")
			for _, x := range g {
				fmt.Fprintf(&f, `\%02x`, x)
			}
			f.WriteString(")")
		}
		f.WriteString("))")
		res, err := pc.l.Search(ldap.NewSearchRequest(q.base, q.scope, ldap.NeverDerefAliases, 0, 0, false, f.String(), q.attrs, nil))
		if res != nil {
			c.entriesRead.Add(int64(len(res.Entries)))
		}
		if err != nil {
			return nil, err
		}
		for _, e := range res.Entries {
			byID[string(e.GetEqualFoldRawAttributeValue(attrObjectGUID))] = e
		}
	}
	for _, g := range window {
		e, ok := byID[string(g)]
		if !ok {
			// Deleted between the two reads: the page would be short
			// and the next one shifted.
			return nil, bridge.Errorf(op, bridge.KindUnavailable, "the list changed in the directory while this page was read; retry")
		}
		x, err := c.pageEntry(pc, e, q.asked)
		if err != nil {
			return nil, err
		}
		out.Entries = append(out.Entries, x)
	}
	if st.next < st.total {
		c.adWalkLog.put(st.key, st.next, st.sum)
	}
	return out, nil
}

// adByIDChunk is the most ids one search of adRandomPage names.
const adByIDChunk = 200

// adWalkWindow reads the next count entries of st's search (count 0: the
// total only) and keeps its cookie on pc while the search goes on.
func (c *Conn) adWalkWindow(pc *pconn, st *pagedState, q *query, count int) (*bridge.SearchResult, error) {
	out := &bridge.SearchResult{}
	first := st.next == 0 && st.total < 0
	for (first || len(st.cookie) > 0) && len(out.Entries) < max(count, 1) {
		first = false
		res, err := c.pagedPage(pc, st, nil, max(count-len(out.Entries), 1))
		if err != nil {
			return nil, err
		}
		for _, e := range res.Entries {
			st.sum = fnvAdd(st.sum, e.GetEqualFoldRawAttributeValue(attrObjectGUID))
			st.next++
			if len(out.Entries) >= count {
				continue // a count-0 search asked for one entry to learn the total
			}
			x, err := c.pageEntry(pc, e, q.asked)
			if err != nil {
				c.abandonCookie(pc, st)
				return nil, err
			}
			out.Entries = append(out.Entries, x)
		}
		if err := c.learnTotal(pc, st, q, res); err != nil {
			c.abandonCookie(pc, st)
			return nil, err
		}
		if count == 0 {
			break
		}
	}
	out.Total = st.total
	if count == 0 {
		// A total only: no walk goes on from here.
		c.abandonCookie(pc, st)
		return out, nil
	}
	if len(st.cookie) > 0 {
		pc.paged = st
		c.adWalkLog.put(st.key, st.next, st.sum)
	}
	return out, nil
}

// learnTotal sets st.total from the first answer of st's search: the
// entries read when the search ended there, else the size the server
// reports (Samba: the exact number of matches of the walk's snapshot),
// else a count of the matches.
func (c *Conn) learnTotal(pc *pconn, st *pagedState, q *query, res *ldap.SearchResult) error {
	if st.total >= 0 {
		return nil
	}
	if len(st.cookie) == 0 {
		st.total = st.next
		return nil
	}
	if pr, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging); ok && pr.PagingSize > 0 {
		st.total = int(pr.PagingSize)
		return nil
	}
	n, err := c.countMatches(pc, q)
	if err != nil {
		return err
	}
	st.total = n
	return nil
}

// abandonCookie ends st's search on the server if it is still open and is
// not the one pc keeps.
func (c *Conn) abandonCookie(pc *pconn, st *pagedState) {
	if len(st.cookie) == 0 || pc.paged == st {
		return
	}
	kept := pc.paged
	pc.paged = st
	c.abandonPaged(pc)
	if !pc.retire {
		pc.paged = kept
	}
}

// FNV-1a, 64 bits, over the ids a walk served, in order.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, b []byte) uint64 {
	for _, x := range b {
		h ^= uint64(x)
		h *= fnvPrime
	}
	// A separator, so that ids of other lengths cannot run together.
	h ^= 0xff
	h *= fnvPrime
	return h
}

// adWalkLog remembers, per search and position where a walk page ended,
// the fingerprint of the ids served before that position. The last walk
// to end a page there wins. Bounded: past adWalkLogMax positions the
// older half is forgotten, and a walk that lost its cookie there restarts
// unverified, as a random page would.
type adWalkLog struct {
	mu  sync.Mutex
	seq uint64
	m   map[adWalkPos]adWalkMark
}

type adWalkPos struct {
	key  uint64 // FNV-1a of the walk key: the map keeps no key strings
	next int
}

type adWalkMark struct {
	sum, seq uint64
}

const adWalkLogMax = 8192

func walkKeyHash(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

func (l *adWalkLog) get(key string, next int) (uint64, bool) {
	if next == 0 {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.m[adWalkPos{walkKeyHash(key), next}]
	return m.sum, ok
}

func (l *adWalkLog) put(key string, next int, sum uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[adWalkPos]adWalkMark{}
	}
	l.seq++
	l.m[adWalkPos{walkKeyHash(key), next}] = adWalkMark{sum: sum, seq: l.seq}
	if len(l.m) > adWalkLogMax {
		for p, m := range l.m {
			if m.seq <= l.seq-adWalkLogMax/2 {
				delete(l.m, p)
			}
		}
	}
}
