//go:build unix

package testenv

import (
	"fmt"

	"github.com/go-ldap/ldap/v3"
)

// AccountLockSchema (OpenLDAPOptions.ExtraSchema) gives an OpenLDAP without
// ppolicy what 389 Directory Server and FreeIPA disable accounts with:
// nsAccountLock, under 389 DS's OID. 389 DS defines it as an operational
// attribute, which slapd does not let a schema define; here an auxiliary
// class (from OpenLDAP's experimental arc) allows it on an entry.
const AccountLockSchema = `dn: cn=accountlock,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: accountlock
olcAttributeTypes: ( 2.16.840.1.113730.3.1.610 NAME 'nsAccountLock' DESC 'account inactivation, as 389 Directory Server keeps it' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcObjectClasses: ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'dirbridgeAccountLock' DESC 'an entry that may carry nsAccountLock' SUP top AUXILIARY MAY nsAccountLock )
`

// AccountLockACL is the access rule that makes slapd refuse a bind to an
// account whose nsAccountLock is TRUE (slapd itself does not read the
// attribute): no one may use its password to authenticate. The rootdn is
// not subject to it; a service account that sets passwords needs its own
// "by dn.exact=... write" clause before "by * none".
const AccountLockACL = `to filter=(nsAccountLock=TRUE) attrs=userPassword by * none`

// AddAccess inserts rule as the first access rule of the data database
// (olcAccess {0}), as an administrator does with ldapmodify on cn=config.
func (o *OpenLDAP) AddAccess(rule string) error {
	l, err := ldap.DialURL(o.URL)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.Bind(o.AdminDN, o.AdminPassword); err != nil {
		return err
	}
	m := ldap.NewModifyRequest("olcDatabase={1}mdb,cn=config", nil)
	m.Add("olcAccess", []string{"{0}" + rule})
	if err := l.Modify(m); err != nil {
		return fmt.Errorf("testenv: adding access rule %q: %w", rule, err)
	}
	return nil
}
