package bridge

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Resolver implements Refs over a Directory for the registered resource
// types. It remembers DN ⇄ id pairs it has seen, up to a bound, because list
// pages resolve the same managers and members again and again.
type Resolver struct {
	dir   Directory
	mu    sync.Mutex
	types map[string]Mapper
	order []string
	byDN  map[string]resolved
	max   int
}

type resolved struct{ id, typ string }

// NewResolver returns a Resolver that remembers at most max DNs (0: 10,000).
func NewResolver(dir Directory, max int) *Resolver {
	if max <= 0 {
		max = 10000
	}
	return &Resolver{dir: dir, types: map[string]Mapper{}, byDN: map[string]resolved{}, max: max}
}

// Register makes a resource type resolvable.
func (r *Resolver) Register(m Mapper) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := m.ResourceType().Name
	if _, ok := r.types[name]; !ok {
		r.order = append(r.order, name)
	}
	r.types[name] = m
}

// DNForID implements Refs.
func (r *Resolver) DNForID(ctx context.Context, resourceType, id string) (string, error) {
	const op = "bridge.(*Resolver).DNForID"
	r.mu.Lock()
	m, ok := r.types[resourceType]
	r.mu.Unlock()
	if !ok {
		return "", Errorf(op, KindInternal, "unknown resource type %q", resourceType)
	}
	e, err := r.dir.Get(ctx, m.Container(), id, []string{"objectClass"})
	if err != nil {
		if KindOf(err) == KindNotFound {
			return "", E(op, KindNotFound, fmt.Sprintf("%s %q not found", resourceType, id), err)
		}
		return "", Wrap(op, err)
	}
	r.remember(e.DN, resolved{e.ID, resourceType})
	return e.DN, nil
}

var _ BatchIDRefs = (*Resolver)(nil)

// DNsForIDs implements BatchIDRefs with one search per maxBatch ids below
// the type's container, (|(id=a)(id=b)…), whose results are matched back
// by id. An id the search does not find, or every id of a search that
// fails, is looked up alone, as DNForID does (which also waits for a
// replica that has not yet seen a write through another server), so
// batching never changes the answer, only the number of round trips.
func (r *Resolver) DNsForIDs(ctx context.Context, resourceType string, ids []string) (map[string]string, error) {
	const op = "bridge.(*Resolver).DNsForIDs"
	r.mu.Lock()
	m, ok := r.types[resourceType]
	r.mu.Unlock()
	if !ok {
		return nil, Errorf(op, KindInternal, "unknown resource type %q", resourceType)
	}
	out := make(map[string]string, len(ids))
	var ask, alone []string
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if k := strings.ToLower(id); id != "" && !seen[k] {
			seen[k] = true
			ask = append(ask, id)
		}
	}
	for start := 0; start < len(ask); start += maxBatch {
		end := min(start+maxBatch, len(ask))
		terms := make([]*Filter, 0, end-start)
		for _, id := range ask[start:end] {
			terms = append(terms, Eq(VirtualID, id))
		}
		res, err := r.dir.Search(ctx, SearchRequest{Base: m.Container(), Scope: ScopeSub, Filter: Or(terms...),
			Attrs: []string{"objectClass"}, Count: 2 * (end - start)})
		found := map[string]*Entry{}
		if err == nil {
			for _, e := range res.Entries {
				found[strings.ToLower(e.ID)] = e
			}
		}
		for _, id := range ask[start:end] {
			if e, ok := found[strings.ToLower(id)]; ok {
				out[strings.ToLower(id)] = e.DN
				r.remember(e.DN, resolved{e.ID, resourceType})
				continue
			}
			alone = append(alone, id)
		}
	}
	for _, id := range alone {
		dn, err := r.DNForID(ctx, resourceType, id)
		if KindOf(err) == KindNotFound {
			continue
		}
		if err != nil {
			return nil, Wrap(op, err)
		}
		out[strings.ToLower(id)] = dn
	}
	return out, nil
}

// IDForDN implements Refs.
func (r *Resolver) IDForDN(ctx context.Context, dn string) (string, string, error) {
	const op = "bridge.(*Resolver).IDForDN"
	key := NormalizeDN(dn)
	r.mu.Lock()
	if v, ok := r.byDN[key]; ok {
		r.mu.Unlock()
		return v.id, v.typ, nil
	}
	typ := r.typeOf(dn)
	r.mu.Unlock()
	if typ == "" {
		return "", "", Errorf(op, KindNotFound, "no resource at that name")
	}
	e, err := r.dir.GetByDN(ctx, dn, []string{"objectClass"})
	if err != nil {
		return "", "", Wrap(op, err)
	}
	r.remember(dn, resolved{e.ID, typ})
	return e.ID, typ, nil
}

var _ BatchRefs = (*Resolver)(nil)

// maxBatch bounds the DNs asked for in one search: an OR of 200 equality
// terms is well within what AD, OpenLDAP and the embedded directory take in
// one filter, and keeps each answer small.
const maxBatch = 200

// IDsForDNs implements BatchRefs. DNs it remembers cost nothing; the others
// are grouped by parent and RDN attribute and found with one-level searches
// of up to maxBatch RDN values each, (|(cn=a)(cn=b)…), whose results are
// matched back by normalized DN. A DN the searches do not find (a
// multi-valued RDN, an escaping the directory normalizes differently) is
// looked up alone, as IDForDN does, so batching never changes the answer,
// only the number of round trips.
func (r *Resolver) IDsForDNs(ctx context.Context, dns []string) (map[string]ResolvedRef, error) {
	const op = "bridge.(*Resolver).IDsForDNs"
	out := make(map[string]ResolvedRef, len(dns))
	type batchKey struct{ parent, attr, typ string }
	type pending struct {
		parentDN string
		dns      []string // as given
		keys     []string // normalized
		values   []string // their RDN values
	}
	groups := map[batchKey]*pending{}
	var order []batchKey
	var alone []string
	r.mu.Lock()
	for _, dn := range dns {
		key := NormalizeDN(dn)
		if _, done := out[key]; done {
			continue
		}
		if v, ok := r.byDN[key]; ok {
			out[key] = ResolvedRef{ID: v.id, Type: v.typ}
			continue
		}
		typ := r.typeOf(dn)
		if typ == "" {
			continue // below no registered container: no resource there
		}
		rdns, err := ParseDN(dn)
		if err != nil || len(rdns) < 2 || len(rdns[0]) != 1 {
			alone = append(alone, dn)
			continue
		}
		parent := JoinDN(rdns[1:])
		k := batchKey{NormalizeDN(parent), strings.ToLower(rdns[0][0].Type), typ}
		g := groups[k]
		if g == nil {
			g = &pending{parentDN: parent}
			groups[k] = g
			order = append(order, k)
		}
		out[key] = ResolvedRef{} // claimed: a duplicate DN is asked for once
		g.dns = append(g.dns, dn)
		g.keys = append(g.keys, key)
		g.values = append(g.values, rdns[0][0].Value)
	}
	r.mu.Unlock()
	for _, k := range order {
		g := groups[k]
		for start := 0; start < len(g.keys); start += maxBatch {
			end := min(start+maxBatch, len(g.keys))
			terms := make([]*Filter, 0, end-start)
			for _, v := range g.values[start:end] {
				terms = append(terms, Eq(k.attr, v))
			}
			// Entries whose RDN differs may match through another value
			// of the attribute: room for them, and a lookup alone for any
			// DN that still goes missing.
			res, err := r.dir.Search(ctx, SearchRequest{Base: g.parentDN, Scope: ScopeOne, Filter: Or(terms...),
				Attrs: []string{"objectClass"}, Count: 2 * (end - start)})
			if err != nil {
				return nil, Wrap(op, err)
			}
			found := make(map[string]*Entry, len(res.Entries))
			for _, e := range res.Entries {
				found[NormalizeDN(e.DN)] = e
			}
			for i, key := range g.keys[start:end] {
				if e, ok := found[key]; ok {
					out[key] = ResolvedRef{ID: e.ID, Type: k.typ}
					r.remember(e.DN, resolved{e.ID, k.typ})
					continue
				}
				delete(out, key)
				alone = append(alone, g.dns[start+i])
			}
		}
	}
	for _, dn := range alone {
		id, typ, err := r.IDForDN(ctx, dn)
		if err != nil {
			if KindOf(err) == KindNotFound {
				continue
			}
			return nil, Wrap(op, err)
		}
		out[NormalizeDN(dn)] = ResolvedRef{ID: id, Type: typ}
	}
	return out, nil
}

// typeOf is the registered resource type whose container holds dn, or "".
// r.mu must be held.
func (r *Resolver) typeOf(dn string) string {
	for _, name := range r.order {
		if IsUnder(dn, r.types[name].Container()) {
			return name
		}
	}
	return ""
}

// Forget drops what the resolver remembers of dn, after a rename or delete.
func (r *Resolver) Forget(dn string) {
	r.mu.Lock()
	delete(r.byDN, NormalizeDN(dn))
	r.mu.Unlock()
}

func (r *Resolver) remember(dn string, v resolved) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.byDN) >= r.max {
		// Dropping everything is crude but bounded and keeps no ordering state;
		// the working set refills within a page or two.
		r.byDN = map[string]resolved{}
	}
	r.byDN[NormalizeDN(dn)] = v
}

var _ ValueChecker = (*Resolver)(nil)

// Taken implements ValueChecker with a count-only search.
func (r *Resolver) Taken(ctx context.Context, base string, scope Scope, f *Filter, self string) (bool, error) {
	const op = "bridge.(*Resolver).Taken"
	if self != "" {
		f = And(f, Not(Eq(VirtualID, self)))
	}
	res, err := r.dir.Search(ctx, SearchRequest{Base: base, Scope: scope, Filter: f, Count: 0})
	if err != nil {
		return false, Wrap(op, err)
	}
	return res.Total > 0, nil
}
