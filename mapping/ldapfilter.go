package mapping

import (
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// ParseLDAPFilter parses an RFC 4515 filter written by the operator (an
// entitlement type's filter) into a bridge.Filter, so that the directory
// renders it with its values escaped like every other filter, and a typo is
// reported when the table is loaded rather than by the server at the first
// request. Extensible matches are not accepted.
func ParseLDAPFilter(s string) (*bridge.Filter, error) {
	p := &ldapFilterParser{s: s}
	f, err := p.filter(0)
	if err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q after the filter at position %d", p.s[p.i:], p.i+1)
	}
	return f, nil
}

type ldapFilterParser struct {
	s string
	i int
}

func (p *ldapFilterParser) fail(format string, args ...any) error {
	return fmt.Errorf("%s at position %d", fmt.Sprintf(format, args...), p.i+1)
}

func (p *ldapFilterParser) filter(depth int) (*bridge.Filter, error) {
	if depth > maxFilterDepth {
		return nil, p.fail("nested too deeply")
	}
	if p.i >= len(p.s) || p.s[p.i] != '(' {
		return nil, p.fail("want \"(\"")
	}
	p.i++
	if p.i >= len(p.s) {
		return nil, p.fail("unterminated filter")
	}
	var f *bridge.Filter
	switch c := p.s[p.i]; c {
	case '&', '|':
		p.i++
		var kids []*bridge.Filter
		for p.i < len(p.s) && p.s[p.i] == '(' {
			k, err := p.filter(depth + 1)
			if err != nil {
				return nil, err
			}
			kids = append(kids, k)
		}
		switch {
		case len(kids) == 0 && c == '&':
			f = bridge.MatchAll()
		case len(kids) == 0:
			f = bridge.MatchNone()
		case c == '&':
			f = bridge.And(kids...)
		default:
			f = bridge.Or(kids...)
		}
	case '!':
		p.i++
		k, err := p.filter(depth + 1)
		if err != nil {
			return nil, err
		}
		f = bridge.Not(k)
	default:
		var err error
		if f, err = p.item(); err != nil {
			return nil, err
		}
	}
	if p.i >= len(p.s) || p.s[p.i] != ')' {
		return nil, p.fail("want \")\"")
	}
	p.i++
	return f, nil
}

func (p *ldapFilterParser) item() (*bridge.Filter, error) {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune("=<>~()*\\", rune(p.s[p.i])) {
		p.i++
	}
	attr := p.s[start:p.i]
	if !bridge.ValidAttrDescription(attr) || strings.HasPrefix(attr, "@") {
		return nil, p.fail("%q is not an attribute name", attr)
	}
	if p.i >= len(p.s) {
		return nil, p.fail("want an operator after %q", attr)
	}
	op := bridge.FilterEqual
	switch p.s[p.i] {
	case '>':
		op = bridge.FilterGreaterOrEqual
	case '<':
		op = bridge.FilterLessOrEqual
	case '~':
		op = bridge.FilterApprox
	}
	if op != bridge.FilterEqual {
		p.i++
	}
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return nil, p.fail("want \"=\" after %q", attr)
	}
	p.i++
	// The value: escaped parts separated by unescaped '*'.
	var parts []string
	var cur strings.Builder
	for p.i < len(p.s) && p.s[p.i] != ')' {
		switch c := p.s[p.i]; c {
		case '(':
			return nil, p.fail("\"(\" in a value must be written \\28")
		case '*':
			parts = append(parts, cur.String())
			cur.Reset()
			p.i++
		case '\\':
			if p.i+2 >= len(p.s) || !isHex(p.s[p.i+1]) || !isHex(p.s[p.i+2]) {
				return nil, p.fail("\"\\\" must be followed by two hex digits")
			}
			cur.WriteByte(unhex(p.s[p.i+1])<<4 | unhex(p.s[p.i+2]))
			p.i += 3
		default:
			cur.WriteByte(c)
			p.i++
		}
	}
	parts = append(parts, cur.String())
	switch {
	case len(parts) == 1:
		return &bridge.Filter{Op: op, Attr: attr, Value: parts[0]}, nil
	case op != bridge.FilterEqual:
		return nil, p.fail("\"*\" is only allowed with \"=\"")
	case len(parts) == 2 && parts[0] == "" && parts[1] == "":
		return bridge.Present(attr), nil
	default:
		return &bridge.Filter{Op: bridge.FilterSubstrings, Attr: attr, Subs: parts}, nil
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
