package scimside

import (
	"net/http"
	"sort"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// SCIM 1.1 URNs (draft-scim-core-schema-01, draft-scim-api-01) and Okta's
// provider-config extension, which its On-Premises Provisioning agent reads.
const (
	coreURN11          = "urn:scim:schemas:core:1.0"
	enterpriseURN11    = "urn:scim:schemas:extension:enterprise:1.0"
	oktaProviderURN    = "urn:okta:schemas:scim:providerconfig:1.0"
	maxResultsOktaOPP  = 100
	oppIncrementalCap  = "OPP_SCIM_INCREMENTAL_IMPORTS"
	oppGroupPushCap    = "GROUP_PUSH"
	oppPasswordPushCap = "PUSH_PASSWORD_UPDATES"
)

// v1codec is SCIM 1.1 as Okta's On-Premises Provisioning agent and Okta's
// cloud SCIM 1.1 apps speak it. It is a translation at the edge: bodies,
// filters and attribute names come in with 1.1 URNs and leave as the
// canonical (2.0) model; resources, lists and errors go out in 1.1 shape.
// Nothing below scimside sees the difference.
//
// URNs: the 1.1 core schema is the resource type's core schema; an
// extension answers to its canonical URN and to every alias its mapping
// table declares (the enterprise extension also to the standard 1.1
// enterprise URN, declared or not). Out, an extension is named by its first
// alias, so a table that maps urn:okta:<app>:1.0:user:custom as its own
// URN shows it unchanged in both versions.
type v1codec struct {
	info *discoveryInfo
}

// v1Names is the URN translation for one resource type.
type v1Names struct {
	in  map[string]string // lower-case 1.1 or canonical URN → canonical
	out map[string]string // canonical → the URN 1.1 clients see
	all []string          // every URN accepted, for splitting names
}

func v1NamesFor(rt *bridge.ResourceType) v1Names {
	n := v1Names{in: map[string]string{}, out: map[string]string{}}
	add := func(alias, canonical string) {
		if _, dup := n.in[strings.ToLower(alias)]; !dup {
			n.in[strings.ToLower(alias)] = canonical
			n.all = append(n.all, alias)
		}
	}
	if rt == nil {
		return n
	}
	add(rt.Schema.ID, rt.Schema.ID)
	add(coreURN11, rt.Schema.ID)
	n.out[rt.Schema.ID] = coreURN11
	for _, e := range rt.Extensions {
		add(e.ID, e.ID)
		out := e.ID
		for _, a := range e.Aliases {
			add(a, e.ID)
			if out == e.ID {
				out = a
			}
		}
		if strings.EqualFold(e.ID, bridge.EnterpriseSchema) {
			add(enterpriseURN11, e.ID)
			if out == e.ID {
				out = enterpriseURN11
			}
		}
		n.out[e.ID] = out
	}
	return n
}

// canonical returns the canonical URN for urn (any case), or "".
func (n v1Names) canonical(urn string) string { return n.in[strings.ToLower(urn)] }

// translateName rewrites an attribute name whose URN prefix is a 1.1 one:
// "urn:scim:schemas:extension:enterprise:1.0:department" → the enterprise
// 2.0 URN and ":department"; a bare URN is translated whole.
func (n v1Names) translateName(name string) string {
	if c := n.canonical(name); c != "" {
		return c
	}
	urn, rest := bridge.SplitURNPath(name, n.all)
	if urn == "" {
		return name
	}
	return n.canonical(urn) + ":" + rest
}

// translateKeys returns body with top-level keys in canonical form: 1.1
// URNs of whole extensions and URN-prefixed attribute names. The framing
// keys schemas, id and meta are dropped.
func (n v1Names) translateKeys(body map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		switch strings.ToLower(k) {
		case "schemas", "id", "meta":
			continue
		}
		ck := n.translateName(k)
		if prev, ok := out[ck].(map[string]any); ok {
			// The same extension under its 1.1 and its 2.0 URN: merge, the
			// way one client would mean it.
			if m, ok := v.(map[string]any); ok {
				for mk, mv := range m {
					prev[mk] = mv
				}
				continue
			}
		}
		out[ck] = v
	}
	return out
}

func (c v1codec) errorBody(status int, _ string, detail string) any {
	return newSCIM11Error(status, detail)
}

// scim11Error is a SCIM 1.1 error response (draft-scim-api-01 §3.9). code
// is a JSON number: Okta documents it so, and its agent reads it as one
// (it parses strings too; a number never surprises a reader of either).
type scim11Error struct {
	Errors []scim11ErrorItem `json:"Errors"`
}

type scim11ErrorItem struct {
	Description string `json:"description"`
	Code        int    `json:"code"`
}

func newSCIM11Error(status int, detail string) scim11Error {
	if detail == "" {
		detail = http.StatusText(status)
	}
	return scim11Error{Errors: []scim11ErrorItem{{Description: detail, Code: status}}}
}

// parseFilter parses a 1.1 filter: the grammar is 2.0's (1.1's is a
// subset), attribute names may carry 1.1 URNs, and a comparison of
// meta.lastModified or meta.created with gt includes the second the
// instant falls in (see inclusiveTimes).
func (c v1codec) parseFilter(rt *bridge.ResourceType, s string) (bridge.Expr, error) {
	n := v1NamesFor(rt)
	x, err := parseFilterWith(rt, s, n)
	if err != nil {
		return nil, err
	}
	return inclusiveTimes(x), nil
}

// inclusiveTimes turns "meta.lastModified gt T" into "ge T". Directories
// keep modification times in whole seconds (OpenLDAP's modifyTimestamp,
// AD's whenChanged, the embedded directory), so an entry stamped with T's
// second may have changed after T. Okta's incremental import asks for what
// changed after its last import: a change in that second must not be lost,
// and a user imported twice costs nothing. So gt includes T's second; lt,
// le, ge and eq are left as they are.
func inclusiveTimes(x bridge.Expr) bridge.Expr {
	switch e := x.(type) {
	case *bridge.CompareExpr:
		if e.Op == bridge.OpGt && (e.Path.URN == "" || strings.EqualFold(e.Path.URN, bridge.UserSchema) || strings.EqualFold(e.Path.URN, bridge.GroupSchema)) &&
			strings.EqualFold(e.Path.Attr, "meta") && (strings.EqualFold(e.Path.Sub, "lastModified") || strings.EqualFold(e.Path.Sub, "created")) {
			c := *e
			c.Op = bridge.OpGe
			return &c
		}
	case *bridge.LogicalExpr:
		return &bridge.LogicalExpr{Op: e.Op, Left: inclusiveTimes(e.Left), Right: inclusiveTimes(e.Right)}
	case *bridge.NotExpr:
		// Under not, gt and ge would swap which side loses the second;
		// leave the client's meaning exact there.
		return e
	}
	return x
}

func (c v1codec) parseSelection(rt *bridge.ResourceType, attributes, excluded []string) selection {
	n := v1NamesFor(rt)
	tr := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = n.translateName(s)
		}
		return out
	}
	return parseSelection(rt, tr(attributes), tr(excluded))
}

// decodeResource translates a 1.1 body to the canonical model. Okta's agent
// types emails "primary"/"secondary": the primary one becomes primary.
// groups is not part of the resource: the endpoint writes it through the
// groups (see userGroups).
//
// schemas is checked as in 2.0 with the 1.1 names (v1Names.schemas).
func (c v1codec) decodeResource(rt *bridge.ResourceType, body map[string]any) (bridge.Resource, error) {
	n := v1NamesFor(rt)
	if err := n.schemas(rt, body); err != nil {
		return bridge.Resource{}, err
	}
	attrs := n.translateKeys(body)
	if rt != nil && rt.Name == "User" {
		for k := range attrs {
			if strings.EqualFold(k, "groups") {
				delete(attrs, k)
			}
		}
	}
	if v, ok := lookupFold(attrs, "emails"); ok {
		primaryFromType(v)
	}
	if err := checkText(nil, attrs); err != nil {
		return bridge.Resource{}, err
	}
	return bridge.Resource{Attrs: attrs}, nil
}

// schemas checks a 1.1 body's schemas the way resourceSchemas does a 2.0
// one, with the names 1.1 gives the schemas: urn:scim:schemas:core:1.0 (or
// the canonical core URN) must be there, and every other URN must name one
// of the type's extensions, by its URN or an alias. Okta's agent lists its
// urn:okta:<app>:1.0:user:custom, so the table must declare that URN
// (mapping.vars.okta_app): an undeclared one is refused, where it used to
// lose the custom attributes without a word.
func (n v1Names) schemas(rt *bridge.ResourceType, body map[string]any) error {
	if rt == nil {
		return nil
	}
	known := func(s string) bool { return n.canonical(s) != "" }
	core := func(s string) bool { return n.canonical(s) == rt.Schema.ID }
	return checkSchemas(body, rt.Endpoint, known, core, coreURN11)
}

// primaryFromType marks the value typed "primary" as the primary one when
// no value carries the primary flag.
func primaryFromType(v any) {
	list, ok := v.([]any)
	if !ok {
		return
	}
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			if p, ok := lookupFold(m, "primary"); ok && p == true {
				return
			}
		}
	}
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			if t, _ := lookupFold(m, "type"); t != nil {
				if s, ok := t.(string); ok && strings.EqualFold(s, "primary") {
					m["primary"] = true
					return
				}
			}
		}
	}
}

// userGroups reads the groups of a 1.1 user body: the ids of the groups
// the user is to be in. present is false when the body has no groups.
func (c v1codec) userGroups(rt *bridge.ResourceType, body map[string]any) (ids []string, present bool, err error) {
	const op = "scimside.(v1codec).userGroups"
	if rt == nil || rt.Name != "User" {
		return nil, false, nil
	}
	v, ok := lookupFold(body, "groups")
	if !ok || v == nil {
		return nil, false, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false, bridge.Errorf(op, bridge.KindInvalidValue, "groups must be a list of {\"value\": group id}")
	}
	seen := map[string]bool{}
	for _, item := range list {
		var id string
		switch t := item.(type) {
		case string:
			id = t
		case map[string]any:
			if op, _ := lookupFold(t, "operation"); op != nil {
				if s, _ := op.(string); strings.EqualFold(s, "delete") {
					continue
				}
			}
			x, _ := lookupFold(t, "value")
			id, _ = x.(string)
		}
		id = strings.TrimSpace(id)
		if id == "" {
			return nil, false, bridge.Errorf(op, bridge.KindInvalidValue, "each of groups needs a value: the group's id")
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, true, nil
}

// decodePatch reads a SCIM 1.1 PATCH (draft-scim-api-01 §3.3.2), as Okta's
// cloud SCIM 1.1 apps send it: the body is a partial resource. Single-valued
// attributes are replaced; values of multi-valued ones are added, except
// those marked "operation": "delete", which are removed; meta.attributes
// lists attributes to remove. A body that carries 2.0 Operations is read as
// 2.0 PATCH, for clients that mix the versions.
//
// schemas is the resource's, as for PUT (v1Names.schemas); a 2.0 PATCH may
// carry either that or the PatchOp URN.
func (c v1codec) decodePatch(rt *bridge.ResourceType, body map[string]any) ([]bridge.PatchOp, error) {
	const op = "scimside.(v1codec).decodePatch"
	n := v1NamesFor(rt)
	if _, ok := lookupFold(body, "Operations"); ok {
		if err := messageSchemas(body, patchOpURN); err != nil {
			if n.schemas(rt, body) != nil {
				return nil, err
			}
		}
		return decodePatchOps(rt, body)
	}
	if err := n.schemas(rt, body); err != nil {
		return nil, err
	}
	var ops []bridge.PatchOp
	if m, ok := lookupFold(body, "meta"); ok {
		if mm, ok := m.(map[string]any); ok {
			if ra, ok := lookupFold(mm, "attributes"); ok && ra != nil {
				list, ok := ra.([]any)
				if !ok {
					return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "meta.attributes must be a list of attribute names")
				}
				for _, x := range list {
					s, ok := x.(string)
					if !ok {
						return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "meta.attributes must be a list of attribute names")
					}
					pp, err := parsePatchPath(rt, n.translateName(strings.TrimSpace(s)))
					if err != nil {
						return nil, bridge.E(op, bridge.KindInvalidPath, "meta.attributes: "+bridge.SafeMessage(err), err)
					}
					ops = append(ops, bridge.PatchOp{Op: "remove", Path: pp})
				}
			}
		}
	}
	attrs := n.translateKeys(body)
	if v, ok := lookupFold(attrs, "emails"); ok {
		primaryFromType(v)
	}
	rest := map[string]any{}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable order of operations, for logs and tests
	for _, k := range keys {
		v := attrs[k]
		def := rt.Schema.Attr(k)
		list, isList := v.([]any)
		if def == nil || !def.MultiValued || def.Type != bridge.TypeComplex || !isList {
			rest[k] = v
			continue
		}
		path := &bridge.PatchPath{Attr: bridge.AttrPath{Attr: def.Name}}
		var adds, dels []any
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				adds = append(adds, item)
				continue
			}
			clean := make(map[string]any, len(m))
			del := false
			for mk, mv := range m {
				if strings.EqualFold(mk, "operation") {
					s, _ := mv.(string)
					del = strings.EqualFold(s, "delete")
					continue
				}
				clean[mk] = mv
			}
			if del {
				dels = append(dels, clean)
			} else {
				adds = append(adds, clean)
			}
		}
		if len(dels) > 0 {
			ops = append(ops, bridge.PatchOp{Op: "remove", Path: path, Value: dels})
		}
		if len(adds) > 0 {
			ops = append(ops, bridge.PatchOp{Op: "add", Path: path, Value: adds})
		}
	}
	if len(rest) > 0 {
		ops = append(ops, bridge.PatchOp{Op: "replace", Value: rest})
	}
	if len(ops) > maxPatchOps {
		return nil, bridge.Errorf(op, bridge.KindTooMany, "a PATCH request may change at most %d attributes", maxPatchOps)
	}
	if err := checkOpsText(ops); err != nil {
		return nil, err
	}
	return ops, nil
}

func (c v1codec) decodeSearch(body map[string]any) (listParams, error) {
	return v2codec{}.decodeSearch(body)
}

// encodeResource renders a resource in 1.1 shape: the 2.0 rendering with
// schemas and extension keys named by their 1.1 URNs. It adds no $ref
// (v2codec{} has no discovery info): $ref is SCIM 2.0's (RFC 7643 §2.3.7);
// 1.1 names a referenced resource by its id in value alone (the manager by
// managerId), and Okta's agent reads these answers into its 1.1 object
// model, where an attribute 1.1 does not define is a risk with nothing to
// gain.
func (c v1codec) encodeResource(rt *bridge.ResourceType, r bridge.Resource, location string, sel selection) any {
	n := v1NamesFor(rt)
	obj, _ := v2codec{}.encodeResource(rt, r, location, sel).(orderedObject)
	for i, m := range obj {
		if m.Key == "schemas" {
			if list, ok := m.Value.([]string); ok {
				out := make([]string, len(list))
				for j, s := range list {
					out[j] = n.urnOut(s)
				}
				obj[i].Value = out
			}
			continue
		}
		if rt.Extension(m.Key) != nil {
			obj[i].Key = n.urnOut(m.Key)
		}
	}
	return obj
}

func (n v1Names) urnOut(urn string) string {
	for k, v := range n.out {
		if strings.EqualFold(k, urn) {
			return v
		}
	}
	return urn
}

// encodeList renders a 1.1 ListResponse; the numbers are JSON integers
// (Okta's agent breaks on strings).
func (c v1codec) encodeList(resources []any, total, startIndex int) any {
	if resources == nil {
		resources = []any{}
	}
	return orderedObject{
		{"schemas", []string{coreURN11}},
		{"totalResults", total},
		{"startIndex", startIndex},
		{"itemsPerPage", len(resources)},
		{"Resources", resources},
	}
}

func (c v1codec) discovery() map[string]route {
	get := []string{http.MethodGet, http.MethodHead}
	return map[string]route{
		// Okta's agent reads the plural; the singular is served too, for
		// clients that take 2.0's name.
		"serviceproviderconfigs": {methods: get, maxSegs: 0, handle: c.serviceProviderConfigs},
		"serviceproviderconfig":  {methods: get, maxSegs: 0, handle: c.serviceProviderConfigs},
		"schemas":                {methods: get, maxSegs: 1, handle: c.schemas},
		"bulk":                   {methods: []string{http.MethodPost}, maxSegs: 0, handle: notImplemented("bulk operations are not supported")},
		".search":                {methods: []string{http.MethodPost}, maxSegs: 0, handle: notImplemented(rootSearchUnsupported)},
	}
}

// capabilities lists what Okta's agent may do, as Okta's provider-config
// extension names it, derived from what is configured: password pushes only
// when passwords are synchronised and the users take one, group push only
// when groups are served, lifecycle pushes only when users have active.
// Incremental import is always offered: every mapping table filters
// meta.lastModified on the directory's own modification time.
func (d *discoveryInfo) capabilities() []string {
	caps := []string{"IMPORT_NEW_USERS", "IMPORT_PROFILE_UPDATES", "PUSH_NEW_USERS", "PUSH_PROFILE_UPDATES"}
	var users *bridge.ResourceType
	for _, t := range d.types {
		if t.Name == "User" {
			users = t
		}
	}
	if users != nil {
		if a := users.Schema.Attr("active"); a != nil && a.Mutability != "readOnly" {
			caps = append(caps, "PUSH_PENDING_USERS", "PUSH_USER_DEACTIVATION", "REACTIVATE_USERS")
		}
		if a := users.Schema.Attr("password"); a != nil && a.Mutability != "readOnly" && d.passwordSync {
			caps = append(caps, oppPasswordPushCap)
		}
	}
	if d.groups {
		caps = append(caps, oppGroupPushCap)
	}
	caps = append(caps, oppIncrementalCap)
	sort.Strings(caps)
	return caps
}

// serviceProviderConfigs serves the SCIM 1.1 provider config with Okta's
// userManagementCapabilities. maxResults is Okta's page size: the agent
// pages by 100 and the users service serves that whatever its own maximum.
func (c v1codec) serviceProviderConfigs(w http.ResponseWriter, r *http.Request, call *call, _ []string) error {
	d := c.info
	doc := orderedObject{
		{"schemas", []string{coreURN11, oktaProviderURN}},
		{"documentationUrl", "https://github.com/dirbridge/dirbridge"},
		{"patch", orderedObject{{"supported", true}}},
		{"bulk", orderedObject{{"supported", false}, {"maxOperations", 0}, {"maxPayloadSize", d.maxBody}}},
		{"filter", orderedObject{{"supported", true}, {"maxResults", min(max(d.maxResults, 1), maxResultsOktaOPP)}}},
		{"changePassword", orderedObject{{"supported", d.passwordSync && d.changePassword()}}},
		{"sort", orderedObject{{"supported", false}}},
		{"etag", orderedObject{{"supported", true}}},
		{"authenticationSchemes", d.authSchemes()},
		{oktaProviderURN, orderedObject{{"userManagementCapabilities", d.capabilities()}}},
	}
	return respond(w, http.StatusOK, doc)
}

// schemas serves /Schemas (optional in 1.1): the same definitions as 2.0's,
// named by their 1.1 URNs. /Schemas/{urn} takes either name, and the
// resource type's name ("Users", "User") for the core schema, as 1.1
// clients address it.
func (c v1codec) schemas(w http.ResponseWriter, r *http.Request, call *call, segs []string) error {
	type named struct {
		id  string
		def *bridge.SchemaDef
		rt  *bridge.ResourceType
	}
	var all []named
	seen := map[string]bool{}
	for _, t := range c.info.types {
		n := v1NamesFor(t)
		for _, s := range append([]*bridge.SchemaDef{&t.Schema}, extPtrs(t)...) {
			id := n.urnOut(s.ID)
			if s.ID == t.Schema.ID {
				id = s.ID // the two core schemas share the 1.1 URN: keep them apart
			}
			if !seen[strings.ToLower(s.ID)] {
				seen[strings.ToLower(s.ID)] = true
				all = append(all, named{id: id, def: s, rt: t})
			}
		}
	}
	render := func(x named) orderedObject {
		def := *x.def
		id := x.id
		if def.ID == x.rt.Schema.ID {
			id = coreURN11
		}
		def.ID = id
		o := renderSchema(&def, call.baseURL)
		o[0].Value = []string{coreURN11}
		if def.ID == coreURN11 {
			o[len(o)-1].Value = orderedObject{{"resourceType", "Schema"}, {"location", call.baseURL + "/Schemas/" + x.rt.Name}}
		}
		return o
	}
	if len(segs) == 1 {
		want := segs[0]
		for _, x := range all {
			n := v1NamesFor(x.rt)
			if strings.EqualFold(x.id, want) || strings.EqualFold(n.canonical(want), x.def.ID) && x.def.ID != x.rt.Schema.ID ||
				x.def.ID == x.rt.Schema.ID && (strings.EqualFold(want, x.rt.Name) || strings.EqualFold(want, strings.Trim(x.rt.Endpoint, "/"))) {
				return respond(w, http.StatusOK, render(x))
			}
		}
		return bridge.Errorf("scimside.(v1codec).schemas", bridge.KindNotFound, "no such schema")
	}
	var items []any
	for _, x := range all {
		items = append(items, render(x))
	}
	return respond(w, http.StatusOK, c.encodeList(items, len(items), 1))
}
