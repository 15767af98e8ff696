package bridge

import (
	"reflect"
	"strings"
)

// ApplyPatch applies SCIM PATCH operations (RFC 7644 §3.5.2) to a resource in
// memory and returns the result; r is not modified. The operations take
// effect in order and all or none: an error leaves nothing applied, because
// the caller writes only the final result.
//
// It accepts the dialects real clients send: path-less values with dotted and
// URN keys, value-filter paths, a remove carrying a list of values to remove,
// and an add or replace through an equality filter that matches nothing, which
// creates the value the filter describes (Entra ID sends
// emails[type eq "work"].value for a user who has no work email yet).
func ApplyPatch(rt *ResourceType, r Resource, ops []PatchOp) (Resource, error) {
	const op = "bridge.ApplyPatch"
	out := r.Clone()
	if out.Attrs == nil {
		out.Attrs = map[string]any{}
	}
	for i, o := range ops {
		var err error
		switch strings.ToLower(o.Op) {
		case "add", "replace":
			if o.Path == nil {
				err = patchPathless(rt, out.Attrs, strings.ToLower(o.Op), o.Value)
			} else {
				err = patchSet(rt, out.Attrs, strings.ToLower(o.Op), o.Path, o.Value)
			}
		case "remove":
			if o.Path == nil {
				err = Errorf(op, KindNoTarget, "operation %d: remove needs a path", i+1)
			} else {
				err = patchRemove(rt, out.Attrs, o.Path, o.Value)
			}
		default:
			err = Errorf(op, KindInvalidSyntax, "operation %d: op must be add, replace or remove", i+1)
		}
		if err != nil {
			return Resource{}, err
		}
	}
	return out, nil
}

func patchPathless(rt *ResourceType, attrs map[string]any, verb string, value any) error {
	const op = "bridge.patchPathless"
	m, ok := value.(map[string]any)
	if !ok {
		return Errorf(op, KindInvalidSyntax, "a PATCH operation without a path needs an object value")
	}
	for k, v := range m {
		if ignoredKeys[strings.ToLower(k)] {
			continue
		}
		if ext := rt.Extension(k); ext != nil {
			em, ok := v.(map[string]any)
			if !ok {
				if v == nil {
					continue
				}
				return Errorf(op, KindInvalidSyntax, "%s must be an object", ext.ID)
			}
			for sk, sv := range em {
				p, err := keyPath(rt, ext.ID+":"+sk)
				if err != nil {
					return err
				}
				if err := patchSet(rt, attrs, verb, &PatchPath{Attr: p}, sv); err != nil {
					return err
				}
			}
			continue
		}
		p, err := keyPath(rt, k)
		if err != nil {
			return err
		}
		if err := patchSet(rt, attrs, verb, &PatchPath{Attr: p}, v); err != nil {
			return err
		}
	}
	return nil
}

// keyPath parses a key of a path-less PATCH value: "name.givenName",
// "urn:…:User:employeeNumber" or "displayName".
func keyPath(rt *ResourceType, k string) (AttrPath, error) {
	urn, rest := SplitURNPath(k, rt.schemaIDs())
	p := AttrPath{URN: urn, Attr: rest}
	if i := strings.IndexByte(rest, '.'); i > 0 {
		p.Attr, p.Sub = rest[:i], rest[i+1:]
	}
	return p, nil
}

// errUnstored is resolvePatch's answer for a standard attribute the
// resource type does not store: the operation is ignored, as the same
// attribute in a POST or PUT body is.
var errUnstored = Errorf("bridge.resolvePatch", KindInvalidPath, "the attribute is not stored")

// resolvePatch finds the definitions for a PATCH path. Unknown attributes are
// invalidPath; read-only ones are mutability errors.
func resolvePatch(rt *ResourceType, p *PatchPath) (top, sub *AttrDef, err error) {
	const op = "bridge.resolvePatch"
	top, sub, ok := rt.Resolve(p.Attr)
	if !ok {
		if rt.IsUnstored(p.Attr) {
			return nil, nil, errUnstored
		}
		return nil, nil, Errorf(op, KindInvalidPath, "unknown attribute %q", p.Attr.String())
	}
	if top.Mutability == "readOnly" {
		return nil, nil, Errorf(op, KindMutability, "%s is read-only", top.Name)
	}
	if p.Filter != nil && !(top.MultiValued && top.Type == TypeComplex) {
		return nil, nil, Errorf(op, KindInvalidPath, "%s has no values to filter", top.Name)
	}
	if p.Sub != "" {
		if p.Attr.Sub != "" {
			return nil, nil, Errorf(op, KindInvalidPath, "path %q has two sub-attributes", p.String())
		}
		sub = top.Sub(p.Sub)
		if sub == nil {
			if rt.IsUnstored(AttrPath{URN: p.Attr.URN, Attr: p.Attr.Attr, Sub: p.Sub}) {
				return nil, nil, errUnstored
			}
			return nil, nil, Errorf(op, KindInvalidPath, "unknown attribute %q", p.String())
		}
	}
	return top, sub, nil
}

func patchSet(rt *ResourceType, attrs map[string]any, verb string, p *PatchPath, value any) error {
	const op = "bridge.patchSet"
	top, sub, err := resolvePatch(rt, p)
	if err == errUnstored {
		return nil
	}
	if err != nil {
		if KindOf(err) == KindMutability && p.Filter == nil {
			// Clients echo read-only attributes (groups, meta) back; as in a
			// PUT, ignoring them is what they expect.
			return nil
		}
		return err
	}
	holder := container(attrs, rt, p.Attr.URN, true)
	defer pruneContainer(attrs, rt, p.Attr.URN)
	name := p.String()

	// A sub-attribute of a single-valued complex attribute: name.givenName.
	if p.Filter == nil && sub != nil && !top.MultiValued {
		cv, err := coerce(sub, value, name)
		if err != nil {
			return err
		}
		m, _ := holder[top.Name].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		if isEmpty(cv) {
			delete(m, sub.Name)
		} else {
			m[sub.Name] = cv
		}
		setOrDelete(holder, top.Name, m)
		return nil
	}
	if p.Filter == nil && sub != nil {
		// emails.value: every value's sub-attribute.
		cv, err := coerce(sub, value, name)
		if err != nil {
			return err
		}
		for _, item := range listOf(holder[top.Name]) {
			if m, ok := item.(map[string]any); ok {
				setSub(m, sub.Name, cv)
			}
		}
		return nil
	}
	if p.Filter == nil {
		cv, err := coerceAttr(top, value, name)
		if err != nil {
			return err
		}
		switch {
		case isEmpty(cv) && top.Required:
			// "" unassigns (Entra sends it to remove), which a required
			// attribute cannot be: the same answer as a remove.
			return Errorf(op, KindMutability, "%s is required and cannot be unassigned", top.Name)
		case isEmpty(cv):
			delete(holder, top.Name)
		case top.MultiValued && verb == "add":
			holder[top.Name] = mergeValues(top, listOf(holder[top.Name]), cv.([]any))
		case top.MultiValued:
			holder[top.Name] = mergeValues(top, nil, cv.([]any))
		case top.Type == TypeComplex && !isManager(top):
			// RFC 7644 §3.5.2.1/.3: sub-attributes not given are left as they are.
			m, _ := holder[top.Name].(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			for k, x := range cv.(map[string]any) {
				m[k] = x
			}
			holder[top.Name] = m
		default:
			holder[top.Name] = cv
		}
		return nil
	}

	// attr[filter] or attr[filter].sub
	items := listOf(holder[top.Name])
	matched := 0
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok || !MatchValue(top, p.Filter, m) {
			continue
		}
		matched++
		if sub != nil {
			cv, err := coerce(sub, value, name)
			if err != nil {
				return err
			}
			setSub(m, sub.Name, cv)
			continue
		}
		cv, err := coerceOne(top, value, name)
		if err != nil {
			return err
		}
		cm, _ := cv.(map[string]any)
		if verb == "replace" {
			for k := range m {
				delete(m, k)
			}
		}
		for k, x := range cm {
			m[k] = x
		}
	}
	if matched == 0 {
		seed, ok := equalitySeed(p.Filter)
		if !ok || verb == "replace" && !(sub != nil && isTypeSeed(seed)) {
			// RFC 7644 §3.5.2.3: a replace whose filter matches nothing is
			// noTarget. The one exception is Entra ID's way to add a typed
			// value, a replace of emails[type eq "work"].value on a user
			// without a work email: it adds the value with that type.
			return Errorf(op, KindNoTarget, "no value of %s matches the filter", top.Name)
		}
		if sub != nil {
			cv, err := coerce(sub, value, name)
			if err != nil {
				return err
			}
			if isEmpty(cv) {
				return nil
			}
			seed[sub.Name] = cv
		} else {
			cv, err := coerceOne(top, value, name)
			if err != nil {
				return err
			}
			cm, _ := cv.(map[string]any)
			for k, x := range cm {
				seed[k] = x
			}
		}
		norm, err := coerceOne(top, seed, name)
		if err != nil {
			return err
		}
		items = append(items, norm)
	}
	items = dropEmptyItems(items)
	if primaryCount(items) > 1 {
		return Errorf(op, KindInvalidValue, "only one value of %s may be primary", top.Name)
	}
	setOrDelete(holder, top.Name, items)
	return nil
}

func patchRemove(rt *ResourceType, attrs map[string]any, p *PatchPath, value any) error {
	top, sub, err := resolvePatch(rt, p)
	if err == errUnstored {
		return nil
	}
	if err != nil {
		return err
	}
	if top.Required && sub == nil && p.Filter == nil {
		return Errorf("bridge.patchRemove", KindMutability, "%s is required and cannot be removed", top.Name)
	}
	holder := container(attrs, rt, p.Attr.URN, false)
	if holder == nil {
		return nil
	}
	defer pruneContainer(attrs, rt, p.Attr.URN)

	if p.Filter == nil && sub != nil && !top.MultiValued {
		if m, ok := holder[top.Name].(map[string]any); ok {
			delete(m, sub.Name)
			setOrDelete(holder, top.Name, m)
		}
		return nil
	}
	if p.Filter == nil && sub != nil {
		for _, item := range listOf(holder[top.Name]) {
			if m, ok := item.(map[string]any); ok {
				delete(m, sub.Name)
			}
		}
		setOrDelete(holder, top.Name, dropEmptyItems(listOf(holder[top.Name])))
		return nil
	}
	if p.Filter == nil {
		if top.MultiValued && !isEmpty(value) {
			// Remove the listed values only (Entra: members with a value list).
			cv, err := coerceAttr(top, value, p.String())
			if err != nil {
				return err
			}
			var keep []any
			for _, item := range listOf(holder[top.Name]) {
				if !containsValue(top, cv.([]any), item) {
					keep = append(keep, item)
				}
			}
			setOrDelete(holder, top.Name, keep)
			return nil
		}
		delete(holder, top.Name)
		return nil
	}
	var keep []any
	for _, item := range listOf(holder[top.Name]) {
		m, ok := item.(map[string]any)
		if !ok || !MatchValue(top, p.Filter, m) {
			keep = append(keep, item)
			continue
		}
		if sub != nil {
			delete(m, sub.Name)
			keep = append(keep, m)
		}
	}
	setOrDelete(holder, top.Name, dropEmptyItems(keep))
	return nil
}

func listOf(v any) []any {
	l, _ := v.([]any)
	return l
}

func setSub(m map[string]any, name string, v any) {
	if isEmpty(v) {
		delete(m, name)
	} else {
		m[name] = v
	}
}

func setOrDelete(holder map[string]any, name string, v any) {
	if isEmpty(v) {
		delete(holder, name)
		return
	}
	if l, ok := v.([]any); ok && len(l) == 0 {
		delete(holder, name)
		return
	}
	holder[name] = v
}

func dropEmptyItems(items []any) []any {
	out := items[:0:0]
	for _, it := range items {
		if !isEmpty(it) {
			out = append(out, it)
		}
	}
	return out
}

func primaryCount(items []any) int {
	n := 0
	for _, it := range items {
		if m, ok := it.(map[string]any); ok && m["primary"] == true {
			n++
		}
	}
	return n
}

// mergeValues appends add to have, skipping values already present, and keeps
// at most one primary value: a newly added primary value wins.
func mergeValues(def *AttrDef, have, add []any) []any {
	out := append([]any(nil), have...)
	for _, v := range add {
		if containsValue(def, out, v) {
			continue
		}
		if m, ok := v.(map[string]any); ok && m["primary"] == true {
			for _, o := range out {
				if om, ok := o.(map[string]any); ok {
					delete(om, "primary")
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// containsValue reports whether list holds v. Complex values with a "value"
// sub-attribute are the same value when their "value" and "type" agree
// (members are identified by value alone); others compare whole.
func containsValue(def *AttrDef, list []any, v any) bool {
	for _, x := range list {
		if sameValue(def, x, v) {
			return true
		}
	}
	return false
}

func sameValue(def *AttrDef, a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		av, aHas := am["value"]
		bv, bHas := bm["value"]
		if aHas && bHas {
			if !equalScalar(def.Sub("value"), av, bv) {
				return false
			}
			if def.Sub("type") == nil || strings.EqualFold(def.Name, "members") {
				return true
			}
			at, _ := am["type"].(string)
			bt, _ := bm["type"].(string)
			return strings.EqualFold(at, bt) || at == "" || bt == ""
		}
		return reflect.DeepEqual(am, bm)
	}
	return equalScalar(def, a, b)
}

func equalScalar(def *AttrDef, a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		if def != nil && def.CaseExact {
			return as == bs
		}
		return strings.EqualFold(as, bs)
	}
	return reflect.DeepEqual(a, b)
}

// isTypeSeed reports whether a filter's seed is a type and nothing else:
// [type eq "work"].
func isTypeSeed(seed map[string]any) bool {
	if len(seed) != 1 {
		return false
	}
	for k, v := range seed {
		_, isString := v.(string)
		return strings.EqualFold(k, "type") && isString
	}
	return false
}

// equalitySeed returns the value a filter of "sub eq literal" terms joined by
// "and" describes, or false for any other filter.
func equalitySeed(x Expr) (map[string]any, bool) {
	switch e := x.(type) {
	case *CompareExpr:
		if e.Op != OpEq || e.Path.Sub != "" || e.Path.URN != "" {
			return nil, false
		}
		return map[string]any{e.Path.Attr: e.Value}, true
	case *LogicalExpr:
		if e.Op != "and" {
			return nil, false
		}
		l, ok := equalitySeed(e.Left)
		if !ok {
			return nil, false
		}
		r, ok := equalitySeed(e.Right)
		if !ok {
			return nil, false
		}
		for k, v := range r {
			l[k] = v
		}
		return l, true
	}
	return nil, false
}
