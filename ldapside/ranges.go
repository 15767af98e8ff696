package ldapside

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// Range retrieval (MS-ADTS 3.1.1.3.1.3.3). Active Directory hands out at
// most MaxValRange values of a multi-valued attribute per entry (1,500 by
// default): a group with more members comes back as "member;range=0-1499"
// and the rest must be asked for as "member;range=1500-*", and so on, until
// an answer's range ends in "*". Samba 4 returns every value at once, but
// honours explicit ranges the same way. Without the walk a large group
// would read as its first 1,500 members, and a member removed beyond them
// would look absent and be skipped.

// rangedValues is implemented by dialects whose servers cap values per
// entry (AD): entries they return are completed by completeRanges.
type rangedValues interface{ rangedValues() }

func (activeDirectory) rangedValues() {}

// nestedGroups is implemented by dialects that can list the groups an
// entry is in through nested groups, for bridge.VirtualNestedGroups.
type nestedGroups interface {
	// nestedGroupsFilter selects the groups dn is a member of, directly or
	// through other groups.
	nestedGroupsFilter(dn string) string
}

// inChain is LDAP_MATCHING_RULE_IN_CHAIN: AD follows the member links
// transitively on the server, in one search.
const inChain = "1.2.840.113556.1.4.1941"

func (activeDirectory) nestedGroupsFilter(dn string) string {
	return "(member:" + inChain + ":=" + ldap.EscapeFilter(dn) + ")"
}

// parseRange reads an attribute description "member;range=1500-2999" (or
// "…-*") into its type, the low bound and the high bound (-1 for "*").
func parseRange(name string) (attr string, lo, hi int, ok bool) {
	i := strings.Index(strings.ToLower(name), ";range=")
	if i < 0 {
		return "", 0, 0, false
	}
	attr = name[:i]
	spec := name[i+len(";range="):]
	if j := strings.IndexByte(spec, ';'); j >= 0 {
		spec = spec[:j] // further options, none that AD sends today
	}
	l, h, found := strings.Cut(spec, "-")
	if !found {
		return "", 0, 0, false
	}
	lo, err := strconv.Atoi(l)
	if err != nil || lo < 0 {
		return "", 0, 0, false
	}
	if h == "*" {
		return attr, lo, -1, true
	}
	hi, err = strconv.Atoi(h)
	if err != nil || hi < lo {
		return "", 0, 0, false
	}
	return attr, lo, hi, true
}

// maxRangeSteps bounds the walk: a server that kept answering without ever
// reaching "*" would otherwise keep us here. 10,000 steps of 1,500 values
// are 15 million, far beyond AD's own limits on group size in practice.
const maxRangeSteps = 10000

// completeRanges replaces every ranged attribute of e by all its values,
// under the attribute's plain name, asking the server for the rest one
// range at a time. Values that change between two steps may be seen twice
// or missed, as with any client of AD's range retrieval; duplicates are
// dropped.
func (c *Conn) completeRanges(pc *pconn, e *ldap.Entry) error {
	if _, ok := c.d.(rangedValues); !ok || e == nil {
		return nil
	}
	for i, a := range e.Attributes {
		attr, _, hi, ok := parseRange(a.Name)
		if !ok {
			continue
		}
		vals, raws := a.Values, a.ByteValues
		for step := 0; hi >= 0; step++ {
			if step >= maxRangeSteps {
				return fmt.Errorf("range retrieval of %s did not end after %d steps", attr, step)
			}
			want := fmt.Sprintf("%s;range=%d-%s", attr, hi+1, c.rangeHigh(hi+1))
			res, err := pc.l.Search(ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
				filterAll, []string{want}, nil))
			if err != nil {
				return err
			}
			if len(res.Entries) != 1 {
				return fmt.Errorf("range retrieval of %s: the entry is gone", attr)
			}
			var next *ldap.EntryAttribute
			for _, b := range res.Entries[0].Attributes {
				if at, _, _, ok := parseRange(b.Name); ok && strings.EqualFold(at, attr) {
					next = b
				}
			}
			if next == nil {
				break // no values from there on (the attribute shrank meanwhile)
			}
			_, lo, h, _ := parseRange(next.Name)
			if lo != hi+1 {
				return fmt.Errorf("range retrieval of %s: asked from %d, got from %d", attr, hi+1, lo)
			}
			vals = append(vals, next.Values...)
			raws = append(raws, next.ByteValues...)
			hi = h
		}
		vals, raws = dedupe(vals, raws)
		e.Attributes[i] = &ldap.EntryAttribute{Name: attr, Values: vals, ByteValues: raws}
	}
	return nil
}

// rangeHigh is the high bound to ask for from lo: "*" (as many as the
// server gives), or, when tests set rangeStep, lo+rangeStep-1 to make a
// server that does not cap values (Samba) answer in steps as AD does.
func (c *Conn) rangeHigh(lo int) string {
	if c.rangeStep > 0 {
		return strconv.Itoa(lo + c.rangeStep - 1)
	}
	return "*"
}

// rangedAttrs asks for the attributes that tests want in steps (rangeStep)
// with an explicit first range, as AD answers them unasked.
func (c *Conn) rangedAttrs(attrs []string) []string {
	if c.rangeStep <= 0 {
		return attrs
	}
	if _, ok := c.d.(rangedValues); !ok {
		return attrs
	}
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = a
		if strings.EqualFold(a, "member") || strings.EqualFold(a, "memberOf") {
			out[i] = fmt.Sprintf("%s;range=0-%d", a, c.rangeStep-1)
		}
	}
	return out
}

func dedupe(vals []string, raws [][]byte) ([]string, [][]byte) {
	seen := make(map[string]bool, len(vals))
	ov, or := vals[:0:0], raws[:0:0]
	for i, v := range vals {
		if seen[v] {
			continue
		}
		seen[v] = true
		ov = append(ov, v)
		if i < len(raws) {
			or = append(or, raws[i])
		}
	}
	return ov, or
}

// entry completes e (ranged values, the nested groups and the searched
// groups when asked for) and converts it.
func (c *Conn) entry(pc *pconn, e *ldap.Entry, asked []string) (*bridge.Entry, error) {
	out, err := c.pageEntry(pc, e, asked)
	if err != nil {
		return nil, err
	}
	if err := c.fillGroups(pc, []*bridge.Entry{out}, asked); err != nil {
		return nil, err
	}
	return out, nil
}

// pageEntry is entry for one entry of a page, whose searched groups
// (fillGroups) are filled for the whole page at once.
func (c *Conn) pageEntry(pc *pconn, e *ldap.Entry, asked []string) (*bridge.Entry, error) {
	if err := c.completeRanges(pc, e); err != nil {
		return nil, err
	}
	out := c.toEntry(e, asked)
	if ng, ok := c.d.(nestedGroups); ok && askedFor(asked, bridge.VirtualNestedGroups) {
		dns, err := c.nestedGroupDNs(pc, ng, e.DN)
		if err != nil {
			return nil, err
		}
		out.Attrs[bridge.VirtualNestedGroups] = dns
	}
	return out, nil
}

func askedFor(attrs []string, name string) bool {
	for _, a := range attrs {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// nestedGroupDNs lists the groups dn is in through any chain of groups,
// in pages (AD caps a page at 1,000 entries).
func (c *Conn) nestedGroupDNs(pc *pconn, ng nestedGroups, dn string) ([]string, error) {
	paging := ldap.NewControlPaging(maxServerPage)
	var out []string
	for {
		res, err := pc.l.Search(ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			ng.nestedGroupsFilter(dn), []string{"1.1"}, []ldap.Control{paging}))
		if err != nil {
			return nil, err
		}
		for _, g := range res.Entries {
			out = append(out, g.DN)
		}
		resp, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(resp.Cookie) == 0 {
			return out, nil
		}
		paging.SetCookie(resp.Cookie)
	}
}
