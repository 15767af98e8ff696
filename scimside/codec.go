package scimside

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// SCIM 2.0 message and schema URNs (RFC 7644 §3, RFC 7643 §5-7).
const (
	errorURN        = "urn:ietf:params:scim:api:messages:2.0:Error"
	listURN         = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	patchOpURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	searchURN       = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	spcURN          = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeURN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaURN       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// codec is one SCIM protocol version's wire format over the canonical,
// SCIM 2.0-shaped model. The router and the resource endpoints speak only
// bridge types and call the codec at the edges: request bodies, filters and
// attribute names in; resources, lists, errors and discovery documents out.
//
// SCIM 2.0 is v2codec. SCIM 1.1 is v1codec, mounted at "/" and "/v1" (see
// Config.V1BasePaths): it translates 1.1 URNs (urn:scim:schemas:core:1.0,
// …:extension:enterprise:1.0, the tables' aliases) to and from the
// canonical ones, reads 1.1 PATCH (meta.attributes, members with
// "operation":"delete") into bridge.PatchOp, writes
// {"Errors":[{"description","code"}]}, and serves /ServiceProviderConfigs
// with Okta's userManagementCapabilities through discovery().
type codec interface {
	// errorBody renders an error response body.
	errorBody(status int, scimType, detail string) any
	// parseFilter parses a filter over rt.
	parseFilter(rt *bridge.ResourceType, s string) (bridge.Expr, error)
	// parseSelection parses attributes/excludedAttributes names over rt.
	parseSelection(rt *bridge.ResourceType, attributes, excluded []string) selection
	// decodeResource turns a POST or PUT body into a canonical resource.
	decodeResource(rt *bridge.ResourceType, body map[string]any) (bridge.Resource, error)
	// decodePatch turns a PATCH body into canonical operations.
	decodePatch(rt *bridge.ResourceType, body map[string]any) ([]bridge.PatchOp, error)
	// decodeSearch reads a POST …/.search body.
	decodeSearch(body map[string]any) (listParams, error)
	// encodeResource renders a resource; location is its absolute URL.
	encodeResource(rt *bridge.ResourceType, r bridge.Resource, location string, sel selection) any
	// encodeList renders a list response around already encoded resources.
	encodeList(resources []any, total, startIndex int) any
	// discovery returns the version's discovery endpoints, keyed by their
	// path segment in lower case.
	discovery() map[string]route
}

// v2codec is SCIM 2.0 (RFC 7643, RFC 7644).
type v2codec struct {
	info *discoveryInfo
}

func (v2codec) errorBody(status int, scimType, detail string) any {
	return newSCIMError(status, scimType, detail)
}

// parseFilter reads "meta.lastModified gt T" as including T's second, as
// the 1.1 codec does (see inclusiveTimes): an incremental sync over 2.0
// (Entra, Okta) must not miss a change either.
func (v2codec) parseFilter(rt *bridge.ResourceType, s string) (bridge.Expr, error) {
	x, err := parseFilter(rt, s)
	if err != nil {
		return nil, err
	}
	return inclusiveTimes(x), nil
}

func (v2codec) parseSelection(rt *bridge.ResourceType, attributes, excluded []string) selection {
	return parseSelection(rt, attributes, excluded)
}

// decodeResource checks schemas (resourceSchemas: the core URN, otherwise
// only the type's extensions; a body without schemas is accepted) and the
// text of every value (checkText); id, schemas and meta are framing and are
// dropped here. An extension's data under a URN the type declares is taken
// even when schemas does not list that URN: the URN says what it is.
func (v2codec) decodeResource(rt *bridge.ResourceType, body map[string]any) (bridge.Resource, error) {
	if err := resourceSchemas(rt, body); err != nil {
		return bridge.Resource{}, err
	}
	attrs := make(map[string]any, len(body))
	for k, v := range body {
		switch strings.ToLower(k) {
		case "schemas", "id", "meta":
			continue
		}
		attrs[k] = v
	}
	if err := checkText(nil, attrs); err != nil {
		return bridge.Resource{}, err
	}
	return bridge.Resource{Attrs: attrs}, nil
}

// decodePatch reads a PatchOp message: {"schemas":[…PatchOp],
// "Operations":[{"op","path","value"}]}. "Operations" and "op" are matched in
// any case, "op" values too (Entra sends "Replace"). "schemas", when
// present, is exactly the PatchOp URN.
func (v2codec) decodePatch(rt *bridge.ResourceType, body map[string]any) ([]bridge.PatchOp, error) {
	if err := messageSchemas(body, patchOpURN); err != nil {
		return nil, err
	}
	return decodePatchOps(rt, body)
}

// decodePatchOps reads the Operations of a PatchOp message whose schemas
// the caller has checked, and checks the text of their values.
func decodePatchOps(rt *bridge.ResourceType, body map[string]any) ([]bridge.PatchOp, error) {
	const op = "scimside.decodePatchOps"
	raw, ok := lookupFold(body, "Operations")
	if !ok {
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "a PATCH request needs Operations")
	}
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "Operations must be a non-empty array")
	}
	if len(list) > maxPatchOps {
		return nil, bridge.Errorf(op, bridge.KindTooMany, "a PATCH request may have at most %d operations", maxPatchOps)
	}
	var ops []bridge.PatchOp
	for i, item := range list {
		n := i + 1
		m, ok := item.(map[string]any)
		if !ok {
			return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "operation %d must be an object", n)
		}
		verbRaw, _ := lookupFold(m, "op")
		verb, ok := verbRaw.(string)
		verb = strings.ToLower(strings.TrimSpace(verb))
		if !ok || (verb != "add" && verb != "replace" && verb != "remove") {
			return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "operation %d: op must be add, replace or remove", n)
		}
		value, hasValue := lookupFold(m, "value")
		if verb != "remove" && !hasValue {
			return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "operation %d: %s needs a value", n, verb)
		}
		var path string
		if p, has := lookupFold(m, "path"); has && p != nil {
			s, ok := p.(string)
			if !ok {
				return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "operation %d: path must be a string", n)
			}
			path = strings.TrimSpace(s)
		}
		if path == "" {
			ops = append(ops, bridge.PatchOp{Op: verb, Value: value})
			continue
		}
		// A path that is a whole schema URN: some clients address an
		// extension as a unit. Add/replace become a path-less operation;
		// remove becomes a remove of each of its writable attributes.
		if strings.EqualFold(path, rt.Schema.ID) {
			if verb == "remove" {
				return nil, bridge.Errorf(op, bridge.KindInvalidPath, "operation %d: the core schema cannot be removed", n)
			}
			ops = append(ops, bridge.PatchOp{Op: verb, Value: value})
			continue
		}
		if ext := rt.Extension(path); ext != nil {
			if verb != "remove" {
				ops = append(ops, bridge.PatchOp{Op: verb, Value: map[string]any{ext.ID: value}})
				continue
			}
			for _, a := range ext.Attrs {
				if a.Mutability != "readOnly" {
					ops = append(ops, bridge.PatchOp{Op: "remove", Path: &bridge.PatchPath{Attr: bridge.AttrPath{URN: ext.ID, Attr: a.Name}}})
				}
			}
			continue
		}
		pp, err := parsePatchPath(rt, path)
		if err != nil {
			return nil, bridge.E(op, bridge.KindInvalidPath, fmt.Sprintf("operation %d: %s", n, bridge.SafeMessage(err)), err)
		}
		ops = append(ops, bridge.PatchOp{Op: verb, Path: pp, Value: value})
	}
	if err := checkOpsText(ops); err != nil {
		return nil, err
	}
	return ops, nil
}

// decodeSearch reads a SearchRequest (RFC 7644 §3.4.3). startIndex and count
// are accepted as numbers or numeric strings; attribute lists as arrays or
// comma-separated strings.
func (v2codec) decodeSearch(body map[string]any) (listParams, error) {
	const op = "scimside.(v2codec).decodeSearch"
	lp := listParams{startIndex: 1, count: -1}
	if err := messageSchemas(body, searchURN); err != nil {
		return lp, err
	}
	if v, ok := lookupFold(body, "filter"); ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return lp, bridge.Errorf(op, bridge.KindInvalidFilter, "filter must be a string")
		}
		lp.filter, lp.hasFilter = s, true
	}
	num := func(name string) (int, bool, error) {
		v, ok := lookupFold(body, name)
		if !ok || v == nil {
			return 0, false, nil
		}
		switch t := v.(type) {
		case float64:
			if t != float64(int64(t)) {
				return 0, false, bridge.Errorf(op, bridge.KindInvalidValue, "%s must be an integer", name)
			}
			if t > maxIndex {
				return maxIndex, true, nil
			}
			if t < -1 {
				return -1, true, nil
			}
			return int(t), true, nil
		case string:
			n, err := parseIndex(name, t)
			return n, err == nil, err
		}
		return 0, false, bridge.Errorf(op, bridge.KindInvalidValue, "%s must be an integer", name)
	}
	if n, ok, err := num("startIndex"); err != nil {
		return lp, err
	} else if ok {
		lp.startIndex = max(n, 1)
	}
	if n, ok, err := num("count"); err != nil {
		return lp, err
	} else if ok {
		lp.count = max(n, 0)
	}
	names := func(name string) ([]string, error) {
		v, ok := lookupFold(body, name)
		if !ok || v == nil {
			return nil, nil
		}
		switch t := v.(type) {
		case string:
			return splitNames(t), nil
		case []any:
			var out []string
			for _, x := range t {
				s, ok := x.(string)
				if !ok {
					return nil, bridge.Errorf(op, bridge.KindInvalidValue, "%s must be a list of attribute names", name)
				}
				out = append(out, splitNames(s)...)
			}
			return out, nil
		}
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "%s must be a list of attribute names", name)
	}
	var err error
	if lp.attributes, err = names("attributes"); err != nil {
		return lp, err
	}
	if lp.excluded, err = names("excludedAttributes"); err != nil {
		return lp, err
	}
	return lp, nil
}

// encodeResource renders schemas (the core schema and each extension
// present), id, externalId, the attributes and meta, in that order; the
// values of manager, members and groups get their $ref (withRefs).
func (c v2codec) encodeResource(rt *bridge.ResourceType, r bridge.Resource, location string, sel selection) any {
	attrs := sel.apply(rt, c.withRefs(rt, r, location, sel))
	schemas := []string{rt.Schema.ID}
	var core, exts []string
	for k := range attrs {
		if ext := rt.Extension(k); ext != nil {
			exts = append(exts, k)
			schemas = append(schemas, ext.ID)
			continue
		}
		if !strings.EqualFold(k, "externalId") {
			core = append(core, k)
		}
	}
	sort.Strings(core)
	sort.Strings(exts)
	sort.Strings(schemas[1:])
	obj := orderedObject{{"schemas", schemas}, {"id", r.ID}}
	if v, ok := lookupFold(attrs, "externalId"); ok {
		obj = append(obj, kv{"externalId", v})
	}
	for _, k := range core {
		obj = append(obj, kv{k, attrs[k]})
	}
	for _, k := range exts {
		obj = append(obj, kv{k, attrs[k]})
	}
	if sel.wantMeta() {
		obj = append(obj, kv{"meta", encodeMeta(r.Meta, location)})
	}
	return obj
}

func encodeMeta(m bridge.Meta, location string) orderedObject {
	meta := orderedObject{{"resourceType", m.ResourceType}}
	if !m.Created.IsZero() {
		meta = append(meta, kv{"created", m.Created.UTC().Format(time.RFC3339)})
	}
	if !m.LastModified.IsZero() {
		meta = append(meta, kv{"lastModified", m.LastModified.UTC().Format(time.RFC3339)})
	}
	if location != "" {
		meta = append(meta, kv{"location", location})
	}
	if m.Version != "" {
		meta = append(meta, kv{"version", m.Version})
	}
	return meta
}

// encodeList renders a ListResponse. The numbers are JSON integers (Okta
// breaks on strings) and Resources is always present, if empty.
func (v2codec) encodeList(resources []any, total, startIndex int) any {
	if resources == nil {
		resources = []any{}
	}
	return orderedObject{
		{"schemas", []string{listURN}},
		{"totalResults", total},
		{"startIndex", startIndex},
		{"itemsPerPage", len(resources)},
		{"Resources", resources},
	}
}

func (c v2codec) discovery() map[string]route {
	get := []string{http.MethodGet, http.MethodHead}
	return map[string]route{
		"serviceproviderconfig": {methods: get, maxSegs: 0, handle: c.serviceProviderConfig},
		"resourcetypes":         {methods: get, maxSegs: 1, handle: c.resourceTypes},
		"schemas":               {methods: get, maxSegs: 1, handle: c.schemas},
		"bulk":                  {methods: []string{http.MethodPost}, maxSegs: 0, handle: c.bulk()},
		".search":               {methods: []string{http.MethodPost}, maxSegs: 0, handle: notImplemented(rootSearchUnsupported)},
		"me":                    {methods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}, maxSegs: 0, handle: notImplemented("/Me is not supported")},
	}
}
