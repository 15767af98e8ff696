package scimside

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// Entitlements (issue #16) over SCIM 2.0, as Okta Identity Governance uses
// them (Okta's guide "Build a SCIM 2.0 server with entitlements",
// developer.okta.com/docs/guides/scim-with-entitlements):
//
//   - each type's values are a read-only resource type of their own
//     (/Roles, /Licenses), listed in /ResourceTypes with Okta's Role or
//     Entitlement schema URN and served paged and filterable; the
//     directory owns them, so every write there is a 405;
//   - a user carries the values it holds in the type's attribute
//     ([{"value": id, "display": displayName, "type": type name}]); the
//     guide's role example has no "type", its entitlement example does:
//     we always send it, as RFC 7643 §4.1.2 defines it for both;
//   - assignment arrives as the user's own POST, PUT or PATCH: the guide
//     says only that users are created, updated and imported with the
//     ordinary SCIM user operations, carrying their roles and
//     entitlements. Each change is one member value of one group, made
//     like a SCIM 1.1 body's groups (memberships.go): checked first,
//     journalled, finished forward or undone.
//
// The 1.1 codec serves none of it: Okta's agent does entitlements only
// with /v2 in its base URL, and 1.1 has no such schemas.

// entType is one entitlement type as the users endpoint knows it.
type entType struct {
	name   string // the value type's resource type name: "Role"
	urn    string // "" for a core attribute (roles, entitlements), else the extension
	attr   string // the attribute's name within its schema: "roles", "licenses"
	values ResourceService
	multi  bool
}

// label is the attribute as a client wrote it, for messages.
func (t *entType) label() string {
	if t.urn == "" {
		return t.attr
	}
	return t.urn + ":" + t.attr
}

// entValue is one value a user holds.
type entValue struct{ id, display string }

// entAttrDef is the user attribute that carries a type's values.
func entAttrDef(e Entitlement, name, typeName string) bridge.AttrDef {
	str := func(n, desc string) bridge.AttrDef {
		return bridge.AttrDef{Name: n, Type: bridge.TypeString, Description: desc}
	}
	desc := fmt.Sprintf("The %s values the user holds (directory group memberships).", typeName)
	if !e.MultiValued {
		// The attribute stays multi-valued, as RFC 7643 defines roles and
		// entitlements; the type's cardinality is a policy on top of it.
		desc += " A user holds at most one."
	}
	value := str("value", "The id of the "+typeName+", as "+strings.Trim(e.Values.ResourceType().Endpoint, "/")+" lists it.")
	value.Required = true
	display := str("display", "The "+typeName+"'s displayName.")
	display.Mutability = "readOnly"
	typ := str("type", "The entitlement type: "+typeName+".")
	typ.Mutability = "readOnly"
	return bridge.AttrDef{Name: name, Type: bridge.TypeComplex, MultiValued: true, Required: e.Required,
		Description: desc, SubAttrs: []bridge.AttrDef{value, display, typ}}
}

// splitEntAttr splits "urn:…:User:licenses" into its extension URN and
// name; a core attribute has no URN.
func splitEntAttr(attr string) (urn, name string) {
	if !strings.HasPrefix(strings.ToLower(attr), "urn:") {
		return "", attr
	}
	i := strings.LastIndexByte(attr, ':')
	return attr[:i], attr[i+1:]
}

// withEntitlements returns a copy of the users' resource type that also
// has each type's attribute: in the core schema, or in its extension
// (added when the users table has none), so that /Schemas, /ResourceTypes,
// the filter and PATCH path parsers and projection know it. The users
// service never sees these attributes: the endpoint takes them out of
// what it hands on.
func withEntitlements(rt *bridge.ResourceType, ents []Entitlement) (*bridge.ResourceType, []*entType, error) {
	const op = "scimside.withEntitlements"
	out := *rt
	out.Schema.Attrs = append([]bridge.AttrDef(nil), rt.Schema.Attrs...)
	out.Extensions = make([]bridge.SchemaDef, len(rt.Extensions))
	for i, x := range rt.Extensions {
		out.Extensions[i] = x
		out.Extensions[i].Attrs = append([]bridge.AttrDef(nil), x.Attrs...)
	}
	var types []*entType
	seen := map[string]bool{}
	for _, e := range ents {
		if e.Values == nil || e.Values.ResourceType() == nil {
			return nil, nil, bridge.Errorf(op, bridge.KindMisconfigured, "entitlement attribute %q has no values service", e.Attr)
		}
		vt := e.Values.ResourceType()
		urn, name := splitEntAttr(strings.TrimSpace(e.Attr))
		if name == "" || !validAttrName(name) || (urn == "" && !strings.EqualFold(name, "roles") && !strings.EqualFold(name, "entitlements")) {
			return nil, nil, bridge.Errorf(op, bridge.KindMisconfigured, "entitlement type %s: user attribute %q must be roles, entitlements or urn:…:name", vt.Name, e.Attr)
		}
		key := strings.ToLower(urn + ":" + name)
		if seen[key] {
			return nil, nil, bridge.Errorf(op, bridge.KindMisconfigured, "two entitlement types use the user attribute %q", e.Attr)
		}
		seen[key] = true
		schema := &out.Schema
		if urn != "" && !strings.EqualFold(urn, rt.Schema.ID) {
			schema = out.Extension(urn)
			if schema == nil {
				out.Extensions = append(out.Extensions, bridge.SchemaDef{ID: urn, Name: urn[strings.LastIndexByte(urn, ':')+1:],
					Description: "Entitlement attributes of users"})
				schema = &out.Extensions[len(out.Extensions)-1]
			}
		} else {
			urn = ""
			if !strings.EqualFold(name, "roles") && !strings.EqualFold(name, "entitlements") {
				return nil, nil, bridge.Errorf(op, bridge.KindMisconfigured, "entitlement type %s: the core User schema has no attribute %q for values; use roles, entitlements or an extension's urn:…:name", vt.Name, name)
			}
		}
		if schema.Attr(name) != nil {
			return nil, nil, bridge.Errorf(op, bridge.KindMisconfigured, "entitlement type %s: the users table already maps the user attribute %q; remove it there or choose another user_attribute", vt.Name, e.Attr)
		}
		def := entAttrDef(e, name, vt.Name)
		schema.Attrs = append(schema.Attrs, def)
		types = append(types, &entType{name: vt.Name, urn: schemaIDOf(schema, urn), attr: name, values: e.Values, multi: e.MultiValued})
	}
	return &out, types, nil
}

func schemaIDOf(s *bridge.SchemaDef, urn string) string {
	if urn == "" {
		return ""
	}
	return s.ID
}

// valueRoute serves a type's values read-only: lists, .search and single
// values. Other methods are 405, with Allow saying what is served; bulk
// refuses their paths (bulkPath), so no write reaches the values.
func (ep *endpoint) valueRoute(segs []string) route {
	get := []string{http.MethodGet, http.MethodHead}
	switch {
	case len(segs) == 1:
		return route{methods: get, handle: func(w http.ResponseWriter, r *http.Request, c *call, _ []string) error {
			return ep.list(w, r, c)
		}}
	case segs[1] == ".search":
		return route{methods: searchMethods, maxSegs: 1, handle: func(w http.ResponseWriter, r *http.Request, c *call, _ []string) error {
			return ep.search(w, r, c)
		}}
	}
	return route{methods: get, maxSegs: 1, handle: func(w http.ResponseWriter, r *http.Request, c *call, segs []string) error {
		return ep.get(w, r, c, segs[0])
	}}
}

// entitlementsFor reports whether the call speaks the users' entitlements.
func (ep *endpoint) entitlementsFor(c *call) bool {
	if len(ep.ents) == 0 {
		return false
	}
	_, ok := c.codec.(v2codec)
	return ok
}

// heldValues returns the values of t that userID holds, as the directory
// says (paged: a user may hold many).
func (ep *endpoint) heldValues(ctx context.Context, t *entType, userID string) ([]entValue, error) {
	var out []entValue
	err := eachHolding(ctx, t.values, userID, []string{"displayName"}, func(v bridge.Resource) {
		out = append(out, entValue{id: v.ID, display: v.String("displayName")})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// holder returns the map of res that holds t's attribute (the resource's
// own attributes, or its extension's object, created when create is set).
func (t *entType) holder(res *bridge.Resource, create bool) map[string]any {
	if t.urn == "" {
		if res.Attrs == nil && create {
			res.Attrs = map[string]any{}
		}
		return res.Attrs
	}
	for k, v := range res.Attrs {
		if strings.EqualFold(k, t.urn) {
			m, _ := v.(map[string]any)
			if m == nil && create {
				m = map[string]any{}
				res.Attrs[k] = m
			}
			return m
		}
	}
	if !create {
		return nil
	}
	if res.Attrs == nil {
		res.Attrs = map[string]any{}
	}
	m := map[string]any{}
	res.Attrs[t.urn] = m
	return m
}

// addEntitlements sets each type's attribute of a user about to be
// rendered, unless the selection leaves it out (then nothing is read).
// The resource's maps are copied, not changed.
func (ep *endpoint) addEntitlements(ctx context.Context, c *call, res *bridge.Resource, sel selection) error {
	if !ep.entitlementsFor(c) || res.ID == "" {
		return nil
	}
	rt := ep.rtFor(c)
	cloned := false
	for _, t := range ep.ents {
		urn := t.urn
		if urn == "" {
			urn = rt.Schema.ID
		}
		def, _, _ := rt.Resolve(bridge.AttrPath{URN: t.urn, Attr: t.attr})
		if sel.dropsWhole(urn, t.urn == "", def, t.attr) {
			continue
		}
		held, err := ep.heldValues(ctx, t, res.ID)
		if err != nil {
			return err
		}
		if len(held) == 0 {
			continue // RFC 7643 §2.5: an empty multi-valued attribute is unassigned
		}
		if !cloned {
			*res = res.Clone()
			cloned = true
		}
		list := make([]any, len(held))
		for i, v := range held {
			list[i] = map[string]any{"value": v.id, "display": v.display, "type": t.name}
		}
		t.holder(res, true)[t.attr] = list
	}
	return nil
}

// takeBodyValues removes each type's attribute from a decoded POST or PUT
// body and returns the ids it gave, by type; a type the body does not
// name is absent from the map (PUT leaves its values as they are).
func (ep *endpoint) takeBodyValues(in *bridge.Resource) (map[*entType][]entValue, error) {
	out := map[*entType][]entValue{}
	for _, t := range ep.ents {
		h := t.holder(in, false)
		if h == nil {
			continue
		}
		for k, v := range h {
			if !strings.EqualFold(k, t.attr) {
				continue
			}
			delete(h, k)
			vals, err := t.valuesOf(v)
			if err != nil {
				return nil, err
			}
			out[t] = dedupe(append(out[t], vals...))
		}
		if t.urn != "" && len(h) == 0 {
			for k := range in.Attrs {
				if strings.EqualFold(k, t.urn) {
					delete(in.Attrs, k)
				}
			}
		}
	}
	return out, nil
}

// valuesOf reads a value list as a client sends it: [{"value": id, …}],
// one such object, or bare ids (lenient: some clients send them); null is
// no values.
func (t *entType) valuesOf(v any) ([]entValue, error) {
	const op = "scimside.(*entType).valuesOf"
	bad := func() error {
		return bridge.Errorf(op, bridge.KindInvalidValue, "%s: each value must be an object whose value is the id of a %s", t.label(), t.name)
	}
	one := func(x any) (entValue, error) {
		switch y := x.(type) {
		case string:
			if strings.TrimSpace(y) == "" {
				return entValue{}, bad()
			}
			return entValue{id: y}, nil
		case map[string]any:
			raw, _ := lookupFold(y, "value")
			id, ok := raw.(string)
			if !ok || strings.TrimSpace(id) == "" {
				return entValue{}, bad()
			}
			d, _ := lookupFold(y, "display")
			ds, _ := d.(string)
			return entValue{id: id, display: ds}, nil
		}
		return entValue{}, bad()
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]entValue, 0, len(x))
		for _, it := range x {
			ev, err := one(it)
			if err != nil {
				return nil, err
			}
			out = append(out, ev)
		}
		return out, nil
	}
	ev, err := one(v)
	if err != nil {
		return nil, err
	}
	return []entValue{ev}, nil
}

func dedupe(vs []entValue) []entValue {
	seen := map[string]bool{}
	out := vs[:0:0]
	for _, v := range vs {
		k := strings.ToLower(v.id)
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

// entOp is a PATCH operation on one type's attribute.
type entOp struct {
	op     string
	filter bridge.Expr // roles[value eq "x"]
	value  any
	hasVal bool
}

// takePatchOps splits a PATCH into the users' own operations and those on
// the types' attributes (by path, or as a key of a path-less operation's
// value).
func (ep *endpoint) takePatchOps(ops []bridge.PatchOp) ([]bridge.PatchOp, map[*entType][]entOp, error) {
	const op = "scimside.(*endpoint).takePatchOps"
	user := make([]bridge.PatchOp, 0, len(ops))
	ents := map[*entType][]entOp{}
	for _, o := range ops {
		if o.Path != nil {
			t := ep.entOfPath(o.Path.Attr)
			if t == nil {
				user = append(user, o)
				continue
			}
			if o.Path.Attr.Sub != "" || o.Path.Sub != "" {
				return nil, nil, bridge.Errorf(op, bridge.KindInvalidPath, "%s: a value is added or removed whole; a path into it (%s) cannot be changed", t.label(), o.Path.String())
			}
			ents[t] = append(ents[t], entOp{op: o.Op, filter: o.Path.Filter, value: o.Value, hasVal: o.Value != nil})
			continue
		}
		m, ok := o.Value.(map[string]any)
		if !ok {
			user = append(user, o)
			continue
		}
		rest := make(map[string]any, len(m))
		for k, v := range m {
			rest[k] = v
		}
		for _, t := range ep.ents {
			r := bridge.Resource{Attrs: rest}
			h := t.holder(&r, false)
			if h == nil {
				continue
			}
			if t.urn != "" {
				// Copy the extension's object before taking from it.
				for k, v := range rest {
					if strings.EqualFold(k, t.urn) {
						if em, ok := v.(map[string]any); ok {
							cp := make(map[string]any, len(em))
							for ek, ev := range em {
								cp[ek] = ev
							}
							rest[k], h = cp, cp
						}
					}
				}
			}
			for k, v := range h {
				if strings.EqualFold(k, t.attr) {
					delete(h, k)
					// A path-less add merges (RFC 7644 §3.5.2.1: the
					// values join those held); a replace sets them.
					ents[t] = append(ents[t], entOp{op: o.Op, value: v, hasVal: true})
				}
			}
			if t.urn != "" && len(h) == 0 {
				for k := range rest {
					if strings.EqualFold(k, t.urn) {
						delete(rest, k)
					}
				}
			}
		}
		if len(rest) > 0 {
			o.Value = rest
			user = append(user, o)
		}
	}
	return user, ents, nil
}

// entOfPath finds the type whose attribute a PATCH path names.
func (ep *endpoint) entOfPath(p bridge.AttrPath) *entType {
	for _, t := range ep.ents {
		if !strings.EqualFold(p.Attr, t.attr) {
			continue
		}
		if t.urn == "" && (p.URN == "" || strings.EqualFold(p.URN, ep.rt.Schema.ID)) {
			return t
		}
		if t.urn != "" && strings.EqualFold(p.URN, t.urn) {
			return t
		}
	}
	return nil
}

// applyEntOps works out the values a user holds of t after ops, from
// those it holds now.
func (t *entType) applyEntOps(def *bridge.AttrDef, held []entValue, ops []entOp) ([]entValue, error) {
	set := append([]entValue(nil), held...)
	matches := func(v entValue, x bridge.Expr) bool {
		return bridge.MatchValue(def, x, map[string]any{"value": v.id, "display": v.display, "type": t.name})
	}
	removeWhere := func(keep func(entValue) bool) {
		out := set[:0:0]
		for _, v := range set {
			if keep(v) {
				out = append(out, v)
			}
		}
		set = out
	}
	for _, o := range ops {
		var vals []entValue
		if o.hasVal {
			var err error
			if vals, err = t.valuesOf(o.value); err != nil {
				return nil, err
			}
		}
		switch o.op {
		case "add":
			set = dedupe(append(set, vals...))
		case "replace":
			if o.filter != nil {
				removeWhere(func(v entValue) bool { return !matches(v, o.filter) })
				set = dedupe(append(set, vals...))
			} else {
				set = dedupe(vals)
			}
		case "remove":
			switch {
			case o.filter != nil:
				removeWhere(func(v entValue) bool { return !matches(v, o.filter) })
			case o.hasVal:
				// Entra and Okta send a remove of members with the values
				// to take: the same shape here.
				gone := map[string]bool{}
				for _, v := range vals {
					gone[strings.ToLower(v.id)] = true
				}
				removeWhere(func(v entValue) bool { return !gone[strings.ToLower(v.id)] })
			default:
				set = nil
			}
		}
	}
	return set, nil
}

// entPlan is a request's value changes, checked and ready to write.
type entPlan struct {
	changes []membershipChange
}

// planValues checks what a request wants each touched type to hold and
// works out the changes from what the user holds now (held, by type; nil
// for a new user). Every id is checked before anything is written: ids no
// value has are one 400 naming them all; so is a second value of a
// single-valued type.
func (ep *endpoint) planValues(ctx context.Context, held map[*entType][]entValue, want map[*entType][]entValue) (*entPlan, error) {
	const op = "scimside.(*endpoint).planValues"
	var problems []string
	plan := &entPlan{}
	for _, t := range ep.ents {
		w, touched := want[t]
		if !touched {
			continue
		}
		if !t.multi && len(w) > 1 {
			problems = append(problems, fmt.Sprintf("%s: a user holds at most one %s, and the request gives it %d", t.label(), t.name, len(w)))
			continue
		}
		had := map[string]bool{}
		for _, v := range held[t] {
			had[strings.ToLower(v.id)] = true
		}
		wanted := map[string]bool{}
		var unknown []string
		for _, v := range w {
			wanted[strings.ToLower(v.id)] = true
			if had[strings.ToLower(v.id)] {
				continue
			}
			exists, err := valueExists(ctx, t.values, v.id)
			if err != nil {
				return nil, bridge.Wrap(op, err)
			}
			if !exists {
				unknown = append(unknown, fmt.Sprintf("%q", v.id))
				continue
			}
			plan.changes = append(plan.changes, membershipChange{kind: t.name, group: v.id, add: true})
		}
		if len(unknown) > 0 {
			problems = append(problems, fmt.Sprintf("%s: no %s has the id %s", t.label(), t.name, strings.Join(unknown, ", ")))
		}
		for _, v := range held[t] {
			if !wanted[strings.ToLower(v.id)] {
				plan.changes = append(plan.changes, membershipChange{kind: t.name, group: v.id})
			}
		}
	}
	if len(problems) > 0 {
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "%s", strings.Join(problems, "; "))
	}
	// Removals first: a single-valued type swaps its value without a
	// moment of holding two.
	var removes, adds []membershipChange
	for _, ch := range plan.changes {
		if ch.add {
			adds = append(adds, ch)
		} else {
			removes = append(removes, ch)
		}
	}
	plan.changes = append(removes, adds...)
	return plan, nil
}

// valueExists asks for the number of values with the id, so that no
// member list is read.
func valueExists(ctx context.Context, svc ResourceService, id string) (bool, error) {
	page, err := svc.List(ctx, bridge.Query{
		Filter: &bridge.CompareExpr{Path: bridge.AttrPath{Attr: "id"}, Op: bridge.OpEq, Value: id},
		Count:  0,
	})
	if err != nil {
		return false, err
	}
	return page.TotalResults > 0, nil
}

// heldAll reads what the user holds of each touched type.
func (ep *endpoint) heldAll(ctx context.Context, userID string, touched map[*entType][]entValue) (map[*entType][]entValue, error) {
	held := map[*entType][]entValue{}
	for _, t := range ep.ents {
		if _, ok := touched[t]; !ok {
			continue
		}
		vs, err := ep.heldValues(ctx, t, userID)
		if err != nil {
			return nil, err
		}
		held[t] = vs
	}
	return held, nil
}

// serviceOf is the service whose members a change writes: the groups for
// a SCIM 1.1 body's groups (kind ""), else the entitlement type's values.
// nil when the type is no longer configured (a journal record from before
// a config change).
func (ep *endpoint) serviceOf(kind string) ResourceService {
	if kind == "" {
		return ep.groups
	}
	for _, t := range ep.ents {
		if strings.EqualFold(t.name, kind) {
			return t.values
		}
	}
	return nil
}

// unknownValue is the message for a value that went away after it was
// checked.
func (ep *endpoint) unknownValue(ch membershipChange) string {
	if ch.kind == "" {
		return fmt.Sprintf("groups: no group has the id %q", ch.group)
	}
	for _, t := range ep.ents {
		if strings.EqualFold(t.name, ch.kind) {
			return fmt.Sprintf("%s: no %s has the id %q", t.label(), t.name, ch.group)
		}
	}
	return fmt.Sprintf("no %s has the id %q", ch.kind, ch.group)
}

// bodyValues takes the entitlement attributes out of a SCIM 2.0 POST or
// PUT body: the users service does not know them.
func (ep *endpoint) bodyValues(c *call, in *bridge.Resource) (map[*entType][]entValue, error) {
	if !ep.entitlementsFor(c) {
		return nil, nil
	}
	return ep.takeBodyValues(in)
}

// replaceWithValues is a PUT whose body names entitlement attributes:
// each named type's values become exactly those of the body ([] or null:
// none). A type the body leaves out keeps its values: a client that does
// not manage entitlements (Entra, Okta without Identity Governance, an
// Okta app profile without the attribute) sends PUTs without them, and
// reading absence as "none" would strip every user's roles on each
// profile update.
func (ep *endpoint) replaceWithValues(ctx context.Context, id string, in bridge.Resource, want map[*entType][]entValue) (bridge.Resource, error) {
	const op = "scimside.(*endpoint).replaceWithValues"
	cur, err := ep.svc.Get(ctx, id)
	if err != nil {
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	held, err := ep.heldAll(ctx, id, want)
	if err != nil {
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	plan, err := ep.planValues(ctx, held, want)
	if err != nil {
		return bridge.Resource{}, err
	}
	return ep.writeWithMemberships(ctx, cur, plan.changes, func(ctx context.Context) (bridge.Resource, error) {
		return ep.svc.Replace(ctx, id, in)
	})
}

// patchWithValues is a PATCH with operations on entitlement attributes
// (userOps are the rest; none: the user itself is not written).
func (ep *endpoint) patchWithValues(ctx context.Context, c *call, id string, userOps []bridge.PatchOp, entOps map[*entType][]entOp) (bridge.Resource, error) {
	const op = "scimside.(*endpoint).patchWithValues"
	cur, err := ep.svc.Get(ctx, id)
	if err != nil {
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	touched := make(map[*entType][]entValue, len(entOps))
	for t := range entOps {
		touched[t] = nil
	}
	held, err := ep.heldAll(ctx, id, touched)
	if err != nil {
		return bridge.Resource{}, bridge.Wrap(op, err)
	}
	rt := ep.rtFor(c)
	want := make(map[*entType][]entValue, len(entOps))
	for t, ops := range entOps {
		def, _, _ := rt.Resolve(bridge.AttrPath{URN: t.urn, Attr: t.attr})
		w, err := t.applyEntOps(def, held[t], ops)
		if err != nil {
			return bridge.Resource{}, err
		}
		want[t] = w
	}
	plan, err := ep.planValues(ctx, held, want)
	if err != nil {
		return bridge.Resource{}, err
	}
	var write func(context.Context) (bridge.Resource, error)
	if len(userOps) > 0 {
		write = func(ctx context.Context) (bridge.Resource, error) { return ep.svc.Patch(ctx, id, userOps) }
	}
	if len(plan.changes) == 0 && write == nil {
		return cur, nil // nothing to change: what was asked is held already
	}
	return ep.writeWithMemberships(ctx, cur, plan.changes, write)
}
