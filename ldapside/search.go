package ldapside

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
		if strings.HasPrefix(a, "@") || !validAttrName(a) {
			continue // virtual: always filled; invalid: never sent
		}
		out = append(out, a)
	}
	return c.rangedAttrs(append(out, c.d.operationalAttrs()...))
}

// toEntry converts e; the operational attributes are in Attrs only when
// they were asked for by name.
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
	for _, a := range e.Attributes {
		if c.d.secretAttr(a.Name) || isOperational(c.d, a.Name) && !asked(a.Name) {
			continue
		}
		vals := append([]string(nil), a.Values...)
		if r, ok := c.d.(valueRenderer); ok {
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

func isOperational(d dialect, name string) bool {
	for _, o := range d.operationalAttrs() {
		if strings.EqualFold(o, name) {
			return true
		}
	}
	return false
}

// findOne reads the one entry below base that filter selects, or fails with
// KindNotFound.
func (c *Conn) findOne(pc *pconn, base string, scope int, filter string, attrs []string) (*ldap.Entry, error) {
	const op = "ldapside.(*Conn).findOne"
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
	e, err := c.findOne(pc, base, ldap.ScopeWholeSubtree, c.d.idFilter(id), attrs)
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
	} else if !validAttrName(attr) {
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
func (c *Conn) Search(ctx context.Context, req bridge.SearchRequest) (*bridge.SearchResult, error) {
	const op = "ldapside.(*Conn).Search"
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
	q := &query{base: base, scope: ldapScope(req.Scope), filter: filter, keys: keys, attrs: c.wantAttrs(req.Attrs), asked: req.Attrs}
	q.key = q.cacheKey()
	var out *bridge.SearchResult
	for attempt := 0; ; attempt++ {
		err = c.with(ctx, func(pc *pconn) bool { return pc.paged != nil && pc.paged.key == q.key && pc.paged.next == req.Offset },
			func(pc *pconn) error {
				var err error
				if pc.caps.vlv && pc.caps.sort && !c.noVLV {
					out, err = c.searchVLV(pc, q, req.Offset, req.Count)
				} else {
					out, err = c.searchPaged(pc, q, req.Offset, req.Count)
				}
				return err
			})
		var le *ldap.Error
		if err == nil || attempt >= maxBusyRetries || !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultBusy {
			break
		}
		c.log.Debug("sorted search refused as busy, retrying", "attempt", attempt+1)
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

// query is one search, rendered.
type query struct {
	base   string
	scope  int
	filter string
	keys   []*ldap.SortKey
	attrs  []string // sent
	asked  []string // by the caller
	key    string
}

func (q *query) cacheKey() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q|%d|%q|", q.base, q.scope, q.filter)
	for _, k := range q.keys {
		fmt.Fprintf(&b, "%s:%s,", k.AttributeType, k.MatchingRule)
	}
	fmt.Fprintf(&b, "|%q", q.attrs)
	return b.String()
}

// searchVLV fetches one window with Server-Side Sort and a byOffset VLV
// request: beforeCount 0, afterCount count-1, offset Offset+1 (VLV counts
// from 1), contentCount 0 (the offset is absolute). The response control
// carries the exact number of matching entries. Count 0 asks for the first
// entry only to learn that number.
//
// OpenLDAP's sssvlv keeps every VLV sort context (the whole sorted list) for
// the life of the connection, and offers no way to release it; it refuses
// new sorts as busy past olcSssVlvMaxPerConn per connection or olcSssVlvMax
// in all. So a connection that now holds a context is retired (closed) when
// it returns to the pool: the next request dials a new one.
func (c *Conn) searchVLV(pc *pconn, q *query, offset, count int) (*bridge.SearchResult, error) {
	after := count - 1
	if count == 0 {
		after = 0
	}
	vlv := &vlvRequest{BeforeCount: 0, AfterCount: int64(after), Offset: int64(offset) + 1, ContentCount: 0, Critical: true}
	sss := sortControl{ldap.NewControlServerSideSortingWithSortKeys(q.keys)}
	res, err := pc.l.Search(ldap.NewSearchRequest(q.base, q.scope, ldap.NeverDerefAliases, 0, 0, false, q.filter, q.attrs,
		[]ldap.Control{sss, vlv}))
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
	if resp != nil && resp.ContentCount > 0 {
		pc.retire = true
	}
	if err != nil {
		if resp != nil && (resp.Result == ldap.LDAPResultOffsetRangeError || resp.Result == 77) {
			// The offset lies beyond the end (OpenLDAP answers 77,
			// the draft's offsetRangeError is 61): an empty window.
			return &bridge.SearchResult{Total: int(resp.ContentCount)}, nil
		}
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	if !found {
		return nil, errors.New("the server answered a VLV search without a VLV response control")
	}
	if resp.Result != 0 {
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
		x, err := c.entry(pc, e, q.asked)
		if err != nil {
			return nil, err
		}
		out.Entries = append(out.Entries, x)
	}
	return out, nil
}
