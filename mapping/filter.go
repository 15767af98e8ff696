package mapping

import (
	"context"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// maxFilterDepth bounds recursion on hostile filters.
const maxFilterDepth = 64

// Filter implements bridge.Mapper. Values pass through the row's transforms
// (a userName row that lower-cases matches "JDoe" against "jdoe"); escaping
// is left to the directory, which renders the filter.
func (t *Table) Filter(ctx context.Context, x bridge.Expr, refs bridge.Refs) (*bridge.Filter, error) {
	const op = "mapping.(*Table).Filter"
	f, err := t.filter(ctx, x, refs, 0)
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	return f, nil
}

func invalidFilter(format string, args ...any) error {
	return bridge.Errorf("mapping.(*Table).Filter", bridge.KindInvalidFilter, format, args...)
}

func (t *Table) filter(ctx context.Context, x bridge.Expr, refs bridge.Refs, depth int) (*bridge.Filter, error) {
	if depth > maxFilterDepth {
		return nil, invalidFilter("the filter is nested too deeply")
	}
	switch e := x.(type) {
	case *bridge.LogicalExpr:
		l, err := t.filter(ctx, e.Left, refs, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := t.filter(ctx, e.Right, refs, depth+1)
		if err != nil {
			return nil, err
		}
		switch strings.ToLower(e.Op) {
		case "and":
			return and(l, r), nil
		case "or":
			return or(l, r), nil
		}
		return nil, invalidFilter("unknown logical operator %q", e.Op)
	case *bridge.NotExpr:
		k, err := t.filter(ctx, e.X, refs, depth+1)
		if err != nil {
			return nil, err
		}
		return not(k), nil
	case *bridge.CompareExpr:
		return t.compare(ctx, e, refs)
	case *bridge.ValuePathExpr:
		p, err := t.filterPath(e.Path)
		if err != nil {
			return nil, err
		}
		if p.Sub != "" || !(p.top.MultiValued && p.top.Type == bridge.TypeComplex) {
			return nil, invalidFilter("%s has no values to filter", e.Path.String())
		}
		return t.valuePath(ctx, p, e.Filter, refs, depth+1)
	case nil:
		return nil, invalidFilter("the filter is empty")
	}
	return nil, invalidFilter("the filter has an unknown form")
}

// fpath is a filter's attribute path resolved against the schemas.
type fpath struct {
	bridge.AttrPath
	top *bridge.AttrDef
}

// filterPath resolves a filter's attribute. The parser may leave a dotted
// name or a URN unsplit; an attribute without a URN that is not in the core
// schema is looked for in the extensions (manager.value).
func (t *Table) filterPath(p bridge.AttrPath) (fpath, error) {
	if p.URN == "" && strings.Contains(p.Attr, ":") {
		p.URN, p.Attr = bridge.SplitURNPath(p.Attr, t.urns())
		if p.URN == "" {
			return fpath{}, invalidFilter("attribute %s cannot be filtered on", p.Attr)
		}
	}
	if p.Sub == "" {
		if i := strings.IndexByte(p.Attr, '.'); i > 0 {
			p.Attr, p.Sub = p.Attr[:i], p.Attr[i+1:]
		}
	}
	var urns []string
	switch {
	case p.URN == "" || strings.EqualFold(p.URN, t.coreURN):
		urns = []string{t.coreURN}
		if p.URN == "" {
			for _, e := range t.exts {
				urns = append(urns, e.urn)
			}
		}
	default:
		e := t.findExt(p.URN)
		if e == nil {
			return fpath{}, invalidFilter("attribute %s cannot be filtered on", p.String())
		}
		urns = []string{e.urn}
	}
	for _, u := range urns {
		if d := t.mappedDef(u, p.Attr); d != nil {
			return fpath{AttrPath: bridge.AttrPath{URN: u, Attr: d.Name, Sub: p.Sub}, top: d}, nil
		}
	}
	// Okta's agent filters on "email" for the multi-valued emails.
	if d := t.mappedDef(t.coreURN, p.Attr+"s"); d != nil && d.MultiValued && d.Type == bridge.TypeComplex {
		return fpath{AttrPath: bridge.AttrPath{URN: t.coreURN, Attr: d.Name, Sub: p.Sub}, top: d}, nil
	}
	return fpath{}, invalidFilter("attribute %s cannot be filtered on", p.String())
}

// mappedDef returns the definition of attr in schema urn when a row reads
// it.
func (t *Table) mappedDef(urn, attr string) *bridge.AttrDef {
	for _, r := range t.rows {
		if r.kind != kindOneWay && r.path.urn == urn && strings.EqualFold(r.path.top.Name, attr) {
			return r.path.top
		}
	}
	return nil
}

func (t *Table) compare(ctx context.Context, e *bridge.CompareExpr, refs bridge.Refs) (*bridge.Filter, error) {
	if f, ok, err := t.virtual(e); ok || err != nil {
		return f, err
	}
	p, err := t.filterPath(e.Path)
	if err != nil {
		return nil, err
	}
	top := p.top
	if top.MultiValued && top.Type == bridge.TypeComplex {
		// emails eq "x" and emails.value eq "x" compare the values.
		sub := p.Sub
		if sub == "" {
			sub = "value"
		}
		inner := &bridge.CompareExpr{Path: bridge.AttrPath{Attr: sub}, Op: e.Op, Value: e.Value}
		return t.valuePath(ctx, p, inner, refs, 1)
	}
	var rows []*row
	for _, r := range t.rows {
		if r.kind != kindOneWay && r.path.urn == p.URN && r.path.top == top {
			if r.kind == kindRef {
				if p.Sub != "" && !strings.EqualFold(p.Sub, "value") {
					continue
				}
			} else if !strings.EqualFold(r.path.sub, p.Sub) {
				continue
			}
			rows = append(rows, r)
		}
	}
	if len(rows) == 2 && rows[0].upnFB == rows[1] {
		return t.upnFilter(ctx, rows[0], e.Op, e.Value, refs)
	}
	if len(rows) != 1 {
		return nil, invalidFilter("attribute %s cannot be filtered on", p.String())
	}
	return t.leaf(ctx, rows[0], e.Op, e.Value, refs)
}

// virtual translates filters on id, meta and active.
func (t *Table) virtual(e *bridge.CompareExpr) (*bridge.Filter, bool, error) {
	p := e.Path
	if p.URN != "" && !strings.EqualFold(p.URN, t.coreURN) {
		return nil, false, nil
	}
	name := p.Attr
	if p.Sub != "" {
		name += "." + p.Sub
	}
	switch strings.ToLower(name) {
	case "id":
		f, err := simpleVirtual(bridge.VirtualID, e, "id")
		return f, true, err
	case "meta.lastmodified":
		f, err := timeVirtual(bridge.VirtualModified, e)
		return f, true, err
	case "meta.created":
		f, err := timeVirtual(bridge.VirtualCreated, e)
		return f, true, err
	case "active":
		if t.resource != "User" {
			return nil, false, nil
		}
		if e.Op == bridge.OpPr {
			return bridge.MatchAll(), true, nil
		}
		var b bool
		switch v := e.Value.(type) {
		case bool:
			b = v
		case string:
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				b = true
			case "false":
			default:
				return nil, true, invalidFilter("active is compared with true or false")
			}
		default:
			return nil, true, invalidFilter("active is compared with true or false")
		}
		switch e.Op {
		case bridge.OpEq:
		case bridge.OpNe:
			b = !b
		default:
			return nil, true, invalidFilter("active can only be compared with eq, ne or pr")
		}
		if b {
			return bridge.Eq(bridge.VirtualDisabled, "FALSE"), true, nil
		}
		return bridge.Eq(bridge.VirtualDisabled, "TRUE"), true, nil
	}
	if strings.EqualFold(p.Attr, "meta") {
		return nil, true, invalidFilter("attribute %s cannot be filtered on", name)
	}
	return nil, false, nil
}

func simpleVirtual(attr string, e *bridge.CompareExpr, name string) (*bridge.Filter, error) {
	if e.Op == bridge.OpPr {
		return bridge.Present(attr), nil
	}
	s, ok := e.Value.(string)
	if !ok {
		return nil, invalidFilter("%s is compared with a string", name)
	}
	switch e.Op {
	case bridge.OpEq:
		return bridge.Eq(attr, s), nil
	case bridge.OpNe:
		return not(bridge.Eq(attr, s)), nil
	}
	return nil, invalidFilter("%s can only be compared with eq, ne or pr", name)
}

func timeVirtual(attr string, e *bridge.CompareExpr) (*bridge.Filter, error) {
	if e.Op == bridge.OpPr {
		return bridge.Present(attr), nil
	}
	s, ok := e.Value.(string)
	if !ok {
		return nil, invalidFilter("%s is compared with a date-time string", e.Path.String())
	}
	ts, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return nil, invalidFilter("%q is not an RFC 3339 date-time", s)
	}
	v := ts.UTC().Format(time.RFC3339Nano)
	return ordered(attr, e.Op, v)
}

// ordered builds eq, ne, gt, ge, lt, le; LDAP has only >= and <=, so gt is
// (&(>=)(!(=))) and lt likewise.
func ordered(attr string, op bridge.CompareOp, v string) (*bridge.Filter, error) {
	switch op {
	case bridge.OpEq:
		return bridge.Eq(attr, v), nil
	case bridge.OpNe:
		return not(bridge.Eq(attr, v)), nil
	case bridge.OpGe:
		return bridge.GE(attr, v), nil
	case bridge.OpLe:
		return bridge.LE(attr, v), nil
	case bridge.OpGt:
		return bridge.And(bridge.GE(attr, v), bridge.Not(bridge.Eq(attr, v))), nil
	case bridge.OpLt:
		return bridge.And(bridge.LE(attr, v), bridge.Not(bridge.Eq(attr, v))), nil
	}
	return nil, invalidFilter("operator %s does not apply here", op)
}

// leaf translates one comparison on a row's directory attribute.
func (t *Table) leaf(ctx context.Context, r *row, op bridge.CompareOp, lit any, refs bridge.Refs) (*bridge.Filter, error) {
	name := r.path.String()
	if op == bridge.OpPr {
		return bridge.Present(r.ldap), nil
	}
	if lit == nil {
		switch op {
		case bridge.OpEq:
			return not(bridge.Present(r.ldap)), nil
		case bridge.OpNe:
			return bridge.Present(r.ldap), nil
		}
		return nil, invalidFilter("%s cannot be compared with null using %s", name, op)
	}
	if r.kind == kindRef {
		id, ok := lit.(string)
		if !ok {
			return nil, invalidFilter("%s is compared with an id", name)
		}
		if op != bridge.OpEq && op != bridge.OpNe {
			return nil, invalidFilter("%s can only be compared with eq, ne or pr", name)
		}
		dn, err := t.dnForID(ctx, refs, r.refTypes, "", id)
		var f *bridge.Filter
		switch {
		case err == nil:
			f = bridge.Eq(r.ldap, dn)
		case bridge.KindOf(err) == bridge.KindNotFound:
			f = bridge.MatchNone() // no resource has that id, so nobody refers to it
		default:
			return nil, err
		}
		if op == bridge.OpNe {
			return not(f), nil
		}
		return f, nil
	}
	def := r.valueDef()
	switch op {
	case bridge.OpCo, bridge.OpSw, bridge.OpEw:
		if def.Type != bridge.TypeString && def.Type != bridge.TypeReference {
			return nil, invalidFilter("%s is not a string: %s does not apply", name, op)
		}
		if _, ok := lit.(string); !ok {
			return nil, invalidFilter("%s needs a string", op)
		}
	case bridge.OpGt, bridge.OpGe, bridge.OpLt, bridge.OpLe:
		if def.Type == bridge.TypeBoolean {
			return nil, invalidFilter("%s is a boolean: %s does not apply", name, op)
		}
	}
	switch lit.(type) {
	case string, bool, float64:
	default:
		return nil, invalidFilter("%s is compared with a value of an unknown type", name)
	}
	if def.Type == bridge.TypeBoolean {
		if _, ok := lit.(float64); ok {
			return nil, invalidFilter("%s is compared with true or false", name)
		}
	}
	v, _ := toLDAP(lit, def)
	v = applyWrite(r.xf, v)
	if v == "" && op != bridge.OpNe {
		if op == bridge.OpEq {
			return not(bridge.Present(r.ldap)), nil
		}
		// "co" with "" matches every value; sw and ew too.
		if op == bridge.OpCo || op == bridge.OpSw || op == bridge.OpEw {
			return bridge.Present(r.ldap), nil
		}
	}
	switch op {
	case bridge.OpCo:
		return bridge.Substrings(r.ldap, "", []string{v}, ""), nil
	case bridge.OpSw:
		return bridge.Substrings(r.ldap, v, nil, ""), nil
	case bridge.OpEw:
		return bridge.Substrings(r.ldap, "", nil, v), nil
	}
	return ordered(r.ldap, op, v)
}

// group is the rows that produce one kind of value of a multi-valued
// complex attribute: the whole attribute, or one type of it.
type group struct {
	typ       string
	typeKnown bool
	subs      map[string]*row
}

func (t *Table) groups(p fpath) []*group {
	var out []*group
	byType := map[string]*group{}
	for _, r := range t.rows {
		if r.kind == kindOneWay || r.path.urn != p.URN || r.path.top != p.top {
			continue
		}
		switch r.kind {
		case kindWhole, kindRef:
			out = append(out, &group{typ: r.itemType, typeKnown: r.itemType != "", subs: map[string]*row{"value": r}})
		case kindTyped:
			k := strings.ToLower(r.path.typ)
			g := byType[k]
			if g == nil {
				g = &group{typ: r.path.typ, typeKnown: true, subs: map[string]*row{}}
				byType[k] = g
				out = append(out, g)
			}
			g.subs[strings.ToLower(r.path.sub)] = r
		}
	}
	return out
}

// valuePath translates attr[filter]: a value matches when one kind of value
// (one group) satisfies the whole inner filter. Conditions on "type" are
// decided here, from the row's type; the rest go to the directory.
func (t *Table) valuePath(ctx context.Context, p fpath, inner bridge.Expr, refs bridge.Refs, depth int) (*bridge.Filter, error) {
	gs := t.groups(p)
	if len(gs) == 0 {
		return nil, invalidFilter("attribute %s cannot be filtered on", p.String())
	}
	var kids []*bridge.Filter
	for _, g := range gs {
		f, err := t.inGroup(ctx, p, g, inner, refs, depth)
		if err != nil {
			return nil, err
		}
		kids = append(kids, f)
	}
	return or(kids...), nil
}

func (t *Table) inGroup(ctx context.Context, p fpath, g *group, x bridge.Expr, refs bridge.Refs, depth int) (*bridge.Filter, error) {
	if depth > maxFilterDepth {
		return nil, invalidFilter("the filter is nested too deeply")
	}
	switch e := x.(type) {
	case *bridge.LogicalExpr:
		l, err := t.inGroup(ctx, p, g, e.Left, refs, depth+1)
		if err != nil {
			return nil, err
		}
		r, err := t.inGroup(ctx, p, g, e.Right, refs, depth+1)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(e.Op, "and") {
			return and(l, r), nil
		}
		if strings.EqualFold(e.Op, "or") {
			return or(l, r), nil
		}
		return nil, invalidFilter("unknown logical operator %q", e.Op)
	case *bridge.NotExpr:
		k, err := t.inGroup(ctx, p, g, e.X, refs, depth+1)
		if err != nil {
			return nil, err
		}
		return not(k), nil
	case *bridge.CompareExpr:
		name := e.Path.Attr
		if e.Path.Sub != "" {
			name = e.Path.Sub
		}
		sub := p.top.Sub(name)
		if sub == nil {
			return nil, invalidFilter("attribute %s.%s cannot be filtered on", p.Attr, name)
		}
		if strings.EqualFold(sub.Name, "type") {
			if !g.typeKnown {
				// The directory does not record a type for these values:
				// any type may be asked for (Entra looks users up by
				// emails[type eq "work"]).
				return bridge.MatchAll(), nil
			}
			return staticCompare(g.typ, e.Op, e.Value)
		}
		r := g.subs[strings.ToLower(sub.Name)]
		if r == nil {
			if strings.EqualFold(sub.Name, "primary") {
				return nil, invalidFilter("attribute %s.primary cannot be filtered on", p.Attr)
			}
			// Values of this kind never have that sub-attribute.
			if e.Op == bridge.OpNe && e.Value != nil {
				return bridge.MatchAll(), nil
			}
			if e.Op == bridge.OpEq && e.Value == nil {
				return bridge.MatchAll(), nil
			}
			return bridge.MatchNone(), nil
		}
		return t.leaf(ctx, r, e.Op, e.Value, refs)
	case *bridge.ValuePathExpr:
		return nil, invalidFilter("value filters cannot be nested")
	}
	return nil, invalidFilter("the filter has an unknown form")
}

// staticCompare decides a comparison on a value the table fixes (a row's
// type), case-insensitively as SCIM compares types.
func staticCompare(have string, op bridge.CompareOp, lit any) (*bridge.Filter, error) {
	if op == bridge.OpPr {
		return boolFilter(have != ""), nil
	}
	s, ok := lit.(string)
	if !ok {
		if lit == nil {
			return boolFilter((op == bridge.OpEq) == (have == "")), nil
		}
		return nil, invalidFilter("type is compared with a string")
	}
	a, b := strings.ToLower(have), strings.ToLower(s)
	var res bool
	switch op {
	case bridge.OpEq:
		res = a == b
	case bridge.OpNe:
		res = a != b
	case bridge.OpCo:
		res = strings.Contains(a, b)
	case bridge.OpSw:
		res = strings.HasPrefix(a, b)
	case bridge.OpEw:
		res = strings.HasSuffix(a, b)
	case bridge.OpGt:
		res = a > b
	case bridge.OpGe:
		res = a >= b
	case bridge.OpLt:
		res = a < b
	case bridge.OpLe:
		res = a <= b
	default:
		return nil, invalidFilter("unknown operator %q", op)
	}
	return boolFilter(res), nil
}

func boolFilter(b bool) *bridge.Filter {
	if b {
		return bridge.MatchAll()
	}
	return bridge.MatchNone()
}

// and, or and not build filters and fold constants, so that a type
// condition decided here leaves no (&) or (|) for the directory to render.
func and(kids ...*bridge.Filter) *bridge.Filter {
	var keep []*bridge.Filter
	for _, k := range kids {
		switch k.Op {
		case bridge.FilterTrue:
			continue
		case bridge.FilterFalse:
			return bridge.MatchNone()
		}
		keep = append(keep, k)
	}
	switch len(keep) {
	case 0:
		return bridge.MatchAll()
	case 1:
		return keep[0]
	}
	return bridge.And(keep...)
}

func or(kids ...*bridge.Filter) *bridge.Filter {
	var keep []*bridge.Filter
	for _, k := range kids {
		switch k.Op {
		case bridge.FilterFalse:
			continue
		case bridge.FilterTrue:
			return bridge.MatchAll()
		}
		keep = append(keep, k)
	}
	switch len(keep) {
	case 0:
		return bridge.MatchNone()
	case 1:
		return keep[0]
	}
	return bridge.Or(keep...)
}

func not(k *bridge.Filter) *bridge.Filter {
	switch k.Op {
	case bridge.FilterTrue:
		return bridge.MatchNone()
	case bridge.FilterFalse:
		return bridge.MatchAll()
	case bridge.FilterNot:
		if len(k.Kids) == 1 {
			return k.Kids[0]
		}
	}
	return bridge.Not(k)
}
