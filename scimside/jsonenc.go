package scimside

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// The response encoder. Responses are orderedObjects over the few types the
// codecs and the mapping tables produce; encoding them through
// encoding/json cost a json.Marshal per member and a validating re-compaction
// of every MarshalJSON result, at every level of nesting. appendJSON writes
// those types directly and hands anything else to encoding/json.
//
// The bytes are those the former encoder wrote, including one quirk kept on
// purpose: orderedObject.MarshalJSON used json.Marshal, which escapes <, >
// and & as \u003c, \u003e and \u0026, and the outer Encoder's
// SetEscapeHTML(false) does not undo escapes inside a Marshaler's output. So
// within an orderedObject (every resource, list and discovery document)
// strings are HTML-escaped, and outside one (the error structs) they are
// not. Dropping the escapes would be harmless to JSON readers, but it would
// change bytes clients and golden files have seen; that is a decision of its
// own, not part of a speed-up.
//
// Errors match too, message for message: every orderedObject that fails is
// wrapped in a *json.MarshalerError, as encoding/json wrapped it when it
// called MarshalJSON, and a value it cannot encode (NaN, ±Inf) gets the
// error encoding/json returns for it.

var orderedObjectType = reflect.TypeFor[orderedObject]()

// maxDirectDepth bounds the recursion of the direct encoder. Deeper values
// (no response has them: request bodies are limited far below) go to
// encoding/json, whose cycle detection turns a cyclic map into an error
// instead of a stack overflow.
const maxDirectDepth = 100

// appendJSON appends the JSON of v to dst as json.Encoder with
// SetEscapeHTML(false) writes it, without Encode's trailing newline. On
// error it returns dst unchanged.
func appendJSON(dst []byte, v any) ([]byte, error) {
	n := len(dst)
	b, err := appendValue(dst, v, false, 0)
	if err != nil {
		return dst[:n], err
	}
	return b, nil
}

// appendValue appends v; html says whether <, > and & are escaped, which
// they are inside an orderedObject (see above).
func appendValue(dst []byte, v any, html bool, depth int) ([]byte, error) {
	if depth > maxDirectDepth {
		return appendFallback(dst, v, html)
	}
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, t, html), nil
	case bool:
		return strconv.AppendBool(dst, t), nil
	case int:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case int64:
		return strconv.AppendInt(dst, t, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(t), 10), nil
	case uint64:
		return strconv.AppendUint(dst, t, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(t), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(t), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(t), 10), nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return appendFallback(dst, v, html)
		}
		return appendFloat(dst, t, 64), nil
	case float32:
		if f := float64(t); math.IsNaN(f) || math.IsInf(f, 0) {
			return appendFallback(dst, v, html)
		}
		return appendFloat(dst, float64(t), 32), nil
	case orderedObject:
		b, err := appendObject(dst, t, depth+1)
		if err != nil {
			return b, &json.MarshalerError{Type: orderedObjectType, Err: err}
		}
		return b, nil
	case []orderedObject:
		if t == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, o := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, o, html, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []any:
		if t == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, x := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, x, html, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		if t == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, s := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s, html)
		}
		return append(dst, ']'), nil
	case map[string]any:
		return appendMap(dst, t, html, depth+1)
	case []map[string]any:
		if t == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, m := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendMap(dst, m, html, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	return appendFallback(dst, v, html)
}

// appendObject writes o as orderedObject.MarshalJSON did: HTML-escaped,
// and with its members' errors unwrapped, since the caller (encoding/json
// or appendValue) wraps them.
func appendObject(dst []byte, o orderedObject, depth int) ([]byte, error) {
	dst = append(dst, '{')
	for i, m := range o {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, m.Key, true)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, m.Value, true, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendMap writes m with its keys sorted byte-wise, as encoding/json does.
func appendMap(dst []byte, m map[string]any, html bool, depth int) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	// Resource maps are small (name, an email, an extension); the array
	// keeps their keys off the heap.
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k, html)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, m[k], html, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendFallback encodes what appendValue does not know with encoding/json,
// with the escaping the former encoder had at this place: json.Marshal
// inside an orderedObject, the outer Encoder outside one.
func appendFallback(dst []byte, v any, html bool) ([]byte, error) {
	if html {
		b, err := json.Marshal(v)
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // Encode's newline
}

// appendFloat formats f as encoding/json's floatEncoder does (ES6 number
// formatting); f is finite.
func appendFloat(dst []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// e-09 → e-9
		b := dst[n:]
		if k := len(b); k >= 4 && b[k-4] == 'e' && b[k-3] == '-' && b[k-2] == '0' {
			b[k-2] = b[k-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// plainByte[html][b]: an ASCII byte copied as it is. Control characters,
// '"' and '\\' are never plain; <, > and & are not when escaping HTML.
var plainByte = func() (t [2][utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		plain := b != '"' && b != '\\'
		t[0][b] = plain
		t[1][b] = plain && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendString quotes s as encoding/json does: short escapes for \b \f \n
// \r \t, \u00XX for other control characters (and <, >, & when html), each
// byte of invalid UTF-8 as \ufffd, and U+2028 and U+2029 escaped always,
// for JavaScript's sake.
func appendString(dst []byte, s string, html bool) []byte {
	plain := &plainByte[0]
	if html {
		plain = &plainByte[1]
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if plain[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
