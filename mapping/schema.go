package mapping

import (
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// buildResourceType generates the resource type from the rows: the standard
// definitions of what is mapped, so that discovery, PATCH and Normalize see
// exactly the attributes dirbridge stores.
func (t *Table) buildResourceType() *bridge.ResourceType {
	rt := &bridge.ResourceType{Name: t.resource, Endpoint: "/" + t.resource + "s"}
	rt.Schema = bridge.SchemaDef{ID: t.coreURN, Name: t.resource, Attrs: t.schemaAttrs(t.coreURN)}
	switch t.resource {
	case "User":
		rt.Schema.Description = "User Account"
		// active and password are lifecycle: the services handle them
		// through the directory whatever the table maps.
		rt.Schema.Attrs = append(rt.Schema.Attrs, lifecycleAttrs(t.standard)...)
	case "Group":
		rt.Schema.Description = "Group"
	}
	rt.Unstored = t.unstored(rt)
	for _, e := range t.exts {
		attrs := t.schemaAttrs(e.urn)
		if len(attrs) == 0 {
			continue
		}
		desc := e.description
		if desc == "" && e.urn == bridge.EnterpriseSchema {
			desc = "Enterprise User"
		}
		rt.Extensions = append(rt.Extensions, bridge.SchemaDef{ID: e.urn, Name: e.name, Description: desc, Attrs: attrs,
			Aliases: append([]string(nil), e.aliases...)})
	}
	return rt
}

// unstored lists what the standard schemas of the table define and its
// rows do not map (bridge.ResourceType.Unstored).
func (t *Table) unstored(rt *bridge.ResourceType) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	schemas := []string{t.coreURN}
	for _, e := range t.exts {
		if !e.custom {
			schemas = append(schemas, e.urn)
		}
	}
	for _, urn := range schemas {
		names := map[string]bool{}
		mapped := t.schemaAttrs(urn)
		if strings.EqualFold(urn, bridge.UserSchema) {
			mapped = append(mapped, lifecycleAttrs(t.standard)...)
		}
		for _, std := range t.catalog[urn] {
			m := findDef(mapped, std.Name)
			if m == nil {
				names[strings.ToLower(std.Name)] = true
				continue
			}
			for _, sub := range std.SubAttrs {
				if m.Sub(sub.Name) == nil {
					names[strings.ToLower(std.Name+"."+sub.Name)] = true
				}
			}
		}
		if len(names) > 0 {
			out[strings.ToLower(urn)] = names
		}
	}
	return out
}

func (t *Table) schemaAttrs(urn string) []bridge.AttrDef {
	var out []bridge.AttrDef
	for _, std := range t.catalog[urn] {
		var rows []*row
		for _, r := range t.rows {
			if r.kind != kindOneWay && r.path.urn == urn && r.path.top.Name == std.Name {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		d := cloneDef(std)
		readOnly := true
		for _, r := range rows {
			if r.owner != ownerDirectory {
				readOnly = false
			}
		}
		if readOnly {
			d.Mutability = "readOnly"
		}
		if d.Type == bridge.TypeComplex {
			d.SubAttrs = subsFor(d, rows)
		}
		// What the table requires, the client must send: a required row
		// with nothing to fall back on makes its attribute required.
		for _, r := range rows {
			if !r.required || len(r.tmpls) > 0 || r.hasDflt || r.owner == ownerDirectory {
				continue
			}
			d.Required = true
			for i := range d.SubAttrs {
				if strings.EqualFold(d.SubAttrs[i].Name, r.path.sub) {
					d.SubAttrs[i].Required = true
				}
			}
		}
		// Okta and Entra treat a second group with the same name as a
		// duplicate, and the service answers it with 409 (checkUnique).
		if t.resource == "Group" && urn == t.coreURN && d.Name == "displayName" {
			d.Uniqueness = "server"
		}
		out = append(out, d)
	}
	return out
}

// subsFor keeps the sub-attributes the rows store, and those that give a
// multi-valued attribute its structure (type, and primary where the first
// value is the primary one). References keep all of theirs.
func subsFor(d bridge.AttrDef, rows []*row) []bridge.AttrDef {
	if len(rows) == 1 && rows[0].kind == kindRef {
		return d.SubAttrs
	}
	keep := map[string]bool{}
	dirOwned := map[string]bool{}
	for _, r := range rows {
		keep[strings.ToLower(r.path.sub)] = true
		if r.owner == ownerDirectory {
			dirOwned[strings.ToLower(r.path.sub)] = true
		}
		switch r.kind {
		case kindWhole:
			keep["type"] = true
			keep["primary"] = true
		case kindTyped:
			keep["type"] = true
		}
	}
	var subs []bridge.AttrDef
	for _, s := range d.SubAttrs {
		k := strings.ToLower(s.Name)
		if !keep[k] {
			continue
		}
		if dirOwned[k] {
			s.Mutability = "readOnly"
		}
		subs = append(subs, s)
	}
	return subs
}

func cloneDef(d bridge.AttrDef) bridge.AttrDef {
	d.SubAttrs = append([]bridge.AttrDef(nil), d.SubAttrs...)
	d.ReferenceTypes = append([]string(nil), d.ReferenceTypes...)
	return d
}

func (t *Table) buildDirAttrs() []string {
	out := []string{"objectClass"}
	add := func(a string) {
		if a != "" && !hasFold(out, a) {
			out = append(out, a)
		}
	}
	add(t.rdnAttr)
	for _, r := range t.rows {
		add(r.ldap)
		if r.nested {
			add(bridge.VirtualNestedGroups)
		}
	}
	if !strings.HasPrefix(t.sortAttr, "@") {
		add(t.sortAttr)
	}
	return out
}
