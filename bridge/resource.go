package bridge

import (
	"strings"
	"time"
)

// Schema URNs of the canonical model. SCIM 1.1 URNs are translated to these at
// the edge, in scimside.
const (
	UserSchema       = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// Resource is a SCIM resource in the canonical (SCIM 2.0) shape. Attrs holds
// JSON-shaped values as encoding/json decodes them (string, float64, bool, nil,
// []any, map[string]any); core attributes sit at the top level, and each
// extension's attributes sit in a map under the extension's URN. id, meta and
// schemas are not in Attrs.
type Resource struct {
	ID    string
	Attrs map[string]any
	Meta  Meta
	// Patched marks a desired resource made from the current one (a
	// PATCH's result): an attribute it lacks was removed, even one that a
	// PUT leaves alone when omitted (a mapping row with owner "both": Okta's
	// agent does not resend every attribute, but a PATCH remove means it).
	Patched bool
}

// Meta is the SCIM meta of a resource.
type Meta struct {
	ResourceType string
	Created      time.Time
	LastModified time.Time
	Version      string
}

// Get returns the value at a top-level attribute name, case-insensitively.
func (r Resource) Get(name string) (any, bool) { return lookupFold(r.Attrs, name) }

// String returns a top-level string attribute, or "".
func (r Resource) String(name string) string {
	v, _ := r.Get(name)
	s, _ := v.(string)
	return s
}

// Clone returns a deep copy of r.
func (r Resource) Clone() Resource {
	out := r
	if r.Attrs != nil {
		out.Attrs = cloneValue(r.Attrs).(map[string]any)
	}
	return out
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = cloneValue(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = cloneValue(x)
		}
		return s
	}
	return v
}

// lookupFold finds key in m case-insensitively, preferring an exact match.
func lookupFold(m map[string]any, key string) (any, bool) {
	if m == nil {
		return nil, false
	}
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// keyFold returns the key of m that equals key case-insensitively, or key.
func keyFold(m map[string]any, key string) string {
	if _, ok := m[key]; ok {
		return key
	}
	for k := range m {
		if strings.EqualFold(k, key) {
			return k
		}
	}
	return key
}

// AttrType is a SCIM attribute type.
type AttrType string

const (
	TypeString    AttrType = "string"
	TypeBoolean   AttrType = "boolean"
	TypeDecimal   AttrType = "decimal"
	TypeInteger   AttrType = "integer"
	TypeDateTime  AttrType = "dateTime"
	TypeReference AttrType = "reference"
	TypeComplex   AttrType = "complex"
	TypeBinary    AttrType = "binary"
)

// AttrDef describes one attribute of a schema, for PATCH application,
// discovery (/Schemas) and value coercion.
type AttrDef struct {
	Name           string
	Type           AttrType
	MultiValued    bool
	Required       bool
	CaseExact      bool
	Mutability     string // readOnly, readWrite, immutable, writeOnly
	Returned       string // always, never, default, request
	Uniqueness     string // none, server, global
	Description    string
	ReferenceTypes []string
	SubAttrs       []AttrDef
}

// Sub returns the sub-attribute named name, case-insensitively.
func (a *AttrDef) Sub(name string) *AttrDef {
	for i := range a.SubAttrs {
		if strings.EqualFold(a.SubAttrs[i].Name, name) {
			return &a.SubAttrs[i]
		}
	}
	return nil
}

// SchemaDef is one SCIM schema: the core schema of a resource type or an
// extension.
type SchemaDef struct {
	ID          string
	Name        string
	Description string
	Attrs       []AttrDef
	// Aliases are other names of the same schema (an extension's SCIM 1.1
	// URN), from the mapping table. The canonical model uses only ID; the
	// SCIM 1.1 codec translates aliases to ID on the way in and back on the
	// way out.
	Aliases []string
}

// Attr returns the attribute named name, case-insensitively.
func (s *SchemaDef) Attr(name string) *AttrDef {
	for i := range s.Attrs {
		if strings.EqualFold(s.Attrs[i].Name, name) {
			return &s.Attrs[i]
		}
	}
	return nil
}

// ResourceType describes a resource type: its endpoint, core schema and
// extensions, as the mapping tables define them.
type ResourceType struct {
	Name       string // "User"
	Endpoint   string // "/Users"
	Schema     SchemaDef
	Extensions []SchemaDef
	// Unstored are the attributes ("nickName") and sub-attributes
	// ("name.middleName") that the standard schemas define and this
	// resource type does not store, by lower-case schema id. Clients send
	// the whole RFC schema; a body or a PATCH that names them is accepted
	// and they are ignored (RFC 7644 §3.3 lets a service provider ignore
	// what it does not support), the same in POST, PUT and PATCH. They are
	// not in Schema or Extensions, so /Schemas does not list them and a
	// filter on one is invalidFilter.
	Unstored map[string]map[string]bool
}

// IsUnstored reports whether p names a standard attribute that the
// resource type does not store.
func (rt *ResourceType) IsUnstored(p AttrPath) bool {
	urn := p.URN
	if urn == "" {
		urn = rt.Schema.ID
	}
	names := rt.Unstored[strings.ToLower(urn)]
	if names == nil {
		return false
	}
	if names[strings.ToLower(p.Attr)] {
		return true
	}
	return p.Sub != "" && names[strings.ToLower(p.Attr+"."+p.Sub)]
}

// Extension returns the extension schema with urn, case-insensitively.
func (rt *ResourceType) Extension(urn string) *SchemaDef {
	for i := range rt.Extensions {
		if strings.EqualFold(rt.Extensions[i].ID, urn) {
			return &rt.Extensions[i]
		}
	}
	return nil
}

// Resolve finds the definition of a path: top-level attribute and, when sub is
// non-empty, its sub-attribute. The URN may be empty (core) or any of the
// resource type's schema ids.
func (rt *ResourceType) Resolve(p AttrPath) (top *AttrDef, sub *AttrDef, ok bool) {
	var s *SchemaDef
	switch {
	case p.URN == "" || strings.EqualFold(p.URN, rt.Schema.ID):
		s = &rt.Schema
	default:
		s = rt.Extension(p.URN)
	}
	if s == nil {
		return nil, nil, false
	}
	top = s.Attr(p.Attr)
	if top == nil {
		return nil, nil, false
	}
	if p.Sub == "" {
		return top, nil, true
	}
	sub = top.Sub(p.Sub)
	return top, sub, sub != nil
}
