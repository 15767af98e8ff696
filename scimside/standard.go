package scimside

import (
	"strings"

	"github.com/elimity-com/scim/schema"

	"github.com/dirbridge/dirbridge/bridge"
)

// StandardSchemas returns RFC 7643's definitions of the core User and Group
// schemas and the enterprise User extension, as github.com/elimity-com/scim's
// schema package holds them, in the provisioning core's terms. The mapping
// tables are compiled against them (mapping.Options.Standard): a table row
// names one of these attributes and inherits its type and characteristics,
// and /Schemas shows what the rows map.
//
// The common attribute externalId (RFC 7643 §3.1) is part of both core
// schemas here, since tables map it like any other attribute; id and meta
// are not (the services own them; /Schemas lists id, see commonIDAttr).
func StandardSchemas() []bridge.SchemaDef {
	var externalID schema.CoreAttribute
	for _, a := range schema.CommonAttributes() {
		if a.Name() == "externalId" {
			externalID = a
		}
	}
	user := fromElimity(schema.CoreUserSchema())
	user.Attrs = insertAfter(user.Attrs, "userName", attrDef(externalID))
	group := fromElimity(schema.CoreGroupSchema())
	group.Attrs = insertAfter(group.Attrs, "displayName", attrDef(externalID))
	return []bridge.SchemaDef{user, fromElimity(schema.ExtensionEnterpriseUser()), group}
}

// commonIDAttr is RFC 7643 §3.1's id, which /Schemas lists first in each
// core schema (§3.1 allows listing common attributes; checkers look for it
// to learn that id is readOnly and always returned).
func commonIDAttr() bridge.AttrDef {
	for _, a := range schema.CommonAttributes() {
		if a.Name() == "id" {
			return attrDef(a)
		}
	}
	return bridge.AttrDef{Name: "id", Type: bridge.TypeString, CaseExact: true, Mutability: "readOnly", Returned: "always", Uniqueness: "server"}
}

func fromElimity(s schema.Schema) bridge.SchemaDef {
	out := bridge.SchemaDef{ID: s.ID, Name: s.Name.Value(), Description: s.Description.Value()}
	for _, a := range s.Attributes {
		out.Attrs = append(out.Attrs, attrDef(a))
	}
	return out
}

func attrDef(a schema.CoreAttribute) bridge.AttrDef {
	d := bridge.AttrDef{
		Name:        a.Name(),
		Type:        bridge.AttrType(a.AttributeType()),
		MultiValued: a.MultiValued(),
		Required:    a.Required(),
		CaseExact:   a.CaseExact(),
		Mutability:  a.Mutability(),
		Returned:    a.Returned(),
		Uniqueness:  a.Uniqueness(),
		Description: a.Description(),
	}
	for _, rt := range a.ReferenceTypes() {
		d.ReferenceTypes = append(d.ReferenceTypes, string(rt))
	}
	for _, s := range a.SubAttributes() {
		d.SubAttrs = append(d.SubAttrs, attrDef(s))
	}
	return d
}

func insertAfter(attrs []bridge.AttrDef, name string, d bridge.AttrDef) []bridge.AttrDef {
	for i := range attrs {
		if strings.EqualFold(attrs[i].Name, name) {
			out := append([]bridge.AttrDef(nil), attrs[:i+1]...)
			out = append(out, d)
			return append(out, attrs[i+1:]...)
		}
	}
	return append(attrs, d)
}
