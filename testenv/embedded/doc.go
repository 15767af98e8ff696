// Package embedded is the embedded directory the dirbridge binary serves
// without --config. It lives under testenv because the tests use it too,
// but apart from the launchers, so that importing it pulls no test code
// and no Unix-only calls into the product.
//
// OpenEmbedded implements bridge.Directory in process on a bbolt file and
// behaves like the OpenLDAP dialect of ldapside: entryUUID ids,
// ppolicy-style disabling, inetOrgPerson schema checks, memberOf and
// referential integrity. LDAPServer serves it over LDAP with gldap so that
// applications and the OpenLDAP command-line tools can bind and search it.
package embedded
