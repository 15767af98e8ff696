package bridge

import (
	"context"
	"strings"
)

// BlindMapper is a Mapper that can plan a write without the entry's
// values, for the service's blind PUT and PATCH (ModifyRequest.Blind).
type BlindMapper interface {
	// BlindChanges plans the changes that make the entry current (ID and
	// DN only, with its RDN's values as attributes) hold desired, without
	// knowing its other values. given holds the BlindKey of every SCIM
	// attribute the request sets entirely (a PATCH); nil means all of
	// them (a PUT). Every change is a replace, of every directory
	// attribute a given attribute writes (with no values for one that
	// has none), so that the outcome is the one Changes would plan on any
	// state of the entry. ok is false when it cannot be: a row fed by
	// given and not given attributes, member lists, a rename or move, a
	// value chosen by a search, or anything else the current values
	// decide. Then nothing is to be sent and the caller reads the entry.
	BlindChanges(ctx context.Context, current *Entry, desired Resource, given map[string]bool, refs Refs) (plan *EntryPlan, ok bool, err error)
}

// BlindKey is the key of a SCIM attribute in BlindMapper's given: the
// schema id (the core schema's for a core attribute), the attribute and
// the sub-attribute ("" for a simple attribute), canonical names, in
// lower case.
func BlindKey(urn, attr, sub string) string {
	return strings.ToLower(urn + "|" + attr + "|" + sub)
}

// blindEntry is what the DN index knows of id, as an Entry for a blind
// write: its id, its DN and its RDN's values; nil when the index does not
// know it or the DN is not where the service's resources are.
func (s *Service) blindEntry(id string) *Entry {
	if s.index == nil || s.idAttr() != "" {
		return nil
	}
	dn := s.index.get(id)
	if dn == "" {
		return nil
	}
	rdns, err := ParseDN(dn)
	if err != nil || len(rdns) < 2 || !s.inScope(dn) {
		return nil
	}
	parent, base := NormalizeDN(JoinDN(rdns[1:])), NormalizeDN(s.m.Container())
	if parent != base && !strings.HasSuffix(parent, ","+base) {
		return nil
	}
	e := &Entry{ID: id, DN: dn, Attrs: map[string][]string{}}
	for _, ava := range rdns[0] {
		e.Attrs[ava.Type] = append(e.Attrs[ava.Type], ava.Value)
	}
	return e
}

// patchBlind is Patch as a blind write on cur (blindEntry), when every
// operation sets or removes whole single-valued attributes or
// sub-attributes of single-valued complex ones, without value filters:
// then the patched resource's values for those attributes do not depend
// on the entry's. done is false when nothing was written and Patch is to
// read the entry.
func (s *Service) patchBlind(ctx context.Context, cur *Entry, ops []PatchOp) (Resource, bool, error) {
	rt := s.m.ResourceType()
	given := map[string]bool{}
	add := func(p AttrPath, v any, remove bool) bool {
		top, sub, ok := rt.Resolve(p)
		if !ok || top.MultiValued || top.Mutability == "readOnly" || strings.EqualFold(top.Name, "password") ||
			sub == nil && top.Type == TypeComplex {
			return false
		}
		switch v.(type) {
		case map[string]any, []any:
			return false
		case nil:
			if !remove {
				return false
			}
		}
		urn := rt.Schema.ID
		if p.URN != "" && !strings.EqualFold(p.URN, rt.Schema.ID) {
			urn = rt.Extension(p.URN).ID
		}
		subName := ""
		if sub != nil {
			subName = sub.Name
		}
		given[BlindKey(urn, top.Name, subName)] = true
		return true
	}
	for _, o := range ops {
		verb := strings.ToLower(o.Op)
		switch {
		case (verb == "add" || verb == "replace") && o.Path == nil:
			m, ok := o.Value.(map[string]any)
			if !ok {
				return Resource{}, false, nil
			}
			for k, v := range m {
				if ignoredKeys[strings.ToLower(k)] {
					continue
				}
				if ext := rt.Extension(k); ext != nil {
					em, ok := v.(map[string]any)
					if !ok {
						return Resource{}, false, nil
					}
					for sk, sv := range em {
						p, _ := keyPath(rt, ext.ID+":"+sk)
						if !add(p, sv, false) {
							return Resource{}, false, nil
						}
					}
					continue
				}
				p, _ := keyPath(rt, k)
				if !add(p, v, false) {
					return Resource{}, false, nil
				}
			}
		case verb == "add" || verb == "replace" || verb == "remove":
			if o.Path == nil || o.Path.Filter != nil || o.Path.Sub != "" || !add(o.Path.Attr, o.Value, verb == "remove") {
				return Resource{}, false, nil
			}
		default:
			return Resource{}, false, nil
		}
	}
	patched, err := ApplyPatch(rt, Resource{ID: cur.ID, Attrs: map[string]any{}}, ops)
	if err != nil {
		return Resource{}, false, nil
	}
	attrs, err := Normalize(rt, patched.Attrs)
	if err != nil {
		return Resource{}, false, nil
	}
	// A required attribute the request removes is the reading path's
	// error to report.
	for _, a := range rt.Schema.Attrs {
		if a.Required && given[BlindKey(rt.Schema.ID, a.Name, "")] {
			if v, ok := attrs[a.Name]; !ok || isEmpty(v) {
				return Resource{}, false, nil
			}
		}
	}
	return s.updateBlind(ctx, cur, Resource{ID: cur.ID, Attrs: attrs, Patched: true}, given)
}

// updateBlind writes desired's values for the given attributes (nil: all
// of them, as for a PUT, which Replace does not send blind) to cur
// (blindEntry) as one modify guarded by the id at
// that DN (ModifyRequest.Blind), answered by the entry as written. done is
// false when nothing was written and the caller is to read the entry:
// when the directory refuses (renamed, moved, deleted), and for every
// request whose outcome the entry's values could change: a password (the
// resent-password rule needs the stored hash), a disable that leaves
// groups first, a uniqueness check that needs a search, a plan the mapper
// cannot make blind, and any refusal before the write.
func (s *Service) updateBlind(ctx context.Context, cur *Entry, desired Resource, given map[string]bool) (Resource, bool, error) {
	bm := s.m.(BlindMapper)
	if given == nil && s.checkRequired(desired) != nil || !s.uniqueHeld(ctx, desired, cur) {
		return Resource{}, false, nil
	}
	req := ModifyRequest{ID: cur.ID, Base: s.m.Container(), Return: s.m.DirectoryAttrs(), Current: cur, Guessed: true, Blind: true}
	if s.cfg.Lifecycle {
		if p, ok := desired.Attrs["password"].(string); ok && p != "" {
			return Resource{}, false, nil
		}
		if a, ok := desired.Attrs["active"].(bool); ok {
			d := !a
			req.Disabled = &d
		}
	}
	if s.strips(req) {
		return Resource{}, false, nil
	}
	plan, ok, err := bm.BlindChanges(ctx, cur, desired, given, s.refs)
	if err != nil || !ok || plan.NewRDN != "" || plan.NewSuperior != "" || len(plan.Containers) > 0 ||
		len(plan.Changes) == 0 && req.Disabled == nil {
		return Resource{}, false, nil
	}
	for _, ch := range plan.Changes {
		if ch.Op != ChangeReplace {
			return Resource{}, false, nil
		}
	}
	req.Changes = plan.Changes
	out, err := s.write(ctx, cur, desired, req, nil)
	if stale(err) {
		s.index.drop(cur.ID)
		return Resource{}, false, nil
	}
	return out, true, err
}

// uniqueHeld reports whether every unique attribute r gives a value is
// one self certainly holds already (checkUnique would search for no
// other), so that no search is needed.
func (s *Service) uniqueHeld(ctx context.Context, r Resource, self *Entry) bool {
	for _, a := range s.m.ResourceType().Schema.Attrs {
		_, f, err := s.uniqueFilter(ctx, a, r)
		if err != nil {
			return false
		}
		if f == nil {
			continue
		}
		if !holdsExactly(self, f) {
			return false
		}
	}
	return true
}
