// Package tomlfile finds where things are in a TOML file and checks a whole
// file against the Go type it decodes into, reporting every mismatch with
// its line. BurntSushi/toml stops at the first type error and locates it by
// a key's last occurrence (a row of an array of tables is reported at the
// line of the last row), and it exports no key positions; an operator needs
// every problem, each at the line it is on.
package tomlfile

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Problem is one thing wrong with a file: Key is the dotted key with array
// indices ("attribute[2].ldap"), Line 0 when unknown.
type Problem struct {
	Line int
	Key  string
	Msg  string
}

// Positions maps the keys written in a TOML text to their lines.
type Positions struct {
	lines map[string]int // "scim.auth.header_name", "attribute[2].ldap", "attribute[2]"
}

var (
	arrayHeaderRe = regexp.MustCompile(`^\s*\[\[\s*([^\]]+?)\s*\]\]`)
	tableHeaderRe = regexp.MustCompile(`^\s*\[\s*([^\]\[]+?)\s*\]`)
	keyRe         = regexp.MustCompile(`^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=`)
)

// splitKey splits a dotted key, unquoting its parts.
func splitKey(s string) []string {
	var parts []string
	for _, p := range regexp.MustCompile(`"[^"]*"|'[^']*'|[^.\s]+`).FindAllString(s, -1) {
		parts = append(parts, strings.Trim(p, `"'`))
	}
	return parts
}

// Scan finds the line of every table header and key in data. It follows
// multi-line strings and arrays, so a line inside a value is never taken
// for a key.
func Scan(data []byte) *Positions {
	p := &Positions{lines: map[string]int{}}
	count := map[string]int{} // array table → rows seen
	prefix := ""
	var inML string // `"""` or `'''` while inside a multi-line string
	depth := 0      // open [ and { of a value
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		rest := line
		if inML == "" && depth == 0 {
			if m := arrayHeaderRe.FindStringSubmatch(line); m != nil {
				name := p.resolve(splitKey(m[1]), count, true)
				count[name]++
				prefix = fmt.Sprintf("%s[%d]", name, count[name]-1)
				p.set(prefix, n)
				continue
			}
			if m := tableHeaderRe.FindStringSubmatch(line); m != nil && !strings.HasPrefix(strings.TrimSpace(line), "[[") {
				prefix = p.resolve(splitKey(m[1]), count, false)
				p.set(prefix, n)
				continue
			}
			if m := keyRe.FindStringSubmatch(line); m != nil {
				k := strings.Join(splitKey(m[1]), ".")
				if prefix != "" {
					k = prefix + "." + k
				}
				p.set(k, n)
				rest = line[len(m[0]):]
			}
		}
		inML, depth = scanValue(rest, inML, depth)
	}
	return p
}

// resolve names a table header's path, putting in the current row of every
// array table it lies in ("a.b" under [[a]] → "a[3].b").
func (p *Positions) resolve(parts []string, count map[string]int, array bool) string {
	cur := ""
	for i, part := range parts {
		if cur != "" {
			cur += "."
		}
		cur += part
		if c := count[cur]; c > 0 && (i < len(parts)-1 || !array) {
			cur = fmt.Sprintf("%s[%d]", cur, c-1)
		}
	}
	return cur
}

func (p *Positions) set(k string, n int) {
	if _, ok := p.lines[k]; !ok {
		p.lines[k] = n
	}
}

// scanValue follows strings and brackets to the end of a line.
func scanValue(s, inML string, depth int) (string, int) {
	for i := 0; i < len(s); i++ {
		if inML != "" {
			if strings.HasPrefix(s[i:], inML) {
				i += 2
				inML = ""
			} else if inML == `"""` && s[i] == '\\' {
				i++
			}
			continue
		}
		switch c := s[i]; {
		case c == '#':
			return inML, depth
		case strings.HasPrefix(s[i:], `"""`), strings.HasPrefix(s[i:], `'''`):
			inML = s[i : i+3]
			i += 2
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case c == '\'':
			for i++; i < len(s) && s[i] != '\''; i++ {
			}
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return inML, depth
}

// Line returns the line of key, or of the nearest enclosing key or table
// written in the file (a key inside an inline table is at its table's
// line); 0 when none is.
func (p *Positions) Line(key string) int {
	for k := key; k != ""; {
		if n, ok := p.lines[k]; ok {
			return n
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// Has reports whether key itself is written in the file.
func (p *Positions) Has(key string) bool { _, ok := p.lines[key]; return ok }

// SyntaxError returns the problem when data is not TOML at all, located
// where the parser stopped; nil when it parses.
func SyntaxError(data []byte) *Problem {
	var m map[string]any
	_, err := toml.Decode(string(data), &m)
	if err == nil {
		return nil
	}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Problem{Line: pe.Position.Line, Msg: pe.Message}
	}
	return &Problem{Msg: err.Error()}
}

// Check decodes data (which must parse: see SyntaxError) key by key against
// the type of v (a pointer to a struct with toml tags) and returns every
// key v has no field for and every value of the wrong type, in file order.
// v itself is not filled.
func Check(data []byte, v any) []Problem {
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		return []Problem{{Msg: err.Error()}}
	}
	pos := Scan(data)
	c := checker{md: md, pos: pos}
	c.table(top, reflect.TypeOf(v).Elem(), "")
	sort.SliceStable(c.out, func(i, j int) bool { return c.out[i].Line < c.out[j].Line })
	return c.out
}

type checker struct {
	md  toml.MetaData
	pos *Positions
	out []Problem
}

func (c *checker) add(key, format string, args ...any) {
	c.out = append(c.out, Problem{Line: c.pos.Line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

var (
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	tomlUnmarshaler = reflect.TypeOf((*toml.Unmarshaler)(nil)).Elem()
)

// opaque types decode themselves: they are checked as one value.
func opaque(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(textUnmarshaler) || pt.Implements(tomlUnmarshaler)
}

func (c *checker) table(m map[string]toml.Primitive, t reflect.Type, path string) {
	fields := map[string]reflect.StructField{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = f
		names = append(names, name)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := join(path, k)
		f, ok := fields[k]
		if !ok {
			if s := Nearest(k, names); s != "" {
				c.add(key, "unknown key — did you mean %s?", join(path, s))
			} else {
				c.add(key, "unknown key — the keys here are %s", strings.Join(names, ", "))
			}
			continue
		}
		c.value(m[k], f.Type, key, f.Tag.Get("secret") == "true")
	}
}

// value checks one value; a secret one (a field tagged secret:"true") is
// described by its type alone, never quoted.
func (c *checker) value(p toml.Primitive, t reflect.Type, key string, secret bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case opaque(t):
	case t.Kind() == reflect.Struct:
		var m map[string]toml.Primitive
		if err := c.md.PrimitiveDecode(p, &m); err != nil {
			c.add(key, "want a table ([%s]), got %s", key, c.kind(p, false))
			return
		}
		c.table(m, t, key)
		return
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && !opaque(t.Elem()):
		var rows []toml.Primitive
		if err := c.md.PrimitiveDecode(p, &rows); err != nil {
			c.add(key, "want tables ([[%s]]), got %s", key, c.kind(p, false))
			return
		}
		for i, r := range rows {
			c.value(r, t.Elem(), fmt.Sprintf("%s[%d]", key, i), false)
		}
		return
	}
	v := reflect.New(t)
	if err := c.md.PrimitiveDecode(p, v.Interface()); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) && opaque(t) && !secret {
			c.add(key, "%s", pe.Message)
			return
		}
		c.add(key, "want %s, got %s", Describe(t), c.kind(p, secret))
	}
}

// kind names the TOML type of a value, and the value unless secret.
func (c *checker) kind(p toml.Primitive, secret bool) string {
	var v any
	if err := c.md.PrimitiveDecode(p, &v); err != nil {
		return "a value of another type"
	}
	if secret {
		switch v.(type) {
		case string:
			return "a string"
		case int64, float64:
			return "a number"
		case bool:
			return "a boolean"
		}
	}
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case int64:
		return fmt.Sprintf("the number %d", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case bool:
		return fmt.Sprintf("%v", x)
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date"
	}
	return fmt.Sprintf("a %T", v)
}

// Describe says in words what a Go type accepts in TOML.
func Describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(time.Duration(0)) || strings.HasSuffix(t.String(), ".Duration") {
		return `a duration in quotes, like "5s"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string in quotes"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number without quotes"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return `a list of strings, like ["a", "b"]`
		}
		return "a list"
	case reflect.Map:
		return "a table of key = value"
	}
	return t.String()
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// Nearest returns the candidate closest to s (by edit distance, ignoring
// case), or "" when none is close enough to be what was meant.
func Nearest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := distance(strings.ToLower(s), strings.ToLower(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > 2+len(s)/5 {
		return ""
	}
	return best
}

// distance is the Damerau–Levenshtein (optimal string alignment) distance:
// a swapped pair of letters ("dispaly") is one edit.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// Without returns data re-encoded without the keys of problems, so that
// what is right in a file can still be decoded and checked. Lines in the
// result are not the file's: locate with Scan of the original.
func Without(data []byte, problems []Problem) ([]byte, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return nil, err
	}
	for _, p := range problems {
		deletePath(doc, p.Key)
	}
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

var indexRe = regexp.MustCompile(`^(.*)\[(\d+)\]$`)

// deletePath removes a key written as Check names it ("a.b", "row[2].c").
func deletePath(doc map[string]any, key string) {
	parts := strings.Split(key, ".")
	var cur any = doc
	for i, part := range parts {
		name, idx := part, -1
		if m := indexRe.FindStringSubmatch(part); m != nil {
			name = m[1]
			fmt.Sscan(m[2], &idx)
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return
		}
		if i == len(parts)-1 && idx < 0 {
			delete(m, name)
			return
		}
		cur = m[name]
		if idx >= 0 {
			rows, ok := cur.([]map[string]any)
			if !ok || idx >= len(rows) {
				return
			}
			if i == len(parts)-1 {
				// A whole row of the wrong shape: keep the row count, so
				// rows keep their numbers, with the row emptied.
				rows[idx] = map[string]any{}
				return
			}
			cur = rows[idx]
		}
	}
}
