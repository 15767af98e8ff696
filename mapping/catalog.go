package mapping

import (
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// The standard attribute definitions of RFC 7643 §4 and §8.7. A table's
// ResourceType is these definitions restricted to what the table maps, so
// that /Schemas never advertises an attribute dirbridge would drop.

// coreURNs are the schema ids of the core schema of each resource type.
var coreURNs = map[string]string{"User": bridge.UserSchema, "Group": bridge.GroupSchema}

func str(name string, caseExact bool) bridge.AttrDef {
	return bridge.AttrDef{Name: name, Type: bridge.TypeString, CaseExact: caseExact, Mutability: "readWrite", Returned: "default", Uniqueness: "none"}
}

func boolean(name string) bridge.AttrDef {
	return bridge.AttrDef{Name: name, Type: bridge.TypeBoolean, Mutability: "readWrite", Returned: "default", Uniqueness: "none"}
}

func ref(name string, types ...string) bridge.AttrDef {
	a := str(name, true)
	a.Type = bridge.TypeReference
	a.ReferenceTypes = types
	return a
}

func complexAttr(name string, multi bool, subs ...bridge.AttrDef) bridge.AttrDef {
	return bridge.AttrDef{Name: name, Type: bridge.TypeComplex, MultiValued: multi, Mutability: "readWrite", Returned: "default", Uniqueness: "none", SubAttrs: subs}
}

func described(a bridge.AttrDef, d string) bridge.AttrDef { a.Description = d; return a }

// multiSubs are the sub-attributes RFC 7643 gives most multi-valued
// attributes: a value, a label, a type and a primary flag.
func multiSubs(valueType bridge.AttrType) []bridge.AttrDef {
	v := str("value", false)
	v.Type = valueType
	if valueType == bridge.TypeReference {
		v.ReferenceTypes = []string{"external"}
	}
	return []bridge.AttrDef{v, str("display", false), str("type", false), boolean("primary")}
}

func userCatalog() []bridge.AttrDef {
	userName := described(str("userName", false), "Unique identifier for the User, used to sign in.")
	userName.Required = true
	userName.Uniqueness = "server"
	externalID := described(str("externalId", true), "An identifier for the User as defined by the provisioning client.")
	groups := complexAttr("groups", true,
		bridge.AttrDef{Name: "value", Type: bridge.TypeString, Mutability: "readOnly", Returned: "default", Uniqueness: "none"},
		bridge.AttrDef{Name: "$ref", Type: bridge.TypeReference, ReferenceTypes: []string{"User", "Group"}, Mutability: "readOnly", Returned: "default", Uniqueness: "none"},
		bridge.AttrDef{Name: "display", Type: bridge.TypeString, Mutability: "readOnly", Returned: "default", Uniqueness: "none"},
		bridge.AttrDef{Name: "type", Type: bridge.TypeString, Mutability: "readOnly", Returned: "default", Uniqueness: "none"},
	)
	groups.Mutability = "readOnly"
	addrSubs := []bridge.AttrDef{
		str("formatted", false), str("streetAddress", false), str("locality", false), str("region", false),
		str("postalCode", false), str("country", false), str("type", false), boolean("primary"),
	}
	return []bridge.AttrDef{
		userName,
		externalID,
		described(complexAttr("name", false,
			str("formatted", false), str("familyName", false), str("givenName", false),
			str("middleName", false), str("honorificPrefix", false), str("honorificSuffix", false)),
			"The components of the user's real name."),
		str("displayName", false),
		str("nickName", false),
		ref("profileUrl", "external"),
		str("title", false),
		str("userType", false),
		str("preferredLanguage", false),
		str("locale", false),
		str("timezone", false),
		complexAttr("emails", true, multiSubs(bridge.TypeString)...),
		complexAttr("phoneNumbers", true, multiSubs(bridge.TypeString)...),
		complexAttr("ims", true, multiSubs(bridge.TypeString)...),
		complexAttr("photos", true, multiSubs(bridge.TypeReference)...),
		complexAttr("addresses", true, addrSubs...),
		groups,
		complexAttr("entitlements", true, multiSubs(bridge.TypeString)...),
		complexAttr("roles", true, multiSubs(bridge.TypeString)...),
		complexAttr("x509Certificates", true, multiSubs(bridge.TypeBinary)...),
	}
}

func enterpriseCatalog() []bridge.AttrDef {
	mv := str("value", false)
	mv.Description = "The id of the SCIM resource representing the User's manager."
	return []bridge.AttrDef{
		str("employeeNumber", false),
		str("costCenter", false),
		str("organization", false),
		str("division", false),
		str("department", false),
		complexAttr("manager", false, mv, ref("$ref", "User"), func() bridge.AttrDef {
			d := str("displayName", false)
			d.Mutability = "readOnly"
			return d
		}()),
	}
}

func groupCatalog() []bridge.AttrDef {
	dn := described(str("displayName", false), "A human-readable name for the Group.")
	dn.Required = true
	// Okta and Entra treat a second group with the same name as a duplicate.
	dn.Uniqueness = "server"
	mv := str("value", false)
	mv.Mutability = "immutable"
	return []bridge.AttrDef{
		dn,
		described(str("externalId", true), "An identifier for the Group as defined by the provisioning client."),
		complexAttr("members", true, mv, func() bridge.AttrDef {
			r := ref("$ref", "User", "Group")
			r.Mutability = "immutable"
			return r
		}(), func() bridge.AttrDef {
			d := str("display", false)
			d.Mutability = "readOnly"
			return d
		}(), func() bridge.AttrDef {
			t := str("type", false)
			t.Mutability = "immutable"
			return t
		}()),
	}
}

// lifecycleAttrs are handled by the services, not by rows; they are part of
// a user's schema whatever the table maps.
func lifecycleAttrs() []bridge.AttrDef {
	active := described(boolean("active"), "A Boolean value indicating the User's administrative status.")
	pw := described(str("password", false), "The User's cleartext password, to set it; never returned.")
	pw.Mutability = "writeOnly"
	pw.Returned = "never"
	return []bridge.AttrDef{active, pw}
}

// catalogFor returns the standard attributes of schema urn for resource type
// res, or nil when urn is not a standard schema (a custom extension).
func catalogFor(res, urn string) []bridge.AttrDef {
	switch {
	case strings.EqualFold(urn, coreURNs[res]) && res == "User":
		return userCatalog()
	case strings.EqualFold(urn, coreURNs[res]) && res == "Group":
		return groupCatalog()
	case strings.EqualFold(urn, bridge.EnterpriseSchema) && res == "User":
		return enterpriseCatalog()
	}
	return nil
}

func findDef(defs []bridge.AttrDef, name string) *bridge.AttrDef {
	for i := range defs {
		if strings.EqualFold(defs[i].Name, name) {
			return &defs[i]
		}
	}
	return nil
}
