package bridge

import (
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// RDN is one relative distinguished name: one or more attribute=value pairs.
type RDN []AVA

// AVA is one attribute type and value of an RDN, unescaped.
type AVA struct{ Type, Value string }

// String renders the RDN escaped per RFC 4514.
func (r RDN) String() string {
	parts := make([]string, len(r))
	for i, a := range r {
		parts[i] = a.Type + "=" + EscapeDNValue(a.Value)
	}
	return strings.Join(parts, "+")
}

// EscapeDNValue escapes an attribute value for a DN per RFC 4514 §2.4.
func EscapeDNValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '+' || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case (c == ' ' || c == '#') && i == 0, c == ' ' && i == len(v)-1:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString("\\" + hex.EncodeToString([]byte{c}))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ParseDN splits a DN into RDNs, unescaping values per RFC 4514. It accepts
// hex pairs, escaped specials and multi-valued RDNs; it rejects malformed
// input with KindInvalidValue.
func ParseDN(dn string) ([]RDN, error) {
	const op = "bridge.ParseDN"
	var out []RDN
	if strings.TrimSpace(dn) == "" {
		return nil, nil
	}
	var cur RDN
	i := 0
	for {
		for i < len(dn) && dn[i] == ' ' {
			i++
		}
		start := i
		for i < len(dn) && dn[i] != '=' {
			if dn[i] == ',' || dn[i] == '+' {
				return nil, Errorf(op, KindInvalidValue, "malformed DN")
			}
			i++
		}
		if i >= len(dn) || i == start {
			return nil, Errorf(op, KindInvalidValue, "malformed DN")
		}
		typ := strings.TrimSpace(dn[start:i])
		if !validAttrType(typ) {
			return nil, Errorf(op, KindInvalidValue, "malformed DN")
		}
		i++
		var val strings.Builder
		var raw []byte
		lastNonSpace := 0
		for i < len(dn) && dn[i] != ',' && dn[i] != '+' && dn[i] != ';' {
			c := dn[i]
			if c == '\\' {
				if i+1 >= len(dn) {
					return nil, Errorf(op, KindInvalidValue, "malformed DN")
				}
				if isHex(dn[i+1]) {
					if i+2 >= len(dn) || !isHex(dn[i+2]) {
						return nil, Errorf(op, KindInvalidValue, "malformed DN")
					}
					bs, _ := hex.DecodeString(dn[i+1 : i+3])
					raw = append(raw, bs[0])
					i += 3
					lastNonSpace = len(raw)
					continue
				}
				raw = append(raw, dn[i+1])
				i += 2
				lastNonSpace = len(raw)
				continue
			}
			if c == '"' {
				return nil, Errorf(op, KindInvalidValue, "malformed DN")
			}
			if !(c == ' ' && len(raw) == 0) {
				raw = append(raw, c)
				if c != ' ' {
					lastNonSpace = len(raw)
				}
			}
			i++
		}
		raw = raw[:lastNonSpace]
		if !utf8.Valid(raw) {
			return nil, Errorf(op, KindInvalidValue, "malformed DN")
		}
		val.Write(raw)
		cur = append(cur, AVA{Type: typ, Value: val.String()})
		if i >= len(dn) {
			out = append(out, cur)
			return out, nil
		}
		if dn[i] != '+' {
			out = append(out, cur)
			cur = nil
		}
		i++
		if i >= len(dn) {
			return nil, Errorf(op, KindInvalidValue, "malformed DN")
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// JoinDN renders RDNs as a DN string.
func JoinDN(rdns []RDN) string {
	parts := make([]string, len(rdns))
	for i, r := range rdns {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// NormalizeDN returns a form of dn for comparison: attribute types and values
// lower-cased, escaping made canonical. It returns dn lower-cased when dn
// does not parse.
func NormalizeDN(dn string) string {
	rdns, err := ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	for _, r := range rdns {
		for i := range r {
			r[i].Type = strings.ToLower(r[i].Type)
			r[i].Value = strings.ToLower(r[i].Value)
		}
	}
	return JoinDN(rdns)
}

// IsUnder reports whether dn is base or lies below it.
func IsUnder(dn, base string) bool {
	if base == "" {
		return true
	}
	d, b := NormalizeDN(dn), NormalizeDN(base)
	return d == b || strings.HasSuffix(d, ","+b)
}

// ParentDN returns the DN of dn's parent, or "".
func ParentDN(dn string) string {
	rdns, err := ParseDN(dn)
	if err != nil || len(rdns) < 2 {
		return ""
	}
	return JoinDN(rdns[1:])
}

// validAttrType accepts a descriptor (letter, then letters, digits, hyphens)
// or a numeric OID, as RFC 4512 §1.4 defines them.
func validAttrType(s string) bool {
	if s == "" {
		return false
	}
	if s[0] >= '0' && s[0] <= '9' {
		for i := 0; i < len(s); i++ {
			if !(s[i] == '.' || (s[i] >= '0' && s[i] <= '9')) {
				return false
			}
		}
		return s[len(s)-1] != '.'
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9' && i > 0) || (c == '-' && i > 0)) {
			return false
		}
	}
	return true
}
