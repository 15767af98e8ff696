package ldapside

import (
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// appendFilter writes the string filter s (RFC 4515) into e as the BER of
// an LDAP Filter, byte for byte as go-ldap's CompileFilter encodes it, and
// reports whether it did. It handles what renderFilter and the mapping
// tables write: and, or, not, equality, presence, substrings, >=, <= and
// ~=. For anything else (an extensible match, anything malformed) it
// reports false and leaves e as it was: the caller then asks
// CompileFilter, which encodes it or says what is wrong. CompileFilter
// builds a tree of packets and copies every element into its parents; on
// a userName lookup that was a twentieth of the gateway's processor time.
func appendFilter(e *berBuf, s string) bool {
	if len(s) == 0 || s[0] != '(' {
		return false
	}
	mark := len(e.b)
	pos, ok := appendFilterAt(e, s, 1)
	if !ok || pos != len(s) {
		e.b = e.b[:mark]
		return false
	}
	return true
}

// appendFilterAt encodes the filter whose text starts at pos, just after
// its '(', and returns the position after its ')'. It follows
// CompileFilter's grammar, quirks included: "((a=b))" is (a=b) and
// "(!a=b)" is (!(a=b)).
func appendFilterAt(e *berBuf, s string, pos int) (int, bool) {
	if pos >= len(s) {
		return 0, false
	}
	switch s[pos] {
	case '(':
		p, ok := appendFilterAt(e, s, pos+1)
		if !ok || p >= len(s) || s[p] != ')' {
			return 0, false
		}
		return p + 1, true
	case '&', '|':
		tag := byte(0xa0) // and
		if s[pos] == '|' {
			tag = 0xa1 // or
		}
		set := e.open(tag)
		pos++
		for pos < len(s) && s[pos] == '(' {
			p, ok := appendFilterAt(e, s, pos+1)
			if !ok {
				return 0, false
			}
			pos = p
		}
		if pos >= len(s) || s[pos] != ')' {
			return 0, false
		}
		e.close(set)
		return pos + 1, true
	case '!':
		not := e.open(0xa2)
		p, ok := appendFilterAt(e, s, pos+1)
		if !ok {
			return 0, false
		}
		e.close(not)
		return p, true
	}
	end := strings.IndexByte(s[pos:], ')')
	if end < 0 {
		return 0, false
	}
	item := s[pos : pos+end]
	// CompileFilter refuses text that is not UTF-8, and U+FFFD too (it
	// cannot tell it from a decoding error).
	if !utf8.ValidString(item) || strings.ContainsRune(item, utf8.RuneError) {
		return 0, false
	}
	var tag byte
	var attr, cond string
	for i := 0; i < len(item) && tag == 0; i++ {
		two := i+1 < len(item) && item[i+1] == '='
		switch {
		case item[i] == ':':
			return 0, false // an extensible match: CompileFilter's
		case item[i] == '=':
			tag, attr, cond = 0xa3, item[:i], item[i+1:]
		case item[i] == '>' && two:
			tag, attr, cond = 0xa5, item[:i], item[i+2:]
		case item[i] == '<' && two:
			tag, attr, cond = 0xa6, item[:i], item[i+2:]
		case item[i] == '~' && two:
			tag, attr, cond = 0xa8, item[:i], item[i+2:]
		}
	}
	if tag == 0 {
		return 0, false
	}
	switch {
	case tag == 0xa3 && cond == "*":
		e.str(0x87, attr) // present
	case tag == 0xa3 && strings.IndexByte(cond, '*') >= 0:
		sub := e.open(0xa4)
		e.str(berOctetString, attr)
		seq := e.open(berSequence)
		parts := strings.Split(cond, "*")
		for i, part := range parts {
			if part == "" {
				continue
			}
			t := byte(0x81) // any
			switch i {
			case 0:
				t = 0x80 // initial
			case len(parts) - 1:
				t = 0x82 // final
			}
			v, ok := unescapeFilterValue(part)
			if !ok {
				return 0, false
			}
			e.str(t, v)
		}
		e.close(seq)
		e.close(sub)
	default:
		v, ok := unescapeFilterValue(cond)
		if !ok {
			return 0, false
		}
		at := e.open(tag)
		e.str(berOctetString, attr)
		e.str(berOctetString, v)
		e.close(at)
	}
	return pos + end + 1, true
}

// unescapeFilterValue decodes the \XX escapes of an assertion value; false
// for a backslash not followed by two hexadecimal digits.
func unescapeFilterValue(s string) (string, bool) {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		v, err := hex.DecodeString(s[i+1 : i+3])
		if err != nil {
			return "", false
		}
		b = append(b, v[0])
		i += 2
	}
	return string(b), true
}
