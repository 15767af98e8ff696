// Package ldapside implements bridge.Directory over LDAP, for OpenLDAP and
// Active Directory. It owns everything that is LDAP: the bounded connection
// pool, its synchronous wire client (wireConn; go-ldap provides the types,
// filter compilation and error decoding) and its recovery after a directory
// restart, TLS (ldaps:// and StartTLS, always verified), rendering
// bridge.Filter into escaped RFC 4515 filters, paging with Server-Side Sort
// and Virtual List View (with a Simple Paged Results fallback), writes that
// send a request's attribute changes, password and lock state as one
// operation, local verification of stored password hashes, and the one place
// where LDAP result codes become bridge.Error kinds.
//
// What differs between directory servers (which attribute is the id, how an
// account is disabled, which ordering rule sorts a key) sits behind the
// small dialect interface, so that the pool and the paging code do not
// depend on the server.
package ldapside
