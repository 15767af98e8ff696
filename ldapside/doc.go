// Package ldapside implements bridge.Directory over LDAP with go-ldap, for
// OpenLDAP now and Active Directory later. It owns everything that is LDAP:
// the bounded connection pool and its recovery after a directory restart,
// TLS (ldaps:// and StartTLS, always verified), rendering bridge.Filter into
// escaped RFC 4515 filters, paging with Server-Side Sort and Virtual List
// View (with a Simple Paged Results fallback), writes that send a request's
// attribute changes, password and lock state as one operation, local
// verification of stored password hashes, and the one place where LDAP
// result codes become bridge.Error kinds.
//
// What differs between directory servers (which attribute is the id, how an
// account is disabled, which ordering rule sorts a key) sits behind the
// small dialect interface, so that an Active Directory dialect can be added
// without touching the pool or the paging code.
package ldapside
