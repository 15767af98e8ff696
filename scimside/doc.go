// Package scimside is dirbridge's SCIM server: everything between an HTTP
// request and a call on a bridge service. It owns routing by protocol
// version, authentication (Basic, a fixed header such as a bearer token,
// or explicitly none, compared in constant time), TLS and the plain-HTTP
// guard, request limits (body size, JSON depth, filter length and nesting),
// request ids, panic recovery, the SCIM 2.0 codec (bodies, PATCH messages,
// the filter and PATCH path parsers, attribute projection, list and error
// responses), discovery documents generated from the services' resource
// types, and the one table that turns a bridge.Kind into an HTTP status and
// scimType.
//
// A request travels: router (health checks; version base → codec) →
// authenticator → endpoint (/Users, /Groups: protocol-neutral, speaks
// bridge types) or the codec's discovery endpoints → ResourceService. SCIM
// 1.1 (Okta's on-premises agent, at "/" and "/v1") is the second codec over
// the same endpoints (v1codec); a 1.1 user body's groups are written through
// the Groups service (memberships.go). Entitlement types (Services.
// Entitlements, entitlements.go) are SCIM 2.0 only: each type's values at a
// read-only endpoint of their own, and on users an attribute (roles,
// entitlements or an extension's) written as value-level member changes of
// the values, through the same all-or-nothing code as the 1.1 groups. A
// SCIM 2.0 bulk request (bulk.go) is
// a list of such requests: each operation goes to its endpoint's handler as
// if sent alone.
//
// Errors are translated once where they enter (parser and decoder failures
// become *bridge.Error here) and handled once: writeError logs the full
// error with the request id and answers the client with the kind's status
// and the error's safe message, never LDAP text, a DN or a stack.
//
// Decisions:
//   - github.com/elimity-com/scim's Server is not used: it hard-codes
//     /ServiceProviderConfig (SCIM 1.1 needs /ServiceProviderConfigs and a
//     different document), puts raw error text into 500 bodies, and does
//     not hand PATCH to the service as operations. Its schema package does
//     serve: StandardSchemas turns RFC 7643's core User and Group schemas
//     and the enterprise extension, as that package defines them, into
//     bridge.SchemaDef for the mapping tables, so that /Schemas is the RFC's
//     definitions restricted to what a table stores. Its Validate methods
//     are not used: they know nothing of the tables (an attribute the RFC
//     defines but a table does not store must be accepted and ignored), and
//     their errors are not our safe messages.
//   - The filter parser is our own recursive descent rather than
//     github.com/scim2/filter-parser: we need Entra's unquoted values,
//     URN splitting by the resource type's known schema URNs, attribute
//     types to read unquoted values, and hard bounds on depth and size.
package scimside
