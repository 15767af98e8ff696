package ldapside

import "github.com/go-ldap/ldap/v3"

// Hand-written BER for the control values every PUT and PATCH carries (the
// Assertion's filter and the Post-Read attribute selection out, the
// Post-Read entry back).
// asn1-ber builds a packet per element and copies each element's bytes into
// every enclosing one: for an entry of ~30 attributes that was about a
// hundred allocations and most of the gateway's own processor time in
// decoding the answer. Only the definite-length, single-byte-tag forms LDAP
// uses (RFC 4511 §5.1) are written or accepted.

const (
	berOctetString = 0x04
	berSequence    = 0x30
	berSet         = 0x31
	berSearchEntry = 0x64 // [APPLICATION 4] constructed: SearchResultEntry
	berFilterAnd   = 0xa0 // Filter and: [0] constructed
	berFilterEq    = 0xa3 // Filter equalityMatch: [3] constructed
)

// berAppendHeader appends a tag and a definite length.
func berAppendHeader(dst []byte, tag byte, n int) []byte {
	dst = append(dst, tag)
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n <= 0xff:
		return append(dst, 0x81, byte(n))
	case n <= 0xffff:
		return append(dst, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// berHeaderLen is the size of berAppendHeader's output for a length n.
func berHeaderLen(n int) int {
	switch {
	case n < 0x80:
		return 2
	case n <= 0xff:
		return 3
	case n <= 0xffff:
		return 4
	case n <= 0xffffff:
		return 5
	default:
		return 6
	}
}

// attributeSelection encodes AttributeSelection ::= SEQUENCE OF LDAPString.
func attributeSelection(attrs []string) []byte {
	n := 0
	for _, a := range attrs {
		n += berHeaderLen(len(a)) + len(a)
	}
	out := berAppendHeader(make([]byte, 0, berHeaderLen(n)+n), berSequence, n)
	for _, a := range attrs {
		out = berAppendHeader(out, berOctetString, len(a))
		out = append(out, a...)
	}
	return out
}

// equalityAnd encodes the Filter (&(a1=v1)(a2=v2)…) of attribute, value
// pairs; the values are raw (BER needs no filter escaping).
func equalityAnd(pairs ...string) []byte {
	n := 0
	for i := 0; i+1 < len(pairs); i += 2 {
		item := berHeaderLen(len(pairs[i])) + len(pairs[i]) + berHeaderLen(len(pairs[i+1])) + len(pairs[i+1])
		n += berHeaderLen(item) + item
	}
	out := berAppendHeader(make([]byte, 0, berHeaderLen(n)+n), berFilterAnd, n)
	for i := 0; i+1 < len(pairs); i += 2 {
		a, v := pairs[i], pairs[i+1]
		out = berAppendHeader(out, berFilterEq, berHeaderLen(len(a))+len(a)+berHeaderLen(len(v))+len(v))
		out = append(berAppendHeader(out, berOctetString, len(a)), a...)
		out = append(berAppendHeader(out, berOctetString, len(v)), v...)
	}
	return out
}

// berNext reads the element of s that starts at i and ends by end: its
// tag, the bounds of its contents, and where the next element starts; ok is
// false when no whole element of a form LDAP allows is there.
func berNext(s string, i, end int) (tag byte, from, to int, ok bool) {
	if end-i < 2 || s[i]&0x1f == 0x1f {
		return 0, 0, 0, false
	}
	tag = s[i]
	n := int(s[i+1])
	i += 2
	if n >= 0x80 {
		k := n & 0x7f
		if k == 0 || k > 4 || end-i < k {
			return 0, 0, 0, false // indefinite or oversized length
		}
		n = 0
		for _, b := range []byte(s[i : i+k]) {
			n = n<<8 | int(b)
		}
		i += k
	}
	if n < 0 || n > end-i {
		return 0, 0, 0, false
	}
	return tag, i, i + n, true
}

// decodeSearchEntry decodes a SearchResultEntry (the value of a Post-Read
// response control); nil when v is not one. Values are substrings of v,
// and ByteValues slices of one copy of it.
//
//	SearchResultEntry ::= [APPLICATION 4] SEQUENCE {
//	    objectName LDAPDN,
//	    attributes PartialAttributeList }
//	PartialAttribute ::= SEQUENCE { type AttributeDescription, vals SET OF AttributeValue }
func decodeSearchEntry(v string) *ldap.Entry {
	tag, from, end, ok := berNext(v, 0, len(v))
	if !ok || tag != berSearchEntry {
		return nil
	}
	tag, dnFrom, dnTo, ok := berNext(v, from, end)
	if !ok || tag != berOctetString {
		return nil
	}
	tag, at, listEnd, ok := berNext(v, dnTo, end)
	if !ok || tag != berSequence || listEnd != end {
		return nil
	}
	var raw []byte
	// Slices empty rather than nil where nothing is in them, as go-ldap's
	// (zero-length literals allocate nothing).
	e := &ldap.Entry{DN: v[dnFrom:dnTo], Attributes: []*ldap.EntryAttribute{}}
	for at < listEnd {
		tag, aFrom, aTo, ok := berNext(v, at, listEnd)
		if !ok || tag != berSequence {
			return nil
		}
		at = aTo
		tag, nFrom, nTo, ok := berNext(v, aFrom, aTo)
		if !ok || tag != berOctetString {
			return nil
		}
		tag, vAt, vEnd, ok := berNext(v, nTo, aTo)
		if !ok || tag != berSet || vEnd != aTo {
			return nil
		}
		a := &ldap.EntryAttribute{Name: v[nFrom:nTo], Values: []string{}, ByteValues: [][]byte{}}
		for vAt < vEnd {
			tag, from, to, ok := berNext(v, vAt, vEnd)
			if !ok || tag != berOctetString {
				return nil
			}
			vAt = to
			if raw == nil {
				raw = []byte(v)
			}
			a.Values = append(a.Values, v[from:to])
			a.ByteValues = append(a.ByteValues, raw[from:to:to])
		}
		e.Attributes = append(e.Attributes, a)
	}
	return e
}
