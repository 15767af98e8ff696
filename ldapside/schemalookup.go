package ldapside

import (
	"context"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// The run-time question the gateway asks of the directory's schema (does
// an attribute type exist); schema.go parses it, inspect.go reads the rest
// for `dirbridge check`.

// HasAttributeType reports whether the directory's schema defines an
// attribute type named name (any of its names, without case).
func (c *Conn) HasAttributeType(ctx context.Context, name string) (bool, error) {
	const op = "ldapside.(*Conn).HasAttributeType"
	var ok bool
	err := c.with(ctx, nil, func(pc *pconn) error {
		var err error
		ok, err = hasAttributeType(pc, name)
		return err
	})
	return ok, translate(op, err)
}

// subschemaDN is the DN of the subschema entry that governs the root DSE
// (OpenLDAP: cn=Subschema; AD: CN=Aggregate,CN=Schema,CN=Configuration,…).
func subschemaDN(pc *pconn) (string, error) {
	res, err := pc.l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		filterAll, []string{"subschemaSubentry"}, nil))
	if err != nil {
		return "", err
	}
	if len(res.Entries) == 1 {
		if dn := res.Entries[0].GetEqualFoldAttributeValue("subschemaSubentry"); dn != "" {
			return dn, nil
		}
	}
	return "cn=Subschema", nil
}

func hasAttributeType(pc *pconn, name string) (bool, error) {
	dn, err := subschemaDN(pc)
	if err != nil {
		return false, err
	}
	res, err := pc.l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=subschema)", []string{"attributeTypes"}, nil))
	if err != nil {
		return false, err
	}
	if len(res.Entries) != 1 {
		return false, bridge.Errorf("ldapside.hasAttributeType", bridge.KindInternal, "the directory publishes no subschema entry")
	}
	// A definition the parser refuses is skipped: the question is only
	// whether name is among those that parse.
	schema, _ := ParseSchema(res.Entries[0].GetEqualFoldAttributeValues("attributeTypes"), nil, nil)
	return schema.Attribute(name) != nil, nil
}
