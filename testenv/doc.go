// Package testenv owns the embedded directory, the launchers for real
// directories used in tests, and recorded client conversations.
//
// The embedded directory (OpenEmbedded) implements bridge.Directory in
// process on a bbolt file and behaves like the OpenLDAP dialect of ldapside:
// entryUUID ids, ppolicy-style disabling, inetOrgPerson schema checks,
// memberOf and referential integrity. LDAPServer serves it over LDAP with
// gldap so that applications and the OpenLDAP command-line tools can bind and
// search it.
//
// The launchers (openldap.go, samba.go, replicated.go, process.go) are
// built on Unix only: they start Debian's slapd and samba by process group
// and signal them, which Windows has no equivalent of, and only tests and
// the bench use them. The embedded directory the binary serves builds
// everywhere, so that dirbridge builds for Windows too.
package testenv
