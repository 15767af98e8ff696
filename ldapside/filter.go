package ldapside

import (
	"errors"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// Filters that every server understands. RFC 4526's "(&)" and "(|)" are
// not among them (Active Directory refuses them).
const (
	filterAll  = "(objectClass=*)"
	filterNone = "(!(objectClass=*))"
)

// maxFilterDepth bounds recursion on hostile input.
const maxFilterDepth = 64

// renderFilter renders f as an RFC 4515 filter string for dialect d. Every
// value is escaped; attribute names are checked to be attribute
// descriptions, so that neither can change the filter's structure; virtual
// attributes are translated.
func renderFilter(d dialect, f *bridge.Filter) (string, error) {
	const op = "ldapside.renderFilter"
	if f == nil {
		return filterAll, nil
	}
	var b strings.Builder
	if err := writeFilter(&b, d, f, 0); err != nil {
		return "", bridge.Wrap(op, err)
	}
	return b.String(), nil
}

func writeFilter(b *strings.Builder, d dialect, f *bridge.Filter, depth int) error {
	const op = "ldapside.writeFilter"
	if f == nil {
		return bridge.Errorf(op, bridge.KindInvalidFilter, "the filter has an empty operand")
	}
	if depth > maxFilterDepth {
		return bridge.Errorf(op, bridge.KindInvalidFilter, "the filter is nested too deeply")
	}
	switch f.Op {
	case bridge.FilterTrue:
		b.WriteString(filterAll)
		return nil
	case bridge.FilterFalse:
		b.WriteString(filterNone)
		return nil
	case bridge.FilterAnd, bridge.FilterOr:
		if len(f.Kids) == 0 {
			if f.Op == bridge.FilterAnd {
				b.WriteString(filterAll)
			} else {
				b.WriteString(filterNone)
			}
			return nil
		}
		b.WriteByte('(')
		b.WriteByte(map[bridge.FilterOp]byte{bridge.FilterAnd: '&', bridge.FilterOr: '|'}[f.Op])
		for _, k := range f.Kids {
			if err := writeFilter(b, d, k, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(')')
		return nil
	case bridge.FilterNot:
		if len(f.Kids) != 1 {
			return bridge.Errorf(op, bridge.KindInvalidFilter, "not takes exactly one operand")
		}
		b.WriteString("(!")
		if err := writeFilter(b, d, f.Kids[0], depth+1); err != nil {
			return err
		}
		b.WriteByte(')')
		return nil
	}
	if strings.HasPrefix(f.Attr, "@") {
		return writeVirtual(b, d, f)
	}
	if !bridge.ValidAttrDescription(f.Attr) {
		return bridge.Errorf(op, bridge.KindInvalidFilter, "the filter names an attribute that is not valid")
	}
	if f.Op == bridge.FilterInChain {
		return writeInChain(b, d, f)
	}
	writeItem(b, f.Attr, f)
	return nil
}

// errNoInChain: only Active Directory follows member links on the server;
// answering with direct membership instead would be a wrong answer, not a
// slower one.
var errNoInChain = errors.New("a nested-membership filter (LDAP_MATCHING_RULE_IN_CHAIN) on a directory that is not Active Directory")

// writeInChain writes bridge.FilterInChain as AD's extensible match.
func writeInChain(b *strings.Builder, d dialect, f *bridge.Filter) error {
	const op = "ldapside.writeInChain"
	if _, ok := d.(nestedGroups); !ok {
		return &bridge.Error{Op: op, Kind: bridge.KindMisconfigured, Err: errNoInChain,
			Fix: "nested = true needs Active Directory (dialect \"ad\"): set nested = false in the mapping table, or use AD"}
	}
	b.WriteString("(" + f.Attr + ":" + inChain + ":=" + ldap.EscapeFilter(f.Value) + ")")
	return nil
}

// writeItem writes one attribute assertion with escaped values.
func writeItem(b *strings.Builder, attr string, f *bridge.Filter) {
	b.WriteByte('(')
	b.WriteString(attr)
	switch f.Op {
	case bridge.FilterPresent:
		b.WriteString("=*")
	case bridge.FilterSubstrings:
		b.WriteByte('=')
		subs := f.Subs
		if len(subs) < 2 { // a malformed node: treat as "contains"
			subs = append([]string{""}, append(subs, "")...)
		}
		for i, s := range subs {
			if i > 0 {
				b.WriteByte('*')
			}
			b.WriteString(ldap.EscapeFilter(s))
		}
	case bridge.FilterGreaterOrEqual:
		b.WriteString(">=" + ldap.EscapeFilter(f.Value))
	case bridge.FilterLessOrEqual:
		b.WriteString("<=" + ldap.EscapeFilter(f.Value))
	case bridge.FilterApprox:
		b.WriteString("~=" + ldap.EscapeFilter(f.Value))
	default:
		b.WriteString("=" + ldap.EscapeFilter(f.Value))
	}
	b.WriteByte(')')
}

// writeVirtual translates a filter on a virtual attribute.
func writeVirtual(b *strings.Builder, d dialect, f *bridge.Filter) error {
	const op = "ldapside.writeVirtual"
	attr, ok := d.virtualAttr(f.Attr)
	if !ok {
		return bridge.Errorf(op, bridge.KindInvalidFilter, "the filter names an unknown virtual attribute")
	}
	switch strings.ToLower(f.Attr) {
	case bridge.VirtualID:
		switch f.Op {
		case bridge.FilterPresent:
			b.WriteString("(" + attr + "=*)")
		case bridge.FilterEqual:
			if !d.validID(f.Value) {
				// No entry has an id that is not an id; saying so here
				// keeps a syntax error from the server out of the answer.
				b.WriteString(filterNone)
				return nil
			}
			b.WriteString(d.idFilter(f.Value))
		default:
			return bridge.Errorf(op, bridge.KindInvalidFilter, "the id can only be compared for equality")
		}
		return nil
	case bridge.VirtualCreated, bridge.VirtualModified:
		if f.Op == bridge.FilterPresent {
			b.WriteString("(" + attr + "=*)")
			return nil
		}
		if f.Op != bridge.FilterEqual && f.Op != bridge.FilterGreaterOrEqual && f.Op != bridge.FilterLessOrEqual {
			return bridge.Errorf(op, bridge.KindInvalidFilter, "a timestamp can only be compared with eq, ge, le or pr")
		}
		t, err := time.Parse(time.RFC3339Nano, f.Value)
		if err != nil {
			return bridge.E(op, bridge.KindInvalidFilter, "a timestamp in the filter is not an RFC 3339 date-time", err)
		}
		// The directory stores whole seconds: a fraction is cut off so
		// that "ge" includes the second it falls in.
		writeItem(b, attr, &bridge.Filter{Op: f.Op, Value: d.generalizedTime(t.Truncate(time.Second))})
		return nil
	case bridge.VirtualDisabled:
		switch {
		case f.Op == bridge.FilterPresent:
			b.WriteString(filterAll) // every account is either enabled or disabled
		case f.Op == bridge.FilterEqual && strings.EqualFold(f.Value, "TRUE"):
			b.WriteString(d.disabledFilter())
		case f.Op == bridge.FilterEqual && strings.EqualFold(f.Value, "FALSE"):
			b.WriteString("(!" + d.disabledFilter() + ")")
		default:
			return bridge.Errorf(op, bridge.KindInvalidFilter, "the disabled flag can only be compared for equality with true or false")
		}
		return nil
	}
	return bridge.Errorf(op, bridge.KindInvalidFilter, "the filter names an unknown virtual attribute")
}
