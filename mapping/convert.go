package mapping

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// ResourceType implements bridge.Mapper. The returned value is shared:
// callers must not modify it.
func (t *Table) ResourceType() *bridge.ResourceType { return t.rt }

// Container implements bridge.Mapper.
func (t *Table) Container() string { return t.container }

// ObjectFilter implements bridge.Mapper: every object class of the table but
// "top".
func (t *Table) ObjectFilter() *bridge.Filter {
	var kids []*bridge.Filter
	for _, oc := range t.objectClasses {
		if !strings.EqualFold(oc, "top") {
			kids = append(kids, bridge.Eq("objectClass", oc))
		}
	}
	switch len(kids) {
	case 0:
		return bridge.Present("objectClass")
	case 1:
		return kids[0]
	}
	return bridge.And(kids...)
}

// DirectoryAttrs implements bridge.Mapper. It includes the attributes of
// one-way rows: Changes compares them with what they should be.
func (t *Table) DirectoryAttrs() []string { return append([]string(nil), t.dirAttrs...) }

// ListAttrs implements bridge.ListMapper: DirectoryAttrs without
// objectClass, which only writes plan with, unless a row maps it.
func (t *Table) ListAttrs() []string { return append([]string(nil), t.listAttrs...) }

// buildListAttrs is ListAttrs, computed once with the table: every list
// page asks for it.
func (t *Table) buildListAttrs() []string {
	out := make([]string, 0, len(t.dirAttrs))
	for _, a := range t.dirAttrs {
		if strings.EqualFold(a, "objectClass") && !t.rowReads(a) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// rowReads reports whether a row, the RDN or the sort order reads the
// directory attribute a.
func (t *Table) rowReads(a string) bool {
	if strings.EqualFold(t.rdnAttr, a) || strings.EqualFold(t.sortAttr, a) {
		return true
	}
	for _, r := range t.rows {
		if strings.EqualFold(r.ldap, a) {
			return true
		}
	}
	return false
}

// SortAttr implements bridge.Mapper.
func (t *Table) SortAttr() string { return t.sortAttr }

// NestedGroups reports whether the table reads a user's groups through
// nested groups, which only some directories can evaluate (AD's
// LDAP_MATCHING_RULE_IN_CHAIN).
func (t *Table) NestedGroups() bool {
	for _, r := range t.rows {
		if r.nested {
			return true
		}
	}
	return false
}

// Aliases returns, for each extension that declares them, its other names
// (SCIM 1.1 URNs) mapped to its canonical URN, for the SCIM 1.1 codec.
func (t *Table) Aliases() map[string]string {
	out := map[string]string{}
	for _, e := range t.exts {
		for _, a := range e.aliases {
			out[a] = e.urn
		}
	}
	return out
}

// Resource implements bridge.Mapper.
func (t *Table) Resource(ctx context.Context, e *bridge.Entry, refs bridge.Refs) (bridge.Resource, error) {
	const op = "mapping.(*Table).Resource"
	attrs := map[string]any{}
	typed := map[string]map[string]any{} // attr|type → the value being assembled
	ev := t.entryValues(e)
	for _, r := range t.rows {
		if r.kind == kindOneWay {
			continue
		}
		vals := ev.of(r)
		if r.nested {
			// The directory listed the groups through nested groups too
			// (the row's memberOf holds only the direct ones).
			vals = ev.get(bridge.VirtualNestedGroups)
		}
		if r.kind == kindRef {
			if err := t.readRef(ctx, attrs, r, vals, refs); err != nil {
				return bridge.Resource{}, bridge.Wrap(op, err)
			}
			continue
		}
		var got []any
		for _, v := range vals {
			x, ok := fromLDAP(applyRead(r.xf, v), r.valueDef())
			if ok {
				got = append(got, x)
			}
			if !r.multi && len(got) == 1 {
				break
			}
		}
		if len(got) == 0 {
			continue
		}
		h := holder(attrs, r.path.urn, t.coreURN, true)
		top := r.path.top
		switch r.kind {
		case kindScalar:
			if r.path.sub == "" {
				h[top.Name] = got[0]
				break
			}
			m, _ := h[top.Name].(map[string]any)
			if m == nil {
				m = map[string]any{}
				h[top.Name] = m
			}
			m[r.path.sub] = got[0]
		case kindMultiSimple:
			h[top.Name] = got
		case kindWhole:
			list, _ := h[top.Name].([]any)
			for _, g := range got {
				item := map[string]any{"value": g}
				if r.itemType != "" {
					item["type"] = r.itemType
				}
				list = append(list, item)
			}
			h[top.Name] = list
		case kindTyped:
			list, _ := h[top.Name].([]any)
			if r.multi {
				for _, g := range got {
					list = append(list, map[string]any{"type": r.path.typ, r.path.sub: g})
				}
				h[top.Name] = list
				break
			}
			key := strings.ToLower(r.path.urn + "|" + top.Name + "|" + r.path.typ)
			item := typed[key]
			if item == nil {
				item = map[string]any{"type": r.path.typ}
				typed[key] = item
				list = append(list, item)
				h[top.Name] = list
			}
			item[r.path.sub] = got[0]
		}
	}
	t.hideDerived(ev, attrs)
	// The first value of a whole multi-valued attribute is its primary one:
	// the directory keeps no flag, and writing puts the primary value first.
	for _, r := range t.rows {
		if r.kind != kindWhole || r.path.top.Sub("primary") == nil {
			continue
		}
		h := holder(attrs, r.path.urn, t.coreURN, false)
		if list, ok := h[r.path.top.Name].([]any); ok && len(list) > 0 {
			list[0].(map[string]any)["primary"] = true
		}
	}
	return bridge.Resource{Attrs: attrs}, nil
}

// hideDerived leaves out of a read resource the values that a row's
// fallback template made, not the client: a user created with only a
// userName has sn = its userName in the directory (person needs an sn), and
// showing that back as name.familyName would claim a surname nobody sent.
// The directory keeps no mark of where a value came from, so a value is
// taken as derived when it is exactly what the fallback gives for the rest
// of the resource as read back; a family name a client sent that happens to
// equal it (familyName = displayName) reads back absent, the one ambiguity.
// Writing the resource read back computes the same fallback, so
// Changes(e, Resource(e)) stays empty.
func (t *Table) hideDerived(e entryValues, attrs map[string]any) {
	for _, r := range t.rows {
		// A userName kept as the UPN is what the client sent, even when
		// it equals what the templates would derive.
		if r.kind != kindScalar || len(r.tmpls) == 0 || r.owner == ownerDirectory || r.upnFB != nil {
			continue
		}
		stored := e.of(r)
		if len(stored) == 0 {
			continue
		}
		h := holder(attrs, r.path.urn, t.coreURN, false)
		if h == nil {
			continue
		}
		if r.path.sub != "" {
			m, _ := h[r.path.top.Name].(map[string]any)
			if _, ok := m[r.path.sub]; !ok {
				continue
			}
		} else if _, ok := h[r.path.top.Name]; !ok {
			continue
		}
		// The fallback is computed as writing would: over the resource
		// without this row's own value. This runs on every read (imports
		// walk the whole directory), so the copy is made only when a
		// template names the row's own attribute.
		without := attrs
		if r.reads(r.path.top.Name) {
			without = withoutRowValue(attrs, r, t.coreURN)
		}
		var derived []string
		for _, tm := range r.tmpls {
			s, err := tm.render(t, without)
			if err != nil {
				break
			}
			if derived = cleanTmpl(r, []string{s}); len(derived) > 0 {
				break
			}
		}
		if len(derived) == 0 || derived[0] != stored[0] || t.needed(e, r, attrs, withoutRowValue(attrs, r, t.coreURN)) {
			continue
		}
		t.dropValue(attrs, r)
	}
	// After the rows above: what they hid was not there when the one-way
	// values were computed.
	for _, r := range t.rows {
		if r.kind == kindScalar && r.owner == ownerDirectory && t.fallbackOnly(r, attrs) {
			t.dropValue(attrs, r)
		}
	}
}

// fallbackOnly reports whether directory-owned row r shows a value that a
// one-way row (or the RDN) computed from its last resorts only:
// name.formatted reads the cn computed as "given family", and a user sent
// without any name parts has the cn of its userName, which is no formatted
// name.
func (t *Table) fallbackOnly(r *row, attrs map[string]any) bool {
	for _, o := range t.rows {
		if o.kind != kindOneWay || len(o.tmpls) < 2 || !strings.EqualFold(o.ldap, r.ldap) {
			continue
		}
		first, err := o.tmpls[0].render(t, attrs)
		return err == nil && len(cleanTmpl(o, []string{first})) == 0
	}
	// The RDN (AD's cn) when it names the entry by its userName alone.
	if t.rdnTmpl != nil && strings.EqualFold(r.ldap, t.rdnAttr) {
		noID := make(map[string]any, len(attrs))
		for k, v := range attrs {
			if !strings.EqualFold(k, "userName") {
				noID[k] = v
			}
		}
		s, err := t.rdnTmpl.render(t, noID)
		return err == nil && s == ""
	}
	return false
}

// dropValue removes row r's value from a read resource.
func (t *Table) dropValue(attrs map[string]any, r *row) {
	h := holder(attrs, r.path.urn, t.coreURN, false)
	if h == nil {
		return
	}
	if r.path.sub == "" {
		delete(h, r.path.top.Name)
	} else if m, ok := h[r.path.top.Name].(map[string]any); ok {
		delete(m, r.path.sub)
		if len(m) == 0 {
			delete(h, r.path.top.Name)
		}
	}
	pruneEmpty(attrs, r.path.urn, t.coreURN)
}

// needed reports whether the directory shows that row r's value was there
// when the entry was written: another computed value (cn from given and
// family name) holds what it gives with the value, and not what it gives
// without. Then the value was sent (a family name equal to the display
// name), and hiding it would make the next write recompute the other one.
func (t *Table) needed(e entryValues, r *row, with, without map[string]any) bool {
	for _, o := range t.rows {
		if o == r || len(o.tmpls) == 0 || o.unique != "" || o.createOnly || !o.reads(r.path.top.Name) {
			continue
		}
		stored := e.of(o)
		if len(stored) == 0 {
			continue
		}
		a, errA := t.rowValues(context.Background(), o, with, nil)
		b, errB := t.rowValues(context.Background(), o, without, nil)
		if errA != nil || errB != nil {
			return true
		}
		if len(a) > 0 && a[0] == stored[0] && (len(b) == 0 || b[0] != stored[0]) {
			return true
		}
	}
	return false
}

// reads reports whether one of the row's templates names attribute attr.
func (r *row) reads(attr string) bool {
	for _, tm := range r.tmpls {
		for _, a := range tm.attrs {
			if a == attr || strings.HasPrefix(a, attr+".") {
				return true
			}
		}
	}
	return false
}

// withoutRowValue is a shallow copy of attrs without the value of row r
// (only the maps on the way to it are copied).
func withoutRowValue(attrs map[string]any, r *row, core string) map[string]any {
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	h := out
	if r.path.urn != "" && !strings.EqualFold(r.path.urn, core) {
		ext, _ := out[r.path.urn].(map[string]any)
		cp := make(map[string]any, len(ext))
		for k, v := range ext {
			cp[k] = v
		}
		out[r.path.urn] = cp
		h = cp
	}
	if r.path.sub == "" {
		delete(h, r.path.top.Name)
		return out
	}
	m, _ := h[r.path.top.Name].(map[string]any)
	cp := make(map[string]any, len(m))
	for k, v := range m {
		cp[k] = v
	}
	delete(cp, r.path.sub)
	h[r.path.top.Name] = cp
	return out
}

func (t *Table) readRef(ctx context.Context, attrs map[string]any, r *row, dns []string, refs bridge.Refs) error {
	h := holder(attrs, r.path.urn, t.coreURN, true)
	// Many DNs (a group's members, a user's groups) are resolved together
	// when the resolver can: a few searches instead of one per DN.
	var batch map[string]bridge.ResolvedRef
	if br, ok := refs.(bridge.BatchRefs); ok && r.multi && len(dns) > 1 {
		var err error
		if batch, err = br.IDsForDNs(ctx, dns); err != nil {
			return err
		}
	}
	var list []any
	for _, dn := range dns {
		if r.placeholder != "" && bridge.NormalizeDN(dn) == bridge.NormalizeDN(r.placeholder) {
			continue
		}
		var id, typ string
		if batch != nil {
			ref, ok := batch[bridge.NormalizeDN(dn)]
			if !ok {
				continue // dangling, as below
			}
			id, typ = ref.ID, ref.Type
		} else {
			var err error
			id, typ, err = refs.IDForDN(ctx, dn)
			if err != nil {
				if bridge.KindOf(err) == bridge.KindNotFound {
					continue // dangling: the entry it named is gone or out of scope
				}
				return err
			}
		}
		if !contains(r.refTypes, typ) {
			continue
		}
		if !r.multi {
			h[r.path.top.Name] = map[string]any{"value": id}
			break
		}
		item := map[string]any{"value": id}
		if r.path.top.Sub("type") != nil && len(r.refTypes) > 1 {
			item["type"] = typ
		}
		list = append(list, item)
	}
	if r.multi && len(list) > 0 {
		h[r.path.top.Name] = list
	}
	pruneEmpty(attrs, r.path.urn, t.coreURN)
	return nil
}

// NewEntry implements bridge.Mapper.
func (t *Table) NewEntry(ctx context.Context, r bridge.Resource, refs bridge.Refs) (*bridge.EntryPlan, error) {
	const op = "mapping.(*Table).NewEntry"
	want, err := t.desired(ctx, r, refs, true)
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	rdnVal, err := t.rdnValue(r, want)
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	container := t.containerFor(r.Attrs)
	for i, w := range want {
		if w.row.unique == "" {
			continue
		}
		if w.row.upnFB != nil && len(w.vals) > 0 {
			// The userName is the UPN, exactly: never suffixed.
			if err := t.checkUPNFree(ctx, refs, w.row, w.vals[0], container, ""); err != nil {
				return nil, bridge.Wrap(op, err)
			}
			continue
		}
		cands, err := t.candidates(w.row, r.Attrs)
		if err != nil {
			return nil, bridge.Wrap(op, err)
		}
		base, scope := t.uniqueScope(w.row, container)
		v, err := t.pickUnique(ctx, refs, w.row.ldap, cands, "", w.row.maxLen, base, scope, "")
		if err != nil {
			return nil, bridge.Wrap(op, err)
		}
		want[i].vals = nil
		if v != "" {
			want[i].vals = []string{v}
		} else if w.row.required {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "%s is required (from %s)", w.row.ldap, w.row.source())
		}
	}
	if t.rdnUnique {
		if rdnVal, err = t.pickUnique(ctx, refs, t.rdnAttr, []string{rdnVal}, " ", 0, container, bridge.ScopeOne, ""); err != nil {
			return nil, bridge.Wrap(op, err)
		}
	}
	attrs := map[string][]string{"objectClass": append([]string(nil), t.objectClasses...)}
	for _, w := range want {
		if len(w.vals) > 0 {
			attrs[w.row.ldap] = w.vals
		}
	}
	if !hasFold(attrsFold(attrs, t.rdnAttr), rdnVal) {
		k := keyFoldS(attrs, t.rdnAttr)
		attrs[k] = append(attrs[k], rdnVal)
	}
	rdn := bridge.RDN{{Type: t.rdnAttr, Value: rdnVal}}
	plan := &bridge.EntryPlan{DN: rdn.String() + "," + container, Attrs: attrs}
	if t.createMissing && !strings.EqualFold(bridge.NormalizeDN(container), bridge.NormalizeDN(t.container)) {
		plan.Containers = []string{container}
	}
	return plan, nil
}

// Changes implements bridge.Mapper.
func (t *Table) Changes(ctx context.Context, current *bridge.Entry, desired bridge.Resource, refs bridge.Refs) (*bridge.EntryPlan, error) {
	const op = "mapping.(*Table).Changes"
	want, err := t.desired(ctx, desired, refs, false)
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	rdnVal, err := t.rdnValue(desired, want)
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	plan := &bridge.EntryPlan{}
	var oldRDN string
	if rdns, err := bridge.ParseDN(current.DN); err == nil && len(rdns) > 0 {
		for _, ava := range rdns[0] {
			if strings.EqualFold(ava.Type, t.rdnAttr) {
				oldRDN = ava.Value
			}
		}
		// Placement: when the deciding attribute changed, the entry moves.
		parent := bridge.JoinDN(rdns[1:])
		if len(t.placements) > 0 {
			if target := t.containerFor(desired.Attrs); bridge.NormalizeDN(target) != bridge.NormalizeDN(parent) {
				plan.NewSuperior = target
				parent = target
				if t.createMissing && bridge.NormalizeDN(target) != bridge.NormalizeDN(t.container) {
					plan.Containers = []string{target}
				}
			}
		}
		// Names compare without regard to case, as the directory compares
		// them: a case-only change is written to the attribute, not renamed.
		// A name made unique with a suffix ("John Smith 2") stays as it is.
		keep := strings.EqualFold(oldRDN, rdnVal) || t.rdnUnique && isSuffixed(oldRDN, rdnVal)
		if t.rdnUnique && (!keep || plan.NewSuperior != "") {
			v, err := t.pickUnique(ctx, refs, t.rdnAttr, []string{rdnVal}, " ", 0, parent, bridge.ScopeOne, current.ID)
			if err != nil {
				return nil, bridge.Wrap(op, err)
			}
			rdnVal, keep = v, strings.EqualFold(oldRDN, v)
		}
		if !keep || len(rdns[0]) != 1 {
			plan.NewRDN = bridge.RDN{{Type: t.rdnAttr, Value: rdnVal}}.String()
		} else {
			rdnVal = oldRDN
		}
	} else {
		return nil, bridge.E(op, bridge.KindInternal, "", fmt.Errorf("entry %s has a malformed DN", current.ID))
	}
	for _, w := range want {
		r := w.row
		cur := current.Values(r.ldap)
		if plan.NewRDN != "" && strings.EqualFold(r.ldap, t.rdnAttr) {
			// The rename runs first and replaces the old name's value with
			// the new one; compare with what the attribute holds after it.
			var after []string
			for _, v := range cur {
				if !strings.EqualFold(v, oldRDN) {
					after = append(after, v)
				}
			}
			cur = append(after, rdnVal)
		}
		vals := w.vals
		if strings.EqualFold(r.ldap, t.rdnAttr) && !hasFold(vals, rdnVal) {
			vals = append(vals, rdnVal)
		}
		if len(vals) == 0 {
			// A derived UPN, chosen once, stays when the userName
			// changes to another that is no UPN of the forest.
			if r.owner == ownerBoth && !desired.Patched || len(cur) == 0 || r.upnFB != nil {
				continue
			}
			plan.Changes = append(plan.Changes, bridge.Change{Op: bridge.ChangeReplace, Attr: r.ldap})
			continue
		}
		if r.kind == kindRef && r.multi {
			plan.Changes = append(plan.Changes, dnDiff(r.ldap, cur, vals)...)
			continue
		}
		if sameValues(r, cur, vals) {
			continue
		}
		if r.upnFB != nil && !hasFold(cur, vals[0]) {
			if err := t.checkUPNFree(ctx, refs, r, vals[0], bridge.ParentDN(current.DN), current.ID); err != nil {
				return nil, bridge.Wrap(op, err)
			}
		}
		plan.Changes = append(plan.Changes, bridge.Change{Op: bridge.ChangeReplace, Attr: r.ldap, Values: vals})
	}
	return plan, nil
}

// sameValues reports whether the directory already holds what a row wants.
// Rows that keep all values compare in order (the first email is the
// primary one). Single-valued rows compare the first value: other values an
// administrator added are invisible to SCIM and left alone, which keeps
// Changes(e, Resource(e)) empty for every entry.
func sameValues(r *row, cur, want []string) bool {
	if r.kind == kindRef {
		return len(cur) > 0 && bridge.NormalizeDN(cur[0]) == bridge.NormalizeDN(want[0])
	}
	if r.multi {
		if len(cur) != len(want) {
			return false
		}
		for i := range cur {
			if cur[i] != want[i] {
				return false
			}
		}
		return true
	}
	if len(cur) == 0 || cur[0] != want[0] {
		return false
	}
	for _, w := range want[1:] {
		if !hasFold(cur, w) {
			return false
		}
	}
	return true
}

// dnDiff turns a wanted list of DNs into value-level adds and deletes, so
// that membership changes never rewrite a whole member list.
func dnDiff(attr string, cur, want []string) []bridge.Change {
	have := map[string]bool{}
	for _, c := range cur {
		have[bridge.NormalizeDN(c)] = true
	}
	wanted := map[string]bool{}
	var add, del []string
	for _, w := range want {
		k := bridge.NormalizeDN(w)
		if wanted[k] {
			continue
		}
		wanted[k] = true
		if !have[k] {
			add = append(add, w)
		}
	}
	for _, c := range cur {
		if !wanted[bridge.NormalizeDN(c)] {
			del = append(del, c)
		}
	}
	var out []bridge.Change
	// Adding first keeps a group that needs a member from being empty
	// in between.
	if len(add) > 0 {
		out = append(out, bridge.Change{Op: bridge.ChangeAdd, Attr: attr, Values: add})
	}
	if len(del) > 0 {
		out = append(out, bridge.Change{Op: bridge.ChangeDelete, Attr: attr, Values: del})
	}
	return out
}

// wanted is what one row wants in the directory.
type wanted struct {
	row  *row
	vals []string
}

// desired computes, for every row SCIM writes, the directory values the
// resource calls for. Missing required values and unknown references are
// collected and reported together.
func (t *Table) desired(ctx context.Context, r bridge.Resource, refs bridge.Refs, creating bool) ([]wanted, error) {
	const op = "mapping.(*Table).desired"
	if err := t.learnUPN(ctx, r); err != nil {
		return nil, bridge.Wrap(op, err)
	}
	var out []wanted
	var missing, badRefs []string
	for _, row := range t.rows {
		if row.owner == ownerDirectory || row.createOnly && !creating {
			continue
		}
		vals, err := t.rowValues(ctx, row, r.Attrs, refs)
		if err != nil {
			if bridge.KindOf(err) == bridge.KindInvalidValue {
				badRefs = append(badRefs, bridge.SafeMessage(err))
				continue
			}
			return nil, err
		}
		// A userName that is no UPN of the forest leaves the UPN to
		// NewEntry's candidates.
		if len(vals) == 0 && row.required && row.upnFB == nil {
			missing = append(missing, fmt.Sprintf("%s is required (from %s)", row.ldap, row.source()))
		}
		out = append(out, wanted{row: row, vals: vals})
	}
	if len(missing) > 0 || len(badRefs) > 0 {
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "%s", strings.Join(append(missing, badRefs...), "; "))
	}
	return out, nil
}

// source names where a row's value comes from, for messages.
func (r *row) source() string {
	var s []string
	if r.scim != "" {
		s = append(s, r.path.String())
	}
	for _, tm := range r.tmpls {
		for _, a := range tm.attrs {
			if !contains(s, a) {
				s = append(s, a)
			}
		}
	}
	if len(s) == 0 {
		return "a constant"
	}
	return strings.Join(s, ", ")
}

func (t *Table) rowValues(ctx context.Context, r *row, attrs map[string]any, refs bridge.Refs) ([]string, error) {
	var raw []string
	if r.kind == kindRef {
		return t.refValues(ctx, r, attrs, refs)
	}
	if r.kind == kindOneWay && r.hasConst {
		return []string{r.constant}, nil
	}
	if r.kind != kindOneWay {
		h := holder(attrs, r.path.urn, t.coreURN, false)
		v, _ := getFold(h, r.path.top.Name)
		def := r.valueDef()
		switch r.kind {
		case kindScalar:
			if r.path.sub != "" {
				m, _ := v.(map[string]any)
				v, _ = getFold(m, r.path.sub)
			}
			if s, ok := toLDAP(v, def); ok {
				raw = append(raw, s)
			}
		case kindMultiSimple:
			for _, x := range asList(v) {
				if s, ok := toLDAP(x, def); ok {
					raw = append(raw, s)
				}
			}
		case kindWhole:
			items := asList(v)
			// The primary value goes first: reading marks the first primary.
			for pass := 0; pass < 2; pass++ {
				for _, it := range items {
					m, ok := it.(map[string]any)
					if !ok {
						continue
					}
					p, _ := getFold(m, "primary")
					if (p == true) != (pass == 0) {
						continue
					}
					x, _ := getFold(m, "value")
					if s, ok := toLDAP(x, def); ok {
						raw = append(raw, s)
					}
				}
			}
		case kindTyped:
			for _, it := range asList(v) {
				m, ok := it.(map[string]any)
				if !ok {
					continue
				}
				typ, _ := getFold(m, "type")
				if ts, _ := typ.(string); !strings.EqualFold(ts, r.path.typ) {
					continue
				}
				x, _ := getFold(m, r.path.sub)
				if s, ok := toLDAP(x, def); ok {
					raw = append(raw, s)
					if !r.multi {
						break
					}
				}
			}
		}
	}
	vals := clean(r, raw)
	if r.upnFB != nil || r.upnOf != nil {
		// The UPN row's templates are its unique candidates (NewEntry).
		return t.upnValues(r, vals), nil
	}
	if len(vals) == 0 {
		for _, tm := range r.tmpls {
			s, err := tm.render(t, attrs)
			if err != nil {
				return nil, bridge.E("mapping.(*Table).rowValues", bridge.KindInternal, "", err)
			}
			if vals = cleanTmpl(r, []string{s}); len(vals) > 0 {
				break
			}
		}
	}
	if len(vals) == 0 && r.hasDflt {
		vals = clean(r, []string{r.dflt})
	}
	return vals, nil
}

// cleanTmpl is clean for what a row's templates made: with the row's
// template_transform when it has one.
func cleanTmpl(r *row, raw []string) []string {
	if r.txf == nil {
		return clean(r, raw)
	}
	cp := *r
	cp.xf = r.txf
	return clean(&cp, raw)
}

// clean applies a row's transforms, drops empty values and duplicates (the
// directory refuses two values that match equal), and keeps one value for
// single-valued rows.
func clean(r *row, raw []string) []string {
	var out []string
	for _, s := range raw {
		s = applyWrite(r.xf, s)
		if strings.TrimSpace(s) == "" || hasFold(out, s) {
			continue
		}
		out = append(out, s)
		if !r.multi {
			break
		}
	}
	return out
}

func (t *Table) refValues(ctx context.Context, r *row, attrs map[string]any, refs bridge.Refs) ([]string, error) {
	h := holder(attrs, r.path.urn, t.coreURN, false)
	v, _ := getFold(h, r.path.top.Name)
	var items []any
	if r.multi {
		items = asList(v)
	} else if v != nil {
		items = []any{v}
	}
	out, unknown, err := t.refDNs(ctx, r, refs, items)
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		return nil, bridge.Errorf("mapping.(*Table).refValues", bridge.KindInvalidValue, "%s", strings.Join(unknown, "; "))
	}
	if len(out) == 0 && r.placeholder != "" {
		out = []string{r.placeholder}
	}
	return out, nil
}

// dnForID resolves id among the row's reference types; a type the client
// named is tried alone.
func (t *Table) dnForID(ctx context.Context, refs bridge.Refs, types []string, typ, id string) (string, error) {
	var last error
	for _, rt := range refTypesToTry(types, typ) {
		dn, err := refs.DNForID(ctx, rt, id)
		if err == nil {
			return dn, nil
		}
		if bridge.KindOf(err) != bridge.KindNotFound {
			return "", err
		}
		last = err
	}
	return "", last
}

// refTypesToTry is where a reference of the given type ("" or one the row
// does not name: any of them) is looked for, in order.
func refTypesToTry(types []string, typ string) []string {
	for _, x := range types {
		if strings.EqualFold(x, typ) {
			return []string{x}
		}
	}
	return types
}

// rdnValue is the value of the entry's RDN for resource r.
func (t *Table) rdnValue(r bridge.Resource, want []wanted) (string, error) {
	const op = "mapping.(*Table).rdnValue"
	if t.rdnRow != nil {
		for _, w := range want {
			if w.row == t.rdnRow && len(w.vals) > 0 {
				return w.vals[0], nil
			}
		}
	} else {
		v, err := t.rdnTmpl.render(t, r.Attrs)
		if err != nil {
			return "", bridge.E(op, bridge.KindInternal, "", err)
		}
		if v != "" {
			return v, nil
		}
	}
	return "", bridge.Errorf(op, bridge.KindInvalidValue, "%s is required (it names the entry)", strings.Join(t.rdnTmpl.attrs, ", "))
}

// valueDef is the definition of the simple value a row stores.
func (r *row) valueDef() *bridge.AttrDef {
	if r.path.subDef != nil {
		return r.path.subDef
	}
	return r.path.top
}

// toLDAP renders a SCIM value as a directory value. Booleans are written
// as LDAP booleans (TRUE/FALSE), numbers without exponent.
func toLDAP(v any, def *bridge.AttrDef) (string, bool) {
	switch x := v.(type) {
	case string:
		if def != nil && def.Type == bridge.TypeBoolean {
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return "TRUE", true
			case "false":
				return "FALSE", true
			}
		}
		return x, x != ""
	case bool:
		if x {
			return "TRUE", true
		}
		return "FALSE", true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	}
	return "", false
}

// fromLDAP reads a directory value as the SCIM type of def. A value that
// does not parse (an administrator's typo in a boolean) is left out rather
// than failing the whole resource.
func fromLDAP(s string, def *bridge.AttrDef) (any, bool) {
	if s == "" {
		return nil, false
	}
	switch def.Type {
	case bridge.TypeBoolean:
		switch strings.ToUpper(strings.TrimSpace(s)) {
		case "TRUE":
			return true, true
		case "FALSE":
			return false, true
		}
		return nil, false
	case bridge.TypeInteger, bridge.TypeDecimal:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, false
		}
		return f, true
	}
	return s, true
}

// holder returns the map that holds the attributes of schema urn.
func holder(attrs map[string]any, urn, core string, create bool) map[string]any {
	if urn == "" || strings.EqualFold(urn, core) {
		return attrs
	}
	v, _ := getFold(attrs, urn)
	m, _ := v.(map[string]any)
	if m == nil && create && attrs != nil {
		m = map[string]any{}
		attrs[urn] = m
	}
	return m
}

func pruneEmpty(attrs map[string]any, urn, core string) {
	if urn == "" || strings.EqualFold(urn, core) {
		return
	}
	if m, ok := attrs[urn].(map[string]any); ok && len(m) == 0 {
		delete(attrs, urn)
	}
}

func getFold(m map[string]any, k string) (any, bool) {
	if m == nil {
		return nil, false
	}
	if v, ok := m[k]; ok {
		return v, true
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v, true
		}
	}
	return nil, false
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

func hasFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func keyFoldS(m map[string][]string, k string) string {
	for mk := range m {
		if strings.EqualFold(mk, k) {
			return mk
		}
	}
	return k
}

func attrsFold(m map[string][]string, k string) []string { return m[keyFoldS(m, k)] }

// lookupString reads a path of attrs as a string, for templates' attr.
func (t *Table) lookupString(attrs map[string]any, path string) string {
	p, err := t.resolvePath(path)
	if err != nil {
		return ""
	}
	return t.stringAt(attrs, p)
}

// stringAt reads resolved path p of attrs as a string.
func (t *Table) stringAt(attrs map[string]any, p scimPath) string {
	h := holder(attrs, p.urn, t.coreURN, false)
	v, _ := getFold(h, p.top.Name)
	if p.typ != "" {
		for _, it := range asList(v) {
			m, _ := it.(map[string]any)
			typ, _ := getFold(m, "type")
			if ts, _ := typ.(string); strings.EqualFold(ts, p.typ) {
				v, _ = getFold(m, p.sub)
				s, _ := toLDAP(v, p.subDef)
				return s
			}
		}
		return ""
	}
	if p.sub != "" {
		if l, ok := v.([]any); ok && len(l) > 0 {
			v = l[0]
		}
		m, _ := v.(map[string]any)
		v, _ = getFold(m, p.sub)
	}
	s, _ := toLDAP(v, p.top)
	return s
}
