// Package bridge owns dirbridge's provisioning core: the canonical SCIM-shaped
// resource model, the Users service and its lifecycle rules, the Directory
// contract that every directory backend implements, the protocol-neutral filter
// and PATCH models, and the one error type that crosses package lines.
//
// bridge imports only the standard library. Protocol packages (scimside,
// ldapside) and the mapping tables depend on it, never the other way round.
package bridge
