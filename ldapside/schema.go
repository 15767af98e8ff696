package ldapside

// A reader of the directory's subschema (RFC 4512 §4.1): the attribute
// types, object classes and DIT content rules a server publishes in its
// subschema subentry (OpenLDAP's cn=Subschema, AD's
// CN=Aggregate,CN=Schema,CN=Configuration,…). go-ldap has no parser for
// these descriptions. `dirbridge check` and serve's start judge the
// mapping tables against what this reads.

import (
	"fmt"
	"strings"
)

// Schema is a parsed subschema. Names and OIDs are looked up
// case-insensitively; every name of an element (its aliases) finds it.
type Schema struct {
	attrs   map[string]*AttributeType
	classes map[string]*ObjectClass
	rules   map[string]*ContentRule // by the structural class's OID and names
}

// AttributeType is one attributeTypes description.
type AttributeType struct {
	OID                string
	Names              []string
	Sup                string
	Equality           string
	Syntax             string // the syntax OID without a length bound; "" when inherited and not found
	SingleValue        bool
	NoUserModification bool
	Usage              string // "userApplications" unless operational
}

// ObjectClass is one objectClasses description.
type ObjectClass struct {
	OID       string
	Names     []string
	Sup       []string
	Kind      string // STRUCTURAL, AUXILIARY or ABSTRACT
	Must, May []string
}

// ContentRule is one dITContentRules description: what entries of a
// structural class may carry besides their classes' attributes. AD
// publishes the auxiliary classes of its classes (user: mailRecipient, …)
// this way.
type ContentRule struct {
	OID                 string
	Names               []string
	Aux, Must, May, Not []string
}

// Name is the element's first name, else its OID.
func (a *AttributeType) Name() string {
	if len(a.Names) > 0 {
		return a.Names[0]
	}
	return a.OID
}

// Name is the class's first name, else its OID.
func (o *ObjectClass) Name() string {
	if len(o.Names) > 0 {
		return o.Names[0]
	}
	return o.OID
}

// Operational says the type is kept by the server (USAGE other than
// userApplications): allowed on every entry whatever its classes.
func (a *AttributeType) Operational() bool {
	return a.Usage != "" && !strings.EqualFold(a.Usage, "userApplications")
}

// ParseSchema parses the values of a subschema entry's attributeTypes,
// objectClasses and dITContentRules. A description that cannot be parsed is
// reported and skipped; the rest is still usable.
func ParseSchema(attributeTypes, objectClasses, contentRules []string) (*Schema, []error) {
	s := &Schema{attrs: map[string]*AttributeType{}, classes: map[string]*ObjectClass{}, rules: map[string]*ContentRule{}}
	var errs []error
	for _, v := range attributeTypes {
		d, err := parseDescription(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("attributeTypes %q: %w", clip(v), err))
			continue
		}
		a := &AttributeType{OID: d.oid, Names: d.list("NAME"), Sup: d.one("SUP"), Equality: d.one("EQUALITY"),
			Syntax: syntaxOID(d.one("SYNTAX")), SingleValue: d.flag("SINGLE-VALUE"),
			NoUserModification: d.flag("NO-USER-MODIFICATION"), Usage: d.one("USAGE")}
		for _, k := range append([]string{a.OID}, a.Names...) {
			s.attrs[schemaKey(k)] = a
		}
	}
	for _, v := range objectClasses {
		d, err := parseDescription(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("objectClasses %q: %w", clip(v), err))
			continue
		}
		o := &ObjectClass{OID: d.oid, Names: d.list("NAME"), Sup: d.list("SUP"), Must: d.list("MUST"), May: d.list("MAY"), Kind: "STRUCTURAL"}
		for _, k := range []string{"ABSTRACT", "AUXILIARY"} {
			if d.flag(k) {
				o.Kind = k
			}
		}
		for _, k := range append([]string{o.OID}, o.Names...) {
			s.classes[schemaKey(k)] = o
		}
	}
	for _, v := range contentRules {
		d, err := parseDescription(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("dITContentRules %q: %w", clip(v), err))
			continue
		}
		r := &ContentRule{OID: d.oid, Names: d.list("NAME"), Aux: d.list("AUX"), Must: d.list("MUST"), May: d.list("MAY"), Not: d.list("NOT")}
		for _, k := range append([]string{r.OID}, r.Names...) {
			s.rules[schemaKey(k)] = r
		}
	}
	return s, errs
}

// schemaKey is how names and OIDs are looked up: case and surrounding
// blanks do not count.
func schemaKey(k string) string { return strings.ToLower(strings.TrimSpace(k)) }

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// syntaxOID drops a length bound ("…1.15{256}") and the quotes AD puts
// around the OID.
func syntaxOID(s string) string {
	if i := strings.IndexByte(s, '{'); i >= 0 {
		s = s[:i]
	}
	return strings.Trim(s, "'")
}

// Attribute returns the attribute type called name (any of its names, or
// its OID), or nil.
func (s *Schema) Attribute(name string) *AttributeType {
	if s == nil {
		return nil
	}
	return s.attrs[schemaKey(name)]
}

// Class returns the object class called name, or nil.
func (s *Schema) Class(name string) *ObjectClass {
	if s == nil {
		return nil
	}
	return s.classes[schemaKey(name)]
}

// SyntaxOf is the attribute's syntax OID, inherited through SUP when the
// type names none.
func (s *Schema) SyntaxOf(a *AttributeType) string {
	for i := 0; a != nil && i < 16; i++ {
		if a.Syntax != "" {
			return a.Syntax
		}
		a = s.Attribute(a.Sup)
	}
	return ""
}

// extensibleObject allows every user attribute (RFC 4512 §4.3).
const oidExtensibleObject = "1.3.6.1.4.1.1466.101.120.111"

// Allowed is what an entry of the given object classes must and may hold:
// the MUST and MAY of each class and its superclasses, of the auxiliary
// classes the DIT content rule of each structural class lists (AD), and of
// that rule itself. Keys are attribute OIDs (names the schema does not
// define are kept, lower-cased). any is true when extensibleObject is among
// the classes.
type Allowed struct {
	Must, May map[string]bool
	Any       bool
	// Unknown are the classes, of those given and their superclasses, the
	// schema does not define.
	Unknown []string
}

// Permits says whether the entry may hold attribute a.
func (al Allowed) Permits(s *Schema, a *AttributeType) bool {
	if a == nil {
		return al.Any
	}
	if al.Any || a.Operational() {
		return true
	}
	key := strings.ToLower(a.OID)
	return al.Must[key] || al.May[key]
}

// Allowed computes what entries of classes may hold.
func (s *Schema) Allowed(classes []string) Allowed {
	al := Allowed{Must: map[string]bool{}, May: map[string]bool{}}
	seen := map[string]bool{}
	key := func(name string) string {
		if a := s.Attribute(name); a != nil {
			return strings.ToLower(a.OID)
		}
		return strings.ToLower(name)
	}
	var walk func(name string, depth int)
	walk = func(name string, depth int) {
		lname := schemaKey(name)
		if lname == "" || seen[lname] || depth > 32 {
			return
		}
		seen[lname] = true
		o := s.Class(name)
		if o == nil {
			al.Unknown = append(al.Unknown, name)
			return
		}
		for _, k := range append([]string{o.OID}, o.Names...) {
			seen[schemaKey(k)] = true
		}
		if o.OID == oidExtensibleObject {
			al.Any = true
		}
		for _, m := range o.Must {
			al.Must[key(m)] = true
		}
		for _, m := range o.May {
			al.May[key(m)] = true
		}
		for _, sup := range o.Sup {
			walk(sup, depth+1)
		}
		if r := s.rules[schemaKey(o.OID)]; r != nil {
			for _, m := range r.Must {
				al.Must[key(m)] = true
			}
			for _, m := range r.May {
				al.May[key(m)] = true
			}
			for _, aux := range r.Aux {
				walk(aux, depth+1)
			}
		}
	}
	for _, c := range classes {
		walk(c, 0)
	}
	return al
}

// description is one parsed RFC 4512 description: its OID and each
// keyword's values (a keyword without values, a flag, maps to an empty
// list).
type description struct {
	oid string
	kw  map[string][]string
}

func (d description) list(k string) []string { return d.kw[k] }

func (d description) one(k string) string {
	if v := d.kw[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (d description) flag(k string) bool { _, ok := d.kw[k]; return ok }

// flagKeywords take no value.
var flagKeywords = map[string]bool{
	"OBSOLETE": true, "SINGLE-VALUE": true, "COLLECTIVE": true, "NO-USER-MODIFICATION": true,
	"ABSTRACT": true, "STRUCTURAL": true, "AUXILIARY": true,
}

// valueKeywords always take a value, whatever it looks like.
var valueKeywords = map[string]bool{
	"NAME": true, "DESC": true, "SUP": true, "EQUALITY": true, "ORDERING": true, "SUBSTR": true, "SYNTAX": true,
	"USAGE": true, "MUST": true, "MAY": true, "AUX": true, "NOT": true,
}

// parseDescription parses "( oid KEYWORD value KEYWORD ( v1 $ v2 ) … )".
// It is lenient where servers are (AD quotes OIDs, some servers omit
// spaces before ")"), strict where a misreading would mislead: an
// unbalanced parenthesis or quote is an error.
func parseDescription(s string) (description, error) {
	toks, err := tokenize(s)
	if err != nil {
		return description{}, err
	}
	if len(toks) < 3 || toks[0] != "(" || toks[len(toks)-1] != ")" {
		return description{}, fmt.Errorf("not a parenthesized description")
	}
	toks = toks[1 : len(toks)-1]
	d := description{kw: map[string][]string{}}
	if isSyntax(toks[0]) {
		return description{}, fmt.Errorf("no OID")
	}
	d.oid = unquote(toks[0])
	if strings.TrimSpace(d.oid) == "" || strings.ContainsAny(d.oid, " \t\r\n") {
		return description{}, fmt.Errorf("no OID")
	}
	for i := 1; i < len(toks); {
		k := strings.ToUpper(toks[i])
		if isSyntax(toks[i]) || isQuoted(toks[i]) {
			return description{}, fmt.Errorf("unexpected %q", toks[i])
		}
		i++
		if flagKeywords[k] {
			d.kw[k] = nil
			continue
		}
		var vals []string
		switch {
		case i < len(toks) && toks[i] == "(":
			i++
			for i < len(toks) && toks[i] != ")" {
				if toks[i] != "$" {
					if toks[i] == "(" {
						return description{}, fmt.Errorf("nested parenthesis after %s", k)
					}
					vals = append(vals, unquote(toks[i]))
				}
				i++
			}
			if i == len(toks) {
				return description{}, fmt.Errorf("unclosed list after %s", k)
			}
			i++
		case i < len(toks) && !isSyntax(toks[i]) && (valueKeywords[k] || isQuoted(toks[i]) || !isKeyword(toks[i])):
			vals = append(vals, unquote(toks[i]))
			i++
		}
		d.kw[k] = append(d.kw[k], vals...)
	}
	return d, nil
}

// isKeyword says whether a bare word reads as a keyword (upper case,
// letters and hyphens: NAME, X-ORIGIN) rather than a value (an OID or a
// name, which RFC 4512 lets start with a letter but which servers write in
// mixed or lower case).
func isKeyword(t string) bool {
	if t == "" || isQuoted(t) {
		return false
	}
	for _, r := range t {
		if !(r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func isSyntax(t string) bool { return t == "(" || t == ")" || t == "$" }

func isQuoted(t string) bool { return len(t) >= 2 && t[0] == '\'' }

// unquote strips the quotes of a qdstring and undoes its \27 and \5C
// escapes (RFC 4512 §4.1).
func unquote(t string) string {
	if !isQuoted(t) {
		return t
	}
	t = t[1 : len(t)-1]
	if strings.Contains(t, `\`) {
		t = strings.NewReplacer(`\27`, `'`, `\5C`, `\`, `\5c`, `\`).Replace(t)
	}
	return t
}

// tokenize splits a description into "(", ")", "$", quoted strings (kept
// with their quotes) and bare words.
func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '$':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unclosed quote")
			}
			toks = append(toks, s[i:i+j+2])
			i += j + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()$'", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	depth := 0
	for _, t := range toks {
		switch t {
		case "(":
			depth++
		case ")":
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced parenthesis")
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced parenthesis")
	}
	return toks, nil
}

// AttributeNames are every name of every attribute type (for suggestions).
func (s *Schema) AttributeNames() []string {
	var out []string
	for k, a := range s.attrs {
		if k != strings.ToLower(a.OID) {
			out = append(out, nameCase(a.Names, k))
		}
	}
	return out
}

// ClassNames are every name of every object class.
func (s *Schema) ClassNames() []string {
	var out []string
	for k, o := range s.classes {
		if k != strings.ToLower(o.OID) {
			out = append(out, nameCase(o.Names, k))
		}
	}
	return out
}

// nameCase returns the name as the schema writes it.
func nameCase(names []string, lower string) string {
	for _, n := range names {
		if strings.ToLower(n) == lower {
			return n
		}
	}
	return lower
}
