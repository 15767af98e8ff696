package embedded

import (
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"unicode/utf8"
)

// ava is one attribute=value assertion of an RDN. Value is unescaped.
type ava struct {
	Type  string // as written (or its canonical schema name when known)
	Value string
}

// rdn is a relative distinguished name: one or more AVAs ("cn=a+sn=b").
type rdn []ava

// dn is a parsed distinguished name, most specific RDN first. The empty DN
// (the root DSE) has no RDNs.
type dn []rdn

var errBadDN = errors.New("invalid DN syntax")

// parseDN parses a DN in the syntax of RFC 4514. It also accepts what slapd
// accepts from older clients: ';' as a separator, spaces around separators,
// quoted values ("...") and '#'-hex BER values, so that what works against
// OpenLDAP works here.
func parseDN(s string) (dn, error) {
	p := dnParser{s: s}
	var out dn
	p.skipSpaces()
	if p.eof() {
		return nil, nil
	}
	for {
		r, err := p.rdn()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		p.skipSpaces()
		if p.eof() {
			return out, nil
		}
		c := p.s[p.i]
		if c != ',' && c != ';' {
			return nil, errBadDN
		}
		p.i++
		p.skipSpaces()
		if p.eof() {
			return nil, errBadDN // a trailing separator
		}
	}
}

type dnParser struct {
	s string
	i int
}

func (p *dnParser) eof() bool { return p.i >= len(p.s) }

func (p *dnParser) skipSpaces() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *dnParser) rdn() (rdn, error) {
	var r rdn
	for {
		a, err := p.ava()
		if err != nil {
			return nil, err
		}
		r = append(r, a)
		p.skipSpaces()
		if p.eof() || p.s[p.i] != '+' {
			return r, nil
		}
		p.i++
		p.skipSpaces()
	}
}

func (p *dnParser) ava() (ava, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '=' && p.s[p.i] != ' ' {
		p.i++
	}
	typ := p.s[start:p.i]
	if !validAttrType(typ) {
		return ava{}, errBadDN
	}
	p.skipSpaces()
	if p.eof() || p.s[p.i] != '=' {
		return ava{}, errBadDN
	}
	p.i++
	p.skipSpaces()
	v, err := p.value()
	if err != nil {
		return ava{}, err
	}
	if v == "" {
		// The grammar allows it, but no attribute's syntax does: slapd
		// refuses such a DN as invalid.
		return ava{}, errBadDN
	}
	return ava{Type: typ, Value: v}, nil
}

// value reads an attribute value up to the next unescaped ',', ';' or '+'.
func (p *dnParser) value() (string, error) {
	if p.eof() {
		return "", nil
	}
	switch p.s[p.i] {
	case '#':
		return p.hexValue()
	case '"':
		return p.quotedValue()
	}
	var b []byte
	trailing := 0 // unescaped spaces at the end of b, which RFC 4514 drops
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ',' || c == ';' || c == '+':
			v := b[:len(b)-trailing]
			if !utf8.Valid(v) {
				return "", errBadDN
			}
			return string(v), nil
		case c == '\\':
			ch, err := p.escape()
			if err != nil {
				return "", err
			}
			b = append(b, ch...)
			trailing = 0
			continue
		case c == '"' || c == '<' || c == '>' || c == 0:
			// RFC 4514 requires these to be escaped; slapd refuses them
			// bare. A bare '=' is allowed.
			return "", errBadDN
		case c == ' ':
			trailing++
		default:
			trailing = 0
		}
		b = append(b, c)
		p.i++
	}
	v := b[:len(b)-trailing]
	if !utf8.Valid(v) {
		return "", errBadDN
	}
	return string(v), nil
}

// escape decodes "\," style and "\c3\a9" style escapes. Consecutive hex
// escapes form UTF-8 sequences; they are checked as a whole by the caller.
func (p *dnParser) escape() ([]byte, error) {
	p.i++ // the backslash
	if p.eof() {
		return nil, errBadDN
	}
	c := p.s[p.i]
	if strings.IndexByte(` "#+,;<=>\`, c) >= 0 {
		p.i++
		return []byte{c}, nil
	}
	if p.i+1 < len(p.s) && isHex(c) && isHex(p.s[p.i+1]) {
		v, _ := hex.DecodeString(p.s[p.i : p.i+2])
		p.i += 2
		return v, nil
	}
	return nil, errBadDN
}

func (p *dnParser) hexValue() (string, error) {
	p.i++ // '#'
	start := p.i
	for p.i < len(p.s) && isHex(p.s[p.i]) {
		p.i++
	}
	raw, err := hex.DecodeString(p.s[start:p.i])
	if err != nil || len(raw) < 2 {
		return "", errBadDN
	}
	// The hex form is a BER encoding: take the contents of a primitive
	// string (OCTET STRING, UTF8String, PrintableString, IA5String ...).
	l := int(raw[1])
	off := 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 3 || len(raw) < 2+n {
			return "", errBadDN
		}
		l = 0
		for _, x := range raw[2 : 2+n] {
			l = l<<8 | int(x)
		}
		off = 2 + n
	}
	if raw[0]&0x20 != 0 || off+l != len(raw) || !utf8.Valid(raw[off:]) {
		return "", errBadDN
	}
	return string(raw[off:]), nil
}

func (p *dnParser) quotedValue() (string, error) {
	p.i++ // opening quote
	var b []byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			if !utf8.Valid(b) {
				return "", errBadDN
			}
			return string(b), nil
		case '\\':
			ch, err := p.escape()
			if err != nil {
				return "", err
			}
			b = append(b, ch...)
			continue
		}
		b = append(b, c)
		p.i++
	}
	return "", errBadDN
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validAttrType accepts a descriptor (letter, then letters, digits,
// hyphens) or a numeric OID, as RFC 4512 defines attribute types.
func validAttrType(s string) bool {
	if s == "" {
		return false
	}
	if s[0] >= '0' && s[0] <= '9' {
		dot := true
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '.':
				if dot {
					return false
				}
				dot = true
			case c >= '0' && c <= '9':
				dot = false
			default:
				return false
			}
		}
		return !dot
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
			return false
		}
	}
	return true
}

// escapeDNValue escapes v for the string form of a DN (RFC 4514 §2.4). Non-
// ASCII UTF-8 is kept as is, the way slapd shows it.
func escapeDNValue(v string) string {
	const hexd = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case strings.IndexByte(`"+,;<>\`, c) >= 0,
			i == 0 && (c == '#' || c == ' '),
			i == len(v)-1 && c == ' ':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte('\\')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// String renders d with the canonical attribute type names and minimal
// escaping: the form the embedded directory stores and returns.
func (d dn) String() string {
	var b strings.Builder
	for i, r := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range r {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(canonicalAttrName(a.Type))
			b.WriteByte('=')
			b.WriteString(escapeDNValue(a.Value))
		}
	}
	return b.String()
}

// norm returns the normalized form of d used as an index key and for DN
// comparison: lower-case types, values normalized by their attribute's
// equality rule, the AVAs of a multi-valued RDN in a fixed order.
func (d dn) norm() string {
	var b strings.Builder
	for i, r := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.norm())
	}
	return b.String()
}

func (r rdn) norm() string {
	parts := make([]string, len(r))
	for i, a := range r {
		t := strings.ToLower(canonicalAttrName(a.Type))
		parts[i] = t + "=" + escapeDNValue(normValue(t, a.Value))
	}
	sort.Strings(parts)
	return strings.Join(parts, "+")
}

func (r rdn) String() string { return dn{r}.String() }

// parent returns the DN one level up; the parent of a one-RDN DN is the
// empty DN.
func (d dn) parent() dn {
	if len(d) == 0 {
		return nil
	}
	return d[1:]
}

// under reports whether d equals base or lies below it.
func (d dn) under(base dn) bool {
	if len(base) > len(d) {
		return false
	}
	off := len(d) - len(base)
	for i := range base {
		if d[off+i].norm() != base[i].norm() {
			return false
		}
	}
	return true
}

// normDN parses s and returns its normalized form.
func normDN(s string) (string, error) {
	d, err := parseDN(s)
	if err != nil {
		return "", err
	}
	return d.norm(), nil
}
