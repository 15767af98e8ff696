package scimside

import (
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// kv is one member of an orderedObject.
type kv struct {
	Key   string
	Value any
}

// orderedObject is a JSON object that keeps its members in order, so that
// responses read schemas, id, externalId, …, meta as in the RFC's examples.
type orderedObject []kv

// MarshalJSON serves encoding/json (a fallback value holding an
// orderedObject, tests); responses are written by appendJSON directly.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	b, err := appendObject(nil, o, 0)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// selection is a parsed attributes / excludedAttributes pair (RFC 7644
// §3.4.2.5). A path with an empty Attr names a whole schema (an extension
// URN given alone).
type selection struct {
	include []bridge.AttrPath
	exclude []bridge.AttrPath
}

// parseSelection parses attribute names: "userName", "name.givenName",
// "urn:…:enterprise:2.0:User:employeeNumber", "urn:…:enterprise:2.0:User".
// Names that cannot be parsed are ignored, as unknown names are: a
// projection never fails a request.
func parseSelection(rt *bridge.ResourceType, attributes, excluded []string) selection {
	parse := func(names []string) []bridge.AttrPath {
		var out []bridge.AttrPath
		for _, n := range names {
			if len(n) > maxPathLen {
				continue
			}
			if strings.EqualFold(n, rt.Schema.ID) {
				out = append(out, bridge.AttrPath{URN: rt.Schema.ID})
				continue
			}
			if ext := rt.Extension(n); ext != nil {
				out = append(out, bridge.AttrPath{URN: ext.ID})
				continue
			}
			if p, ok := splitAttrName(n, schemaURNs(rt)); ok {
				out = append(out, p)
			}
		}
		return out
	}
	return selection{include: parse(attributes), exclude: parse(excluded)}
}

// wantMeta reports whether meta is returned: by default yes; with
// attributes only when asked for.
func (s selection) wantMeta() bool {
	named := func(ps []bridge.AttrPath, whole bool) bool {
		for _, p := range ps {
			if p.URN == "" && strings.EqualFold(p.Attr, "meta") && (!whole || p.Sub == "") {
				return true
			}
		}
		return false
	}
	if len(s.include) > 0 {
		return named(s.include, false)
	}
	return !named(s.exclude, true)
}

// apply returns the attributes of a resource to render: never the
// "returned: never" ones (password), always the "returned: always" ones,
// "returned: request" ones only when asked for, and otherwise what
// attributes and excludedAttributes say. attrs is not modified.
func (s selection) apply(rt *bridge.ResourceType, attrs map[string]any) map[string]any {
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		if ext := rt.Extension(k); ext != nil {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			em := map[string]any{}
			wholeIn := s.namesSchema(s.include, ext.ID)
			wholeOut := s.namesSchema(s.exclude, ext.ID)
			for ek, ev := range m {
				if pv, ok := s.project(ext.ID, false, ext.Attr(ek), ek, ev, wholeIn, wholeOut); ok {
					em[ek] = pv
				}
			}
			if len(em) > 0 {
				out[k] = em
			}
			continue
		}
		wholeIn := s.namesSchema(s.include, rt.Schema.ID)
		wholeOut := s.namesSchema(s.exclude, rt.Schema.ID)
		if pv, ok := s.project(rt.Schema.ID, true, rt.Schema.Attr(k), k, v, wholeIn, wholeOut); ok {
			out[k] = pv
		}
	}
	return out
}

// namesSchema reports whether ps names the whole schema urn.
func (s selection) namesSchema(ps []bridge.AttrPath, urn string) bool {
	for _, p := range ps {
		if p.Attr == "" && strings.EqualFold(p.URN, urn) {
			return true
		}
	}
	return false
}

// project decides one top-level attribute of schema urn.
func (s selection) project(urn string, core bool, def *bridge.AttrDef, name string, v any, wholeIn, wholeOut bool) (any, bool) {
	returned := "default"
	if def != nil && def.Returned != "" {
		returned = def.Returned
	}
	if returned == "never" || strings.EqualFold(name, "password") {
		return nil, false
	}
	// userName is returned always whatever the mapping table says: Okta
	// reads it from every answer (RFC 7643 §4.1 has it "default", which
	// lets attributes= drop it).
	if returned == "always" || (core && strings.EqualFold(name, "userName")) {
		return v, true
	}
	if len(s.include) > 0 {
		if wholeIn {
			return v, true
		}
		whole, subs := matchPaths(s.include, urn, core, name)
		switch {
		case whole:
			return v, true
		case len(subs) > 0:
			pv := keepSubs(v, subs)
			return pv, pv != nil
		}
		return nil, false
	}
	if returned == "request" || wholeOut {
		return nil, false
	}
	whole, subs := matchPaths(s.exclude, urn, core, name)
	switch {
	case whole:
		return nil, false
	case len(subs) > 0:
		pv := dropSubs(v, subs)
		return pv, pv != nil
	}
	return v, true
}

// matchPaths finds the paths in ps that name attribute name of schema urn
// (core: the resource type's core schema, which names may omit): whole when
// one names the attribute itself, subs for those naming its sub-attributes.
func matchPaths(ps []bridge.AttrPath, urn string, core bool, name string) (whole bool, subs []string) {
	for _, p := range ps {
		if p.Attr == "" || !strings.EqualFold(p.Attr, name) {
			continue
		}
		if !(p.URN == "" && core) && !strings.EqualFold(p.URN, urn) {
			continue
		}
		if p.Sub == "" {
			whole = true
		} else {
			subs = append(subs, p.Sub)
		}
	}
	return whole, subs
}

// keepSubs keeps only the named sub-attributes of a complex value or of
// each complex value in a list.
func keepSubs(v any, subs []string) any { return pickSubs(v, subs, true) }

// dropSubs removes the named sub-attributes of a complex value or of each
// complex value in a list.
func dropSubs(v any, subs []string) any { return pickSubs(v, subs, false) }

// pickSubs keeps (keep) or removes (!keep) the named sub-attributes. A value
// left with no sub-attribute is dropped; what is not complex stays only when
// removing, since it has no sub-attributes to keep.
func pickSubs(v any, subs []string, keep bool) any {
	filter := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, x := range m {
			named := slices.ContainsFunc(subs, func(s string) bool { return strings.EqualFold(k, s) })
			if named == keep {
				out[k] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	switch t := v.(type) {
	case map[string]any:
		if m := filter(t); m != nil {
			return m
		}
		return nil
	case []any:
		var out []any
		for _, x := range t {
			m, ok := x.(map[string]any)
			if !ok {
				if !keep {
					out = append(out, x)
				}
				continue
			}
			if fm := filter(m); fm != nil {
				out = append(out, fm)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	if keep {
		return nil
	}
	return v
}
