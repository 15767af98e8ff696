package scimside

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/bridge"
)

// Bounds on client-supplied filters and paths. A filter is a query parameter
// and a PATCH path a JSON string, so both arrive from untrusted clients:
// the length bound caps the work of one parse, the depth bound keeps
// "((((((…" from exhausting the stack here or in any recursive consumer
// downstream (mapping, MatchValue, String), and the term bound keeps the
// directory filter we hand to LDAP a sane size.
const (
	maxFilterLen   = 8 << 10
	maxFilterDepth = 32
	maxFilterTerms = 256
	maxPathLen     = 1 << 10
)

// parseFilter parses a SCIM filter (RFC 7644 §3.4.2.2) over resource type rt
// into the canonical bridge.Expr.
//
// It follows the RFC grammar with the leniency real clients need: operators,
// "and", "or", "not" and the literals true/false/null in any case; Entra ID's
// unquoted values (externalId eq 3b4d-…, even with spaces); and
// "emails[type eq \"work\"].value eq \"x\"", which is not in the RFC grammar
// but is what Entra sends, read as emails[type eq "work" and value eq "x"].
// URN-prefixed names are split with the resource type's known schema URNs
// (URNs contain dots and colons, so no grammar can split them alone).
func parseFilter(rt *bridge.ResourceType, s string) (bridge.Expr, error) {
	return parseFilterWith(rt, s, v1Names{})
}

// parseFilterWith parses a filter whose attribute names may also carry the
// other URNs of names (SCIM 1.1's); they come out canonical.
func parseFilterWith(rt *bridge.ResourceType, s string, names v1Names) (bridge.Expr, error) {
	const op = "scimside.parseFilter"
	if len(s) > maxFilterLen {
		return nil, bridge.Errorf(op, bridge.KindInvalidFilter, "the filter is longer than %d bytes", maxFilterLen)
	}
	// A query string's %FF reaches here as it came: matching it against
	// the directory's UTF-8 would only ever find nothing.
	if !utf8.ValidString(s) {
		return nil, bridge.Errorf(op, bridge.KindInvalidFilter, "the filter is not valid UTF-8")
	}
	if bad := textControl(s, true); bad != "" {
		return nil, bridge.Errorf(op, bridge.KindInvalidFilter, "the filter holds %s", bad)
	}
	p := newExprParser(rt, s)
	if len(names.all) > 0 {
		p.urns, p.names = names.all, names
	}
	p.skipSpace()
	if p.eof() {
		return nil, bridge.Errorf(op, bridge.KindInvalidFilter, "the filter is empty")
	}
	x, err := p.parseOr()
	if err != nil {
		return nil, err // already a KindInvalidFilter *bridge.Error with a position
	}
	p.skipSpace()
	if !p.eof() {
		return nil, p.errorf("unexpected %s", p.describe())
	}
	return x, nil
}

// exprParser is a recursive-descent parser over one filter string. Errors it
// returns are *bridge.Error of KindInvalidFilter whose message names a
// position, never echoing the client's text.
type exprParser struct {
	src   string
	pos   int
	depth int
	terms int
	rt    *bridge.ResourceType
	urns  []string
	// parent is the multi-valued attribute whose values a bracketed filter
	// applies to; nil at the top level.
	parent *bridge.AttrDef
	inVal  bool
	// names, when set, translates the URNs of attribute names to canonical
	// ones (SCIM 1.1).
	names v1Names
}

func newExprParser(rt *bridge.ResourceType, s string) *exprParser {
	return &exprParser{src: s, rt: rt, urns: schemaURNs(rt)}
}

// schemaURNs lists the schema ids of rt, core first.
func schemaURNs(rt *bridge.ResourceType) []string {
	if rt == nil {
		return nil
	}
	ids := []string{rt.Schema.ID}
	for _, e := range rt.Extensions {
		ids = append(ids, e.ID)
	}
	return ids
}

func (p *exprParser) errorf(format string, args ...any) error {
	return bridge.Errorf("scimside.parseFilter", bridge.KindInvalidFilter, "%s at position %d", fmt.Sprintf(format, args...), p.pos+1)
}

func (p *exprParser) eof() bool { return p.pos >= len(p.src) }

func (p *exprParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

// describe names what is at the current position, for error messages.
func (p *exprParser) describe() string {
	switch c := p.peek(); {
	case p.eof():
		return "end of filter"
	case c == '(' || c == ')' || c == '[' || c == ']' || c == '"':
		return fmt.Sprintf("%q", string(c))
	default:
		return "text"
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *exprParser) skipSpace() {
	for !p.eof() && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// isNameChar reports whether c may appear in an attribute name or URN: RFC
// 7643 nameChar plus ':' and '.' for URNs and sub-attributes, and '$' for
// $ref.
func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-' || c == ':' || c == '.' || c == '$'
}

// word returns the maximal run of name characters at the current position
// without consuming it.
func (p *exprParser) word() string {
	i := p.pos
	for i < len(p.src) && isNameChar(p.src[i]) {
		i++
	}
	return p.src[p.pos:i]
}

// keyword consumes kw (case-insensitively) when it stands as a whole word at
// the current position, followed by space, '(' or the end.
func (p *exprParser) keyword(kw string) bool {
	if len(p.src)-p.pos < len(kw) || !strings.EqualFold(p.src[p.pos:p.pos+len(kw)], kw) {
		return false
	}
	end := p.pos + len(kw)
	if end < len(p.src) && !isSpace(p.src[end]) && p.src[end] != '(' {
		return false
	}
	p.pos = end
	return true
}

func (p *exprParser) enter() error {
	p.depth++
	if p.depth > maxFilterDepth {
		return p.errorf("the filter is nested more than %d levels deep", maxFilterDepth)
	}
	return nil
}

func (p *exprParser) parseOr() (bridge.Expr, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if !p.keyword("or") {
			return left, nil
		}
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &bridge.LogicalExpr{Op: "or", Left: left, Right: right}
	}
}

func (p *exprParser) parseAnd() (bridge.Expr, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if !p.keyword("and") {
			return left, nil
		}
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		left = &bridge.LogicalExpr{Op: "and", Left: left, Right: right}
	}
}

func (p *exprParser) parseUnary() (bridge.Expr, error) {
	p.skipSpace()
	if p.peek() == '(' {
		return p.parseGroup()
	}
	save := p.pos
	if p.keyword("not") {
		p.skipSpace()
		if p.peek() == '(' {
			x, err := p.parseGroup()
			if err != nil {
				return nil, err
			}
			return &bridge.NotExpr{X: x}, nil
		}
		// "not" not followed by "(" may be an attribute called not….
		p.pos = save
	}
	return p.parseAttrExpr()
}

// parseGroup parses "(" filter ")".
func (p *exprParser) parseGroup() (bridge.Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '('
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.peek() != ')' {
		return nil, p.errorf("expected \")\" but found %s", p.describe())
	}
	p.pos++
	p.depth--
	return x, nil
}

// attrPath turns a name as written into an AttrPath and the definition of
// the attribute it names (nil when unknown: the mapping reports unknown
// attributes, with the names it knows).
func (p *exprParser) attrPath(name string) (bridge.AttrPath, *bridge.AttrDef, error) {
	if p.inVal {
		// Inside brackets names are sub-attributes of the parent's values.
		if strings.Contains(name, ":") || strings.Count(name, ".") > 0 {
			return bridge.AttrPath{}, nil, p.errorf("a value filter names sub-attributes only")
		}
		return bridge.AttrPath{Attr: name}, p.parent.Sub(name), nil
	}
	path, ok := splitAttrName(name, p.urns)
	if !ok {
		return bridge.AttrPath{}, nil, p.errorf("malformed attribute name")
	}
	if c := p.names.canonical(path.URN); c != "" {
		path.URN = c
	}
	var def *bridge.AttrDef
	if p.rt != nil {
		if top, sub, ok := p.rt.Resolve(path); ok {
			def = top
			if sub != nil {
				def = sub
			}
		}
	}
	return path, def, nil
}

// splitAttrName splits "urn:…:User:name.givenName" into URN, attribute and
// sub-attribute, with the known schema URNs. An unknown URN-shaped name is
// kept whole as the attribute (dots in "…:1.0:…" are not sub-attributes), so
// that the consumer reports it as an unknown attribute.
func splitAttrName(name string, urns []string) (bridge.AttrPath, bool) {
	if name == "" {
		return bridge.AttrPath{}, false
	}
	urn, rest := bridge.SplitURNPath(name, urns)
	if urn == "" && len(rest) >= 4 && strings.EqualFold(rest[:4], "urn:") {
		return bridge.AttrPath{Attr: rest}, true
	}
	if strings.Contains(rest, ":") {
		return bridge.AttrPath{}, false
	}
	path := bridge.AttrPath{URN: urn, Attr: rest}
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		path.Attr, path.Sub = rest[:i], rest[i+1:]
		if strings.Contains(path.Sub, ".") || path.Sub == "" {
			return bridge.AttrPath{}, false
		}
	}
	if !validAttrName(path.Attr) || (path.Sub != "" && !validAttrName(path.Sub)) {
		return bridge.AttrPath{}, false
	}
	return path, true
}

// validAttrName checks RFC 7643 ATTRNAME (with '$' allowed first, for $ref).
func validAttrName(s string) bool {
	if s == "" || s == "$" {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '$') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isNameChar(c) || c == ':' || c == '.' {
			return false
		}
	}
	return true
}

var compareOps = map[string]bridge.CompareOp{
	"eq": bridge.OpEq, "ne": bridge.OpNe, "co": bridge.OpCo, "sw": bridge.OpSw, "ew": bridge.OpEw,
	"gt": bridge.OpGt, "ge": bridge.OpGe, "lt": bridge.OpLt, "le": bridge.OpLe, "pr": bridge.OpPr,
}

func (p *exprParser) parseAttrExpr() (bridge.Expr, error) {
	p.skipSpace()
	name := p.word()
	if name == "" {
		return nil, p.errorf("expected an attribute name but found %s", p.describe())
	}
	p.terms++
	if p.terms > maxFilterTerms {
		return nil, p.errorf("the filter has more than %d comparisons", maxFilterTerms)
	}
	if p.pos+len(name) < len(p.src) && p.src[p.pos+len(name)] == '[' {
		return p.parseValuePath(name)
	}
	path, def, err := p.attrPath(name)
	if err != nil {
		return nil, err
	}
	p.pos += len(name)
	return p.parseComparison(path, def)
}

// parseComparison parses "op value" or "pr" after an attribute path.
func (p *exprParser) parseComparison(path bridge.AttrPath, def *bridge.AttrDef) (bridge.Expr, error) {
	p.skipSpace()
	w := p.word()
	cop, ok := compareOps[strings.ToLower(w)]
	if !ok || w == "" {
		return nil, p.errorf("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")
	}
	p.pos += len(w)
	if cop == bridge.OpPr {
		return &bridge.CompareExpr{Path: path, Op: cop}, nil
	}
	v, err := p.parseValue(def)
	if err != nil {
		return nil, err
	}
	return &bridge.CompareExpr{Path: path, Op: cop, Value: v}, nil
}

// parseValuePath parses attr[valFilter] and Entra's attr[valFilter].sub op v.
func (p *exprParser) parseValuePath(name string) (bridge.Expr, error) {
	if p.inVal {
		return nil, p.errorf("value filters cannot be nested")
	}
	path, def, err := p.attrPath(name)
	if err != nil {
		return nil, err
	}
	if path.Sub != "" {
		return nil, p.errorf("a value filter applies to an attribute, not a sub-attribute")
	}
	p.pos += len(name)
	inner, err := p.parseBracket(def)
	if err != nil {
		return nil, err
	}
	if p.peek() == '.' {
		p.pos++
		sub := p.word()
		if !validAttrName(sub) {
			return nil, p.errorf("expected a sub-attribute name after \"]\"")
		}
		p.pos += len(sub)
		var subDef *bridge.AttrDef
		if def != nil {
			subDef = def.Sub(sub)
		}
		cmp, err := p.parseComparison(bridge.AttrPath{Attr: sub}, subDef)
		if err != nil {
			return nil, err
		}
		inner = &bridge.LogicalExpr{Op: "and", Left: inner, Right: cmp}
	}
	return &bridge.ValuePathExpr{Path: path, Filter: inner}, nil
}

// parseBracket parses "[" valFilter "]" for the attribute def (nil when
// unknown), leaving the position after "]".
func (p *exprParser) parseBracket(def *bridge.AttrDef) (bridge.Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // '['
	if def == nil {
		def = &bridge.AttrDef{}
	}
	p.parent, p.inVal = def, true
	inner, err := p.parseOr()
	p.parent, p.inVal = nil, false
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.peek() != ']' {
		return nil, p.errorf("expected \"]\" but found %s", p.describe())
	}
	p.pos++
	p.depth--
	return inner, nil
}

// parseValue parses a comparison value: a JSON string, number, true, false
// or null, or (leniently, for Entra ID) an unquoted value. def, when known,
// decides how an unquoted value is read: for string attributes it is the
// text as written (externalId eq 00123 keeps its zeros), for numbers it
// must be a number.
func (p *exprParser) parseValue(def *bridge.AttrDef) (any, error) {
	p.skipSpace()
	if p.eof() {
		return nil, p.errorf("expected a value but found end of filter")
	}
	if p.peek() == '"' {
		return p.parseString()
	}
	start := p.pos
	p.scanBare()
	// An unquoted value ends where the grammar allows nothing but "and",
	// "or", ")" or "]"; anything else is part of it (Entra sends
	// unencoded spaces in unquoted values).
	for {
		save := p.pos
		p.skipSpace()
		if p.eof() || p.atKeyword("and") || p.atKeyword("or") {
			p.pos = save
			break
		}
		before := p.pos
		p.scanBare()
		if p.pos == before {
			// A delimiter ( ) [ ] or " : not part of a value.
			p.pos = save
			break
		}
	}
	raw := p.src[start:p.pos]
	if raw == "" {
		return nil, p.errorf("expected a value but found %s", p.describe())
	}
	lower := strings.ToLower(raw)
	// An attribute without a type is a string, as /Schemas renders it.
	stringish := def != nil && def.Type != bridge.TypeBoolean &&
		def.Type != bridge.TypeInteger && def.Type != bridge.TypeDecimal && def.Type != bridge.TypeComplex
	switch {
	case lower == "null":
		return nil, nil
	case stringish:
		return raw, nil
	case lower == "true":
		return true, nil
	case lower == "false":
		return false, nil
	case isJSONNumber(raw):
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return nil, p.errorf("number out of range")
		}
		return f, nil
	case def != nil && (def.Type == bridge.TypeInteger || def.Type == bridge.TypeDecimal):
		return nil, p.errorf("expected a number")
	}
	return raw, nil
}

// atKeyword reports whether kw stands as a whole word at the position.
func (p *exprParser) atKeyword(kw string) bool {
	save := p.pos
	ok := p.keyword(kw)
	p.pos = save
	return ok
}

// scanBare consumes an unquoted token: everything up to space, parenthesis,
// bracket or quote.
func (p *exprParser) scanBare() {
	for !p.eof() {
		c := p.src[p.pos]
		if isSpace(c) || c == '(' || c == ')' || c == '[' || c == ']' || c == '"' {
			return
		}
		p.pos++
	}
}

// parseString parses a JSON string literal with its escapes.
func (p *exprParser) parseString() (string, error) {
	start := p.pos
	i := p.pos + 1
	for i < len(p.src) {
		switch p.src[i] {
		case '\\':
			i += 2
			continue
		case '"':
			var s string
			lit := []byte(p.src[start : i+1])
			if err := json.Unmarshal(lit, &s); err != nil {
				return "", p.errorf("malformed string")
			}
			// Escapes can spell what the raw text may not: a control
			// character other than TAB, LF, CR, or half a surrogate pair
			// (which encoding/json would make U+FFFD).
			if bad := textControl(s, true); bad != "" {
				return "", p.errorf("a value holds %s", bad)
			}
			if loneSurrogate(lit) {
				return "", p.errorf("a value holds an unpaired UTF-16 surrogate")
			}
			p.pos = i + 1
			return s, nil
		}
		i++
	}
	return "", p.errorf("unterminated string")
}

// isJSONNumber reports whether s is a number in JSON's grammar (strconv
// alone would also take "inf", "0x1p3" and "1_0").
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// parsePatchPath parses a PATCH path (RFC 7644 §3.5.2): attrPath, or
// valuePath optionally followed by ".subAttr". Failures are KindInvalidPath.
func parsePatchPath(rt *bridge.ResourceType, s string) (*bridge.PatchPath, error) {
	const op = "scimside.parsePatchPath"
	if len(s) > maxPathLen {
		return nil, bridge.Errorf(op, bridge.KindInvalidPath, "the path is longer than %d bytes", maxPathLen)
	}
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return nil, bridge.Errorf(op, bridge.KindInvalidPath, "the path is not valid UTF-8")
	}
	if bad := textControl(s, false); bad != "" {
		return nil, bridge.Errorf(op, bridge.KindInvalidPath, "the path holds %s", bad)
	}
	name, rest := s, ""
	if i := strings.IndexByte(s, '['); i >= 0 {
		name, rest = s[:i], s[i:]
	}
	attr, ok := splitAttrName(name, schemaURNs(rt))
	if !ok {
		return nil, bridge.Errorf(op, bridge.KindInvalidPath, "the path is not a valid attribute path")
	}
	out := &bridge.PatchPath{Attr: attr}
	if rest == "" {
		return out, nil
	}
	if attr.Sub != "" {
		return nil, bridge.Errorf(op, bridge.KindInvalidPath, "a value filter applies to an attribute, not a sub-attribute")
	}
	var def *bridge.AttrDef
	if rt != nil {
		def, _, _ = rt.Resolve(attr)
	}
	p := newExprParser(rt, s)
	p.pos = len(name)
	inner, err := p.parseBracket(def)
	if err != nil {
		return nil, bridge.E(op, bridge.KindInvalidPath, "the value filter in the path is not valid: "+bridge.SafeMessage(err), err)
	}
	out.Filter = inner
	tail := s[p.pos:]
	switch {
	case tail == "":
	case tail[0] == '.' && validAttrName(tail[1:]):
		out.Sub = tail[1:]
	default:
		return nil, bridge.Errorf(op, bridge.KindInvalidPath, "unexpected text after \"]\" in the path")
	}
	return out, nil
}
