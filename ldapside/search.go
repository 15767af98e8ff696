package ldapside

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// wantAttrs is the attribute list sent to the server: what the caller asked
// for (all user attributes for nil) plus the operational attributes that
// fill the virtual fields of an entry.
func (c *Conn) wantAttrs(attrs []string) []string {
	out := make([]string, 0, len(attrs)+6)
	if attrs == nil {
		out = append(out, "*")
	}
	for _, a := range attrs {
		if strings.HasPrefix(a, "@") || !bridge.ValidAttrDescription(a) {
			continue // virtual: always filled; invalid: never sent
		}
		out = append(out, a)
	}
	return c.rangedAttrs(append(out, c.d.operationalAttrs()...))
}

// toEntry converts e, which it consumes; the operational attributes are in
// Attrs only when they were asked for by name.
func (c *Conn) toEntry(e *ldap.Entry, attrs []string) *bridge.Entry {
	out := &bridge.Entry{DN: e.DN, Attrs: make(map[string][]string, len(e.Attributes))}
	c.d.fill(out, e)
	asked := func(name string) bool {
		for _, a := range attrs {
			if strings.EqualFold(a, name) {
				return true
			}
		}
		return false
	}
	// Once per entry, not per attribute: a dialect builds the list anew.
	ops := c.d.operationalAttrs()
	operational := func(name string) bool {
		for _, o := range ops {
			if strings.EqualFold(o, name) {
				return true
			}
		}
		return false
	}
	for _, a := range e.Attributes {
		if c.d.secretAttr(a.Name) || operational(a.Name) && !asked(a.Name) {
			continue
		}
		// e is the search's own and dropped after this (pageEntry is the
		// only caller): its value slices are taken, not copied, one
		// allocation less per attribute of every entry of a page.
		vals := a.Values
		if r, ok := c.d.(valueRenderer); ok {
			vals = slices.Clone(vals)
			for i, raw := range a.ByteValues {
				if s, ok := r.renderValue(a.Name, raw); ok && i < len(vals) {
					vals[i] = s
				}
			}
		}
		out.Attrs[a.Name] = vals
	}
	return out
}

// findOne reads the one entry below base that filter selects, or fails with
// KindNotFound.
func (c *Conn) findOne(pc *pconn, base string, scope int, filter string, attrs []string) (*ldap.Entry, error) {
	const op = "ldapside.(*Conn).findOne"
	c.singleReads.Add(1)
	res, err := pc.l.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 2, 0, false, filter, c.rangedAttrs(attrs), nil))
	if err != nil {
		var le *ldap.Error
		if errors.As(err, &le) && (le.ResultCode == ldap.LDAPResultNoSuchObject || le.ResultCode == ldap.LDAPResultInvalidDNSyntax) {
			return nil, bridge.E(op, bridge.KindNotFound, "", err)
		}
		if !(errors.As(err, &le) && le.ResultCode == ldap.LDAPResultSizeLimitExceeded) {
			return nil, translate(op, err)
		}
	}
	switch {
	case res == nil || len(res.Entries) == 0:
		return nil, bridge.Errorf(op, bridge.KindNotFound, "")
	case len(res.Entries) > 1:
		return nil, bridge.Errorf(op, bridge.KindInternal, "two entries have the same id")
	}
	if err := c.completeRanges(pc, res.Entries[0]); err != nil {
		return nil, translate(op, err)
	}
	return res.Entries[0], nil
}

// findByID finds the entry with id at or below base ("" means BaseDN).
func (c *Conn) findByID(pc *pconn, base, id string, attrs []string) (*ldap.Entry, error) {
	const op = "ldapside.(*Conn).findByID"
	if !c.d.validID(id) {
		return nil, bridge.Errorf(op, bridge.KindNotFound, "")
	}
	if base == "" {
		base = c.cfg.BaseDN
	} else if _, err := parseDN(base); err != nil {
		return nil, bridge.E(op, bridge.KindNotFound, "", err)
	}
	var pending map[int]string
	if len(c.cfg.URLs) > 1 { // with one server every write went to it
		pending = c.pendingWrites(pc.url)
	}
	e, err := c.findOne(pc, base, ldap.ScopeWholeSubtree, c.d.idFilter(id), attrs)
	if bridge.KindOf(err) == bridge.KindNotFound {
		// Not found may only mean that this replica has not yet received
		// the entry this gateway wrote through another server.
		again, werr := c.awaitWrites(pc, pending)
		if werr != nil {
			return nil, bridge.Wrap(op, werr)
		}
		if again {
			e, err = c.findOne(pc, base, ldap.ScopeWholeSubtree, c.d.idFilter(id), attrs)
		}
	}
	return e, bridge.Wrap(op, err)
}

// Get reads the entry whose id is id at or below base.
func (c *Conn) Get(ctx context.Context, base, id string, attrs []string) (*bridge.Entry, error) {
	const op = "ldapside.(*Conn).Get"
	if !c.d.validID(id) {
		return nil, bridge.Errorf(op, bridge.KindNotFound, "")
	}
	var out *bridge.Entry
	err := c.with(ctx, nil, func(pc *pconn) error {
		e, err := c.findByID(pc, base, id, c.wantAttrs(attrs))
		if err == nil {
			out, err = c.entry(pc, e, attrs)
		}
		return err
	})
	return out, translate(op, err)
}

// GetByDN reads the entry at dn.
func (c *Conn) GetByDN(ctx context.Context, dn string, attrs []string) (*bridge.Entry, error) {
	const op = "ldapside.(*Conn).GetByDN"
	if _, err := parseDN(dn); err != nil {
		return nil, bridge.E(op, bridge.KindNotFound, "", err)
	}
	var out *bridge.Entry
	err := c.with(ctx, nil, func(pc *pconn) error {
		e, err := c.findOne(pc, dn, ldap.ScopeBaseObject, filterAll, c.wantAttrs(attrs))
		if err == nil {
			out, err = c.entry(pc, e, attrs)
		}
		return err
	})
	return out, translate(op, err)
}

// sortControl is the Server-Side Sort request (RFC 2891), marked critical:
// an unsorted answer would make VLV windows meaningless. go-ldap's own type
// cannot be made critical.
type sortControl struct{ *ldap.ControlServerSideSorting }

func (s sortControl) Encode() *ber.Packet {
	p := s.ControlServerSideSorting.Encode()
	if len(p.Children) == 2 {
		crit := ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, true, "Criticality")
		p.Children = []*ber.Packet{p.Children[0], crit, p.Children[1]}
	}
	return p
}

// sortKeys returns the sort keys for sortBy, with the id as tie-breaker.
func (c *Conn) sortKeys(sortBy string) ([]*ldap.SortKey, error) {
	const op = "ldapside.(*Conn).sortKeys"
	attr := sortBy
	if attr == "" {
		attr = bridge.VirtualID
	}
	if strings.HasPrefix(attr, "@") {
		a, ok := c.d.virtualAttr(attr)
		if !ok || strings.EqualFold(attr, bridge.VirtualDisabled) {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "the results cannot be sorted by this attribute")
		}
		attr = a
	} else if !bridge.ValidAttrDescription(attr) {
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "the results cannot be sorted by this attribute")
	}
	keys := []*ldap.SortKey{c.d.sortKey(attr)}
	if _, one := c.d.(oneSortKey); !one && !strings.EqualFold(attr, c.d.idAttr()) {
		keys = append(keys, c.d.sortKey(c.d.idAttr()))
	}
	return keys, nil
}

// oneSortKey is implemented by dialects whose servers sort by one key only
// (AD and Samba refuse a second as unwilling to perform): ties are then in
// the server's own order, which is stable while the entries do not change.
type oneSortKey interface{ oneSortKey() }

// sortFailed returns an error when the server says, in the sort response
// control, that it did not sort: a window of an unsorted list is wrong.
func sortFailed(ctrls []ldap.Control) error {
	if r, ok := ldap.FindControl(ctrls, ldap.ControlTypeServerSideSortingResult).(*ldap.ControlServerSideSortingResult); ok && r.Result != 0 {
		return fmt.Errorf("the server did not sort the results: sort result %d", r.Result)
	}
	return nil
}

func ldapScope(s bridge.Scope) int {
	switch s {
	case bridge.ScopeOne:
		return ldap.ScopeSingleLevel
	case bridge.ScopeBase:
		return ldap.ScopeBaseObject
	}
	return ldap.ScopeWholeSubtree
}

// maxBusyRetries bounds the retries of a sorted search that the server
// refused as busy: sssvlv has a server-wide limit of sort contexts, and the
// ones of connections this package just closed are freed asynchronously.
const maxBusyRetries = 4

// Search returns the window [Offset, Offset+Count) of the matching entries,
// sorted, and their exact number. With a server that offers Server-Side Sort
// and VLV (OpenLDAP with sssvlv, AD) one request fetches the window and the
// total, and its cost does not depend on Offset. Without VLV see
// searchPaged.
//
// On OpenLDAP a walk (offset 0, then each page where the last ended) reads a
// snapshot: the server sorts the matches once, at the first page, and the
// later pages and their Total come from that sorted list (see searchVLV).
// An entry added during the walk is not in it; a page at offset 0 starts a
// new snapshot.
func (c *Conn) Search(ctx context.Context, req bridge.SearchRequest) (*bridge.SearchResult, error) {
	const op = "ldapside.(*Conn).Search"
	if c.cfg.Groups != nil && mentions(req.Filter, c.cfg.Groups.Attr) {
		// The groups attribute may be one the directory does not keep:
		// then the filter names the group's members instead.
		var rewritten *bridge.Filter
		err := c.with(ctx, nil, func(pc *pconn) error {
			if !c.groupsBySearch(pc) {
				rewritten = req.Filter
				return nil
			}
			var err error
			rewritten, err = c.groupFilter(pc, req.Filter)
			return err
		})
		if err != nil {
			return nil, translate(op, err)
		}
		req.Filter = rewritten
	}
	filter, err := renderFilter(c.d, req.Filter)
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	keys, err := c.sortKeys(req.SortBy)
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	base := req.Base
	if base == "" {
		base = c.cfg.BaseDN
	}
	if _, err := parseDN(base); err != nil {
		return nil, bridge.E(op, bridge.KindNotFound, "", err)
	}
	if req.Offset < 0 {
		req.Offset = 0
	}
	if req.Count < 0 {
		req.Count = 0
	}
	q := &query{base: base, scope: ldapScope(req.Scope), filter: filter, keys: keys, attrs: c.wantAttrs(req.Attrs), asked: req.Attrs,
		built: &c.walkKeys}
	var out *bridge.SearchResult
	lost := false
	for attempt := 0; ; attempt++ {
		err = c.withScored(ctx, q.score(req.Offset), func(pc *pconn) error {
			var err error
			if pc.caps.vlv && pc.caps.sort && !c.noVLV {
				out, err = c.searchVLV(pc, q, req.Offset, req.Count)
			} else {
				out, err = c.searchPaged(pc, q, req.Offset, req.Count)
			}
			if err == nil {
				err = c.fillGroups(pc, out.Entries, q.asked)
			}
			return err
		})
		if errors.Is(err, errVLVContextLost) && !lost {
			// The kept sort context is gone (its connection is now
			// retired): start the walk's snapshot again, once.
			lost = true
			continue
		}
		var le *ldap.Error
		if err == nil || attempt >= maxBusyRetries || !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultBusy {
			break
		}
		// Free the contexts this gateway keeps before waiting: a busy
		// server must never be the gateway's own doing.
		c.busyRetries.Add(1)
		dropped := c.pool.dropSortContexts()
		c.log.Debug("sorted search refused as busy, retrying", "attempt", attempt+1, "contexts_dropped", dropped)
		select {
		case <-ctx.Done():
			return nil, translate(op, ctx.Err())
		case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
		}
	}
	if err != nil {
		var le *ldap.Error
		if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultNoSuchObject {
			return &bridge.SearchResult{}, nil // the base does not exist: nothing matches
		}
		return nil, translate(op, err)
	}
	return out, nil
}

// continueBusyRetries bounds the resends of a next page that the server
// refused as busy (searchPage).
const continueBusyRetries = 5

// searchPage sends req, one page of a search; continuing says that it is
// the next page of a sort context the server keeps for this connection (a
// paged-results cookie or a VLV contextID). Only then is a busy answer sent
// again here (a new sort refused as busy meets sssvlv's limits, which
// Search answers by dropping contexts). sssvlv marks a context idle only
// after it has sent the
// previous page's result, so a next page that arrives first is refused as
// busy ("Other sort requests already in progress") although nothing else
// runs on the connection: slapd 2.5 did so for about 0.7% of back-to-back
// pages (TestSortedContinuationBusy). The same request a moment later
// continues the context, where giving up would cost the walk a new sort of
// every match and leave the old context held.
func (c *Conn) searchPage(l ldapConn, req *ldap.SearchRequest, continuing bool) (*ldap.SearchResult, error) {
	for attempt := 0; ; attempt++ {
		res, err := l.Search(req)
		var le *ldap.Error
		if err == nil || !continuing || attempt >= continueBusyRetries || !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultBusy {
			return res, err
		}
		c.continueRetries.Add(1)
		time.Sleep(time.Duration(1<<attempt) * time.Millisecond)
	}
}

// query is one search, rendered.
type query struct {
	base   string
	scope  int
	filter string
	keys   []*ldap.SortKey
	attrs  []string // sent
	asked  []string // by the caller
	// k is the walk key (walkKey), built on first use: a lookup that
	// ends in searchSmall on a connection without walk state never needs
	// it, and building it cost more than the rest of ldapside's own work
	// on a lookup (measured: about 45 µs of 140 with fmt).
	k     string
	built *atomic.Int64 // counts keys built, for tests
}

// key identifies q's walk: a kept paged search or sort context continues
// only a search with the same key.
func (q *query) key() string {
	if q.k == "" {
		q.k = q.cacheKey()
		if q.built != nil {
			q.built.Add(1)
		}
	}
	return q.k
}

// score ranks idle connections for a search of q at offset: the one whose
// kept paged search or sort context continues exactly there first, then
// those that hold no sort context (a search there adds none to keep), then
// the others (one there would be a second context, and retires it).
func (q *query) score(offset int) func(*pconn) int {
	return func(pc *pconn) int {
		switch {
		case pc.paged != nil && pc.paged.next == offset && pc.paged.key == q.key(),
			pc.vlv != nil && pc.vlv.next == offset && pc.vlv.key == q.key():
			return 2
		case pc.vlv == nil:
			return 1
		}
		return 0
	}
}

// cacheKey is every part of q that decides a walk's entries and their
// order, each length-prefixed so that no two queries share a key.
func (q *query) cacheKey() string {
	n := len(q.base) + len(q.filter) + 16
	for _, a := range q.attrs {
		n += len(a) + 4
	}
	b := make([]byte, 0, n)
	part := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	part(q.base)
	b = strconv.AppendInt(b, int64(q.scope), 10)
	part(q.filter)
	b = strconv.AppendInt(b, int64(len(q.keys)), 10)
	for _, k := range q.keys {
		part(k.AttributeType)
		part(k.MatchingRule)
		if k.Reverse {
			b = append(b, 'r')
		}
	}
	b = strconv.AppendInt(b, int64(len(q.attrs)), 10)
	for _, a := range q.attrs {
		part(a)
	}
	return string(b)
}

// errVLVContextLost: a kept sort context could not be continued; the search
// is started again on another connection.
var errVLVContextLost = errors.New("the kept VLV sort context could not be continued")

// searchVLV fetches one window with Server-Side Sort and a byOffset VLV
// request: beforeCount 0, afterCount count-1, offset Offset+1 (VLV counts
// from 1), contentCount 0 (the offset is absolute). The response control
// carries the exact number of matching entries. Count 0 asks for the first
// entry only to learn that number.
//
// OpenLDAP's sssvlv keeps every VLV sort context (the whole sorted list) for
// the life of the connection, offers no way to release one but closing the
// connection, and refuses new sorts as busy past olcSssVlvMaxPerConn per
// connection or olcSssVlvMax in all. Sorting the whole result again for
// every page is what made walks slow, so a connection keeps the context of
// its last walk (pconn.vlv: the query, the contextID, the next offset), and
// the next page of that walk prefers that connection and sends the
// contextID: the server then answers from its sorted snapshot without
// sorting again. Snapshot semantics follow: a walk sees the directory as it
// was at its first page (entries added later are not in it, deleted ones
// are skipped, Total is the snapshot's). A page at offset 0 always starts a
// new snapshot. The budget is one context per connection: a connection that
// would hold a second one, whose walk ended, or whose context went unused
// for vlvIdle, is closed so that the server frees it.
//
// Small results (lookups, uniqueness checks) do not need VLV at all, see
// searchSmall.
func (c *Conn) searchVLV(pc *pconn, q *query, offset, count int) (*bridge.SearchResult, error) {
	if offset == 0 && c.smallFirst() {
		if out, ok, err := c.searchSmall(pc, q, count); ok || err != nil {
			return out, err
		}
	}
	keep := c.keepsVLVContext() && !pc.retire
	var held *vlvState
	if pc.vlv != nil && pc.vlv.next == offset && offset > 0 && pc.vlv.key == q.key() {
		held = pc.vlv
	}
	if pc.vlv != nil && held == nil {
		pc.vlv = nil
		if c.retiresVLVConnections() {
			// This search makes a second context on the connection:
			// retire it afterwards rather than keep two.
			pc.retire = true
			keep = false
		}
	}
	after := count - 1
	if count == 0 {
		after = 0
	}
	vlv := &vlvRequest{BeforeCount: 0, AfterCount: int64(after), Offset: int64(offset) + 1, ContentCount: 0, Critical: true}
	if held != nil {
		vlv.ContextID = held.ctxID
	}
	sss := sortControl{ldap.NewControlServerSideSortingWithSortKeys(q.keys)}
	sreq := ldap.NewSearchRequest(q.base, q.scope, ldap.NeverDerefAliases, 0, 0, false, q.filter, q.attrs, []ldap.Control{sss, vlv})
	res, err := c.searchPage(pc.l, sreq, held != nil)
	var ctrls []ldap.Control
	if err != nil {
		ctrls = controlsOfError(err)
	} else {
		ctrls = res.Controls
	}
	if res != nil {
		c.entriesRead.Add(int64(len(res.Entries)))
	}
	resp, found, derr := findVLVResponse(ctrls)
	pc.vlv = nil
	if c.retiresVLVConnections() && (held != nil || (resp != nil && (resp.ContentCount > 0 || len(resp.ContextID) > 0))) {
		// The server holds a context for this connection now; kept
		// below only when the walk goes on.
		pc.retire = true
	}
	if err != nil {
		if resp != nil && (resp.Result == ldap.LDAPResultOffsetRangeError || resp.Result == 77) {
			// The offset lies beyond the end (OpenLDAP answers 77,
			// the draft's offsetRangeError is 61): an empty window.
			return &bridge.SearchResult{Total: int(resp.ContentCount)}, nil
		}
		if held != nil && !isConnectionError(err) {
			var le *ldap.Error
			if !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultBusy {
				c.log.Debug("continuing a VLV walk failed, sorting again", "error", err)
				c.contextRefused(err)
				return nil, errVLVContextLost
			}
		}
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	if !found {
		if held != nil {
			// Samba 4.17 answers a contextID it does not hold as a plain
			// search: every match, no VLV response.
			c.contextRefused(errors.New("a VLV search sent with a contextID was answered without a VLV response control"))
			return nil, errVLVContextLost
		}
		return nil, errors.New("the server answered a VLV search without a VLV response control")
	}
	if resp.Result != 0 {
		if held != nil {
			c.contextRefused(fmt.Errorf("VLV response result %d", resp.Result))
			return nil, errVLVContextLost
		}
		return nil, fmt.Errorf("VLV response result %d", resp.Result)
	}
	if err := sortFailed(ctrls); err != nil {
		return nil, err
	}
	out := &bridge.SearchResult{Total: int(resp.ContentCount)}
	if count == 0 || offset >= out.Total {
		// Samba answers an offset past the end with the last entry.
		return out, nil
	}
	for i, e := range res.Entries {
		if i >= count {
			break
		}
		x, err := c.pageEntry(pc, e, q.asked)
		if err != nil {
			return nil, err
		}
		out.Entries = append(out.Entries, x)
	}
	// Keep the context while the walk has pages left and the connection
	// holds no other; a count-0 search (a total only) keeps none, so that
	// a repeated count does not answer from an old snapshot.
	if keep && len(resp.ContextID) > 0 && offset+count < out.Total {
		pc.vlv = &vlvState{key: q.key(), ctxID: resp.ContextID, next: offset + count, total: out.Total}
		pc.retire = false
	}
	return out, nil
}

// keepsVLVContext reports whether sort contexts are kept between the pages
// of a walk: on every directory. OpenLDAP's sssvlv continues its sorted
// snapshot for the contextID of the last answer (the tests check it).
// Samba's vlv_pagination does the same from the objectGUIDs it sorted at
// the walk's first page, in a ring of VLV_N_SEARCHES (5) such stores per
// connection, each answer naming a new contextID; without it every page
// of an AD walk sorted the whole container again (make bench DIR=ad:
// ~300 ms a page of 100 at 10,000 users, an import at 0.07x raw's unsorted
// paged search). A context the server no longer knows (evicted from
// Samba's ring, a restarted DC, a Windows DC that does not keep it) fails
// the critical VLV control, and the walk sorts again once
// (errVLVContextLost).
func (c *Conn) keepsVLVContext() bool {
	_, ad := c.d.(activeDirectory)
	at := c.vlvContextRefusedAt.Load()
	return !ad || at == 0 || time.Since(time.Unix(0, at)) > vlvRefusalPause
}

// vlvRefusalPause is how long AD walks sort every page after a DC refused
// to continue a context: a DC that never continues them costs one refused
// search per pause, and one refusal for a passing reason (a time limit,
// a DC restarted behind the same address) does not slow walks for the
// rest of the process's life.
const vlvRefusalPause = 15 * time.Minute

// contextRefused records that continuing a kept sort context failed. On
// AD that is the DC's doing, not an eviction of ours (the gateway forgets a
// connection's context as soon as it runs another VLV search on it, and
// Samba keeps five): a DC that does not continue contexts would otherwise
// cost every page of every walk a refused search before the sort, so AD
// walks stop keeping them for vlvRefusalPause, with a line that says so.
// OpenLDAP's refusals (sssvlv's limits) are momentary and keep the
// behaviour.
func (c *Conn) contextRefused(err error) {
	if _, ad := c.d.(activeDirectory); !ad {
		return
	}
	now := time.Now()
	prev := c.vlvContextRefusedAt.Swap(now.UnixNano())
	if prev == 0 || now.Sub(time.Unix(0, prev)) > vlvRefusalPause {
		c.log.Warn("the directory did not continue a VLV walk's sort context: list walks sort every page for a while, which is slower on large containers",
			"error", err, "pause", vlvRefusalPause)
	}
}

// smallFirst reports whether a first page is tried as a small result
// without VLV (searchSmall): OpenLDAP only, whose sssvlv holds every sort
// context until the connection closes. On AD a VLV lookup sorts only what
// matches, and make bench DIR=ad measured it no slower than raw's plain
// search.
func (c *Conn) smallFirst() bool {
	_, ad := c.d.(activeDirectory)
	return !ad
}

// searchSmall answers a first page without VLV when the whole result fits
// in it: a lookup like (uid=x) or a uniqueness check then costs a plain
// search with a size limit on a pooled connection that keeps no sort
// context, instead of a VLV sort context that lives until its connection is
// closed. ok is false when the result is larger than the limit (the server
// answers sizeLimitExceeded): then the caller runs the VLV search. Total
// stays exact: it is the number of entries of a result the server sent
// whole.
//
// The probe is not sorted: a sorted search with a size limit costs sssvlv
// the sort of every match before the limit applies (measured: it doubled
// the first page of a 20,000-entry walk), while an unsorted one stops after
// limit+1 entries. Sorted by the id (the default order) the small result is
// sorted here: entryUUID's ordering rule compares the 16 bytes, which is
// the order of the lower-case hex form. Sorted by another attribute, the
// server sorts it in a second, small search, so that the order is the
// server's own, the one VLV pages use.
func (c *Conn) searchSmall(pc *pconn, q *query, count int) (out *bridge.SearchResult, ok bool, err error) {
	limit := min(count, smallLimit)
	attrs := q.attrs
	byID := len(q.keys) == 1 && strings.EqualFold(q.keys[0].AttributeType, c.d.idAttr())
	if count == 0 {
		// Only the total is asked: no order, no attributes.
		limit = smallLimit
		attrs = []string{"1.1"}
	} else if !byID {
		attrs = []string{"1.1"} // the sorted search below reads them
	}
	res, ok, err := c.limitedSearch(pc, q, attrs, limit, nil)
	if !ok || err != nil {
		return nil, false, err
	}
	switch {
	case count == 0:
	case byID:
		slices.SortFunc(res.Entries, func(a, b *ldap.Entry) int {
			return strings.Compare(strings.ToLower(a.GetEqualFoldAttributeValue(c.d.idAttr())), strings.ToLower(b.GetEqualFoldAttributeValue(c.d.idAttr())))
		})
	default:
		// Limited again: entries added since the probe may make it
		// too large after all.
		sss := []ldap.Control{sortControl{ldap.NewControlServerSideSortingWithSortKeys(q.keys)}}
		if res, ok, err = c.limitedSearch(pc, q, q.attrs, limit, sss); !ok || err != nil {
			return nil, false, err
		}
	}
	out = &bridge.SearchResult{Total: len(res.Entries)}
	for i, e := range res.Entries {
		if i >= count {
			break
		}
		x, err := c.pageEntry(pc, e, q.asked)
		if err != nil {
			return nil, false, err
		}
		out.Entries = append(out.Entries, x)
	}
	return out, true, nil
}

// limitedSearch runs q with a size limit of limit+1; ok is false when more
// than limit entries match.
func (c *Conn) limitedSearch(pc *pconn, q *query, attrs []string, limit int, ctrls []ldap.Control) (*ldap.SearchResult, bool, error) {
	res, err := pc.l.Search(ldap.NewSearchRequest(q.base, q.scope, ldap.NeverDerefAliases, limit+1, 0, false, q.filter, attrs, ctrls))
	if res != nil {
		c.entriesRead.Add(int64(len(res.Entries)))
	}
	if err != nil {
		var le *ldap.Error
		if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultSizeLimitExceeded {
			return nil, false, nil
		}
		return nil, false, err
	}
	if len(res.Entries) > limit {
		return nil, false, nil // a server that did not apply the limit
	}
	if err := sortFailed(res.Controls); err != nil {
		return nil, false, err
	}
	return res, true, nil
}

// smallLimit is the most entries searchSmall fetches; a larger result is
// fetched with VLV.
const smallLimit = 1000
