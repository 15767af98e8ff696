package mapping

import (
	"context"
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

var _ bridge.MemberMapper = (*Table)(nil)

// memberRow is the row that maps a group's members, or nil.
func (t *Table) memberRow() *row {
	for _, r := range t.rows {
		if strings.EqualFold(r.path.attr, "members") && r.path.sub == "" && len(r.refTypes) > 0 && r.owner != ownerDirectory {
			return r
		}
	}
	return nil
}

// MemberPlaceholder implements bridge.MemberMapper.
func (t *Table) MemberPlaceholder() (string, string) {
	if r := t.memberRow(); r != nil {
		return r.ldap, r.placeholder
	}
	return "", ""
}

// MemberChanges implements bridge.MemberMapper: add, remove and replace of
// members (with a value list, or remove through members[value eq "…"]) become
// value-level changes of the member attribute, without reading it.
func (t *Table) MemberChanges(ctx context.Context, ops []bridge.PatchOp, refs bridge.Refs) ([]bridge.Change, bool, error) {
	const op = "mapping.(*Table).MemberChanges"
	r := t.memberRow()
	if r == nil || len(ops) == 0 {
		return nil, false, nil
	}
	for _, o := range ops {
		if !t.isMemberPath(o.Path) {
			return nil, false, nil
		}
	}
	var changes []bridge.Change
	var unknown []string
	added := false
	for _, o := range ops {
		switch strings.ToLower(o.Op) {
		case "add", "replace":
			if o.Path.Filter != nil {
				return nil, false, nil
			}
			dns, missing, err := t.refDNs(ctx, r, refs, memberItems(o.Value))
			if err != nil {
				return nil, false, err
			}
			unknown = append(unknown, missing...)
			if strings.EqualFold(o.Op, "replace") {
				if len(dns) == 0 && r.placeholder != "" {
					dns = []string{r.placeholder}
				}
				changes = append(changes, bridge.Change{Op: bridge.ChangeReplace, Attr: r.ldap, Values: dns})
				continue
			}
			if len(dns) > 0 {
				changes = append(changes, bridge.Change{Op: bridge.ChangeAdd, Attr: r.ldap, Values: dns})
				added = true
			}
		case "remove":
			var items []any
			switch {
			case o.Path.Filter != nil:
				ids, ok := idsOfFilter(o.Path.Filter)
				if !ok {
					return nil, false, nil
				}
				for _, id := range ids {
					items = append(items, id)
				}
			case !isBlank(o.Value):
				items = memberItems(o.Value)
			default:
				var vals []string
				if r.placeholder != "" {
					vals = []string{r.placeholder}
				}
				changes = append(changes, bridge.Change{Op: bridge.ChangeReplace, Attr: r.ldap, Values: vals})
				continue
			}
			// Removing a member that does not exist is removing an absent
			// member: nothing to do, and no error.
			dns, _, err := t.refDNs(ctx, r, refs, items)
			if err != nil {
				return nil, false, err
			}
			if len(dns) > 0 {
				changes = append(changes, bridge.Change{Op: bridge.ChangeDelete, Attr: r.ldap, Values: dns})
			}
		default:
			return nil, false, nil
		}
	}
	if len(unknown) > 0 {
		return nil, false, bridge.Errorf(op, bridge.KindInvalidValue, "%s", strings.Join(unknown, "; "))
	}
	if added && r.placeholder != "" {
		// Real members are in: the placeholder goes, in the same write.
		changes = append(changes, bridge.Change{Op: bridge.ChangeDelete, Attr: r.ldap, Values: []string{r.placeholder}})
	}
	return changes, true, nil
}

func (t *Table) isMemberPath(p *bridge.PatchPath) bool {
	if p == nil || p.Sub != "" || p.Attr.Sub != "" || !strings.EqualFold(p.Attr.Attr, "members") {
		return false
	}
	return p.Attr.URN == "" || strings.EqualFold(p.Attr.URN, t.coreURN)
}

func isBlank(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	}
	return false
}

// memberItems turns a PATCH value (one member or a list; objects or bare
// ids) into a list.
func memberItems(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case map[string]any:
		// Okta's path-less style sometimes wraps the list: {"members": [...]}.
		if inner, ok := getFold(x, "members"); ok {
			return memberItems(inner)
		}
		return []any{x}
	}
	return []any{v}
}

// refDNs resolves reference items (bare ids or {value, type} objects) to
// DNs; ids that resolve to nothing are returned as messages naming them.
func (t *Table) refDNs(ctx context.Context, r *row, refs bridge.Refs, items []any) (dns, unknown []string, err error) {
	type ref struct{ id, typ string }
	var named []ref
	for _, it := range items {
		var id, typ string
		switch x := it.(type) {
		case string:
			id = x
		case map[string]any:
			iv, _ := getFold(x, "value")
			id, _ = iv.(string)
			tv, _ := getFold(x, "type")
			typ, _ = tv.(string)
		}
		if id != "" {
			named = append(named, ref{id, typ})
		}
	}
	// Many ids: one search per type for all of them, not one per id;
	// each id is still looked for in the types dnForID would try, in the
	// same order.
	var found map[string]map[string]string // type -> lower-case id -> DN
	if br, ok := refs.(bridge.BatchIDRefs); ok && len(named) > 1 {
		found = map[string]map[string]string{}
		for _, rt := range r.refTypes {
			var ids []string
			for _, n := range named {
				for _, x := range refTypesToTry(r.refTypes, n.typ) {
					if x == rt {
						ids = append(ids, n.id)
						break
					}
					if _, ok := found[x][strings.ToLower(n.id)]; ok {
						break // found in a type tried before
					}
				}
			}
			if len(ids) == 0 {
				continue
			}
			if found[rt], err = br.DNsForIDs(ctx, rt, ids); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, n := range named {
		var dn string
		var err error
		if found != nil {
			err = bridge.Errorf("mapping.(*Table).refDNs", bridge.KindNotFound, "")
			for _, x := range refTypesToTry(r.refTypes, n.typ) {
				if d, ok := found[x][strings.ToLower(n.id)]; ok {
					dn, err = d, nil
					break
				}
			}
		} else {
			dn, err = t.dnForID(ctx, refs, r.refTypes, n.typ, n.id)
		}
		if err != nil {
			if bridge.KindOf(err) == bridge.KindNotFound {
				unknown = append(unknown, fmt.Sprintf("%s: no %s with id %q", r.path.attr, strings.Join(r.refTypes, " or "), n.id))
				continue
			}
			return nil, nil, err
		}
		dns = append(dns, dn)
	}
	return dns, unknown, nil
}

// idsOfFilter reads `value eq "a"`, or an or-chain of such terms, as ids.
func idsOfFilter(x bridge.Expr) ([]string, bool) {
	switch e := x.(type) {
	case *bridge.CompareExpr:
		name := e.Path.Attr
		if e.Path.Sub != "" {
			name = e.Path.Sub
		}
		s, ok := e.Value.(string)
		if e.Op != bridge.OpEq || !strings.EqualFold(name, "value") || !ok {
			return nil, false
		}
		return []string{s}, true
	case *bridge.LogicalExpr:
		if e.Op != "or" {
			return nil, false
		}
		l, ok := idsOfFilter(e.Left)
		if !ok {
			return nil, false
		}
		r, ok := idsOfFilter(e.Right)
		if !ok {
			return nil, false
		}
		return append(l, r...), true
	}
	return nil, false
}
