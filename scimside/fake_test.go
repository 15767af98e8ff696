package scimside

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

const oktaCustomURN = "urn:okta:onprem_app:1.0:user:custom"

// userType is a User resource type as a mapping table would describe it.
func userType() *bridge.ResourceType {
	str := func(name string) bridge.AttrDef { return bridge.AttrDef{Name: name, Type: bridge.TypeString} }
	multi := func(name string, subs ...bridge.AttrDef) bridge.AttrDef {
		return bridge.AttrDef{Name: name, Type: bridge.TypeComplex, MultiValued: true, SubAttrs: subs}
	}
	typed := []bridge.AttrDef{str("value"), str("type"), {Name: "primary", Type: bridge.TypeBoolean}, str("display")}
	return &bridge.ResourceType{
		Name:     "User",
		Endpoint: "/Users",
		Schema: bridge.SchemaDef{
			ID: bridge.UserSchema, Name: "User", Description: "User Account",
			Attrs: []bridge.AttrDef{
				{Name: "userName", Type: bridge.TypeString, Required: true, Uniqueness: "server", Returned: "always"},
				str("externalId"),
				{Name: "name", Type: bridge.TypeComplex, SubAttrs: []bridge.AttrDef{str("givenName"), str("familyName"), str("formatted")}},
				str("displayName"),
				str("title"),
				{Name: "active", Type: bridge.TypeBoolean},
				{Name: "password", Type: bridge.TypeString, Mutability: "writeOnly", Returned: "never"},
				multi("emails", typed...),
				multi("phoneNumbers", typed...),
				{Name: "groups", Type: bridge.TypeComplex, MultiValued: true, Mutability: "readOnly",
					SubAttrs: []bridge.AttrDef{str("value"), str("display"), {Name: "$ref", Type: bridge.TypeReference}}},
			},
		},
		Extensions: []bridge.SchemaDef{
			{ID: bridge.EnterpriseSchema, Name: "EnterpriseUser", Attrs: []bridge.AttrDef{
				str("employeeNumber"), str("department"),
				{Name: "manager", Type: bridge.TypeComplex, SubAttrs: []bridge.AttrDef{str("value"), str("displayName"), {Name: "$ref", Type: bridge.TypeReference}}},
			}},
			{ID: oktaCustomURN, Name: "OktaCustom", Attrs: []bridge.AttrDef{str("departmentName"), {Name: "costCenter", Type: bridge.TypeInteger}}},
		},
	}
}

func groupType() *bridge.ResourceType {
	return &bridge.ResourceType{
		Name: "Group", Endpoint: "/Groups",
		Schema: bridge.SchemaDef{ID: bridge.GroupSchema, Name: "Group", Attrs: []bridge.AttrDef{
			{Name: "displayName", Type: bridge.TypeString, Required: true, Uniqueness: "server"},
			{Name: "externalId", Type: bridge.TypeString},
			{Name: "members", Type: bridge.TypeComplex, MultiValued: true, SubAttrs: []bridge.AttrDef{
				{Name: "value", Type: bridge.TypeString}, {Name: "display", Type: bridge.TypeString}, {Name: "$ref", Type: bridge.TypeReference}}},
		}},
	}
}

// fakeService is an in-memory ResourceService with the behaviour the real
// service promises: normalization, uniqueness of userName (case-insensitive),
// PATCH through bridge.ApplyPatch, versions, stable order.
type fakeService struct {
	mu     sync.Mutex
	rt     *bridge.ResourceType
	unique string
	byID   map[string]bridge.Resource
	order  []string
	seq    int
	now    func() time.Time
	fail   error            // when set, every call fails with it
	calls  []string         // operations seen
	panics bool             // Get panics
	lastQ  bridge.Query     // last List query
	lastOp []bridge.PatchOp // last PATCH operations
}

func newFakeService(rt *bridge.ResourceType) *fakeService {
	unique := "userName"
	if rt.Name == "Group" {
		unique = "displayName"
	}
	return &fakeService{rt: rt, unique: unique, byID: map[string]bridge.Resource{},
		now: func() time.Time { return time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC) }}
}

func (f *fakeService) ResourceType() *bridge.ResourceType { return f.rt }

func (f *fakeService) record(op string) error {
	f.calls = append(f.calls, op)
	return f.fail
}

func (f *fakeService) notFound(id string) error {
	return bridge.Errorf("fake.get", bridge.KindNotFound, "%s %q not found", f.rt.Name, id)
}

func (f *fakeService) Get(ctx context.Context, id string) (bridge.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panics {
		panic("boom: secret internal state")
	}
	if err := f.record("get"); err != nil {
		return bridge.Resource{}, err
	}
	r, ok := f.byID[id]
	if !ok {
		return bridge.Resource{}, f.notFound(id)
	}
	return r.Clone(), nil
}

func (f *fakeService) List(ctx context.Context, q bridge.Query) (bridge.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastQ = q
	if err := f.record("list"); err != nil {
		return bridge.Page{}, err
	}
	var match []bridge.Resource
	for _, id := range f.order {
		r := f.byID[id]
		if q.Filter != nil {
			ok, err := evalFilter(f.rt, q.Filter, r)
			if err != nil {
				return bridge.Page{}, err
			}
			if !ok {
				continue
			}
		}
		match = append(match, r.Clone())
	}
	start := max(q.StartIndex, 1)
	count := q.Count
	if count < 0 {
		count = 100
	}
	count = min(count, 1000)
	page := bridge.Page{TotalResults: len(match), StartIndex: start, Resources: []bridge.Resource{}}
	for i := start - 1; i < len(match) && len(page.Resources) < count; i++ {
		page.Resources = append(page.Resources, match[i])
	}
	return page, nil
}

func (f *fakeService) checkUnique(attrs map[string]any, self string) error {
	v, _ := attrs[f.unique].(string)
	for id, r := range f.byID {
		if id != self && strings.EqualFold(r.String(f.unique), v) {
			return bridge.Errorf("fake.checkUnique", bridge.KindConflict, "a %s with %s %q already exists", f.rt.Name, f.unique, v)
		}
	}
	return nil
}

func (f *fakeService) Create(ctx context.Context, in bridge.Resource) (bridge.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("create"); err != nil {
		return bridge.Resource{}, err
	}
	attrs, err := bridge.Normalize(f.rt, in.Attrs)
	if err != nil {
		return bridge.Resource{}, err
	}
	if s, _ := attrs[f.unique].(string); s == "" {
		return bridge.Resource{}, bridge.Errorf("fake.create", bridge.KindInvalidValue, "required attribute missing: %s", f.unique)
	}
	if err := f.checkUnique(attrs, ""); err != nil {
		return bridge.Resource{}, err
	}
	f.seq++
	id := fmt.Sprintf("%s-%04d", strings.ToLower(f.rt.Name[:1]), f.seq)
	if f.rt.Name == "User" {
		if _, ok := attrs["active"]; !ok {
			attrs["active"] = true
		}
	}
	r := bridge.Resource{ID: id, Attrs: attrs, Meta: bridge.Meta{ResourceType: f.rt.Name, Created: f.now(), LastModified: f.now(), Version: `W/"1"`}}
	f.byID[id] = r
	f.order = append(f.order, id)
	return r.Clone(), nil
}

func (f *fakeService) store(r bridge.Resource, attrs map[string]any) bridge.Resource {
	r.Attrs = attrs
	r.Meta.LastModified = f.now()
	var n int
	fmt.Sscanf(r.Meta.Version, `W/"%d"`, &n)
	r.Meta.Version = fmt.Sprintf(`W/"%d"`, n+1)
	f.byID[r.ID] = r
	return r.Clone()
}

func (f *fakeService) Replace(ctx context.Context, id string, in bridge.Resource) (bridge.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("replace"); err != nil {
		return bridge.Resource{}, err
	}
	cur, ok := f.byID[id]
	if !ok {
		return bridge.Resource{}, f.notFound(id)
	}
	attrs, err := bridge.Normalize(f.rt, in.Attrs)
	if err != nil {
		return bridge.Resource{}, err
	}
	if err := f.checkUnique(attrs, id); err != nil {
		return bridge.Resource{}, err
	}
	delete(attrs, "password")
	return f.store(cur, attrs), nil
}

func (f *fakeService) Patch(ctx context.Context, id string, ops []bridge.PatchOp) (bridge.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastOp = ops
	if err := f.record("patch"); err != nil {
		return bridge.Resource{}, err
	}
	cur, ok := f.byID[id]
	if !ok {
		return bridge.Resource{}, f.notFound(id)
	}
	p, err := bridge.ApplyPatch(f.rt, cur, ops)
	if err != nil {
		return bridge.Resource{}, err
	}
	attrs, err := bridge.Normalize(f.rt, p.Attrs)
	if err != nil {
		return bridge.Resource{}, err
	}
	if err := f.checkUnique(attrs, id); err != nil {
		return bridge.Resource{}, err
	}
	delete(attrs, "password")
	return f.store(cur, attrs), nil
}

func (f *fakeService) Delete(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("delete"); err != nil {
		return err
	}
	if _, ok := f.byID[id]; !ok {
		return f.notFound(id)
	}
	delete(f.byID, id)
	for i, x := range f.order {
		if x == id {
			f.order = append(f.order[:i], f.order[i+1:]...)
			break
		}
	}
	return nil
}

// evalFilter evaluates a filter against a resource the simple way: string
// comparisons are case-insensitive (as the directory does for userName).
func evalFilter(rt *bridge.ResourceType, x bridge.Expr, r bridge.Resource) (bool, error) {
	switch e := x.(type) {
	case *bridge.LogicalExpr:
		l, err := evalFilter(rt, e.Left, r)
		if err != nil {
			return false, err
		}
		rr, err := evalFilter(rt, e.Right, r)
		if err != nil {
			return false, err
		}
		if e.Op == "and" {
			return l && rr, nil
		}
		return l || rr, nil
	case *bridge.NotExpr:
		v, err := evalFilter(rt, e.X, r)
		return !v, err
	case *bridge.ValuePathExpr:
		top, _, ok := rt.Resolve(e.Path)
		if !ok {
			return false, bridge.Errorf("fake.filter", bridge.KindInvalidFilter, "unknown attribute %q", e.Path.String())
		}
		holder := r.Attrs
		if e.Path.URN != "" && !strings.EqualFold(e.Path.URN, rt.Schema.ID) {
			holder, _ = r.Attrs[rt.Extension(e.Path.URN).ID].(map[string]any)
		}
		list, _ := holder[top.Name].([]any)
		for _, it := range list {
			if m, ok := it.(map[string]any); ok && bridge.MatchValue(top, e.Filter, m) {
				return true, nil
			}
		}
		return false, nil
	case *bridge.CompareExpr:
		var v any
		switch {
		case strings.EqualFold(e.Path.Attr, "id") && e.Path.URN == "":
			v = r.ID
		case strings.EqualFold(e.Path.Attr, "meta"):
			if strings.EqualFold(e.Path.Sub, "lastModified") {
				v = r.Meta.LastModified.Format(time.RFC3339)
			}
		default:
			top, sub, ok := rt.Resolve(e.Path)
			if !ok {
				return false, bridge.Errorf("fake.filter", bridge.KindInvalidFilter, "unknown attribute %q", e.Path.String())
			}
			holder := r.Attrs
			if e.Path.URN != "" && !strings.EqualFold(e.Path.URN, rt.Schema.ID) {
				holder, _ = r.Attrs[rt.Extension(e.Path.URN).ID].(map[string]any)
			}
			v = holder[top.Name]
			if sub != nil {
				switch t := v.(type) {
				case map[string]any:
					v = t[sub.Name]
				case []any:
					for _, it := range t {
						m, _ := it.(map[string]any)
						if bridge.MatchValue(top, &bridge.CompareExpr{Path: bridge.AttrPath{Attr: sub.Name}, Op: e.Op, Value: e.Value}, m) {
							return true, nil
						}
					}
					return false, nil
				}
			}
		}
		if e.Op == bridge.OpPr {
			return v != nil, nil
		}
		a, b := fmt.Sprint(v), fmt.Sprint(e.Value)
		if v == nil {
			return e.Op == bridge.OpNe, nil
		}
		a, b = strings.ToLower(a), strings.ToLower(b)
		switch e.Op {
		case bridge.OpEq:
			return a == b, nil
		case bridge.OpNe:
			return a != b, nil
		case bridge.OpCo:
			return strings.Contains(a, b), nil
		case bridge.OpSw:
			return strings.HasPrefix(a, b), nil
		case bridge.OpEw:
			return strings.HasSuffix(a, b), nil
		case bridge.OpGt:
			return a > b, nil
		case bridge.OpGe:
			return a >= b, nil
		case bridge.OpLt:
			return a < b, nil
		case bridge.OpLe:
			return a <= b, nil
		}
	}
	return false, bridge.Errorf("fake.filter", bridge.KindInvalidFilter, "unsupported filter")
}

// sortedIDs is for assertions.
func (f *fakeService) sortedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := append([]string(nil), f.order...)
	sort.Strings(ids)
	return ids
}
