package embedded

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/dirbridge/dirbridge/bridge"
)

// expandInChain replaces every bridge.FilterInChain node of f by the OR of
// equalities it stands for: attr naming the DN itself or any entry whose
// attr leads to it, found by following the attribute backwards from the DN
// (one indexed equality search per entry in the chain) as AD's
// LDAP_MATCHING_RULE_IN_CHAIN does on the server. Cycles end because each
// DN is followed once.
func (e *Embedded) expandInChain(ctx context.Context, tx *bolt.Tx, f *bridge.Filter) (*bridge.Filter, error) {
	if f == nil || !hasInChain(f) {
		return f, nil
	}
	if f.Op == bridge.FilterInChain {
		return e.chainOf(ctx, tx, f.Attr, f.Value)
	}
	out := *f
	out.Kids = make([]*bridge.Filter, len(f.Kids))
	for i, k := range f.Kids {
		x, err := e.expandInChain(ctx, tx, k)
		if err != nil {
			return nil, err
		}
		out.Kids[i] = x
	}
	return &out, nil
}

func hasInChain(f *bridge.Filter) bool {
	if f == nil {
		return false
	}
	if f.Op == bridge.FilterInChain {
		return true
	}
	for _, k := range f.Kids {
		if hasInChain(k) {
			return true
		}
	}
	return false
}

// chainOf is (|(attr=dn)(attr=g1)…) for every entry g that reaches dn
// through attr.
func (e *Embedded) chainOf(ctx context.Context, tx *bolt.Tx, attr, dn string) (*bridge.Filter, error) {
	suffix, err := getRecordByNDN(tx, e.suffixN)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	if n, err := parseDN(dn); err == nil {
		seen[n.norm()] = true
	}
	terms := []*bridge.Filter{bridge.Eq(attr, dn)}
	for next := []string{dn}; len(next) > 0; {
		var found []string
		for _, d := range next {
			err := e.scan(ctx, tx, suffix, bridge.ScopeSub, bridge.Eq(attr, d), "", func(r *record) bool {
				if !seen[r.NDN] {
					seen[r.NDN] = true
					found = append(found, r.DN)
				}
				return true
			})
			if err != nil {
				return nil, err
			}
		}
		for _, d := range found {
			terms = append(terms, bridge.Eq(attr, d))
		}
		next = found
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return bridge.Or(terms...), nil
}
