package ldapside

import (
	"errors"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// valuesReturnFilter is the Matched Values request control (RFC 3876): the
// server returns, of the attributes read, only the values that match one of
// the filter items. go-ldap has no type for it.
//
//	ValuesReturnFilter ::= SEQUENCE OF SimpleFilterItem
//
// Every item here is an equalityMatch, which is a SimpleFilterItem and
// encodes as the search filter (attr=value) does.
type valuesReturnFilter struct {
	items []*ber.Packet
}

var _ ldap.Control = (*valuesReturnFilter)(nil)

func (c *valuesReturnFilter) GetControlType() string { return oidMatchedValues }
func (c *valuesReturnFilter) String() string         { return "Matched Values request" }

func (c *valuesReturnFilter) Encode() *ber.Packet {
	seq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "ValuesReturnFilter")
	for _, it := range c.items {
		seq.AppendChild(it)
	}
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oidMatchedValues, "Control Type (Matched Values)"))
	// Not critical: a server that ignores it returns every value, which
	// plans the same changes, only slower.
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(seq.Bytes()), "Control Value (Matched Values)"))
	return p
}

// newValuesReturnFilter builds the control for the given values of each
// attribute (lower-cased name -> values).
func newValuesReturnFilter(vals map[string][]string) (*valuesReturnFilter, error) {
	c := &valuesReturnFilter{}
	for attr, vs := range vals {
		for _, v := range vs {
			f, err := ldap.CompileFilter("(" + attr + "=" + ldap.EscapeFilter(v) + ")")
			if err != nil {
				return nil, err
			}
			if f.ClassType != ber.ClassContext || f.Tag != ldap.FilterEqualityMatch {
				return nil, errors.New("matched values: not an equality item")
			}
			c.items = append(c.items, f)
		}
	}
	return c, nil
}

// presentValues reads, of the given values of each attribute of dn, those
// the entry holds (as stored), without reading the attributes' other
// values: for a 50,000-value member list that is the difference between a
// few hundred bytes and megabytes. The values are matched by the server's
// equality rule for the attribute. It needs the Matched Values control;
// without it (or when the server refuses the filter, say for a value that
// is not valid for the attribute's syntax) it reads the whole attributes,
// which answers the same question.
func (c *Conn) presentValues(pc *pconn, dn string, vals map[string][]string) (valueSet, error) {
	if _, ad := c.d.(activeDirectory); ad && !pc.caps.matchedValues {
		if out, ok, err := c.adPresentMembers(pc, dn, vals); ok || err != nil {
			return out, err
		}
	}
	attrs := make([]string, 0, len(vals))
	for a := range vals {
		attrs = append(attrs, a)
	}
	var e *ldap.Entry
	var err error
	if pc.caps.matchedValues {
		var vrf *valuesReturnFilter
		if vrf, err = newValuesReturnFilter(vals); err == nil {
			var res *ldap.SearchResult
			res, err = pc.l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, filterAll, attrs, []ldap.Control{vrf}))
			switch {
			case err == nil && len(res.Entries) == 1:
				e = res.Entries[0]
				for _, a := range e.Attributes {
					c.valuesMatched.Add(int64(len(a.Values)))
				}
			case err == nil:
				err = errors.New("matched values: the entry was not returned")
			}
		}
		if err != nil {
			if isConnectionError(err) {
				return nil, err
			}
			c.log.Debug("reading values with Matched Values failed, reading the attributes", "dn", dn, "error", err)
		}
	}
	if e == nil {
		if e, err = c.findOne(pc, dn, ldap.ScopeBaseObject, filterAll, attrs); err != nil {
			return nil, err
		}
	}
	out := valueSet{}
	for _, a := range e.Attributes {
		if _, asked := vals[strings.ToLower(a.Name)]; asked {
			out.set(a.Name, a.Values)
		}
	}
	return out, nil
}

// findWithValues finds the entry with id at or below base with the
// attributes read and, of the attributes of vals, only the given values
// (as presentValues): one search instead of two. Matched Values drops the
// attributes no filter item names, so each attribute of read gets a
// presence item, which returns it whole. Without the control, or when the
// one search does not return exactly one entry (not found, a replica that
// lags, a refused filter), it takes the two reads, which tell those cases
// apart.
func (c *Conn) findWithValues(pc *pconn, base, id string, read []string, vals map[string][]string) (*ldap.Entry, valueSet, error) {
	if len(vals) > 0 && pc.caps.matchedValues {
		if e, present, ok := c.oneReadWithValues(pc, base, id, withoutAttrs(read, vals), vals); ok {
			return e, present, nil
		}
	}
	e, err := c.findByID(pc, base, id, withoutAttrs(read, vals))
	if err != nil || len(vals) == 0 {
		return e, nil, err
	}
	present, err := c.presentValues(pc, e.DN, vals)
	return e, present, err
}

func (c *Conn) oneReadWithValues(pc *pconn, base, id string, read []string, vals map[string][]string) (*ldap.Entry, valueSet, bool) {
	if base == "" {
		base = c.cfg.BaseDN
	}
	vrf, err := newValuesReturnFilter(vals)
	if err != nil {
		return nil, nil, false
	}
	attrs := make([]string, 0, len(read)+len(vals))
	for _, a := range read {
		if a == "1.1" || a == "*" || !ldapAttrName(a) {
			continue
		}
		f, err := ldap.CompileFilter("(" + a + "=*)")
		if err != nil || f.ClassType != ber.ClassContext || f.Tag != ldap.FilterPresent {
			return nil, nil, false
		}
		vrf.items = append(vrf.items, f)
		attrs = append(attrs, a)
	}
	for a := range vals {
		attrs = append(attrs, a)
	}
	res, err := pc.l.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		c.d.idFilter(id), attrs, []ldap.Control{vrf}))
	if err != nil || len(res.Entries) != 1 {
		return nil, nil, false
	}
	e := res.Entries[0]
	present := valueSet{}
	for _, a := range e.Attributes {
		if _, asked := vals[strings.ToLower(a.Name)]; asked {
			c.valuesMatched.Add(int64(len(a.Values)))
			present.set(a.Name, a.Values)
		}
	}
	return e, present, true
}

// ldapAttrName reports whether a is a plain attribute description (no
// filter syntax in it), which a presence item can name as it is.
func ldapAttrName(a string) bool {
	for _, r := range a {
		if !(r == '-' || r == ';' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return a != ""
}
