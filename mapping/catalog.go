package mapping

import (
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// A table's attributes are RFC 7643's definitions (§4, §8.7), which the SCIM
// edge hands in (Options.Standard: scimside.StandardSchemas, from the SCIM
// library's schema package) rather than a copy kept here. A table's
// ResourceType is those definitions restricted to what the table maps, so
// that /Schemas never advertises an attribute dirbridge would drop.

// coreURNs are the schema ids of the core schema of each resource type.
var coreURNs = map[string]string{"User": bridge.UserSchema, "Group": bridge.GroupSchema}

// extensionOf says which resource type a standard extension extends.
var extensionOf = map[string]string{strings.ToLower(bridge.EnterpriseSchema): "User"}

// lifecycleNames are the User attributes the services handle through the
// directory whatever the table maps: they are part of a user's schema.
var lifecycleNames = []string{"active", "password"}

// catalogFor returns the standard attributes of schema urn for resource type
// res, or nil when urn is not a standard schema of res (a custom extension).
func catalogFor(std []bridge.SchemaDef, res, urn string) []bridge.AttrDef {
	if !strings.EqualFold(urn, coreURNs[res]) && extensionOf[strings.ToLower(urn)] != res {
		return nil
	}
	for _, s := range std {
		if strings.EqualFold(s.ID, urn) {
			out := make([]bridge.AttrDef, 0, len(s.Attrs))
			for _, a := range s.Attrs {
				if strings.EqualFold(urn, bridge.UserSchema) && contains(lifecycleNames, a.Name) {
					continue
				}
				out = append(out, cloneDef(a))
			}
			return out
		}
	}
	return nil
}

// lifecycleAttrs are the standard definitions of lifecycleNames.
func lifecycleAttrs(std []bridge.SchemaDef) []bridge.AttrDef {
	var out []bridge.AttrDef
	for _, s := range std {
		if !strings.EqualFold(s.ID, bridge.UserSchema) {
			continue
		}
		for _, a := range s.Attrs {
			if contains(lifecycleNames, a.Name) {
				out = append(out, cloneDef(a))
			}
		}
	}
	return out
}

func findDef(defs []bridge.AttrDef, name string) *bridge.AttrDef {
	for i := range defs {
		if strings.EqualFold(defs[i].Name, name) {
			return &defs[i]
		}
	}
	return nil
}

// canonicalURN is urn as the standard schemas spell it.
func canonicalURN(std []bridge.SchemaDef, urn string) string {
	for _, s := range std {
		if strings.EqualFold(s.ID, urn) {
			return s.ID
		}
	}
	return urn
}

// standardName is a standard schema's name without blanks ("Enterprise
// User" → "EnterpriseUser").
func standardName(std []bridge.SchemaDef, urn string) string {
	for _, s := range std {
		if strings.EqualFold(s.ID, urn) && s.Name != "" {
			return strings.ReplaceAll(s.Name, " ", "")
		}
	}
	return nameFromURN(urn)
}

// nameFromURN names a custom extension that the table does not name: the
// last two parts of its URN that are not versions, joined and capitalised
// (urn:okta:custom:group:1.0 → CustomGroup), not its version ("1.0").
func nameFromURN(urn string) string {
	parts := strings.Split(urn, ":")
	var words []string
	for i := len(parts) - 1; i > 0 && len(words) < 2; i-- {
		p := parts[i]
		if p == "" || strings.Trim(p, "0123456789.") == "" {
			continue
		}
		words = append([]string{strings.ToUpper(p[:1]) + p[1:]}, words...)
	}
	if len(words) == 0 {
		return urn
	}
	return strings.Join(words, "")
}
