package scimside

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/bridge"
)

// Strict input: what the RFCs or JSON forbid is refused before any service
// call, so nothing is written. Two passes:
//
//   - scanJSON, over the raw bytes, finds what decoding hides: a member
//     twice in one object (encoding/json keeps the last; SCIM names are
//     case-insensitive, so "userName" and "USERNAME" are the same member),
//     control characters in member names, and escaped UTF-16 surrogates
//     that do not pair ("\ud800", which encoding/json turns into U+FFFD).
//   - checkText, over decoded values, refuses C0 control characters in
//     what would be written, with the attribute known: TAB, LF and CR are
//     text in multi-line attributes (addresses' formatted, RFC 7643 §4.1.2,
//     and description), and nowhere else. Filters and PATCH paths are
//     checked by their parsers (invalidFilter, invalidPath).

// maxNameInMessage bounds a client-supplied name quoted in an error message.
const maxNameInMessage = 80

// quoteName quotes a client-supplied attribute name or URN for an error
// message: ASCII only, bounded.
func quoteName(s string) string {
	if len(s) > maxNameInMessage {
		cut := maxNameInMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.QuoteToASCII(s)
}

// jsonFrame is one open object or array during scanJSON.
type jsonFrame struct {
	obj     bool
	wantKey bool
	name    []byte   // the member name this container is the value of; nil for array items and the root
	key     []byte   // the current member's name (objects)
	keys    [][]byte // names seen so far, while few
	// asciiKeys: every name in keys is ASCII.
	asciiKeys bool
	set       map[string]struct{}
}

// manyMembers is where an object's duplicate check moves from comparing every
// pair to a map of folded names.
const manyMembers = 24

// scanJSON checks data, which encoding/json has already decoded without
// error (so it is valid JSON of bounded depth), for what decoding loses.
// It allocates only for escaped names and objects of many members.
func scanJSON(data []byte) error {
	const op = "scimside.scanJSON"
	stack := make([]jsonFrame, 0, 8)
	var pending []byte // the member name a container about to open belongs to
	top := func() *jsonFrame {
		if len(stack) == 0 {
			return nil
		}
		return &stack[len(stack)-1]
	}
	push := func(obj bool) {
		if len(stack) < cap(stack) {
			stack = stack[:len(stack)+1]
			f := &stack[len(stack)-1]
			keys := f.keys[:0]
			*f = jsonFrame{obj: obj, wantKey: obj, name: pending, keys: keys}
		} else {
			stack = append(stack, jsonFrame{obj: obj, wantKey: obj, name: pending})
		}
		pending = nil
	}
	for i := 0; i < len(data); {
		switch c := data[i]; c {
		case '{', '[':
			push(c == '{')
			i++
		case '}', ']':
			stack = stack[:len(stack)-1]
			i++
		case ',':
			if f := top(); f != nil && f.obj {
				f.wantKey = true
			}
			i++
		case '"':
			end, esc := stringEnd(data, i)
			lit := data[i : end+1]
			f := top()
			if f != nil && f.obj && f.wantKey {
				f.wantKey = false
				name := lit[1 : len(lit)-1]
				if esc {
					var s string
					if err := json.Unmarshal(lit, &s); err != nil {
						return bridge.E(op, bridge.KindInvalidSyntax, "the request body is not valid JSON", err)
					}
					if bad := badNameRune(s); bad != "" || loneSurrogate(lit) {
						if bad == "" {
							bad = "an unpaired UTF-16 surrogate"
						}
						return bridge.Errorf(op, bridge.KindInvalidSyntax, "a member name in %s holds %s", describePath(stack, nil), bad)
					}
					name = []byte(s)
				}
				if err := f.addKey(name); err != nil {
					return bridge.Errorf(op, bridge.KindInvalidSyntax, "%s appears more than once (SCIM names are case-insensitive)", quoteName(pathString(stack, name)))
				}
				f.key = name
				pending = name
			} else {
				if esc && loneSurrogate(lit) {
					var key []byte
					if f != nil && f.obj {
						key = f.key
					}
					kind, what := valueKind(stack, key)
					return bridge.Errorf(op, kind, "%s %s holds an unpaired UTF-16 surrogate", what, describePath(stack, key))
				}
				pending = nil
			}
			i = end + 1
		case ':':
			i++
		default:
			// Whitespace, numbers, true, false, null: nothing to check.
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				pending = nil
			}
			i++
		}
	}
	return nil
}

// stringEnd returns the index of the closing quote of the JSON string that
// starts at data[start], and whether it has escapes.
func stringEnd(data []byte, start int) (end int, esc bool) {
	i := start + 1
	for {
		j := bytes.IndexByte(data[i:], '"')
		if j < 0 {
			return len(data) - 1, esc // cannot happen on valid JSON
		}
		seg := data[i : i+j]
		if bytes.IndexByte(seg, '\\') < 0 {
			return i + j, esc
		}
		esc = true
		// Count the backslashes before the quote: an odd number escapes it.
		n := 0
		for k := i + j - 1; k >= i && data[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return i + j, esc
		}
		i += j + 1
	}
}

// addKey records a member name, or reports that the object already has it
// in any case.
func (f *jsonFrame) addKey(name []byte) error {
	if f.set != nil {
		k := foldKey(name)
		if _, dup := f.set[k]; dup {
			return errDuplicate
		}
		f.set[k] = struct{}{}
		return nil
	}
	ascii := isASCII(name)
	for _, k := range f.keys {
		// ASCII names fold only to names of their length; other runes
		// may fold across lengths (the Kelvin sign is k).
		if (len(k) == len(name) || !ascii || !f.asciiKeys) && bytes.EqualFold(k, name) {
			return errDuplicate
		}
	}
	if len(f.keys) == 0 {
		f.asciiKeys = true
	}
	f.asciiKeys = f.asciiKeys && ascii
	f.keys = append(f.keys, name)
	if len(f.keys) > manyMembers {
		f.set = make(map[string]struct{}, 2*len(f.keys))
		for _, k := range f.keys {
			f.set[foldKey(k)] = struct{}{}
		}
	}
	return nil
}

var errDuplicate = fmt.Errorf("duplicate member")

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldKey maps a name to one representative of its case-folding class, so
// that two names are equal under strings.EqualFold exactly when their keys
// are (lookupFold, and so the decoders, match names that way).
func foldKey(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, r := range string(b) {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		sb.WriteRune(least)
	}
	return sb.String()
}

// badNameRune describes the first control character in a member name, or "".
func badNameRune(s string) string {
	for _, r := range s {
		if r < 0x20 {
			return fmt.Sprintf("a control character (U+%04X)", r)
		}
	}
	return ""
}

// loneSurrogate reports whether a JSON string literal (with its quotes, or
// a filter's) has a \u escape of a UTF-16 surrogate that is not one half of
// a high-low pair.
func loneSurrogate(lit []byte) bool {
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' {
			continue
		}
		if i+1 >= len(lit) {
			return false
		}
		if lit[i+1] != 'u' {
			i++ // \" \\ \n …: skip the escaped character
			continue
		}
		r, ok := hex4(lit, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // a low half with no high half before it
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 < len(lit) && lit[i+6] == '\\' && lit[i+7] == 'u' {
				if lo, ok := hex4(lit, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return true
		}
		i += 5
	}
	return false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// memberNames lists the member names from the root to key (array levels
// add none).
func memberNames(stack []jsonFrame, key []byte) []string {
	var names []string
	for i := range stack {
		if stack[i].name != nil && i > 0 {
			names = append(names, string(stack[i].name))
		}
	}
	if key != nil {
		names = append(names, string(key))
	}
	return names
}

func pathString(stack []jsonFrame, key []byte) string {
	return joinNames(memberNames(stack, key))
}

// joinNames writes an attribute path as SCIM does: "name.givenName", and
// "urn:…:User:department" below an extension's URN.
func joinNames(names []string) string {
	var sb strings.Builder
	for i, n := range names {
		if i > 0 {
			if len(names[i-1]) > 4 && strings.EqualFold(names[i-1][:4], "urn:") {
				sb.WriteByte(':')
			} else {
				sb.WriteByte('.')
			}
		}
		sb.WriteString(n)
	}
	return sb.String()
}

// describePath names where in the body something is, for a message.
func describePath(stack []jsonFrame, key []byte) string {
	if p := pathString(stack, key); p != "" {
		return quoteName(p)
	}
	return "the request body"
}

// valueKind classifies a bad string value by where it is: a PATCH path
// (RFC 7644 §3.5.2, and SCIM 1.1's meta.attributes) is invalidPath, a
// SearchRequest's filter invalidFilter, anything else invalidValue.
func valueKind(stack []jsonFrame, key []byte) (bridge.Kind, string) {
	names := memberNames(stack, key)
	is := func(want ...string) bool {
		if len(names) != len(want) {
			return false
		}
		for i := range want {
			if !strings.EqualFold(names[i], want[i]) {
				return false
			}
		}
		return true
	}
	switch {
	case is("Operations", "path"), is("meta", "attributes"):
		return bridge.KindInvalidPath, "the path in"
	case is("filter"):
		return bridge.KindInvalidFilter, "the value of"
	}
	return bridge.KindInvalidValue, "the value of"
}

// checkText refuses C0 control characters in the string values of v, an
// attribute's value (names: the attribute's path so far, for the message
// and for which attributes are multi-line). TAB, LF and CR are allowed
// where multiLine says.
func checkText(names []string, v any) error {
	switch t := v.(type) {
	case string:
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c >= 0x20 {
				continue
			}
			if (c == '\t' || c == '\n' || c == '\r') && multiLine(names) {
				continue
			}
			return bridge.Errorf("scimside.checkText", bridge.KindInvalidValue, "the value of %s holds a control character (U+%04X)",
				quoteName(joinNames(names)), c)
		}
	case map[string]any:
		for k, x := range t {
			if x == nil {
				continue
			}
			// names is this walk's own stack: extended and cut back, never kept.
			if err := checkText(append(names, k), x); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range t {
			if err := checkText(names, x); err != nil {
				return err
			}
		}
	}
	return nil
}

// multiLine reports whether the attribute at names holds multi-line text:
// an address's formatted (RFC 7643 §4.1.2: it "MAY contain newlines") and
// any description (Okta's group extension; LDAP's description).
func multiLine(names []string) bool {
	if len(names) == 0 {
		return false
	}
	// Dotted names (Entra's path-less "addresses.formatted") and
	// URN-prefixed ones ("urn:…:description") count by their last parts.
	var parts []string
	for _, n := range names {
		parts = append(parts, strings.Split(n, ".")...)
	}
	last := func(i int) string {
		if i < 0 {
			return ""
		}
		p := parts[i]
		if j := strings.LastIndexByte(p, ':'); j >= 0 {
			p = p[j+1:]
		}
		return p
	}
	n := len(parts) - 1
	return strings.EqualFold(last(n), "description") ||
		strings.EqualFold(last(n), "formatted") && strings.EqualFold(last(n-1), "addresses")
}

// checkOpsText runs checkText over PATCH operations' values, each named by
// its path.
func checkOpsText(ops []bridge.PatchOp) error {
	for i, o := range ops {
		var names []string
		if o.Path != nil {
			if o.Path.Attr.URN != "" {
				names = append(names, o.Path.Attr.URN)
			}
			names = append(names, o.Path.Attr.Attr)
			if o.Path.Attr.Sub != "" {
				names = append(names, o.Path.Attr.Sub)
			}
			if o.Path.Sub != "" {
				names = append(names, o.Path.Sub)
			}
		}
		if err := checkText(names, o.Value); err != nil {
			return bridge.E("scimside.checkOpsText", bridge.KindInvalidValue, fmt.Sprintf("operation %d: %s", i+1, bridge.SafeMessage(err)), err)
		}
	}
	return nil
}

// textControl describes the first byte of s that a filter or a path may
// not hold (C0 controls; TAB, LF and CR only where allowSpace), or "".
func textControl(s string, allowSpace bool) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 || allowSpace && (c == '\t' || c == '\n' || c == '\r') {
			continue
		}
		return fmt.Sprintf("a control character (U+%04X)", c)
	}
	return ""
}

// checkSchemas enforces RFC 7643 §3's schemas attribute on a request body:
// when present it is a non-empty list of strings, every one accepted by
// known, and one of them satisfies required. A body without schemas is
// accepted (see docs/scim.md, "Strict input": no client we serve depends on
// it, but dirbridge's own start-up banner, hand-written scripts and HR
// feeds send bare bodies, and the endpoint says what the body is).
func checkSchemas(body map[string]any, what string, known func(string) bool, required func(string) bool, requiredName string) error {
	const op = "scimside.checkSchemas"
	raw, ok := lookupFold(body, "schemas")
	if !ok {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		return bridge.Errorf(op, bridge.KindInvalidSyntax, "schemas must be a list of schema URNs")
	}
	found := false
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return bridge.Errorf(op, bridge.KindInvalidSyntax, "schemas must be a list of schema URNs")
		}
		s = strings.TrimSpace(s)
		if !known(s) {
			return bridge.Errorf(op, bridge.KindInvalidSyntax, "schemas names %s, which is not a schema of %s", quoteName(s), what)
		}
		if required(s) {
			found = true
		}
	}
	if !found {
		return bridge.Errorf(op, bridge.KindInvalidSyntax, "schemas must hold %s", requiredName)
	}
	return nil
}

// entraGroupURN is the extra schema Microsoft Entra ID lists on every group
// it creates; it carries no attributes, and refusing it would refuse Entra.
const entraGroupURN = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"

// resourceSchemas checks a SCIM 2.0 resource body's schemas: the core URN
// and otherwise only the resource type's extensions (and Entra's group URN
// on groups).
func resourceSchemas(rt *bridge.ResourceType, body map[string]any) error {
	if rt == nil {
		return nil
	}
	known := func(s string) bool {
		return strings.EqualFold(s, rt.Schema.ID) || rt.Extension(s) != nil ||
			strings.EqualFold(s, entraGroupURN) && strings.EqualFold(rt.Schema.ID, bridge.GroupSchema)
	}
	core := func(s string) bool { return strings.EqualFold(s, rt.Schema.ID) }
	return checkSchemas(body, rt.Endpoint, known, core, rt.Schema.ID)
}

// messageSchemas checks the schemas of a protocol message (PatchOp,
// SearchRequest): exactly that URN.
func messageSchemas(body map[string]any, urn string) error {
	is := func(s string) bool { return strings.EqualFold(s, urn) }
	return checkSchemas(body, "this request", is, is, urn)
}
