package bridge

import (
	"strconv"
	"strings"
)

// ignoredKeys are top-level keys that carry protocol framing, not data; they
// may appear in bodies and path-less PATCH values and are never stored.
var ignoredKeys = map[string]bool{"schemas": true, "id": true, "meta": true}

// Normalize turns a client's resource body into the canonical model of rt:
// keys take the schema's spelling, extension attributes move under their URN,
// booleans sent as strings become booleans, numbers sent for string
// attributes become strings, a single value for a multi-valued attribute
// becomes a list, manager given as a bare id or a one-element list becomes
// {"value": id}, and null, "" and empty lists are dropped (they mean "no
// value"). Attributes the schema does not know, and read-only ones, are
// ignored, as RFC 7644 §3.3 allows.
func Normalize(rt *ResourceType, attrs map[string]any) (map[string]any, error) {
	const op = "bridge.Normalize"
	out := map[string]any{}
	for k, v := range attrs {
		if ignoredKeys[strings.ToLower(k)] {
			continue
		}
		if ext := rt.Extension(k); ext != nil {
			m, ok := v.(map[string]any)
			if v == nil {
				continue
			}
			if !ok {
				return nil, Errorf(op, KindInvalidSyntax, "%s must be an object", ext.ID)
			}
			for sk, sv := range m {
				if err := setNormalized(rt, out, AttrPath{URN: ext.ID, Attr: sk}, sv); err != nil {
					return nil, err
				}
			}
			continue
		}
		urn, rest := SplitURNPath(k, rt.schemaIDs())
		p := AttrPath{URN: urn, Attr: rest}
		if i := strings.IndexByte(rest, '.'); i > 0 {
			p.Attr, p.Sub = rest[:i], rest[i+1:]
		}
		if err := setNormalized(rt, out, p, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (rt *ResourceType) schemaIDs() []string {
	ids := []string{rt.Schema.ID}
	for _, e := range rt.Extensions {
		ids = append(ids, e.ID)
	}
	return ids
}

// setNormalized coerces v for the attribute at p and stores it in out,
// ignoring unknown and read-only attributes.
func setNormalized(rt *ResourceType, out map[string]any, p AttrPath, v any) error {
	top, sub, ok := rt.Resolve(p)
	if !ok || top.Mutability == "readOnly" {
		return nil
	}
	if p.Sub != "" {
		cv, err := coerce(sub, v, p.String())
		if err != nil {
			return err
		}
		holder := container(out, rt, p.URN, true)
		m, _ := holder[top.Name].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		if isEmpty(cv) {
			delete(m, sub.Name)
		} else {
			m[sub.Name] = cv
		}
		if len(m) == 0 {
			delete(holder, top.Name)
		} else {
			holder[top.Name] = m
		}
		pruneContainer(out, rt, p.URN)
		return nil
	}
	cv, err := coerceAttr(top, v, p.String())
	if err != nil {
		return err
	}
	holder := container(out, rt, p.URN, true)
	if isEmpty(cv) {
		delete(holder, top.Name)
	} else {
		holder[top.Name] = cv
	}
	pruneContainer(out, rt, p.URN)
	return nil
}

// container returns the map that holds the attributes of schema urn: the
// resource itself for the core schema, the extension's map otherwise.
func container(attrs map[string]any, rt *ResourceType, urn string, create bool) map[string]any {
	if urn == "" || strings.EqualFold(urn, rt.Schema.ID) {
		return attrs
	}
	ext := rt.Extension(urn)
	if ext == nil {
		return nil
	}
	m, _ := attrs[ext.ID].(map[string]any)
	if m == nil {
		if !create {
			return nil
		}
		m = map[string]any{}
		attrs[ext.ID] = m
	}
	return m
}

func pruneContainer(attrs map[string]any, rt *ResourceType, urn string) {
	if ext := rt.Extension(urn); ext != nil {
		if m, ok := attrs[ext.ID].(map[string]any); ok && len(m) == 0 {
			delete(attrs, ext.ID)
		}
	}
}

// isEmpty reports whether v means "no value".
func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []any:
		return len(t) == 0
	case map[string]any:
		return len(t) == 0
	}
	return false
}

// coerceAttr coerces a whole attribute value (a list for multi-valued ones).
func coerceAttr(def *AttrDef, v any, name string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if isManager(def) {
		return coerceManager(v, name)
	}
	if !def.MultiValued {
		if l, ok := v.([]any); ok {
			switch len(l) {
			case 0:
				return nil, nil
			case 1:
				v = l[0]
			default:
				return nil, Errorf("bridge.coerceAttr", KindInvalidValue, "%s takes a single value", name)
			}
		}
		return coerceOne(def, v, name)
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]any, 0, len(list))
	for _, item := range list {
		cv, err := coerceOne(def, item, name)
		if err != nil {
			return nil, err
		}
		if !isEmpty(cv) {
			out = append(out, cv)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// isManager reports whether def is the enterprise manager reference, which
// clients send in several shapes.
func isManager(def *AttrDef) bool {
	return strings.EqualFold(def.Name, "manager") && def.Type == TypeComplex && !def.MultiValued
}

func coerceManager(v any, name string) (any, error) {
	switch t := v.(type) {
	case string:
		if t == "" {
			return nil, nil
		}
		return map[string]any{"value": t}, nil
	case []any:
		switch len(t) {
		case 0:
			return nil, nil
		case 1:
			return coerceManager(t[0], name)
		}
		return nil, Errorf("bridge.coerceManager", KindInvalidValue, "%s takes a single value", name)
	case map[string]any:
		id, _ := lookupFold(t, "value")
		s, ok := id.(string)
		if id == nil || (ok && s == "") {
			return nil, nil
		}
		if !ok {
			return nil, Errorf("bridge.coerceManager", KindInvalidValue, "%s.value must be a string", name)
		}
		out := map[string]any{"value": s}
		if d, ok := lookupFold(t, "displayName"); ok && d != nil {
			out["displayName"] = d
		}
		return out, nil
	}
	return nil, Errorf("bridge.coerceManager", KindInvalidValue, "%s must be an id or an object with a value", name)
}

// coerceOne coerces one value (an element of a multi-valued attribute, or a
// single-valued attribute's value).
func coerceOne(def *AttrDef, v any, name string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if def.Type == TypeComplex {
		m, ok := v.(map[string]any)
		if !ok {
			if def.MultiValued {
				// A bare value for a multi-valued complex attribute is its "value".
				if sub := def.Sub("value"); sub != nil {
					cv, err := coerce(sub, v, name+".value")
					if err != nil || isEmpty(cv) {
						return nil, err
					}
					return map[string]any{"value": cv}, nil
				}
			}
			return nil, Errorf("bridge.coerceOne", KindInvalidValue, "%s must be an object", name)
		}
		out := map[string]any{}
		for k, x := range m {
			sub := def.Sub(k)
			if sub == nil {
				continue
			}
			cv, err := coerce(sub, x, name+"."+sub.Name)
			if err != nil {
				return nil, err
			}
			if !isEmpty(cv) {
				out[sub.Name] = cv
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return coerce(def, v, name)
}

// coerce coerces a simple value to def's type.
func coerce(def *AttrDef, v any, name string) (any, error) {
	const op = "bridge.coerce"
	if v == nil {
		return nil, nil
	}
	switch def.Type {
	case TypeBoolean:
		switch t := v.(type) {
		case bool:
			return t, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(t)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			case "":
				return nil, nil
			}
		}
		return nil, Errorf(op, KindInvalidValue, "%s must be true or false", name)
	case TypeInteger, TypeDecimal:
		switch t := v.(type) {
		case float64:
			return t, nil
		case string:
			if t == "" {
				return nil, nil
			}
			f, err := strconv.ParseFloat(t, 64)
			if err != nil {
				return nil, Errorf(op, KindInvalidValue, "%s must be a number", name)
			}
			return f, nil
		}
		return nil, Errorf(op, KindInvalidValue, "%s must be a number", name)
	case TypeComplex:
		return nil, Errorf(op, KindInvalidValue, "%s must be a simple value", name)
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	}
	return nil, Errorf(op, KindInvalidValue, "%s must be a string", name)
}
