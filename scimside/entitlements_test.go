package scimside

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/journal"
	"github.com/hashicorp/go-hclog"
)

const (
	roleURN        = "urn:okta:scim:schemas:core:1.0:Role"
	entitlementURN = "urn:okta:scim:schemas:core:1.0:Entitlement"
	licenseExtURN  = "urn:example:scim:schemas:extension:app:1.0:User"
)

// valueType is an entitlement type's values as mapping.NewEntitlementMapper
// describes them (H1's contract): displayName, type, description, and
// members for filtering and PATCH only.
func valueType(name, endpoint, urn string) *bridge.ResourceType {
	str := func(n string) bridge.AttrDef { return bridge.AttrDef{Name: n, Type: bridge.TypeString} }
	dn := str("displayName")
	dn.Required = true
	return &bridge.ResourceType{Name: name, Endpoint: endpoint, Schema: bridge.SchemaDef{
		ID: urn, Name: name, Description: name + " values",
		Attrs: []bridge.AttrDef{dn, str("type"), str("description"),
			{Name: "members", Type: bridge.TypeComplex, MultiValued: true, Returned: "never", SubAttrs: []bridge.AttrDef{str("value")}}},
	}}
}

// faultyValues is a values service whose member writes to one value fail
// with err, as a directory that refuses or goes away mid-request.
type faultyValues struct {
	*fakeService
	mu     sync.Mutex
	failOn string
	err    error
	writes int
	log    []string // "remove l-std", in order
}

func (f *faultyValues) Patch(ctx context.Context, id string, ops []bridge.PatchOp) (bridge.Resource, error) {
	f.mu.Lock()
	fail := f.err != nil && strings.EqualFold(id, f.failOn)
	err := f.err
	f.writes++
	if len(ops) > 0 {
		f.log = append(f.log, ops[0].Op+" "+id)
	}
	f.mu.Unlock()
	if fail {
		return bridge.Resource{}, err
	}
	return f.fakeService.Patch(ctx, id, ops)
}

func (f *faultyValues) setFault(id string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failOn, f.err = id, err
}

func seedValue(f *faultyValues, id, display string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ms []any
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	attrs := map[string]any{"displayName": display, "type": f.rt.Name}
	if ms != nil {
		attrs["members"] = ms
	}
	f.fakeService.byID[id] = bridge.Resource{ID: id, Attrs: attrs,
		Meta: bridge.Meta{ResourceType: f.rt.Name, Version: `W/"1"`, Created: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}}
	f.fakeService.order = append(f.fakeService.order, id)
}

// membersOf is the user ids a value's members hold, sorted.
func membersOf(f *faultyValues, id string) []string {
	f.fakeService.mu.Lock()
	defer f.fakeService.mu.Unlock()
	list, _ := f.fakeService.byID[id].Attrs["members"].([]any)
	var out []string
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok {
			out = append(out, mm["value"].(string))
		}
	}
	sort.Strings(out)
	return out
}

type entEnv struct {
	*testEnv
	roles, licenses *faultyValues
	jr              *journal.Store
	sent            *capturingUsers
}

// capturingUsers records the bodies the users service is handed, to show
// that the entitlement attributes never reach it.
type capturingUsers struct {
	*fakeService
	mu     sync.Mutex
	bodies []map[string]any
	// cut, when set, is the answer of Create: after making the user when
	// made is set (the answer lost on the way back), before otherwise.
	cut  error
	made bool
}

func (c *capturingUsers) keep(r bridge.Resource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bodies = append(c.bodies, r.Clone().Attrs)
}

func (c *capturingUsers) Create(ctx context.Context, r bridge.Resource) (bridge.Resource, error) {
	c.keep(r)
	c.mu.Lock()
	cut, made := c.cut, c.made
	c.mu.Unlock()
	if cut != nil && !made {
		return bridge.Resource{}, cut
	}
	res, err := c.fakeService.Create(ctx, r)
	if cut != nil {
		return bridge.Resource{}, cut
	}
	return res, err
}

func (c *capturingUsers) Replace(ctx context.Context, id string, r bridge.Resource) (bridge.Resource, error) {
	c.keep(r)
	return c.fakeService.Replace(ctx, id, r)
}

func (c *capturingUsers) Patch(ctx context.Context, id string, ops []bridge.PatchOp) (bridge.Resource, error) {
	for _, o := range ops {
		m, _ := o.Value.(map[string]any)
		if o.Path != nil {
			m = map[string]any{o.Path.Attr.String(): o.Value}
		}
		c.keep(bridge.Resource{Attrs: m})
	}
	return c.fakeService.Patch(ctx, id, ops)
}

// leaked reports an entitlement attribute handed to the users service.
func (c *capturingUsers) leaked() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := json.Marshal(c.bodies)
	for _, w := range []string{`"roles"`, `"entitlements"`, `licenses`, `r-`, `l-`} {
		if strings.Contains(string(b), w) {
			return string(b)
		}
	}
	return ""
}

// newEntEnv serves roles (multi-valued, core "roles") and licenses
// (single-valued, core "entitlements"; or an extension attribute with ext).
func newEntEnv(t *testing.T, withJournal, ext bool) *entEnv {
	t.Helper()
	ee := &entEnv{
		roles:    &faultyValues{fakeService: newFakeService(valueType("Role", "/Roles", roleURN))},
		licenses: &faultyValues{fakeService: newFakeService(valueType("License", "/Licenses", entitlementURN))},
	}
	ee.roles.fakeService.unique, ee.licenses.fakeService.unique = "displayName", "displayName"
	seedValue(ee.roles, "r-admin", "App Administrator")
	seedValue(ee.roles, "r-editor", "App Editor")
	seedValue(ee.roles, "r-viewer", "App Viewer")
	seedValue(ee.licenses, "l-std", "Standard License")
	seedValue(ee.licenses, "l-pro", "Professional License")
	if withJournal {
		jr, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), hclog.NewNullLogger(), time.Now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { jr.Close() })
		ee.jr = jr
	}
	licAttr := "entitlements"
	if ext {
		licAttr = licenseExtURN + ":licenses"
	}
	ee.testEnv = newEnv(t, func(c *Config, s *Services) {
		ee.sent = &capturingUsers{fakeService: s.Users.(*fakeService)}
		s.Users = ee.sent
		s.Entitlements = []Entitlement{
			{Attr: "roles", Values: ee.roles, MultiValued: true},
			{Attr: licAttr, Values: ee.licenses, MultiValued: false, Required: true},
		}
		if ee.jr != nil {
			s.Journal = ee.jr
		}
	})
	return ee
}

func (ee *entEnv) newUser(name string) string {
	ee.t.Helper()
	return ee.expect(ee.do("POST", "/v2/Users", map[string]any{"userName": name, "displayName": "Ent Tester"}), 201, "create "+name).str("id")
}

func valueIDs(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if m, ok := x.(map[string]any); ok {
			s, _ := m["value"].(string)
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func eqList(a []string, b ...string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Discovery as Okta's guide shows it: each type in /ResourceTypes with its
// endpoint and Okta's schema URN; the users' attributes in the User schema;
// an extension attribute's extension listed on the User type; none of it
// over SCIM 1.1.
func TestEntitlementDiscovery(t *testing.T) {
	ee := newEntEnv(t, false, true)
	r := ee.expect(ee.do("GET", "/v2/ResourceTypes", nil), 200, "resource types")
	byName := map[string]map[string]any{}
	for _, x := range lookup(r.json, "Resources").([]any) {
		m := x.(map[string]any)
		byName[m["name"].(string)] = m
	}
	role := byName["Role"]
	if role == nil || role["endpoint"] != "/Roles" || role["schema"] != roleURN || role["id"] != "Role" {
		t.Fatalf("Role resource type: %v", role)
	}
	if loc, _ := lookup(role, "meta.location").(string); !strings.HasSuffix(loc, "/v2/ResourceTypes/Role") {
		t.Errorf("Role meta.location = %q", loc)
	}
	if lic := byName["License"]; lic == nil || lic["endpoint"] != "/Licenses" || lic["schema"] != entitlementURN {
		t.Fatalf("License resource type: %v", lic)
	}
	var exts []string
	for _, x := range lookup(byName["User"], "schemaExtensions").([]any) {
		exts = append(exts, x.(map[string]any)["schema"].(string))
	}
	if !strings.Contains(strings.Join(exts, " "), licenseExtURN) {
		t.Errorf("User schemaExtensions %v lack the licenses extension", exts)
	}
	one := ee.expect(ee.do("GET", "/v2/ResourceTypes/Role", nil), 200, "one resource type")
	if one.str("schema") != roleURN {
		t.Errorf("/ResourceTypes/Role: %s", one.body)
	}

	s := ee.expect(ee.do("GET", "/v2/Schemas/"+roleURN, nil), 200, "role schema")
	var names []string
	for _, a := range lookup(s.json, "attributes").([]any) {
		names = append(names, a.(map[string]any)["name"].(string))
	}
	if !strings.Contains(strings.Join(names, ","), "displayName") {
		t.Errorf("role schema attributes: %v", names)
	}
	user := ee.expect(ee.do("GET", "/v2/Schemas/"+bridge.UserSchema, nil), 200, "user schema")
	var roles map[string]any
	for _, a := range lookup(user.json, "attributes").([]any) {
		if m := a.(map[string]any); m["name"] == "roles" {
			roles = m
		}
	}
	if roles == nil || roles["multiValued"] != true || roles["type"] != "complex" {
		t.Fatalf("user schema roles: %v", roles)
	}
	ext := ee.expect(ee.do("GET", "/v2/Schemas/"+licenseExtURN, nil), 200, "extension schema")
	a := lookup(ext.json, "attributes.0").(map[string]any)
	if a["name"] != "licenses" || a["required"] != true {
		t.Errorf("extension attribute: %v", a)
	}

	// SCIM 1.1 serves none of it.
	ee.expect(ee.do("GET", "/v1/Roles", nil), 404, "1.1 roles")
	v1 := ee.do("GET", "/v1/Schemas", nil)
	if strings.Contains(string(v1.body), roleURN) || strings.Contains(string(v1.body), `"roles"`) {
		t.Errorf("1.1 schemas show entitlements: %s", v1.body)
	}
}

// The values: paged, filterable, one by id, the shape of the guide's
// example; read-only, every write a 405 SCIM error, also through bulk.
func TestEntitlementValuesReadOnly(t *testing.T) {
	ee := newEntEnv(t, false, false)
	u := ee.newUser("reader@example.com")
	seedValue(ee.roles, "r-hidden", "Hidden Members", u)
	l := ee.expect(ee.do("GET", "/v2/Roles?startIndex=1&count=2", nil), 200, "list")
	if n, _ := lookup(l.json, "totalResults").(float64); n != 4 {
		t.Errorf("totalResults = %v", lookup(l.json, "totalResults"))
	}
	if n := len(lookup(l.json, "Resources").([]any)); n != 2 {
		t.Errorf("page of %d, want 2", n)
	}
	f := ee.expect(ee.do("GET", `/v2/Roles?filter=displayName%20eq%20%22app%20editor%22`, nil), 200, "filter")
	if lookup(f.json, "totalResults").(float64) != 1 || f.str("Resources.0.id") != "r-editor" {
		t.Fatalf("filter: %s", f.body)
	}
	v := ee.expect(ee.do("GET", "/v2/Roles/r-editor", nil), 200, "one")
	if v.str("schemas.0") != roleURN || v.str("displayName") != "App Editor" || v.str("type") != "Role" || v.str("id") != "r-editor" {
		t.Errorf("value: %s", v.body)
	}
	h := ee.expect(ee.do("GET", "/v2/Roles/r-hidden", nil), 200, "with members")
	if strings.Contains(string(h.body), "members") || strings.Contains(string(h.body), u) {
		t.Errorf("members shown: %s", h.body)
	}
	ee.expect(ee.do("GET", "/v2/Roles/nope", nil), 404, "unknown value")
	ee.expect(ee.do("POST", "/v2/Roles/.search", map[string]any{"schemas": []string{searchURN}, "filter": `displayName sw "App"`}), 200, "search")

	writes := ee.roles.writes
	for _, m := range []struct{ method, path string }{
		{"POST", "/v2/Roles"}, {"PUT", "/v2/Roles/r-editor"}, {"PATCH", "/v2/Roles/r-editor"}, {"DELETE", "/v2/Roles/r-editor"},
	} {
		r := ee.expect(ee.do(m.method, m.path, map[string]any{"displayName": "x"}), 405, m.method)
		if r.str("schemas.0") != errorURN {
			t.Errorf("%s: not a SCIM error: %s", m.method, r.body)
		}
		if r.header.Get("Allow") == "" {
			t.Errorf("%s: no Allow header", m.method)
		}
	}
	bulk := ee.do("POST", "/v2/Bulk", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"},
		"Operations": []any{map[string]any{"method": "DELETE", "path": "/Roles/r-editor"}}})
	if bulk.status != 400 || !strings.Contains(bulk.str("detail"), "/Users") || strings.Contains(bulk.str("detail"), "/Roles") {
		t.Errorf("bulk on a value: %s", bulk.body)
	}
	if ee.roles.writes != writes || len(ee.roles.sortedIDs()) != 4 {
		t.Errorf("a refused write reached the values service")
	}
}

// A user carries the values it holds (read from the values' members),
// honouring attributes and excludedAttributes; 1.1 users do not.
func TestEntitlementUserRendering(t *testing.T) {
	ee := newEntEnv(t, false, true)
	u := ee.newUser("holder@example.com")
	seedValue(ee.roles, "r-ops", "Ops", u)
	seedValue(ee.licenses, "l-ent", "Enterprise License", u)
	g := ee.expect(ee.do("GET", "/v2/Users/"+u, nil), 200, "get")
	roles := lookup(g.json, "roles").([]any)
	if len(roles) != 1 {
		t.Fatalf("roles: %s", g.body)
	}
	if r := roles[0].(map[string]any); r["value"] != "r-ops" || r["display"] != "Ops" || r["type"] != "Role" {
		t.Errorf("role value: %v", r)
	}
	ext, _ := g.json[licenseExtURN].(map[string]any)
	lic := ext["licenses"]
	if !eqList(valueIDs(lic), "l-ent") {
		t.Errorf("extension licenses: %s", g.body)
	}
	if !strings.Contains(g.str("schemas.1"), licenseExtURN) {
		t.Errorf("schemas lack the extension: %s", g.body)
	}
	// A list carries them for each user.
	l := ee.expect(ee.do("GET", "/v2/Users?filter=userName%20eq%20%22holder@example.com%22", nil), 200, "list")
	if !eqList(valueIDs(lookup(l.json, "Resources.0.roles")), "r-ops") {
		t.Errorf("list: %s", l.body)
	}
	// Not asked for: not shown, and not read.
	ee.roles.fakeService.calls = nil
	a := ee.expect(ee.do("GET", "/v2/Users/"+u+"?attributes=userName", nil), 200, "attributes")
	if lookup(a.json, "roles") != nil {
		t.Errorf("attributes=userName shows roles: %s", a.body)
	}
	if len(ee.roles.fakeService.calls) != 0 {
		t.Errorf("roles were read for an answer without them: %v", ee.roles.fakeService.calls)
	}
	x := ee.expect(ee.do("GET", "/v2/Users/"+u+"?excludedAttributes=roles", nil), 200, "excluded")
	if lookup(x.json, "roles") != nil || x.json[licenseExtURN] == nil {
		t.Errorf("excludedAttributes=roles: %s", x.body)
	}
	ee.expect(ee.do("GET", "/v2/Users/"+u+"?attributes=roles.display", nil), 200, "sub-attribute")
	// The directory failing while the values are read fails the read.
	ee.roles.fakeService.fail = bridge.Errorf("fake", bridge.KindUnavailable, "down")
	ee.expect(ee.do("GET", "/v2/Users/"+u, nil), 503, "values unavailable")
	ee.roles.fakeService.fail = nil
	// SCIM 1.1 has no entitlements.
	v1 := ee.expect(ee.do("GET", "/v1/Users/"+u, nil), 200, "1.1 get")
	if strings.Contains(string(v1.body), "r-ops") {
		t.Errorf("1.1 user shows roles: %s", v1.body)
	}
}

// POST and PUT set the values of each type the body names; a type it
// leaves out keeps its values; every id is checked before anything is
// written.
func TestEntitlementPostPut(t *testing.T) {
	ee := newEntEnv(t, false, false)
	body := func(name string, extra map[string]any) map[string]any {
		b := map[string]any{"schemas": []string{bridge.UserSchema}, "userName": name, "displayName": "Ent Tester"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	val := func(ids ...string) []any {
		out := []any{}
		for _, id := range ids {
			out = append(out, map[string]any{"value": id, "display": "whatever", "type": "Role"})
		}
		return out
	}
	// Unknown ids: one 400 naming them all, and no user.
	r := ee.expect(ee.do("POST", "/v2/Users", body("p@example.com", map[string]any{"roles": val("r-viewer", "ghost-1"), "entitlements": val("ghost-2")})), 400, "unknown")
	if d := r.str("detail"); !strings.Contains(d, "ghost-1") || !strings.Contains(d, "ghost-2") || r.str("scimType") != "invalidValue" {
		t.Errorf("detail does not name both: %s", r.body)
	}
	if len(ee.users.sortedIDs()) != 0 || len(membersOf(ee.roles, "r-viewer")) != 0 {
		t.Fatalf("a refused POST wrote something")
	}
	// Two values of a single-valued type.
	ee.expect(ee.do("POST", "/v2/Users", body("p@example.com", map[string]any{"entitlements": val("l-std", "l-pro")})), 400, "two licenses")
	if len(ee.users.sortedIDs()) != 0 {
		t.Fatalf("a refused POST created the user")
	}
	c := ee.expect(ee.do("POST", "/v2/Users", body("p@example.com", map[string]any{"roles": val("r-viewer"), "entitlements": val("l-std")})), 201, "create")
	u := c.str("id")
	if !eqList(membersOf(ee.roles, "r-viewer"), u) || !eqList(membersOf(ee.licenses, "l-std"), u) {
		t.Fatalf("memberships after POST: %v %v", membersOf(ee.roles, "r-viewer"), membersOf(ee.licenses, "l-std"))
	}
	if !eqList(valueIDs(lookup(c.json, "roles")), "r-viewer") {
		t.Errorf("POST answer roles: %s", c.body)
	}
	if l := ee.sent.leaked(); l != "" {
		t.Errorf("entitlement values reached the users service: %s", l)
	}
	// PUT: roles become exactly the body's; entitlements absent: kept.
	p := ee.expect(ee.do("PUT", "/v2/Users/"+u, body("p@example.com", map[string]any{"roles": val("r-editor", "r-admin"), "displayName": "Renamed"})), 200, "put")
	if len(membersOf(ee.roles, "r-viewer")) != 0 || !eqList(membersOf(ee.roles, "r-editor"), u) || !eqList(membersOf(ee.roles, "r-admin"), u) {
		t.Errorf("roles after PUT: viewer %v editor %v admin %v", membersOf(ee.roles, "r-viewer"), membersOf(ee.roles, "r-editor"), membersOf(ee.roles, "r-admin"))
	}
	if !eqList(membersOf(ee.licenses, "l-std"), u) {
		t.Errorf("a PUT without entitlements changed them")
	}
	if p.str("displayName") != "Renamed" || !eqList(valueIDs(lookup(p.json, "roles")), "r-admin", "r-editor") {
		t.Errorf("PUT answer: %s", p.body)
	}
	// A refused PUT leaves everything as it was.
	ee.expect(ee.do("PUT", "/v2/Users/"+u, body("p@example.com", map[string]any{"roles": val("r-viewer", "ghost"), "displayName": "Not Applied"})), 400, "put unknown")
	if ee.users.byID[u].String("displayName") != "Renamed" || len(membersOf(ee.roles, "r-viewer")) != 0 {
		t.Errorf("a refused PUT wrote something")
	}
	// [] is none; a single-valued type swaps its value.
	ee.licenses.log = nil
	ee.expect(ee.do("PUT", "/v2/Users/"+u, body("p@example.com", map[string]any{"roles": []any{}, "entitlements": val("l-pro")})), 200, "put empty")
	// The old value goes first: never a moment with two.
	if !eqList(ee.licenses.log, "remove l-std", "add l-pro") {
		t.Errorf("license writes in the order %v", ee.licenses.log)
	}
	if len(membersOf(ee.roles, "r-editor"))+len(membersOf(ee.roles, "r-admin")) != 0 {
		t.Errorf("roles: [] left values")
	}
	if len(membersOf(ee.licenses, "l-std")) != 0 || !eqList(membersOf(ee.licenses, "l-pro"), u) {
		t.Errorf("license swap: std %v pro %v", membersOf(ee.licenses, "l-std"), membersOf(ee.licenses, "l-pro"))
	}
}

func entPatch(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{patchOpURN}, "Operations": list}
}

// PATCH add, remove (by value filter, by value list, all), replace and
// path-less forms, alone or with the user's own changes.
func TestEntitlementPatch(t *testing.T) {
	ee := newEntEnv(t, false, true)
	u := ee.newUser("patch@example.com")
	role := func(id string) []any { return []any{map[string]any{"value": id, "display": "x", "type": "Role"}} }
	r := ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "add", "path": "roles", "value": role("r-viewer")})), 200, "add")
	if !eqList(membersOf(ee.roles, "r-viewer"), u) || !eqList(valueIDs(lookup(r.json, "roles")), "r-viewer") {
		t.Fatalf("after add: %v %s", membersOf(ee.roles, "r-viewer"), r.body)
	}
	usersCalls := len(ee.users.calls)
	ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "add", "path": "roles", "value": role("r-viewer")})), 200, "add again")
	for _, c := range ee.users.calls[usersCalls:] {
		if c != "get" {
			t.Errorf("an entitlement-only PATCH wrote the user: %v", ee.users.calls[usersCalls:])
		}
	}
	// With the user's own change, and a core-URN path.
	ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(
		map[string]any{"op": "replace", "path": "displayName", "value": "Both"},
		map[string]any{"op": "add", "path": bridge.UserSchema + ":roles", "value": role("r-editor")})), 200, "with user change")
	if ee.users.byID[u].String("displayName") != "Both" || !eqList(membersOf(ee.roles, "r-editor"), u) {
		t.Errorf("combined PATCH: %q %v", ee.users.byID[u].String("displayName"), membersOf(ee.roles, "r-editor"))
	}
	// Remove with a value filter.
	ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "remove", "path": `roles[value eq "r-viewer"]`})), 200, "remove filter")
	if len(membersOf(ee.roles, "r-viewer")) != 0 || !eqList(membersOf(ee.roles, "r-editor"), u) {
		t.Errorf("remove by filter: viewer %v editor %v", membersOf(ee.roles, "r-viewer"), membersOf(ee.roles, "r-editor"))
	}
	// Path-less add and replace.
	ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "add", "value": map[string]any{"roles": role("r-admin"), "title": "Boss"}})), 200, "path-less add")
	if !eqList(membersOf(ee.roles, "r-admin"), u) || !eqList(membersOf(ee.roles, "r-editor"), u) || ee.users.byID[u].String("title") != "Boss" {
		t.Errorf("path-less add: admin %v editor %v title %q", membersOf(ee.roles, "r-admin"), membersOf(ee.roles, "r-editor"), ee.users.byID[u].String("title"))
	}
	ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "replace", "path": "roles", "value": role("r-viewer")})), 200, "replace")
	if !eqList(membersOf(ee.roles, "r-viewer"), u) || len(membersOf(ee.roles, "r-admin"))+len(membersOf(ee.roles, "r-editor")) != 0 {
		t.Errorf("replace: %v %v %v", membersOf(ee.roles, "r-viewer"), membersOf(ee.roles, "r-admin"), membersOf(ee.roles, "r-editor"))
	}
	// Remove with a list of values (Entra's members shape).
	ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "remove", "path": "roles", "value": role("r-viewer")})), 200, "remove list")
	if len(membersOf(ee.roles, "r-viewer")) != 0 {
		t.Errorf("remove by list left the value")
	}
	// The extension attribute, by its full path and path-less under its URN.
	lic := []any{map[string]any{"value": "l-std"}}
	ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "add", "path": licenseExtURN + ":licenses", "value": lic})), 200, "extension add")
	if !eqList(membersOf(ee.licenses, "l-std"), u) {
		t.Fatalf("extension add: %v", membersOf(ee.licenses, "l-std"))
	}
	// A second value of a single-valued type; an unknown value with a user
	// change: 400, nothing written.
	r = ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "add", "value": map[string]any{licenseExtURN: map[string]any{"licenses": []any{map[string]any{"value": "l-pro"}}}}})), 400, "second license")
	if !strings.Contains(r.str("detail"), "at most one") {
		t.Errorf("detail: %s", r.body)
	}
	r = ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(
		map[string]any{"op": "replace", "path": "displayName", "value": "Not Applied"},
		map[string]any{"op": "add", "path": "roles", "value": role("no-such-role-0000")})), 400, "unknown role")
	if !strings.Contains(r.str("detail"), "no-such-role-0000") {
		t.Errorf("detail does not name the value: %s", r.body)
	}
	if ee.users.byID[u].String("displayName") != "Both" || len(membersOf(ee.licenses, "l-pro")) != 0 {
		t.Errorf("a refused PATCH wrote something")
	}
	// A path into a value is refused.
	ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "replace", "path": `roles[value eq "r-viewer"].display`, "value": "x"})), 400, "sub path")
	// Remove all.
	ee.expect(ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "remove", "path": licenseExtURN + ":licenses"})), 200, "remove all")
	if len(membersOf(ee.licenses, "l-std")) != 0 {
		t.Errorf("remove all left the license")
	}
	if l := ee.sent.leaked(); l != "" {
		t.Errorf("entitlement values reached the users service: %s", l)
	}
}

// A value write failing mid-way undoes those made, and the user's own
// change too (no journal: the memberships go first, the user last).
func TestEntitlementFaultUndoes(t *testing.T) {
	ee := newEntEnv(t, false, false)
	u := ee.newUser("fault@example.com")
	seedValue(ee.roles, "r-keep", "Keep", u)
	ee.roles.setFault("r-admin", bridge.Errorf("fake", bridge.KindInternal, "refused"))
	ee.do("PATCH", "/v2/Users/"+u, entPatch(
		map[string]any{"op": "replace", "path": "displayName", "value": "Not Applied"},
		map[string]any{"op": "remove", "path": `roles[value eq "r-keep"]`},
		map[string]any{"op": "add", "path": "roles", "value": []any{map[string]any{"value": "r-editor"}, map[string]any{"value": "r-admin"}}}))
	if !eqList(membersOf(ee.roles, "r-keep"), u) || len(membersOf(ee.roles, "r-editor")) != 0 || len(membersOf(ee.roles, "r-admin")) != 0 {
		t.Errorf("after a failed value write: keep %v editor %v admin %v", membersOf(ee.roles, "r-keep"), membersOf(ee.roles, "r-editor"), membersOf(ee.roles, "r-admin"))
	}
	if ee.users.byID[u].String("displayName") != "Ent Tester" {
		t.Errorf("the user's change was made: %q", ee.users.byID[u].String("displayName"))
	}
	// The user's own write failing undoes the memberships.
	ee.roles.setFault("", nil)
	ee.users.fail = nil
	r := ee.do("PATCH", "/v2/Users/"+u, entPatch(
		map[string]any{"op": "replace", "path": "active", "value": "not-a-boolean"},
		map[string]any{"op": "add", "path": "roles", "value": []any{map[string]any{"value": "r-editor"}}}))
	if r.status/100 == 2 {
		t.Fatalf("a bad user value was accepted: %s", r.body)
	}
	if len(membersOf(ee.roles, "r-editor")) != 0 {
		t.Errorf("the membership stayed after the user's write failed")
	}
}

// With a journal, the directory going away between the values' writes
// leaves a record naming the type, and recovery finishes the request.
func TestEntitlementJournalFinishes(t *testing.T) {
	ee := newEntEnv(t, true, false)
	u := ee.newUser("journal@example.com")
	ee.licenses.setFault("l-std", bridge.Errorf("fake", bridge.KindUnavailable, "directory away"))
	r := ee.do("PUT", "/v2/Users/"+u, map[string]any{"userName": "journal@example.com", "displayName": "Journalled",
		"roles": []any{map[string]any{"value": "r-viewer"}}, "entitlements": []any{map[string]any{"value": "l-std"}}})
	if r.status != 503 {
		t.Fatalf("status %d, want 503: %s", r.status, r.body)
	}
	pending, err := ee.jr.Pending()
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending intents: %v %v", pending, err)
	}
	var mi membershipIntent
	if err := json.Unmarshal(pending[0].Data, &mi); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, ch := range mi.Changes {
		types[ch.Type] = true
	}
	if !types["Role"] || !types["License"] {
		t.Errorf("the record does not name the types: %s", pending[0].Data)
	}
	// Still away: recovery keeps it.
	if left, _ := ee.jr.RecoverOnce(context.Background()); left != 1 {
		t.Fatalf("left %d while the directory is away", left)
	}
	ee.licenses.setFault("", nil)
	if left, err := ee.jr.RecoverOnce(context.Background()); left != 0 || err != nil {
		t.Fatalf("left %d, %v", left, err)
	}
	if !eqList(membersOf(ee.roles, "r-viewer"), u) || !eqList(membersOf(ee.licenses, "l-std"), u) || ee.users.byID[u].String("displayName") != "Journalled" {
		t.Errorf("after recovery: roles %v licenses %v name %q", membersOf(ee.roles, "r-viewer"), membersOf(ee.licenses, "l-std"), ee.users.byID[u].String("displayName"))
	}
	// An entitlement-only PATCH cut short is finished too (no user write
	// to judge by: the record says it is done).
	ee.roles.setFault("r-admin", bridge.Errorf("fake", bridge.KindUnavailable, "directory away"))
	r = ee.do("PATCH", "/v2/Users/"+u, entPatch(map[string]any{"op": "add", "path": "roles", "value": []any{map[string]any{"value": "r-admin"}}}))
	if r.status != 503 {
		t.Fatalf("status %d, want 503", r.status)
	}
	ee.roles.setFault("", nil)
	if left, err := ee.jr.RecoverOnce(context.Background()); left != 0 || err != nil {
		t.Fatalf("left %d, %v", left, err)
	}
	if !eqList(membersOf(ee.roles, "r-admin"), u) {
		t.Errorf("the PATCH was not finished: %v", membersOf(ee.roles, "r-admin"))
	}
}

// Configuration mistakes are refused at New, as an operator's mistake.
func TestEntitlementMisconfigured(t *testing.T) {
	roles := newFakeService(valueType("Role", "/Roles", roleURN))
	for name, ents := range map[string][]Entitlement{
		"bad attribute":   {{Attr: "licenses", Values: roles}},
		"twice":           {{Attr: "roles", Values: roles}, {Attr: "roles", Values: newFakeService(valueType("Other", "/Others", roleURN))}},
		"endpoint taken":  {{Attr: "roles", Values: newFakeService(valueType("Role", "/Groups", roleURN))}},
		"reserved":        {{Attr: "roles", Values: newFakeService(valueType("Role", "/Schemas", roleURN))}},
		"users map it":    {{Attr: "emails", Values: roles}},
		"no values":       {{Attr: "roles"}},
		"name of a type":  {{Attr: "roles", Values: newFakeService(valueType("User", "/Roles", roleURN))}},
		"mapped ext attr": {{Attr: bridge.EnterpriseSchema + ":department", Values: roles}},
		"core by URN":     {{Attr: bridge.UserSchema + ":licenses", Values: roles}},
	} {
		_, err := New(Config{Auth: AuthConfig{HeaderName: "Authorization", HeaderValue: "Bearer x"}},
			Services{Users: newFakeService(userType()), Groups: newFakeService(groupType()), Entitlements: ents}, nil)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if bridge.KindOf(err) != bridge.KindMisconfigured {
			t.Errorf("%s: kind %v (%v)", name, bridge.KindOf(err), err)
		}
	}
}

// A create cut short after the directory made the user, before the answer
// came back: the journal's record, made before the user existed, names it
// by userName, and recovery gives it the values it was created with. A
// cut before the user was made, while an older user has the name, joins
// that user to nothing.
func TestEntitlementJournalCreateCut(t *testing.T) {
	ee := newEntEnv(t, true, false)
	ee.users.now = time.Now
	down := bridge.Errorf("fake", bridge.KindUnavailable, "directory away")
	ee.sent.cut, ee.sent.made = down, true
	r := ee.do("POST", "/v2/Users", map[string]any{"userName": "cut@example.com", "roles": []any{map[string]any{"value": "r-viewer"}}})
	if r.status != 503 {
		t.Fatalf("status %d, want 503: %s", r.status, r.body)
	}
	ee.sent.cut = nil
	ids := ee.users.sortedIDs()
	if len(ids) != 1 || len(membersOf(ee.roles, "r-viewer")) != 0 {
		t.Fatalf("before recovery: users %v, role members %v", ids, membersOf(ee.roles, "r-viewer"))
	}
	if left, err := ee.jr.RecoverOnce(context.Background()); left != 0 || err != nil {
		t.Fatalf("left %d, %v", left, err)
	}
	if !eqList(membersOf(ee.roles, "r-viewer"), ids[0]) {
		t.Errorf("after recovery the role holds %v, want %s", membersOf(ee.roles, "r-viewer"), ids[0])
	}

	// An old user of that name; the create is cut before anything is made.
	ee.users.now = func() time.Time { return time.Now().Add(-time.Hour) }
	old := ee.newUser("old@example.com")
	ee.users.now = time.Now
	ee.sent.cut, ee.sent.made = down, false
	ee.expect(ee.do("POST", "/v2/Users", map[string]any{"userName": "old@example.com", "roles": []any{map[string]any{"value": "r-admin"}}}), 503, "cut before")
	ee.sent.cut = nil
	if left, err := ee.jr.RecoverOnce(context.Background()); left != 0 || err != nil {
		t.Fatalf("left %d, %v", left, err)
	}
	if len(membersOf(ee.roles, "r-admin")) != 0 {
		t.Errorf("recovery gave the older user %s the role: %v", old, membersOf(ee.roles, "r-admin"))
	}
}
