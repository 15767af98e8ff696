package ldapside

import (
	"context"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// The directory's schema, as its subschema entry (RFC 4512 §4.2) publishes
// it. Only the lookup the gateway needs at run time lives here (does an
// attribute type exist); `dirbridge check` reads the rest.

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
	for _, def := range res.Entries[0].GetEqualFoldAttributeValues("attributeTypes") {
		for _, n := range schemaNames(def) {
			if strings.EqualFold(n, name) {
				return true, nil
			}
		}
	}
	return false, nil
}

// schemaNames returns the NAME qdescrs of a definition such as
// "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )".
func schemaNames(def string) []string {
	i := strings.Index(def, " NAME ")
	if i < 0 {
		return nil
	}
	rest := strings.TrimSpace(def[i+len(" NAME "):])
	if strings.HasPrefix(rest, "(") {
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return nil
		}
		rest = rest[1:end]
	} else if j := strings.IndexByte(rest[min(1, len(rest)):], '\''); j >= 0 {
		rest = rest[:j+2]
	}
	var out []string
	for _, f := range strings.Fields(rest) {
		if n := strings.Trim(f, "'"); n != "" {
			out = append(out, n)
		}
	}
	return out
}
