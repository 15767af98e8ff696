package mapping

import (
	"context"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

var _ bridge.BlindMapper = (*Table)(nil)

// BlindChanges implements bridge.BlindMapper: Changes without the current
// values. A row is written when an attribute it reads is given; each of
// its sources must then be given entirely, since its value is computed
// from them alone. Rows Changes plans on the current values (member
// lists and other multi-valued references, the UPN and its fallback,
// values chosen free by a search) and tables that place entries by their
// values or make unique names never plan blind.
func (t *Table) BlindChanges(ctx context.Context, current *bridge.Entry, desired bridge.Resource, given map[string]bool, refs bridge.Refs) (*bridge.EntryPlan, bool, error) {
	const op = "mapping.(*Table).BlindChanges"
	if t.usesUPN || t.rdnUnique || len(t.placements) > 0 && given != nil {
		return nil, false, nil
	}
	rdns, err := bridge.ParseDN(current.DN)
	if err != nil || len(rdns) < 2 || len(rdns[0]) != 1 || !strings.EqualFold(rdns[0][0].Type, t.rdnAttr) {
		return nil, false, nil
	}
	oldRDN := rdns[0][0].Value
	if len(t.placements) > 0 {
		if target := t.containerFor(desired.Attrs); bridge.NormalizeDN(target) != bridge.NormalizeDN(bridge.JoinDN(rdns[1:])) {
			return nil, false, nil
		}
	}
	touched := func(r *row) (bool, bool) {
		srcs, ok := t.rowSources(r)
		if !ok {
			return true, false
		}
		return t.givenSources(srcs, given)
	}
	// The RDN's value, when the request can change it, must stay as it is.
	var rdnSrcs []scimPath
	if t.rdnRow != nil {
		var ok bool
		if rdnSrcs, ok = t.rowSources(t.rdnRow); !ok {
			return nil, false, nil
		}
	} else {
		for _, a := range t.rdnTmpl.attrs {
			p, err := t.resolvePath(a)
			if err != nil {
				return nil, false, nil
			}
			rdnSrcs = append(rdnSrcs, p)
		}
	}
	if hit, all := t.givenSources(rdnSrcs, given); hit {
		if !all {
			return nil, false, nil
		}
		var want []wanted
		if t.rdnRow != nil {
			vals, err := t.rowValues(ctx, t.rdnRow, desired.Attrs, refs)
			if err != nil {
				return nil, false, nil
			}
			want = []wanted{{row: t.rdnRow, vals: vals}}
		}
		v, err := t.rdnValue(desired, want)
		if err != nil || !strings.EqualFold(v, oldRDN) {
			return nil, false, nil // a rename, or the reading path's error
		}
	}
	// Attributes written by a row the request leaves alone, or kept from
	// the create: a replace by another row would clobber them.
	others := map[string]bool{}
	var rows []*row
	for _, r := range t.rows {
		if r.owner == ownerDirectory {
			continue
		}
		hit, all := touched(r)
		if r.createOnly || !hit {
			others[strings.ToLower(r.ldap)] = true
			continue
		}
		if !all || r.upnFB != nil || r.upnOf != nil || r.unique != "" || r.kind == kindRef && r.multi {
			return nil, false, nil
		}
		rows = append(rows, r)
	}
	plan := &bridge.EntryPlan{}
	for _, r := range rows {
		if others[strings.ToLower(r.ldap)] {
			return nil, false, nil
		}
		vals, err := t.rowValues(ctx, r, desired.Attrs, refs)
		if err != nil {
			if bridge.KindOf(err) == bridge.KindInvalidValue {
				return nil, false, nil
			}
			return nil, false, bridge.Wrap(op, err)
		}
		if len(vals) == 0 && r.required {
			return nil, false, nil
		}
		if strings.EqualFold(r.ldap, t.rdnAttr) && !hasFold(vals, oldRDN) {
			vals = append(vals, oldRDN)
		}
		if len(vals) == 0 && r.owner == ownerBoth && !desired.Patched {
			continue // a PUT without it keeps the directory's value
		}
		plan.Changes = append(plan.Changes, bridge.Change{Op: bridge.ChangeReplace, Attr: r.ldap, Values: vals})
	}
	return plan, true, nil
}

// rowSources are the SCIM attributes a row's value is computed from; ok is
// false when one cannot be named.
func (t *Table) rowSources(r *row) ([]scimPath, bool) {
	var out []scimPath
	if r.scim != "" {
		out = append(out, r.path)
	}
	for _, tm := range r.tmpls {
		for _, a := range tm.attrs {
			p, err := t.resolvePath(a)
			if err != nil {
				return nil, false
			}
			out = append(out, p)
		}
	}
	return out, true
}

// givenSources reports whether any of srcs is among given (hit) and
// whether all are, each entirely (all); given nil gives everything. A
// typed row or a whole complex attribute is never given entirely by a
// blind PATCH, which sets only single-valued values. A row of constants
// has no sources: a PUT writes it, a PATCH leaves it.
func (t *Table) givenSources(srcs []scimPath, given map[string]bool) (hit, all bool) {
	if given == nil {
		return true, true
	}
	all = true
	for _, p := range srcs {
		exact := p.typ == "" && given[bridge.BlindKey(p.urn, p.attr, p.sub)]
		partial := false
		if !exact && p.sub == "" || p.typ != "" {
			prefix := bridge.BlindKey(p.urn, p.attr, "")
			for k := range given {
				if strings.HasPrefix(k, prefix) {
					partial = true
				}
			}
		}
		hit = hit || exact || partial
		all = all && exact
	}
	return hit, all
}
