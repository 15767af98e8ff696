package bridge

import "context"

// Mapper turns resources of one type into directory entries and back, as the
// mapping tables say. The mapping package implements it; the services here
// own the lifecycle rules around it. Mappers never see "active" or
// "password": those are lifecycle, handled by the services through the
// Directory's Disabled and Password fields.
type Mapper interface {
	// ResourceType describes the resource type for discovery, PATCH and
	// normalization; it includes active and password where they apply.
	ResourceType() *ResourceType
	// Container is the DN below which resources of this type are created and
	// searched.
	Container() string
	// ObjectFilter selects, below Container, the entries that are resources of
	// this type.
	ObjectFilter() *Filter
	// DirectoryAttrs lists the directory attributes Resource needs.
	DirectoryAttrs() []string
	// SortAttr is the directory attribute that orders list responses; ""
	// means the immutable id.
	SortAttr() string
	// NewEntry plans the entry for a new resource: DN and attributes. It
	// fails with KindInvalidValue naming any required attribute that has no
	// value.
	NewEntry(ctx context.Context, r Resource, refs Refs) (*EntryPlan, error)
	// Changes plans the changes that make current hold desired, touching only
	// attributes the identity provider owns, and a rename when the RDN's
	// value changes.
	Changes(ctx context.Context, current *Entry, desired Resource, refs Refs) (*EntryPlan, error)
	// Resource builds the resource an entry represents, without active (the
	// service sets it from Entry.Disabled), id or meta.
	Resource(ctx context.Context, e *Entry, refs Refs) (Resource, error)
	// Filter translates a SCIM filter over this resource type into a directory
	// filter. Unknown attributes are KindInvalidFilter. Filters on "active"
	// use the virtual attribute VirtualDisabled, on meta.created and
	// meta.lastModified VirtualCreated and VirtualModified, on id VirtualID.
	Filter(ctx context.Context, x Expr, refs Refs) (*Filter, error)
}

// ListMapper is a Mapper whose Resource reads fewer directory attributes
// than DirectoryAttrs lists (which also serves writes: a write's plan needs
// objectClass, the resource never does). A walk of every resource (a list
// without a filter, an identity provider's import) asks the directory for
// ListAttrs only: the object classes were a seventh of the values of a
// typical user and a seventh of the gateway's processor time per page.
// Filtered lists still read DirectoryAttrs, so that a lookup's one entry
// can be remembered for the write that usually follows.
type ListMapper interface {
	ListAttrs() []string
}

// EntryPlan is what a Mapper wants done in the directory.
type EntryPlan struct {
	DN          string              // NewEntry: the new entry's DN
	Attrs       map[string][]string // NewEntry: its attributes
	Changes     []Change            // Changes: attribute changes
	NewRDN      string              // Changes: "" or the new RDN, escaped
	NewSuperior string              // Changes: "" or the new parent DN
	// Containers are created (Directory.EnsureContainer) before the entry
	// is added or moved, when the mapping asks for missing containers to
	// be made rather than reported.
	Containers []string
}

// Empty reports whether the plan changes nothing.
func (p *EntryPlan) Empty() bool {
	return len(p.Changes) == 0 && p.NewRDN == "" && p.NewSuperior == ""
}

// Refs resolves references between resources (manager, group members) for a
// Mapper.
type Refs interface {
	// DNForID returns the DN of the resource of the given type ("User" or
	// "Group") with the SCIM id, or KindNotFound.
	DNForID(ctx context.Context, resourceType, id string) (string, error)
	// IDForDN returns the SCIM id and resource type of the entry at dn, or
	// KindNotFound when no resource lives there.
	IDForDN(ctx context.Context, dn string) (id, resourceType string, err error)
}

// ResolvedRef is the resource a DN names: its SCIM id and resource type.
type ResolvedRef struct{ ID, Type string }

// BatchRefs is implemented by Refs that resolve many DNs in few directory
// round trips, for the member list of a large group (reading a 3,000-member
// group one DN at a time is 3,000 searches). Mappers find it by a type
// assertion on their Refs, so Refs without it keep working (IDForDN each).
type BatchRefs interface {
	// IDsForDNs resolves dns, keyed by NormalizeDN of each. A DN that
	// names no resource (dangling, out of scope) is absent from the map,
	// as IDForDN would answer KindNotFound for it.
	IDsForDNs(ctx context.Context, dns []string) (map[string]ResolvedRef, error)
}

// BatchIDRefs is implemented by Refs that find the DNs of many ids in few
// directory round trips, for a PATCH or a create that names many members
// (Okta's group push sends a group's members in one request: one search
// per member was one round trip each). Mappers find it by a type assertion
// on their Refs, so Refs without it keep working (DNForID each).
type BatchIDRefs interface {
	// DNsForIDs returns the DNs of the resources of the given type with
	// the given SCIM ids, keyed by the id in lower case; an id that names
	// no such resource is absent, as DNForID would answer KindNotFound.
	DNsForIDs(ctx context.Context, resourceType string, ids []string) (map[string]string, error)
}

// ValueChecker is implemented by Refs that can tell whether a value is
// already in use, for mappings that pick unique values (account names, an
// RDN) from ordered candidates. Mappers find it by a type assertion on
// their Refs, so Refs without it keep working (no uniqueness then).
type ValueChecker interface {
	// Taken reports whether an entry below base (scope ScopeSub or
	// ScopeOne) matches f, other than the entry with id self ("": none).
	Taken(ctx context.Context, base string, scope Scope, f *Filter, self string) (bool, error)
}

// MemberMapper is implemented by mappers of resources with a membership
// attribute (groups). It turns PATCH operations that only touch membership
// into value-level directory changes without reading the member list, so
// adding one member to a 50,000-member group costs what adding one to an
// empty group costs.
type MemberMapper interface {
	// MemberChanges returns the changes for ops, or ok false when some op
	// is not a membership change the fast path handles (the caller then
	// reads the resource and applies the ops in memory). Adding an id that
	// resolves to nothing is KindInvalidValue naming it; removing one is a
	// no-op, as removing an absent member is.
	MemberChanges(ctx context.Context, ops []PatchOp, refs Refs) (changes []Change, ok bool, err error)
	// MemberPlaceholder is the value that keeps a group that needs a member
	// from being empty, or "". It is never shown in SCIM.
	MemberPlaceholder() (attr, value string)
}

// SearchScoper is implemented by mappers whose resources are only the
// entries directly below Container (ScopeOne), such as an entitlement type
// whose container also holds another type's values one level further down.
// Services search with the scope it gives and treat an entry deeper down as
// not found, for reads and writes alike. Mappers without it mean ScopeSub.
type SearchScoper interface {
	SearchScope() Scope
}

// ReadOnlyMapper is implemented by mappers of resources the directory owns
// (entitlement values: groups SCIM lists but does not manage). Their
// NewEntry and Changes refuse; Service.Delete asks ReadOnly first, because
// a DELETE never reaches the mapper and would otherwise remove the entry.
// Membership still changes through MemberMapper.
type ReadOnlyMapper interface {
	ReadOnly() bool
}

// IDAttrMapper is implemented by mappers whose resources' SCIM id is the
// value of a directory attribute rather than the entry's immutable id
// (an entitlement type with `[type.value] id = "cn"`). IDAttr returns that
// attribute, or "" for the immutable id. The Service then finds a
// resource by searching its ObjectFilter and the attribute below
// Container, shows the attribute's value as the id, and writes the entry
// found by its immutable id. The mapper's ObjectFilter is expected to
// admit only entries that hold the attribute, and its Filter to translate
// `id` to the attribute.
type IDAttrMapper interface {
	IDAttr() string
}
