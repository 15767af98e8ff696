package embedded

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	bolt "go.etcd.io/bbolt"

	"github.com/dirbridge/dirbridge/bridge"
)

// Search returns the exact total and one window of the entries that match.
//
// Cost: an equality on an indexed attribute (uid, mail, cn, sn, givenName,
// displayName, employeeNumber, ou, member) or on the id, alone or inside an
// AND, or an OR made only of such equalities, reads just the entries the
// index names. Any other filter reads every entry in scope once per call: the
// total has to be exact, and that is the price of a directory with no
// substring or ordering indexes. The offset adds no cost on top of that:
// sorted by id (the default) the entries come out of bbolt already in order
// and the window is cut while counting; sorted by anything else, a heap of at
// most Offset+Count keys is kept, never the whole result, and only the
// window's entries are decoded twice.
func (e *Embedded) Search(ctx context.Context, req bridge.SearchRequest) (*bridge.SearchResult, error) {
	const op = "embedded.(*Embedded).Search"
	if err := ctxErr(op, ctx); err != nil {
		return nil, err
	}
	baseN := e.suffixN
	if req.Base != "" {
		b, err := parseDN(req.Base)
		if err != nil {
			return nil, fail(op, bridge.KindInvalidValue, ldap.LDAPResultInvalidDNSyntax, "the base DN is not valid")
		}
		baseN = b.norm()
	}
	if err := checkFilter(req.Filter, 0); err != nil {
		return nil, bridge.E(op, bridge.KindInvalidFilter, "", err)
	}
	offset, count := max(req.Offset, 0), max(req.Count, 0)
	sortKey, byID, err := sortKeyFunc(req.SortBy)
	if err != nil {
		return nil, bridge.E(op, bridge.KindInvalidValue, "", err)
	}
	res := &bridge.SearchResult{}
	err = e.db.View(func(tx *bolt.Tx) error {
		base, err := getRecordByNDN(tx, baseN)
		if errors.Is(err, errNotFound) {
			return fail(op, bridge.KindNotFound, ldap.LDAPResultNoSuchObject, "the search base does not exist")
		}
		if err != nil {
			return err
		}
		if req.Filter, err = e.expandInChain(ctx, tx, req.Filter); err != nil {
			return err
		}
		if byID {
			return e.scan(ctx, tx, base, req.Scope, req.Filter, "", func(r *record) bool {
				if res.Total >= offset && res.Total < offset+count {
					res.Entries = append(res.Entries, r.entry(req.Attrs))
				}
				res.Total++
				return true
			})
		}
		h := &keyHeap{}
		limit := offset + count
		err = e.scan(ctx, tx, base, req.Scope, req.Filter, "", func(r *record) bool {
			res.Total++
			if limit == 0 {
				return true
			}
			k, has := sortKey(r)
			it := sortItem{key: k, has: has, id: r.ID}
			if h.Len() < limit {
				heap.Push(h, it)
			} else if it.less((*h)[0]) {
				(*h)[0] = it
				heap.Fix(h, 0)
			}
			return true
		})
		if err != nil {
			return err
		}
		items := []sortItem(*h)
		slices.SortFunc(items, func(a, b sortItem) int {
			if a.less(b) {
				return -1
			}
			if b.less(a) {
				return 1
			}
			return 0
		})
		for i := offset; i < len(items); i++ {
			r, err := getRecord(tx, items[i].id)
			if err != nil {
				return err
			}
			res.Entries = append(res.Entries, r.entry(req.Attrs))
		}
		return nil
	})
	if err != nil {
		return nil, translateBolt(op, err)
	}
	return res, nil
}

// checkFilter refuses what no entry could make sense of: a virtual
// attribute it does not know, a timestamp that is not RFC 3339, an operator
// a virtual attribute has no meaning for. Directory attributes are not
// checked: like slapd, an unknown one is Undefined, not an error.
func checkFilter(f *bridge.Filter, depth int) error {
	if f == nil {
		return nil
	}
	if depth > 100 {
		return fmt.Errorf("filter nested too deeply")
	}
	switch f.Op {
	case bridge.FilterAnd, bridge.FilterOr, bridge.FilterNot:
		if f.Op == bridge.FilterNot && len(f.Kids) != 1 {
			return fmt.Errorf("not needs one operand")
		}
		for _, k := range f.Kids {
			if err := checkFilter(k, depth+1); err != nil {
				return err
			}
		}
		return nil
	case bridge.FilterTrue, bridge.FilterFalse:
		return nil
	case bridge.FilterEqual, bridge.FilterGreaterOrEqual, bridge.FilterLessOrEqual, bridge.FilterApprox,
		bridge.FilterPresent, bridge.FilterSubstrings:
	case bridge.FilterInChain:
		if strings.HasPrefix(f.Attr, "@") {
			return fmt.Errorf("a nested-membership filter names a virtual attribute")
		}
	default:
		return fmt.Errorf("unknown filter operator %d", f.Op)
	}
	if f.Attr == "" {
		return fmt.Errorf("filter without attribute")
	}
	if !strings.HasPrefix(f.Attr, "@") {
		return nil
	}
	switch strings.ToLower(f.Attr) {
	case bridge.VirtualID:
		return nil
	case bridge.VirtualCreated, bridge.VirtualModified:
		switch f.Op {
		case bridge.FilterPresent:
			return nil
		case bridge.FilterSubstrings:
			return fmt.Errorf("%s takes no substrings", f.Attr)
		}
		if _, err := time.Parse(time.RFC3339Nano, f.Value); err != nil {
			return fmt.Errorf("%s needs an RFC 3339 timestamp", f.Attr)
		}
		return nil
	case bridge.VirtualDisabled:
		switch f.Op {
		case bridge.FilterPresent:
			return nil
		case bridge.FilterEqual, bridge.FilterApprox:
			if strings.EqualFold(f.Value, "TRUE") || strings.EqualFold(f.Value, "FALSE") {
				return nil
			}
			return fmt.Errorf("%s compares with TRUE or FALSE", f.Attr)
		}
		return fmt.Errorf("%s supports only equality", f.Attr)
	}
	return fmt.Errorf("unknown virtual attribute %s", safeName(strings.TrimPrefix(f.Attr, "@")))
}

// sortKeyFunc returns how to sort by attr; byID when the order is the id's.
func sortKeyFunc(attr string) (key func(*record) (string, bool), byID bool, err error) {
	switch strings.ToLower(attr) {
	case "", bridge.VirtualID, "entryuuid":
		return nil, true, nil
	case bridge.VirtualCreated, "createtimestamp":
		return func(r *record) (string, bool) { return r.Created, true }, false, nil
	case bridge.VirtualModified, "modifytimestamp":
		return func(r *record) (string, bool) { return r.Modified, true }, false, nil
	case bridge.VirtualDisabled:
		return func(r *record) (string, bool) {
			if r.disabled() {
				return "TRUE", true
			}
			return "FALSE", true
		}, false, nil
	}
	def := lookupAttr(attr)
	if def == nil {
		return nil, false, fmt.Errorf("sort attribute %s is not defined", safeName(attr))
	}
	return func(r *record) (string, bool) {
		vals := r.values(def.Name)
		if len(vals) == 0 {
			return "", false
		}
		// The smallest value sorts a multi-valued attribute, as the
		// server-side sorting control (RFC 2891) does.
		best := def.norm(vals[0])
		for _, v := range vals[1:] {
			best = min(best, def.norm(v))
		}
		return best, true
	}, false, nil
}

type sortItem struct {
	key string
	has bool // entries without the attribute sort last
	id  string
}

func (a sortItem) less(b sortItem) bool {
	if a.has != b.has {
		return a.has
	}
	if a.key != b.key {
		return a.key < b.key
	}
	return a.id < b.id
}

// keyHeap is a max-heap: its top is the largest of the smallest n keys,
// the one to drop when a smaller key comes.
type keyHeap []sortItem

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[j].less(h[i]) }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(sortItem)) }
func (h *keyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// scan calls fn, in id order, for every entry in scope below base that f
// matches (True, not Undefined) and whose id is greater than after; fn
// returns false to stop. after is how the LDAP server resumes a paged
// search without reading the pages before it again.
func (e *Embedded) scan(ctx context.Context, tx *bolt.Tx, base *record, scope bridge.Scope, f *bridge.Filter,
	after string, fn func(*record) bool) error {
	visit := func(r *record) bool {
		if evalFilter(f, r) != triTrue {
			return true
		}
		return fn(r)
	}
	if scope == bridge.ScopeBase {
		if base.ID > after {
			visit(base)
		}
		return nil
	}
	inScope := func(r *record) bool {
		if scope == bridge.ScopeOne {
			return r.Parent == base.ID
		}
		return ndnUnder(r.NDN, base.NDN)
	}
	ids, indexed := candidates(f, func(attr, norm string) []string { return eqLookup(tx, attr, norm) })
	if !indexed && scope == bridge.ScopeOne {
		ids, indexed = childIDs(tx, base.ID), true
	}
	if indexed {
		for i, id := range ids {
			if id <= after {
				continue
			}
			if i%1024 == 1023 && ctx.Err() != nil {
				return bridge.E("embedded.(*Embedded).scan", bridge.KindUnavailable, "the request was cancelled", ctx.Err())
			}
			r, err := getRecord(tx, id)
			if errors.Is(err, errNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if inScope(r) && !visit(r) {
				return nil
			}
		}
		return nil
	}
	c := tx.Bucket(bucketEntries).Cursor()
	k, _ := c.First()
	if after != "" {
		k, _ = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, _ = c.Next()
		}
	}
	for n := 0; k != nil; k, _ = c.Next() {
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return bridge.E("embedded.(*Embedded).scan", bridge.KindUnavailable, "the request was cancelled", ctx.Err())
		}
		r, err := getRecord(tx, string(k))
		if err != nil {
			return err
		}
		if inScope(r) && !visit(r) {
			return nil
		}
	}
	return nil
}
