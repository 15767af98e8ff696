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
		if !r.blind.ok {
			return true, false
		}
		return r.blind.given(given)
	}
	// The RDN's value, when the request can change it, must stay as it is.
	if !t.rdnBlind.ok {
		return nil, false, nil
	}
	if hit, all := t.rdnBlind.given(given); hit {
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

// blindSources are the SCIM attributes a row's value (or the RDN) is
// computed from, as the keys of BlindChanges's given. They are worked out
// once, at Load: per request, naming them again (resolving template
// attributes, lower-casing keys) was a seventh of the gateway's processor
// time on a blind PATCH.
type blindSources struct {
	ok   bool // false when a source cannot be named: never blind
	srcs []blindSource
}

type blindSource struct {
	exact  string // BlindKey of the attribute or sub-attribute; "" for a typed row
	prefix string // BlindKey of the whole attribute: any given key under it is a hit
	whole  bool   // a simple attribute or a typed row: a key under prefix is a partial hit
}

// prepareBlind works out blindSources for every row and for the RDN.
func (t *Table) prepareBlind() {
	for _, r := range t.rows {
		r.blind = t.blindOf(t.rowSources(r))
	}
	if t.rdnRow != nil {
		t.rdnBlind = t.rdnRow.blind
		return
	}
	if t.rdnTmpl != nil {
		t.rdnBlind = t.blindOf(t.tmplSources(nil, t.rdnTmpl))
	}
}

func (t *Table) blindOf(srcs []scimPath, ok bool) blindSources {
	if !ok {
		return blindSources{}
	}
	out := blindSources{ok: true, srcs: make([]blindSource, 0, len(srcs))}
	for _, p := range srcs {
		b := blindSource{prefix: bridge.BlindKey(p.urn, p.attr, ""), whole: p.sub == "" || p.typ != ""}
		if p.typ == "" {
			b.exact = bridge.BlindKey(p.urn, p.attr, p.sub)
		}
		out.srcs = append(out.srcs, b)
	}
	return out
}

// given reports whether any of the sources is among given (hit) and
// whether all are, each entirely (all); given nil gives everything. A
// typed row or a whole complex attribute is never given entirely by a
// blind PATCH, which sets only single-valued values. A row of constants
// has no sources: a PUT writes it, a PATCH leaves it.
func (b blindSources) given(given map[string]bool) (hit, all bool) {
	if given == nil {
		return true, true
	}
	all = true
	for _, s := range b.srcs {
		exact := s.exact != "" && given[s.exact]
		partial := false
		if !exact && s.whole {
			for k := range given {
				if strings.HasPrefix(k, s.prefix) {
					partial = true
					break
				}
			}
		}
		hit = hit || exact || partial
		all = all && exact
	}
	return hit, all
}

// rowSources are the SCIM attributes a row's value is computed from; ok is
// false when one cannot be named.
func (t *Table) rowSources(r *row) ([]scimPath, bool) {
	var out []scimPath
	if r.scim != "" {
		out = append(out, r.path)
	}
	ok := true
	for _, tm := range r.tmpls {
		if out, ok = t.tmplSources(out, tm); !ok {
			return nil, false
		}
	}
	return out, true
}

// tmplSources appends the SCIM attributes template tm reads to out; ok is
// false when one cannot be named.
func (t *Table) tmplSources(out []scimPath, tm *tmpl) ([]scimPath, bool) {
	for _, a := range tm.attrs {
		p, err := t.resolvePath(a)
		if err != nil {
			return nil, false
		}
		out = append(out, p)
	}
	return out, true
}
