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
