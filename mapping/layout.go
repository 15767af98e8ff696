package mapping

// Layout: what a compiled table asks of the directory, for `dirbridge
// check` and serve's start to hold against the directory's schema, its
// containers and its rights.

// Layout is what a table needs of the directory: its containers, its
// object classes, and each directory attribute it reads or writes, with
// where in the table file it is named.
type Layout struct {
	File                string
	Resource            string // "User" or "Group"
	Container           string
	ContainerLine       int
	ObjectClasses       []string
	ObjectClassesLine   int
	RDNAttr             string
	RDNLine             int
	Placements          []PlacementLayout
	CreateMissing       bool // create_missing_containers
	SortAttr            string
	Attrs               []AttrLayout
	NestedGroups        bool
	MemberAttr          string // the groups table's member attribute ("" when none)
	MemberPlaceholder   string
	MemberPlaceholderOn bool
}

// PlacementLayout is one [[placement]]'s container.
type PlacementLayout struct {
	Container string
	Line      int
}

// AttrLayout is one [[attribute]] row as the directory sees it.
type AttrLayout struct {
	LDAP string
	SCIM string // as written; "" for a row without a SCIM attribute (cn's template)
	Line int
	// Writes: the gateway writes the attribute (owner scim or both, or a
	// template or constant row); else it only reads it.
	Writes bool
	// Constant is the value a constant row writes (HasConstant).
	Constant    string
	HasConstant bool
	Default     string
	HasDefault  bool
	Reference   bool // values are DNs of other entries (manager, members, groups)
	Multi       bool // every value is kept, not only the first
	Required    bool
}

// Layout describes the table for the preflight.
func (t *Table) Layout() Layout {
	l := Layout{
		File: t.file, Resource: t.resource, Container: t.container, ContainerLine: t.lines.container,
		ObjectClasses: append([]string(nil), t.objectClasses...), ObjectClassesLine: t.lines.objectClasses,
		RDNAttr: t.rdnAttr, RDNLine: t.lines.rdn, CreateMissing: t.createMissing, SortAttr: t.sortAttr,
		NestedGroups: t.NestedGroups(),
	}
	for _, p := range t.placements {
		l.Placements = append(l.Placements, PlacementLayout{Container: p.container, Line: p.line})
	}
	for _, r := range t.rows {
		a := AttrLayout{
			LDAP: r.ldap, SCIM: r.scim, Line: r.line,
			Writes:   r.owner != ownerDirectory || r.kind == kindOneWay,
			Constant: r.constant, HasConstant: r.hasConst, Default: r.dflt, HasDefault: r.hasDflt,
			Reference: r.kind == kindRef, Multi: r.multi, Required: r.required,
		}
		l.Attrs = append(l.Attrs, a)
	}
	if attr, ph := t.MemberPlaceholder(); attr != "" {
		l.MemberAttr, l.MemberPlaceholder, l.MemberPlaceholderOn = attr, ph, ph != ""
	}
	return l
}

// layoutLines are the lines of a table's top-level keys (0: not written).
type layoutLines struct {
	container, objectClasses, rdn int
}
