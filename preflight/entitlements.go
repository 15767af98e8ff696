package preflight

import (
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/mapping"
)

// The entitlements table's checks. Its values are the directory's groups:
// the gateway never creates them, it reads them and writes member values.
// So what can break is that the container is missing, that the filter or
// the value attributes name what the schema does not have (an LDAP filter
// on an unknown attribute matches nothing: the type would list no value,
// silently), and that the member attribute cannot hold DNs or cannot be
// written.

// entFilterFacts are the attributes a value filter tests and the object
// classes it asks for by equality.
func entFilterFacts(f *bridge.Filter) (attrs, classes []string) {
	var walk func(f *bridge.Filter)
	walk = func(f *bridge.Filter) {
		if f == nil {
			return
		}
		switch f.Op {
		case bridge.FilterAnd, bridge.FilterOr, bridge.FilterNot:
			for _, k := range f.Kids {
				walk(k)
			}
			return
		case bridge.FilterTrue, bridge.FilterFalse:
			return
		}
		if f.Attr == "" {
			return
		}
		if !containsFold(attrs, f.Attr) {
			attrs = append(attrs, f.Attr)
		}
		if f.Op == bridge.FilterEqual && strings.EqualFold(f.Attr, attrObjectCls) && !containsFold(classes, f.Value) {
			classes = append(classes, f.Value)
		}
	}
	walk(f)
	return attrs, classes
}

func (c *checker) entTypes() []*mapping.EntitlementType {
	if c.t.Entitlements == nil {
		return nil
	}
	return c.t.Entitlements.Types
}

// entitlementSchema holds each type against the schema: every attribute
// its filter tests and its value attributes exist, at least one class the
// filter asks for exists, and the member attribute exists, takes DNs and
// is allowed on entries of those classes.
func (c *checker) entitlementSchema() {
	s := c.s
	for _, et := range c.entTypes() {
		w := where(c.t.Entitlements.File, et.Line)
		before := len(c.r.Findings)
		attrs, classes := entFilterFacts(et.Filter)
		for _, a := range attrs {
			if s.Attribute(a) == nil {
				c.r.fatal(SectionSchema, w, "type %s: filter %s tests attribute %s, which is not in the directory's schema%s: the filter matches no entry, so the type would have no values; fix the filter", et.Name, et.FilterText, a, suggest(a, s.AttributeNames()))
			}
		}
		var known []string
		for _, oc := range classes {
			if s.Class(oc) != nil {
				known = append(known, oc)
			}
		}
		if len(classes) > 0 && len(known) == 0 {
			c.r.fatal(SectionSchema, w, "type %s: filter %s asks for object classes %s, none of which is in the directory's schema%s: the type would have no values; fix the filter", et.Name, et.FilterText, strings.Join(classes, ", "), suggest(classes[0], s.ClassNames()))
		}
		for _, v := range []struct{ key, attr string }{{"value.id", et.IDAttr}, {"value.display", et.DisplayAttr}, {"value.description", et.DescAttr}} {
			if v.attr != "" && s.Attribute(v.attr) == nil {
				c.r.fatal(SectionSchema, w, "type %s: %s %s is not in the directory's schema%s: fix the attribute name", et.Name, v.key, v.attr, suggest(v.attr, s.AttributeNames()))
			}
		}
		at := s.Attribute(et.Member)
		switch {
		case at == nil:
			c.r.fatal(SectionSchema, w, "type %s: member attribute %s is not in the directory's schema%s: every assignment would fail; fix member", et.Name, et.Member, suggest(et.Member, s.AttributeNames()))
		case s.SyntaxOf(at) != "" && !isDNSyntax(s.SyntaxOf(at)):
			c.r.fatal(SectionSchema, w, "type %s: member attribute %s does not hold DNs (its syntax is %s): assignments write the user's DN there; use the groups' member attribute (member, uniqueMember)", et.Name, et.Member, s.SyntaxOf(at))
		case at.NoUserModification:
			c.r.fatal(SectionSchema, w, "type %s: member attribute %s is kept by the directory (NO-USER-MODIFICATION): assignments cannot be written; use the groups' member attribute", et.Name, et.Member)
		default:
			permitted := len(known) == 0
			for _, oc := range known {
				if al := s.Allowed([]string{oc}); len(al.Unknown) > 0 || al.Permits(s, at) {
					permitted = true
				}
			}
			if !permitted {
				c.r.fatal(SectionSchema, w, "type %s: member attribute %s is not allowed on entries of %s (the classes the filter asks for): every assignment would fail; fix member or the filter", et.Name, et.Member, strings.Join(known, ", "))
			}
		}
		if len(c.r.Findings) == before {
			c.r.ok(SectionSchema, w, "type %s: the filter, the value attributes and member attribute %s are in the schema", et.Name, et.Member)
		}
	}
}

// entitlementContainers are the types' containers: a missing one makes
// that type's requests fail, not the users' or groups'.
func (c *checker) entitlementContainers(push func(container)) {
	for _, et := range c.entTypes() {
		push(container{dn: et.Container, role: fmt.Sprintf("container of the %s values", et.Name),
			where: where(c.t.Entitlements.File, et.Line), required: true, values: true, ent: et})
	}
}

// entitlementRights asks AD whether the service account may write the
// member attribute of one value group (allowedAttributesEffective); the
// gateway only ever writes that attribute there. OpenLDAP says nothing
// about its ACLs to a client, and a probe would have to change a real
// group.
func (c *checker) entitlementRight(k container) {
	_, classes := entFilterFacts(k.ent.Filter)
	if len(classes) != 1 {
		c.r.ok(SectionRights, k.dn, "write rights on the %s were not checked: its filter asks for %d object classes, not one", k.role, len(classes))
		return
	}
	ent, ok, err := c.dir.FindEntry(c.ctx, k.dn, classes, []string{"allowedAttributesEffective"})
	if err != nil || !ok {
		c.r.ok(SectionRights, k.dn, "no %s entry below the %s yet: the right to write %s is checked once one exists", classes[0], k.role, k.ent.Member)
		return
	}
	if !containsFold(ent.Get("allowedAttributesEffective"), k.ent.Member) {
		c.r.err(SectionRights, ent.DN, "the service account cannot write %s on the %s groups (allowedAttributesEffective): every assignment of a %s fails; delegate \"Write Members\" on the container's groups to it", k.ent.Member, k.ent.Name, k.ent.Name)
		return
	}
	c.r.ok(SectionRights, ent.DN, "the service account can write %s on the %s groups", k.ent.Member, k.ent.Name)
}
