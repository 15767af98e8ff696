package scimside

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// discoveryInfo is what discovery documents are generated from: the
// resource types of the services (from the mapping tables), the auth
// configuration and the server's limits. Nothing in them is hand-written, so
// they stay true to what is served.
type discoveryInfo struct {
	types []*bridge.ResourceType
	// typesV2 are the types SCIM 2.0 serves: types with the users'
	// entitlement attributes, and the entitlement types.
	typesV2    []*bridge.ResourceType
	auth       AuthConfig
	maxBody    int64
	maxResults int
	// passwordSync: passwords sent by clients are written (Config).
	passwordSync bool
	// groups: a Groups service is served.
	groups bool
	// bulk serves POST /Bulk (SCIM 2.0; bulk.go); bulkMaxOps and
	// bulkMaxPayload are its limits.
	bulk           func(http.ResponseWriter, *http.Request, *call, []string) error
	bulkMaxOps     int
	bulkMaxPayload int64
}

// v2types are the resource types SCIM 2.0 serves.
func (d *discoveryInfo) v2types() []*bridge.ResourceType {
	if d.typesV2 != nil {
		return d.typesV2
	}
	return d.types
}

func notImplemented(msg string) func(http.ResponseWriter, *http.Request, *call, []string) error {
	return func(http.ResponseWriter, *http.Request, *call, []string) error {
		return bridge.Errorf("scimside.notImplemented", bridge.KindNotImplemented, "%s", msg)
	}
}

// changePassword reports whether any resource type takes a password.
func (d *discoveryInfo) changePassword() bool {
	for _, t := range d.types {
		if a := t.Schema.Attr("password"); a != nil && a.Mutability != "readOnly" {
			return true
		}
	}
	return false
}

// authSchemes describes the configured authentication (RFC 7643 §5).
func (d *discoveryInfo) authSchemes() []orderedObject {
	out := []orderedObject{}
	if d.auth.basic() {
		out = append(out, orderedObject{
			{"type", "httpbasic"}, {"name", "HTTP Basic"},
			{"description", "Authentication with HTTP Basic (user and password)"},
			{"specUri", "https://www.rfc-editor.org/info/rfc7617"},
			{"primary", len(out) == 0},
		})
	}
	if d.auth.header() {
		if d.auth.bearer() {
			out = append(out, orderedObject{
				{"type", "oauthbearertoken"}, {"name", "OAuth Bearer Token"},
				{"description", "Authentication with a bearer token in the Authorization header"},
				{"specUri", "https://www.rfc-editor.org/info/rfc6750"},
				{"primary", len(out) == 0},
			})
		} else {
			out = append(out, orderedObject{
				{"type", "header"}, {"name", "HTTP Header"},
				{"description", "Authentication with a fixed value in a configured HTTP header"},
				{"primary", len(out) == 0},
			})
		}
	}
	return out
}

// serviceProviderConfig serves /ServiceProviderConfig (RFC 7643 §5). It is
// generated without touching the directory: Okta's spec test wants it fast.
func (c v2codec) serviceProviderConfig(w http.ResponseWriter, r *http.Request, call *call, _ []string) error {
	d := c.info
	doc := orderedObject{
		{"schemas", []string{spcURN}},
		{"documentationUri", "https://github.com/dirbridge/dirbridge"},
		{"patch", orderedObject{{"supported", true}}},
		{"bulk", orderedObject{{"supported", d.bulk != nil}, {"maxOperations", d.bulkMaxOps}, {"maxPayloadSize", d.bulkMaxPayload}}},
		{"filter", orderedObject{{"supported", true}, {"maxResults", d.maxResults}}},
		{"changePassword", orderedObject{{"supported", d.passwordSync && d.changePassword()}}},
		{"sort", orderedObject{{"supported", false}}},
		{"etag", orderedObject{{"supported", true}}},
		{"authenticationSchemes", d.authSchemes()},
		{"meta", orderedObject{
			{"resourceType", "ServiceProviderConfig"},
			{"location", call.baseURL + "/ServiceProviderConfig"},
		}},
	}
	return respond(w, http.StatusOK, doc)
}

// resourceTypes serves /ResourceTypes and /ResourceTypes/{name}.
func (c v2codec) resourceTypes(w http.ResponseWriter, r *http.Request, call *call, segs []string) error {
	render := func(t *bridge.ResourceType) orderedObject {
		exts := []orderedObject{}
		for _, e := range t.Extensions {
			exts = append(exts, orderedObject{{"schema", e.ID}, {"required", false}})
		}
		return orderedObject{
			{"schemas", []string{resourceTypeURN}},
			{"id", t.Name},
			{"name", t.Name},
			{"endpoint", "/" + strings.Trim(t.Endpoint, "/")},
			{"description", firstNonEmpty(t.Schema.Description, t.Name)},
			{"schema", t.Schema.ID},
			{"schemaExtensions", exts},
			{"meta", orderedObject{
				{"resourceType", "ResourceType"},
				{"location", call.baseURL + "/ResourceTypes/" + url.PathEscape(t.Name)},
			}},
		}
	}
	if len(segs) == 1 {
		for _, t := range c.info.v2types() {
			if strings.EqualFold(t.Name, segs[0]) {
				return respond(w, http.StatusOK, render(t))
			}
		}
		return bridge.Errorf("scimside.resourceTypes", bridge.KindNotFound, "no such resource type")
	}
	var items []any
	for _, t := range c.info.v2types() {
		items = append(items, render(t))
	}
	return respond(w, http.StatusOK, c.encodeList(items, len(items), 1))
}

// schemas serves /Schemas and /Schemas/{urn}, rendered from the resource
// types' schema definitions (RFC 7643 §7).
func (c v2codec) schemas(w http.ResponseWriter, r *http.Request, call *call, segs []string) error {
	var all []*bridge.SchemaDef
	seen := map[string]bool{}
	for _, t := range c.info.v2types() {
		for _, s := range append([]*bridge.SchemaDef{withID(&t.Schema)}, extPtrs(t)...) {
			if !seen[strings.ToLower(s.ID)] {
				seen[strings.ToLower(s.ID)] = true
				all = append(all, s)
			}
		}
	}
	if len(segs) == 1 {
		for _, s := range all {
			if strings.EqualFold(s.ID, segs[0]) {
				return respond(w, http.StatusOK, renderSchema(s, call.baseURL))
			}
		}
		return bridge.Errorf("scimside.schemas", bridge.KindNotFound, "no such schema")
	}
	var items []any
	for _, s := range all {
		items = append(items, renderSchema(s, call.baseURL))
	}
	return respond(w, http.StatusOK, c.encodeList(items, len(items), 1))
}

// withID is a core schema with RFC 7643 §3.1's id listed first: readOnly,
// always returned, unique (§3.1 lets a schema list common attributes).
func withID(s *bridge.SchemaDef) *bridge.SchemaDef {
	out := *s
	out.Attrs = append([]bridge.AttrDef{commonIDAttr()}, s.Attrs...)
	return &out
}

func extPtrs(t *bridge.ResourceType) []*bridge.SchemaDef {
	out := make([]*bridge.SchemaDef, len(t.Extensions))
	for i := range t.Extensions {
		out[i] = &t.Extensions[i]
	}
	return out
}

func renderSchema(s *bridge.SchemaDef, base string) orderedObject {
	attrs := make([]orderedObject, 0, len(s.Attrs))
	for i := range s.Attrs {
		attrs = append(attrs, renderAttr(&s.Attrs[i]))
	}
	return orderedObject{
		{"schemas", []string{schemaURN}},
		{"id", s.ID},
		{"name", firstNonEmpty(s.Name, s.ID)},
		{"description", s.Description},
		{"attributes", attrs},
		{"meta", orderedObject{
			{"resourceType", "Schema"},
			{"location", base + "/Schemas/" + s.ID},
		}},
	}
}

// renderAttr renders an attribute definition with RFC 7643's defaults for
// characteristics the mapping leaves empty.
func renderAttr(a *bridge.AttrDef) orderedObject {
	o := orderedObject{
		{"name", a.Name},
		{"type", firstNonEmpty(string(a.Type), string(bridge.TypeString))},
		{"multiValued", a.MultiValued},
		{"description", a.Description},
		{"required", a.Required},
	}
	if a.Type != bridge.TypeComplex && a.Type != bridge.TypeBoolean {
		o = append(o, kv{"caseExact", a.CaseExact})
	}
	o = append(o,
		kv{"mutability", firstNonEmpty(a.Mutability, "readWrite")},
		kv{"returned", firstNonEmpty(a.Returned, "default")},
	)
	if a.Type != bridge.TypeComplex && a.Type != bridge.TypeBoolean {
		o = append(o, kv{"uniqueness", firstNonEmpty(a.Uniqueness, "none")})
	}
	if len(a.ReferenceTypes) > 0 {
		o = append(o, kv{"referenceTypes", a.ReferenceTypes})
	}
	if len(a.SubAttrs) > 0 {
		subs := make([]orderedObject, 0, len(a.SubAttrs))
		for i := range a.SubAttrs {
			subs = append(subs, renderAttr(&a.SubAttrs[i]))
		}
		o = append(o, kv{"subAttributes", subs})
	}
	return o
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
