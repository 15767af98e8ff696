package mapping

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// EntitlementMapper maps the values of one entitlement type (directory
// groups) to read-only SCIM resources, and a user's assignment to a value
// to one member value of the group. It is the Mapper of a *bridge.Service,
// so that listing, paging, filtering and the member fast path are the ones
// /Groups has.
type EntitlementMapper struct {
	t         *EntitlementType
	rt        *bridge.ResourceType
	attrs     []string
	objFilter *bridge.Filter
}

var (
	_ bridge.Mapper         = (*EntitlementMapper)(nil)
	_ bridge.MemberMapper   = (*EntitlementMapper)(nil)
	_ bridge.SearchScoper   = (*EntitlementMapper)(nil)
	_ bridge.ReadOnlyMapper = (*EntitlementMapper)(nil)
	_ bridge.IDAttrMapper   = (*EntitlementMapper)(nil)
)

// NewEntitlementMapper returns the mapper of t, which must come from
// LoadEntitlements or ParseEntitlements (and is not changed after).
func NewEntitlementMapper(t *EntitlementType) *EntitlementMapper {
	m := &EntitlementMapper{t: t}
	readOnly := func(name string, required bool, desc string) bridge.AttrDef {
		return bridge.AttrDef{Name: name, Type: bridge.TypeString, Required: required, Mutability: "readOnly",
			Returned: "default", Uniqueness: "none", Description: desc}
	}
	m.rt = &bridge.ResourceType{
		Name:     t.Name,
		Endpoint: t.Endpoint,
		Schema: bridge.SchemaDef{
			ID:          t.Schema,
			Name:        t.Name,
			Description: t.Description,
			Attrs: []bridge.AttrDef{
				readOnly("displayName", true, "The value's name, as the directory shows it."),
				readOnly("type", false, "The entitlement type the value belongs to: "+t.Name+"."),
				readOnly("description", false, "What holding the value grants."),
				{
					// Not part of the value's shape: it is how a user's
					// holdings are found (filter) and written (PATCH).
					Name: "members", Type: bridge.TypeComplex, MultiValued: true, Mutability: "writeOnly",
					Returned: "never", Uniqueness: "none", Description: "The users who hold the value.",
					SubAttrs: []bridge.AttrDef{{Name: "value", Type: bridge.TypeString, Mutability: "writeOnly",
						Returned: "never", Uniqueness: "none", Description: "A user's id."}},
				},
			},
		},
	}
	m.attrs = []string{"objectClass", t.DisplayAttr}
	if t.DescAttr != "" && !strings.EqualFold(t.DescAttr, t.DisplayAttr) {
		m.attrs = append(m.attrs, t.DescAttr)
	}
	if t.IDAttr != "" && !slices.ContainsFunc(m.attrs, func(a string) bool { return strings.EqualFold(a, t.IDAttr) }) {
		m.attrs = append(m.attrs, t.IDAttr)
	}
	m.objFilter = t.Filter
	if t.IDAttr != "" {
		// A value without the id attribute has no id to be listed,
		// fetched or assigned by: the directory leaves it out, so that
		// totalResults counts only what can be shown.
		m.objFilter = bridge.Present(t.IDAttr)
		if t.Filter != nil {
			m.objFilter = bridge.And(t.Filter, m.objFilter)
		}
	}
	return m
}

// IDAttr implements bridge.IDAttrMapper: the attribute whose value is a
// value's SCIM id ("" = the entry's immutable id, which survives renames).
func (m *EntitlementMapper) IDAttr() string { return m.t.IDAttr }

// Type returns the entitlement type m maps.
func (m *EntitlementMapper) Type() *EntitlementType { return m.t }

// ResourceType implements bridge.Mapper.
func (m *EntitlementMapper) ResourceType() *bridge.ResourceType { return m.rt }

// Container implements bridge.Mapper.
func (m *EntitlementMapper) Container() string { return m.t.Container }

// ObjectFilter implements bridge.Mapper.
// With an id attribute, only entries that hold it.
func (m *EntitlementMapper) ObjectFilter() *bridge.Filter { return m.objFilter }

// DirectoryAttrs implements bridge.Mapper. The member attribute is not
// among them: a value's holders are never shown, and a role held by 50,000
// users must not cost 50,000 values per list page.
func (m *EntitlementMapper) DirectoryAttrs() []string { return m.attrs }

// SortAttr implements bridge.Mapper.
func (m *EntitlementMapper) SortAttr() string { return m.t.DisplayAttr }

// SearchScope implements bridge.SearchScoper.
func (m *EntitlementMapper) SearchScope() bridge.Scope {
	if m.t.Scope == "one" {
		return bridge.ScopeOne
	}
	return bridge.ScopeSub
}

// ReadOnly implements bridge.ReadOnlyMapper: values are never deleted
// over SCIM.
func (m *EntitlementMapper) ReadOnly() bool { return true }

// readOnlyErr refuses a write of the value itself.
func (m *EntitlementMapper) readOnlyErr(op string) error {
	return bridge.Errorf(op, bridge.KindMethodNotAllowed,
		"%s values are the directory's and read-only over SCIM; create, rename and delete them in the directory", m.t.Name)
}

// NewEntry implements bridge.Mapper: values are not created over SCIM.
func (m *EntitlementMapper) NewEntry(context.Context, bridge.Resource, bridge.Refs) (*bridge.EntryPlan, error) {
	return nil, m.readOnlyErr("mapping.(*EntitlementMapper).NewEntry")
}

// Changes implements bridge.Mapper: values are not changed over SCIM
// (only their members, through MemberChanges).
func (m *EntitlementMapper) Changes(context.Context, *bridge.Entry, bridge.Resource, bridge.Refs) (*bridge.EntryPlan, error) {
	return nil, m.readOnlyErr("mapping.(*EntitlementMapper).Changes")
}

// Resource implements bridge.Mapper.
func (m *EntitlementMapper) Resource(_ context.Context, e *bridge.Entry, _ bridge.Refs) (bridge.Resource, error) {
	name := e.First(m.t.DisplayAttr)
	if name == "" {
		// displayName is required: a group without the attribute still
		// has a name, its RDN's value.
		if rdns, err := bridge.ParseDN(e.DN); err == nil && len(rdns) > 0 && len(rdns[0]) > 0 {
			name = rdns[0][0].Value
		}
	}
	attrs := map[string]any{"displayName": name, "type": m.t.Name}
	if m.t.DescAttr != "" {
		if d := e.First(m.t.DescAttr); d != "" {
			attrs["description"] = d
		}
	}
	id := e.ID
	if m.t.IDAttr != "" {
		id = e.First(m.t.IDAttr)
	}
	return bridge.Resource{ID: id, Attrs: attrs}, nil
}

// maxEntFilterDepth bounds recursion on hostile filters.
const maxEntFilterDepth = 64

func entFilterErr(format string, args ...any) error {
	return bridge.Errorf("mapping.(*EntitlementMapper).Filter", bridge.KindInvalidFilter, format, args...)
}

// Filter implements bridge.Mapper: id, displayName, description, type and
// members.value (which values a user holds).
func (m *EntitlementMapper) Filter(ctx context.Context, x bridge.Expr, refs bridge.Refs) (*bridge.Filter, error) {
	const op = "mapping.(*EntitlementMapper).Filter"
	f, err := m.filter(ctx, x, refs, 0, false)
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	return f, nil
}

// filter translates x; inMembers is set inside members[...], where paths
// name members' sub-attributes.
func (m *EntitlementMapper) filter(ctx context.Context, x bridge.Expr, refs bridge.Refs, depth int, inMembers bool) (*bridge.Filter, error) {
	if depth > maxEntFilterDepth {
		return nil, entFilterErr("the filter is nested too deeply")
	}
	switch e := x.(type) {
	case *bridge.LogicalExpr:
		l, err := m.filter(ctx, e.Left, refs, depth+1, inMembers)
		if err != nil {
			return nil, err
		}
		r, err := m.filter(ctx, e.Right, refs, depth+1, inMembers)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(e.Op, "and") {
			return and(l, r), nil
		}
		return or(l, r), nil
	case *bridge.NotExpr:
		k, err := m.filter(ctx, e.X, refs, depth+1, inMembers)
		if err != nil {
			return nil, err
		}
		return not(k), nil
	case *bridge.ValuePathExpr:
		if inMembers || !m.ownPath(e.Path) || !strings.EqualFold(e.Path.Attr, "members") || e.Path.Sub != "" {
			return nil, entFilterErr("%s[...]: only members[value eq \"<user id>\"] is a value filter here", e.Path)
		}
		return m.filter(ctx, e.Filter, refs, depth+1, true)
	case *bridge.CompareExpr:
		if inMembers {
			if e.Path.URN != "" || e.Path.Sub != "" || !strings.EqualFold(e.Path.Attr, "value") {
				return nil, entFilterErr("members[%s]: only value can be compared", e.Path)
			}
			return m.membersFilter(ctx, e, refs)
		}
		return m.compare(ctx, e, refs)
	}
	return nil, entFilterErr("unsupported filter")
}

// ownPath reports whether p is in the type's schema (no URN or its own).
func (m *EntitlementMapper) ownPath(p bridge.AttrPath) bool {
	return p.URN == "" || strings.EqualFold(p.URN, m.t.Schema)
}

func (m *EntitlementMapper) compare(ctx context.Context, e *bridge.CompareExpr, refs bridge.Refs) (*bridge.Filter, error) {
	p := e.Path
	if !m.ownPath(p) {
		return nil, entFilterErr("attribute %s is not an attribute of %s", p, m.t.Name)
	}
	attr := strings.ToLower(p.Attr)
	if attr == "members" {
		if p.Sub != "" && !strings.EqualFold(p.Sub, "value") {
			return nil, entFilterErr("members.%s: only members.value can be compared", p.Sub)
		}
		return m.membersFilter(ctx, e, refs)
	}
	if p.Sub != "" {
		return nil, entFilterErr("attribute %s is not an attribute of %s", p, m.t.Name)
	}
	var s string
	if e.Op != bridge.OpPr {
		v, ok := e.Value.(string)
		if !ok {
			return nil, entFilterErr("%s is compared with a string", p)
		}
		s = v
	}
	switch attr {
	case "id":
		idAttr := bridge.VirtualID
		if m.t.IDAttr != "" {
			idAttr = m.t.IDAttr
		}
		switch e.Op {
		case bridge.OpPr:
			return bridge.MatchAll(), nil // ObjectFilter admits only values with an id
		case bridge.OpEq:
			return bridge.Eq(idAttr, s), nil
		case bridge.OpNe:
			return not(bridge.Eq(idAttr, s)), nil
		}
		return nil, entFilterErr("id can only be compared with eq, ne or pr")
	case "type":
		// Every value of this endpoint is of this type.
		switch {
		case e.Op == bridge.OpPr:
			return bridge.MatchAll(), nil
		case e.Op == bridge.OpEq && strings.EqualFold(s, m.t.Name), e.Op == bridge.OpNe && !strings.EqualFold(s, m.t.Name):
			return bridge.MatchAll(), nil
		case e.Op == bridge.OpEq, e.Op == bridge.OpNe:
			return bridge.MatchNone(), nil
		}
		return nil, entFilterErr("type can only be compared with eq, ne or pr")
	case "displayname":
		return stringFilter(m.t.DisplayAttr, e.Op, s, "displayName")
	case "description":
		if m.t.DescAttr == "" {
			// The type maps no description: no value has one.
			if e.Op == bridge.OpNe {
				return bridge.MatchAll(), nil
			}
			return bridge.MatchNone(), nil
		}
		return stringFilter(m.t.DescAttr, e.Op, s, "description")
	case "meta", "schemas", "externalid":
		return nil, entFilterErr("attribute %s cannot be filtered on", p)
	}
	return nil, entFilterErr("attribute %s is not an attribute of %s", p, m.t.Name)
}

// stringFilter is a comparison of a string attribute, left to the
// directory's matching rule (case-insensitive for names).
func stringFilter(attr string, op bridge.CompareOp, s, name string) (*bridge.Filter, error) {
	switch op {
	case bridge.OpPr:
		return bridge.Present(attr), nil
	case bridge.OpEq:
		return bridge.Eq(attr, s), nil
	case bridge.OpNe:
		return not(bridge.Eq(attr, s)), nil
	case bridge.OpCo:
		if s == "" {
			return bridge.Present(attr), nil
		}
		return bridge.Substrings(attr, "", []string{s}, ""), nil
	case bridge.OpSw:
		if s == "" {
			return bridge.Present(attr), nil
		}
		return bridge.Substrings(attr, s, nil, ""), nil
	case bridge.OpEw:
		if s == "" {
			return bridge.Present(attr), nil
		}
		return bridge.Substrings(attr, "", nil, s), nil
	}
	return nil, entFilterErr("%s can only be compared with eq, ne, co, sw, ew or pr", name)
}

// membersFilter is "the values user <id> holds": the groups whose member
// attribute names the user's DN, directly or (nested) through other groups.
func (m *EntitlementMapper) membersFilter(ctx context.Context, e *bridge.CompareExpr, refs bridge.Refs) (*bridge.Filter, error) {
	if e.Op != bridge.OpEq {
		return nil, entFilterErr("members.value can only be compared with eq (a user's id)")
	}
	id, ok := e.Value.(string)
	if !ok {
		return nil, entFilterErr("members.value is compared with a user's id, a string")
	}
	if id == "" {
		return bridge.MatchNone(), nil
	}
	dn, err := refs.DNForID(ctx, "User", id)
	if err != nil {
		if bridge.KindOf(err) == bridge.KindNotFound {
			return bridge.MatchNone(), nil // no such user holds nothing
		}
		return nil, err
	}
	if m.t.Nested {
		return bridge.InChain(m.t.Member, dn), nil
	}
	return bridge.Eq(m.t.Member, dn), nil
}

// MemberPlaceholder implements bridge.MemberMapper.
func (m *EntitlementMapper) MemberPlaceholder() (string, string) {
	return m.t.Member, m.t.Placeholder
}

// MemberChanges implements bridge.MemberMapper: "add" and "remove" of
// members, each a user's id (a list of {"value": id} or bare ids, or
// remove through members[value eq "id"]), become value-level changes of the
// member attribute. Everything else would change the value itself or
// replace its holders wholesale (taking the value from users the request
// does not name), and is refused.
func (m *EntitlementMapper) MemberChanges(ctx context.Context, ops []bridge.PatchOp, refs bridge.Refs) ([]bridge.Change, bool, error) {
	const op = "mapping.(*EntitlementMapper).MemberChanges"
	if len(ops) == 0 {
		return nil, true, nil
	}
	var changes []bridge.Change
	var unknown []string
	added := false
	for _, o := range ops {
		verb := strings.ToLower(o.Op)
		items, filter, err := m.memberOp(o)
		if err != nil {
			return nil, false, bridge.Wrap(op, err)
		}
		switch {
		case verb == "add" && filter == nil && len(items) > 0:
			dns, missing, err := m.userDNs(ctx, refs, items)
			if err != nil {
				return nil, false, bridge.Wrap(op, err)
			}
			unknown = append(unknown, missing...)
			if len(dns) > 0 {
				changes = append(changes, bridge.Change{Op: bridge.ChangeAdd, Attr: m.t.Member, Values: dns})
				added = true
			}
		case verb == "remove" && (filter != nil || len(items) > 0):
			if filter != nil {
				ids, ok := idsOfFilter(filter)
				if !ok {
					return nil, false, bridge.Errorf(op, bridge.KindInvalidPath, "members[%v]: only value eq \"<user id>\" (or an or of them) selects members", filter)
				}
				for _, id := range ids {
					items = append(items, id)
				}
			}
			// Taking a value from a user who does not exist (or does not
			// hold it) leaves things as asked: no error.
			dns, _, err := m.userDNs(ctx, refs, items)
			if err != nil {
				return nil, false, bridge.Wrap(op, err)
			}
			if len(dns) > 0 {
				changes = append(changes, bridge.Change{Op: bridge.ChangeDelete, Attr: m.t.Member, Values: dns})
			}
		case verb == "add" || verb == "remove":
			return nil, false, bridge.Errorf(op, bridge.KindInvalidValue,
				"%s %s: name the users, e.g. {\"op\":%q,\"path\":\"members\",\"value\":[{\"value\":\"<user id>\"}]}", verb, m.t.Name, verb)
		default:
			return nil, false, bridge.Errorf(op, bridge.KindMethodNotAllowed,
				"%s values are read-only over SCIM: only add and remove of members (users' ids) are accepted", m.t.Name)
		}
	}
	if len(unknown) > 0 {
		return nil, false, bridge.Errorf(op, bridge.KindInvalidValue, "%s", strings.Join(unknown, "; "))
	}
	if added && m.t.Placeholder != "" {
		// A real holder is in: the placeholder goes, in the same write.
		changes = append(changes, bridge.Change{Op: bridge.ChangeDelete, Attr: m.t.Member, Values: []string{m.t.Placeholder}})
	}
	return changes, true, nil
}

// memberOp reads one op on members: its items and its value filter. Any
// other path is a write of the value itself.
func (m *EntitlementMapper) memberOp(o bridge.PatchOp) (items []any, filter bridge.Expr, err error) {
	p := o.Path
	if p == nil {
		// Path-less: {"members": [...]} and nothing else.
		obj, ok := o.Value.(map[string]any)
		if !ok || len(obj) != 1 {
			return nil, nil, m.readOnlyErr("mapping.(*EntitlementMapper).MemberChanges")
		}
		if _, ok := getFold(obj, "members"); !ok {
			return nil, nil, m.readOnlyErr("mapping.(*EntitlementMapper).MemberChanges")
		}
		return memberItems(o.Value), nil, nil
	}
	if !m.ownPath(p.Attr) || p.Attr.Sub != "" || p.Sub != "" || !strings.EqualFold(p.Attr.Attr, "members") {
		return nil, nil, m.readOnlyErr("mapping.(*EntitlementMapper).MemberChanges")
	}
	if isBlank(o.Value) {
		return nil, p.Filter, nil
	}
	return memberItems(o.Value), p.Filter, nil
}

// userDNs resolves items (bare ids or {"value": id}) to users' DNs;
// ids that name no user come back as messages naming them.
func (m *EntitlementMapper) userDNs(ctx context.Context, refs bridge.Refs, items []any) (dns, unknown []string, err error) {
	seen := map[string]bool{}
	for _, it := range items {
		var id string
		switch x := it.(type) {
		case string:
			id = x
		case map[string]any:
			v, _ := getFold(x, "value")
			s, ok := v.(string)
			if !ok {
				unknown = append(unknown, "members: each member is {\"value\": \"<user id>\"}")
				continue
			}
			id = s
		default:
			unknown = append(unknown, "members: each member is {\"value\": \"<user id>\"}")
			continue
		}
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		dn, err := refs.DNForID(ctx, "User", id)
		if err != nil {
			if bridge.KindOf(err) == bridge.KindNotFound {
				unknown = append(unknown, fmt.Sprintf("members: no User with id %q", id))
				continue
			}
			return nil, nil, err
		}
		dns = append(dns, dn)
	}
	return dns, unknown, nil
}
