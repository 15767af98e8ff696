package bridge

import (
	"context"
	"fmt"
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

// IDForDN implements Refs.
func (r *Resolver) IDForDN(ctx context.Context, dn string) (string, string, error) {
	const op = "bridge.(*Resolver).IDForDN"
	key := NormalizeDN(dn)
	r.mu.Lock()
	if v, ok := r.byDN[key]; ok {
		r.mu.Unlock()
		return v.id, v.typ, nil
	}
	var typ string
	for _, name := range r.order {
		if IsUnder(dn, r.types[name].Container()) {
			typ = name
			break
		}
	}
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
