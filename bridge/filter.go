package bridge

import "strings"

// Filter is a directory search filter in the shape of RFC 4515, over directory
// attribute names. It is built by the mapping tables and rendered by each
// Directory (escaped for LDAP by ldapside, evaluated in process by testenv).
// A nil *Filter matches every entry.
//
// Attribute names that start with '@' are virtual and each Directory
// translates them: see the Virtual* constants.
type Filter struct {
	Op    FilterOp
	Attr  string
	Value string   // for Equal, GreaterOrEqual, LessOrEqual, Approx
	Subs  []string // for Substrings: Subs[0] initial ("" if none), Subs[len-1] final ("" if none), the rest any
	Kids  []*Filter
}

// FilterOp is the operator of a Filter node.
type FilterOp int

const (
	FilterAnd FilterOp = iota + 1
	FilterOr
	FilterNot
	FilterEqual
	FilterSubstrings
	FilterGreaterOrEqual
	FilterLessOrEqual
	FilterPresent
	FilterApprox
	FilterTrue  // matches everything: (&)
	FilterFalse // matches nothing: (|)
	// FilterInChain matches an entry whose Attr names Value (a DN) or names
	// an entry whose Attr names Value, and so on: membership through nested
	// groups. Active Directory evaluates it on the server
	// (LDAP_MATCHING_RULE_IN_CHAIN); a Directory that cannot answers
	// KindMisconfigured rather than a wrong (direct-only) result.
	FilterInChain
)

// InChainRule is the OID of Active Directory's LDAP_MATCHING_RULE_IN_CHAIN,
// the rule FilterInChain stands for.
const InChainRule = "1.2.840.113556.1.4.1941"

// Virtual attribute names, for filters, sort keys and requested attributes.
// Timestamps in filters are RFC 3339 strings; @disabled compares with "TRUE".
const (
	VirtualID       = "@id"       // the immutable directory id
	VirtualCreated  = "@created"  // creation time
	VirtualModified = "@modified" // last modification time
	VirtualDisabled = "@disabled" // "TRUE" when the account is disabled
	// VirtualNestedGroups, asked for by name in the attributes of a read,
	// holds the DNs of the groups the entry is a member of directly or
	// through other groups (AD: LDAP_MATCHING_RULE_IN_CHAIN). Only
	// directories that can evaluate nesting on the server fill it; it
	// costs one extra search per entry read.
	VirtualNestedGroups = "@nestedGroups"
)

func And(kids ...*Filter) *Filter { return &Filter{Op: FilterAnd, Kids: kids} }
func Or(kids ...*Filter) *Filter  { return &Filter{Op: FilterOr, Kids: kids} }
func Not(kid *Filter) *Filter     { return &Filter{Op: FilterNot, Kids: []*Filter{kid}} }
func Eq(attr, value string) *Filter {
	return &Filter{Op: FilterEqual, Attr: attr, Value: value}
}
func Present(attr string) *Filter { return &Filter{Op: FilterPresent, Attr: attr} }
func Substrings(attr, initial string, any []string, final string) *Filter {
	subs := append([]string{initial}, any...)
	return &Filter{Op: FilterSubstrings, Attr: attr, Subs: append(subs, final)}
}
func GE(attr, value string) *Filter {
	return &Filter{Op: FilterGreaterOrEqual, Attr: attr, Value: value}
}
func LE(attr, value string) *Filter { return &Filter{Op: FilterLessOrEqual, Attr: attr, Value: value} }
func MatchAll() *Filter             { return &Filter{Op: FilterTrue} }
func MatchNone() *Filter            { return &Filter{Op: FilterFalse} }

// InChain is FilterInChain: attr leads to dn directly or through nested
// entries.
func InChain(attr, dn string) *Filter { return &Filter{Op: FilterInChain, Attr: attr, Value: dn} }

// String renders f for logs and tests in RFC 4515 notation. Values are
// escaped as RFC 4515 requires, so the text is also a valid LDAP filter when
// no virtual attribute appears in it.
func (f *Filter) String() string {
	if f == nil {
		return "(&)"
	}
	var b strings.Builder
	f.write(&b)
	return b.String()
}

func (f *Filter) write(b *strings.Builder) {
	switch f.Op {
	case FilterAnd, FilterOr, FilterNot:
		b.WriteByte('(')
		b.WriteByte("&|!"[f.Op-FilterAnd])
		for _, k := range f.Kids {
			k.write(b)
		}
		b.WriteByte(')')
	case FilterTrue:
		b.WriteString("(&)")
	case FilterFalse:
		b.WriteString("(|)")
	case FilterPresent:
		b.WriteString("(" + f.Attr + "=*)")
	case FilterInChain:
		b.WriteString("(" + f.Attr + ":" + InChainRule + ":=" + EscapeFilterValue(f.Value) + ")")
	case FilterSubstrings:
		b.WriteString("(" + f.Attr + "=")
		for i, s := range f.Subs {
			if i > 0 {
				b.WriteByte('*')
			}
			b.WriteString(EscapeFilterValue(s))
		}
		b.WriteByte(')')
	default:
		op := map[FilterOp]string{FilterEqual: "=", FilterGreaterOrEqual: ">=", FilterLessOrEqual: "<=", FilterApprox: "~="}[f.Op]
		b.WriteString("(" + f.Attr + op + EscapeFilterValue(f.Value) + ")")
	}
}

// EscapeFilterValue escapes a value for an RFC 4515 filter: '*', '(', ')',
// '\' and NUL become \XX, and so does every byte outside printable ASCII.
func EscapeFilterValue(v string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c >= 0x7f {
			b.WriteByte('\\')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ValidAttrDescription reports whether s is an LDAP attribute description
// (an RFC 4512 descriptor or numeric OID, with options): the only names that
// may go into a filter or a request unescaped, since they cannot change its
// structure. Mapping tables are checked with it at load, and ldapside checks
// every name again where it enters a request.
func ValidAttrDescription(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9', c == '-', c == ';', c == '.':
			if i == 0 && (c == '-' || c == ';' || c == '.') {
				return false
			}
		default:
			return false
		}
	}
	return true
}
