package main

import (
	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/scimside"
)

// entitlementServices are the entitlements table's types as the SCIM edge
// serves them: each a read-only service over its value groups, on the same
// audited directory as users and groups, so that every assignment (a member
// value added to or deleted from a value group) has its audit line naming
// the group. Page sizes are the users' ones: Okta pages values as it pages
// users. Nothing of the users' lifecycle applies to a value group.
func entitlementServices(ents *mapping.Entitlements, dir bridge.Directory, refs bridge.Refs, users bridge.ServiceConfig) []scimside.Entitlement {
	if ents == nil {
		return nil
	}
	out := make([]scimside.Entitlement, 0, len(ents.Types))
	for _, t := range ents.Types {
		svc := bridge.NewService(dir, mapping.NewEntitlementMapper(t), refs, bridge.ServiceConfig{
			DefaultPageSize: users.DefaultPageSize, MaxPageSize: users.MaxPageSize, ReadAhead: users.ReadAhead,
		})
		out = append(out, scimside.Entitlement{Attr: t.UserAttribute, Values: svc, MultiValued: t.MultiValued, Required: t.Required})
	}
	return out
}
