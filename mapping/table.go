package mapping

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/internal/tomlfile"
)

// Options adjust a table to a deployment when it is loaded.
type Options struct {
	// BaseDN replaces ${base_dn} wherever it appears in the table, so that
	// one table serves every directory whose base DN differs.
	BaseDN string
	// Container, when set, replaces the table's container (after
	// substitution); the main configuration uses it to relocate resources.
	Container string
	// Vars are further ${name} substitutions, e.g. "okta_app" for the app
	// name in an Okta custom extension URN. ${name:-default} falls back to
	// default when name is not set; any other unknown name is an error.
	Vars map[string]string
	// Standard are RFC 7643's schemas (core User and Group, the enterprise
	// extension) that rows resolve against: scimside.StandardSchemas().
	// Without them a table cannot be compiled.
	Standard []bridge.SchemaDef
	// UPNSuffixes are the UPN suffixes the forest lists (AD's uPNSuffixes
	// and its domains' DNS names, ldapside.(*Conn).UPNSuffixes): a userName
	// ending in one of them is written as the UPN (upn_fallback). Empty:
	// ${base_domain}. Vars["upn_suffixes"] overrides both.
	UPNSuffixes []string
	// UPNSource, when set, reads the forest's UPN suffixes
	// (ldapside.(*Conn).UPNSuffixes): a userName in a suffix the table
	// does not list makes it read them again before it decides, at most
	// once a minute for one suffix (upn.go: upnState). Not used when
	// Vars["upn_suffixes"] pins them.
	UPNSource func(context.Context) ([]string, error)
	// Now is the clock of those reads; time.Now when nil.
	Now func() time.Time
}

// Table is a compiled mapping table for one resource type. It implements
// bridge.Mapper and is safe for concurrent use: nothing in it changes after
// Load but the UPN suffixes it reads again (upnState).
type Table struct {
	file          string
	resource      string // "User" or "Group"
	coreURN       string
	container     string
	objectClasses []string
	rdnAttr       string
	rdnTmpl       *tmpl
	rdnRow        *row // the row whose value is the RDN's, when the template is just that row's path
	sortAttr      string
	exts          []extension
	catalog       map[string][]bridge.AttrDef // schema id → attribute definitions (standard, or built from rows for custom extensions)
	standard      []bridge.SchemaDef          // Options.Standard
	rows          []*row
	rt            *bridge.ResourceType
	dirAttrs      []string
	listAttrs     []string    // dirAttrs a resource is read from (ListAttrs)
	baseDN        string      // Options.BaseDN: the scope of unique = "base"
	placements    []placement // [[placement]]: containers chosen by attributes
	createMissing bool        // create_missing_containers
	rdnUnique     bool        // rdn_unique: a taken RDN value gets " 2", " 3", ...
	upn           *upnState   // what a usable UPN ends in (upn.go)
	baseDomain    string      // ${base_domain}: the domain of implicit UPNs (takenFilter)
	usesUPN       bool        // a row has upn_fallback or a template calls upn
	lifecycle     Lifecycle   // [lifecycle], as written (Disable "" : the dialect's default)
	lifecycleLine int         // the line of [lifecycle] (or of its disable key), for LifecycleFor's messages
	groupsFrom    string      // groups_from: "auto", "memberof" or "search"
	groupsLine    int
	lines         layoutLines  // where container, object_classes and rdn are written, for Layout
	readIdx       *readIndex   // dirAttrs by name, for reading entries (entryValues)
	rdnBlind      blindSources // the RDN template's sources, for BlindChanges
}

var (
	_ bridge.Mapper     = (*Table)(nil)
	_ bridge.ListMapper = (*Table)(nil)
)

type extension struct {
	urn, name, description string
	aliases                []string
	custom                 bool
	line                   int
}

type rowKind int

const (
	kindScalar      rowKind = iota + 1 // a single-valued attribute or a sub-attribute of a single-valued complex one
	kindMultiSimple                    // a multi-valued simple attribute (custom extensions)
	kindWhole                          // the values of a multi-valued complex attribute (emails → mail)
	kindTyped                          // one type's values of a multi-valued complex attribute
	kindRef                            // manager, members, groups: SCIM ids ⇄ DNs
	kindOneWay                         // no SCIM attribute: a template or constant, written only
)

type owner string

const (
	ownerSCIM      owner = "scim"
	ownerDirectory owner = "directory"
	ownerBoth      owner = "both"
)

// row is one compiled [[attribute]].
type row struct {
	n, line     int
	scim        string // as written, for messages
	path        scimPath
	kind        rowKind
	ldap        string
	readPos     int // 1 + ldap's position in the table's readIndex; 0: not indexed
	owner       owner
	xf          []transform
	dflt        string
	hasDflt     bool
	constant    string
	hasConst    bool
	tmpls       []*tmpl
	required    bool
	multi       bool // the directory attribute holds every value, not just the first
	refTypes    []string
	itemType    string
	placeholder string
	createOnly  bool         // written by NewEntry only, never changed after
	unique      string       // "", "base" or "container": chosen free among the candidates
	maxLen      int          // values are cut to this many characters (0: no limit)
	nested      bool         // a user's groups read through nested groups (bridge.VirtualNestedGroups)
	txf         []transform  // template_transform: applied to what the templates make (nil: xf)
	upnFB       *row         // the UPN row: the row of its upn_fallback attribute (upn.go)
	upnOf       *row         // the upn_fallback row: the UPN row it belongs to
	blind       blindSources // what BlindChanges asks of the row, worked out at Load
}

// scimPath is a row's SCIM attribute, resolved against the schemas.
type scimPath struct {
	urn    string // schema id, canonical
	attr   string // canonical name
	sub    string // canonical sub-attribute name, or ""
	typ    string // the type of a typed row ([type eq "work"]), as written
	top    *bridge.AttrDef
	subDef *bridge.AttrDef
}

func (p scimPath) key() string {
	return strings.ToLower(p.urn + "|" + p.attr + "|" + p.sub + "|" + p.typ)
}

func (p scimPath) String() string {
	s := p.attr
	if p.typ != "" {
		s += fmt.Sprintf("[type eq %q]", p.typ)
	}
	if p.sub != "" {
		s += "." + p.sub
	}
	return s
}

// The file format. Fields are decoded strictly: a key not listed here is an
// error.
type fileTable struct {
	Resource      string          `toml:"resource"`
	Container     string          `toml:"container"`
	ObjectClasses []string        `toml:"object_classes"`
	RDN           string          `toml:"rdn"`
	Sort          string          `toml:"sort"`
	Extension     []fileExt       `toml:"extension"`
	Attribute     []fileRow       `toml:"attribute"`
	Description   string          `toml:"description"`
	Placement     []filePlacement `toml:"placement"`
	// CreateMissingContainers makes a placement's missing container be
	// created instead of reported.
	CreateMissingContainers bool `toml:"create_missing_containers"`
	RDNUnique               bool `toml:"rdn_unique"`
	// GroupsFrom says where a user's groups (a row reading memberOf) come
	// from: "auto" (default), "memberof" or "search".
	GroupsFrom string         `toml:"groups_from"`
	Lifecycle  *fileLifecycle `toml:"lifecycle"`
}

// fileLifecycle is a users table's [lifecycle]: how an account is disabled.
type fileLifecycle struct {
	Disable       string  `toml:"disable"`
	Attribute     string  `toml:"attribute"`
	DisabledValue string  `toml:"disabled_value"`
	EnabledValue  *string `toml:"enabled_value"`
}

type fileExt struct {
	URN         string   `toml:"urn"`
	Name        string   `toml:"name"`
	Description string   `toml:"description"`
	Aliases     []string `toml:"aliases"`
}

type fileRow struct {
	SCIM        string   `toml:"scim"`
	LDAP        string   `toml:"ldap"`
	Owner       string   `toml:"owner"`
	Transform   []string `toml:"transform"`
	Default     *string  `toml:"default"`
	Constant    *string  `toml:"constant"`
	Template    strList  `toml:"template"`
	Required    bool     `toml:"required"`
	Multi       bool     `toml:"multi"`
	Reference   strList  `toml:"reference"`
	ItemType    string   `toml:"item_type"`
	Placeholder string   `toml:"placeholder"`
	Type        string   `toml:"type"`
	CaseExact   bool     `toml:"case_exact"`
	Description string   `toml:"description"`
	CreateOnly  bool     `toml:"create_only"`
	Unique      string   `toml:"unique"`
	MaxLength   int      `toml:"max_length"`
	Nested      bool     `toml:"nested"`
	// UPNFallback: the row maps userName ⇄ the UPN when the userName is a
	// UPN of the forest, and keeps it in this attribute otherwise (upn.go).
	UPNFallback       string   `toml:"upn_fallback"`
	TemplateTransform []string `toml:"template_transform"`
}

// strList decodes a string or an array of strings.
type strList []string

func (s *strList) UnmarshalTOML(v any) error {
	switch t := v.(type) {
	case string:
		*s = strList{t}
	case []any:
		out := make(strList, 0, len(t))
		for _, x := range t {
			str, ok := x.(string)
			if !ok {
				return fmt.Errorf("expected a string or a list of strings")
			}
			out = append(out, str)
		}
		*s = out
	default:
		return fmt.Errorf("expected a string or a list of strings")
	}
	return nil
}

// Problem is one thing wrong with a table.
type Problem struct {
	Line int // 0 when unknown
	Msg  string
}

// LoadError lists every problem found in a table.
type LoadError struct {
	File     string
	Problems []Problem
}

func (e *LoadError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": " + p.Msg)
	}
	return b.String()
}

// Load reads and compiles the table at path.
func Load(path string, opts Options) (*Table, error) {
	const op = "mapping.Load"
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, bridge.E(op, bridge.KindInternal, "", err)
	}
	t, err := compile(path, data, opts)
	return t, wrapLoad(op, err)
}

// Parse compiles a table from data; name is used in error messages.
func Parse(name string, data []byte, opts Options) (*Table, error) {
	const op = "mapping.Parse"
	t, err := compile(name, data, opts)
	return t, wrapLoad(op, err)
}

func wrapLoad(op string, err error) error {
	if err == nil {
		return nil
	}
	return bridge.E(op, bridge.KindInvalidValue, "the mapping table is not valid", err)
}

func compile(name string, data []byte, opts Options) (*Table, error) {
	le := &LoadError{File: name}
	// dropped are the keys reported for a wrong type, by the line of their
	// row (a top-level key: its own): that they are then missing is no news.
	dropped := map[int][]string{}
	add := func(line int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		for _, k := range dropped[line] {
			if strings.Contains(msg, k+" is missing") {
				return
			}
		}
		le.Problems = append(le.Problems, Problem{Line: line, Msg: msg})
	}
	var ft fileTable
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&ft)
	if err != nil {
		// The decoder stops at the first wrong value and places a row's
		// value at the last row's line; a key-by-key check finds them all,
		// each at its own line, and the rest of the table is decoded
		// without them so that its problems are reported in the same run.
		if p := tomlfile.SyntaxError(data); p != nil {
			add(p.Line, "%s", p.Msg)
			return nil, le
		}
		checked := tomlfile.Check(data, &fileTable{})
		rows := tomlfile.Scan(data)
		for _, p := range checked {
			add(p.Line, "%s: %s", p.Key, p.Msg)
			row, key := "", p.Key
			if i := strings.LastIndex(p.Key, "]."); i >= 0 {
				row, key = p.Key[:i+1], p.Key[i+2:]
			}
			line := p.Line // a top-level key's "is missing" is said at its own line
			if row != "" {
				line = rows.Line(row)
			}
			dropped[line] = append(dropped[line], key)
		}
		ft = fileTable{}
		right, werr := tomlfile.Without(data, checked)
		if werr == nil {
			md, err = toml.NewDecoder(bytes.NewReader(right)).Decode(&ft)
		}
		if werr != nil || err != nil || len(checked) == 0 {
			if len(checked) == 0 {
				var pe toml.ParseError
				if errors.As(err, &pe) {
					add(pe.Position.Line, "%s", pe.Message)
				} else {
					add(0, "%v", err)
				}
			}
			return nil, le
		}
	}
	pos := scanPositions(data)
	seenKey := map[string]bool{}
	for _, k := range md.Undecoded() {
		if seenKey[k.String()] {
			continue
		}
		seenKey[k.String()] = true
		lines := pos.keyLines(k)
		if len(lines) == 0 {
			lines = []int{0}
		}
		for _, l := range lines {
			add(l, "unknown key %q", k.String())
		}
	}
	checkKeyCase(md, pos, add)
	rowLine := func(i int) int { return pos.header("attribute", i) }

	sub := newSubst(opts)
	t := &Table{file: name, catalog: map[string][]bridge.AttrDef{}, standard: opts.Standard}
	t.upn = newUPNState(opts, sub)
	t.baseDomain = sub.vars["base_domain"]

	// Resource type and schemas first: rows are resolved against them.
	switch ft.Resource {
	case "User", "Group":
		t.resource = ft.Resource
		t.coreURN = coreURNs[ft.Resource]
		t.catalog[t.coreURN] = catalogFor(t.standard, t.resource, t.coreURN)
		if t.catalog[t.coreURN] == nil {
			return nil, bridge.Errorf("mapping.compile", bridge.KindInternal, "no standard definition of the %s schema was given (mapping.Options.Standard)", t.resource)
		}
	case "":
		add(pos.key("", "resource"), `resource is missing: "User" or "Group"`)
	default:
		add(pos.key("", "resource"), `resource %q: must be "User" or "Group"`, ft.Resource)
	}
	for i, fe := range ft.Extension {
		line := pos.header("extension", i)
		e := extension{urn: strings.TrimSpace(sub.do(fe.URN, line, add)), name: fe.Name, description: fe.Description, line: line}
		for _, a := range fe.Aliases {
			e.aliases = append(e.aliases, strings.TrimSpace(sub.do(a, line, add)))
		}
		switch {
		case e.urn == "":
			add(line, "extension without urn")
			continue
		case !strings.HasPrefix(strings.ToLower(e.urn), "urn:"):
			add(line, "extension urn %q must start with \"urn:\"", e.urn)
			continue
		case strings.EqualFold(e.urn, t.coreURN):
			add(line, "extension urn %q is the core schema", e.urn)
			continue
		}
		if _, dup := t.catalog[e.urn]; dup || t.findExt(e.urn) != nil {
			add(line, "extension %q is declared twice", e.urn)
			continue
		}
		if std := catalogFor(t.standard, t.resource, e.urn); std != nil {
			e.urn = canonicalURN(t.standard, e.urn)
			t.catalog[e.urn] = std
			if e.name == "" {
				e.name = standardName(t.standard, e.urn)
			}
		} else {
			e.custom = true
			t.catalog[e.urn] = nil // filled from the rows
			if e.name == "" {
				e.name = nameFromURN(e.urn)
			}
		}
		t.exts = append(t.exts, e)
	}
	if t.resource == "" {
		return nil, le
	}

	// Custom extension attributes are defined by their rows.
	for i, fr := range ft.Attribute {
		line := rowLine(i)
		urn, rest := bridge.SplitURNPath(sub.peek(fr.SCIM), t.urns())
		e := t.findExt(urn)
		if e == nil || !e.custom {
			if fr.Type != "" || fr.CaseExact {
				add(line, "type and case_exact can only be given for attributes of a custom extension")
			}
			continue
		}
		d, problem := customDef(rest, fr)
		if problem != "" {
			add(line, "%s", problem)
			continue
		}
		if findDef(t.catalog[e.urn], d.Name) == nil {
			t.catalog[e.urn] = append(t.catalog[e.urn], d)
		}
	}

	// Container, classes, sort.
	t.lines = layoutLines{container: pos.key("", "container"), objectClasses: pos.key("", "object_classes"), rdn: pos.key("", "rdn")}
	t.container = strings.TrimSpace(sub.do(ft.Container, pos.key("", "container"), add))
	if opts.Container != "" {
		t.container = strings.TrimSpace(sub.do(opts.Container, 0, add))
	}
	if t.container == "" {
		add(pos.key("", "container"), "container is missing")
	} else if rdns, err := bridge.ParseDN(t.container); err != nil || len(rdns) == 0 {
		add(pos.key("", "container"), "container %q is not a DN", t.container)
	}
	if len(ft.ObjectClasses) == 0 {
		add(pos.key("", "object_classes"), "object_classes is missing")
	}
	for _, oc := range ft.ObjectClasses {
		if !bridge.ValidAttrDescription(oc) {
			add(pos.key("", "object_classes"), "object class %q is not a valid name", oc)
		}
		t.objectClasses = append(t.objectClasses, oc)
	}
	if ft.Sort != "" && !bridge.ValidAttrDescription(ft.Sort) {
		add(pos.key("", "sort"), "sort %q is not an attribute name", ft.Sort)
	}
	t.sortAttr = ft.Sort
	t.baseDN = strings.TrimSpace(opts.BaseDN)
	t.createMissing = ft.CreateMissingContainers
	t.rdnUnique = ft.RDNUnique
	t.compilePlacements(ft.Placement, pos, sub, add)
	t.compileLifecycle(ft, pos, add)

	// Rows.
	seenPath := map[string]int{}
	writer := map[string]*row{}
	for i, fr := range ft.Attribute {
		line := rowLine(i)
		r, problems := t.compileRow(i+1, line, fr, sub)
		if r != nil {
			problems = append(problems, r.accountProblems()...)
		}
		for _, p := range problems {
			add(line, "attribute %d (%s): %s", i+1, rowName(fr), p)
		}
		if r == nil {
			continue
		}
		if r.kind != kindOneWay {
			k := r.path.key()
			if prev, ok := seenPath[k]; ok {
				add(line, "attribute %d (%s): %s is already mapped by attribute %d", i+1, rowName(fr), r.scim, prev)
				continue
			}
			seenPath[k] = r.n
		}
		if r.owner != ownerDirectory {
			lk := strings.ToLower(r.ldap)
			if prev, ok := writer[lk]; ok {
				add(line, "attribute %d (%s): %s is already written by attribute %d", i+1, rowName(fr), r.ldap, prev.n)
				continue
			}
			writer[lk] = r
		}
		t.rows = append(t.rows, r)
		if strings.TrimSpace(fr.UPNFallback) == "" {
			continue
		}
		fb, problems := t.compileUPN(r, fr)
		for _, p := range problems {
			add(line, "attribute %d (%s): %s", i+1, rowName(fr), p)
		}
		if fb == nil {
			continue
		}
		if prev, ok := writer[strings.ToLower(fb.ldap)]; ok {
			add(line, "attribute %d (%s): upn_fallback %s is already written by attribute %d", i+1, rowName(fr), fb.ldap, prev.n)
			continue
		}
		writer[strings.ToLower(fb.ldap)] = fb
		// Right after the UPN row: reading, its value (when stored) wins.
		t.rows = append(t.rows, fb)
	}
	t.checkOverlaps(add)
	t.checkLifecycleRows(add)
	t.compileRDN(sub.do(ft.RDN, pos.key("", "rdn"), add), pos.key("", "rdn"), writer, add)

	if len(le.Problems) > 0 {
		sort.SliceStable(le.Problems, func(i, j int) bool { return le.Problems[i].Line < le.Problems[j].Line })
		return nil, le
	}
	t.rt = t.buildResourceType()
	t.dirAttrs = t.buildDirAttrs()
	t.listAttrs = t.buildListAttrs()
	t.readIdx = t.buildReadIndex()
	t.prepareBlind()
	return t, nil
}

func rowName(fr fileRow) string {
	switch {
	case fr.SCIM != "" && fr.LDAP != "":
		return fr.SCIM + " → " + fr.LDAP
	case fr.SCIM != "":
		return fr.SCIM
	}
	return fr.LDAP
}

func customDef(name string, fr fileRow) (bridge.AttrDef, string) {
	if name == "" || strings.ContainsAny(name, ".[]: ") {
		return bridge.AttrDef{}, fmt.Sprintf("custom extension attribute %q must be a plain name", name)
	}
	typ := bridge.AttrType(fr.Type)
	switch typ {
	case "":
		typ = bridge.TypeString
	case bridge.TypeString, bridge.TypeBoolean, bridge.TypeInteger, bridge.TypeDecimal, bridge.TypeDateTime, bridge.TypeReference:
	default:
		return bridge.AttrDef{}, fmt.Sprintf("type %q: must be string, boolean, integer, decimal, dateTime or reference", fr.Type)
	}
	d := bridge.AttrDef{Name: name, Type: typ, MultiValued: fr.Multi, CaseExact: fr.CaseExact,
		Mutability: "readWrite", Returned: "default", Uniqueness: "none", Description: fr.Description}
	return d, ""
}

func (t *Table) urns() []string {
	u := []string{t.coreURN}
	for _, e := range t.exts {
		u = append(u, e.urn)
		u = append(u, e.aliases...)
	}
	return u
}

func (t *Table) findExt(urn string) *extension {
	if urn == "" {
		return nil
	}
	for i := range t.exts {
		if strings.EqualFold(t.exts[i].urn, urn) {
			return &t.exts[i]
		}
		for _, a := range t.exts[i].aliases {
			if strings.EqualFold(a, urn) {
				return &t.exts[i]
			}
		}
	}
	return nil
}

var typeFilterRe = regexp.MustCompile(`(?i)^\s*type\s+eq\s+"([^"\\]*)"\s*$`)

// resolvePath resolves a SCIM path as rows and templates write it.
func (t *Table) resolvePath(text string) (scimPath, error) {
	s := strings.TrimSpace(text)
	var p scimPath
	if i := strings.IndexByte(s, '['); i >= 0 {
		j := strings.LastIndexByte(s, ']')
		if j < i {
			return p, fmt.Errorf("unbalanced [ ]")
		}
		m := typeFilterRe.FindStringSubmatch(s[i+1 : j])
		if m == nil {
			return p, fmt.Errorf(`only [type eq "…"] can select values`)
		}
		p.typ = m[1]
		after := s[j+1:]
		s = s[:i]
		switch {
		case after == "":
			p.sub = "value"
		case strings.HasPrefix(after, ".") && len(after) > 1:
			p.sub = after[1:]
		default:
			return p, fmt.Errorf("unexpected %q after ]", after)
		}
	}
	urn, rest := bridge.SplitURNPath(s, t.urns())
	if urn == "" {
		if strings.Contains(rest, ":") {
			return p, fmt.Errorf("unknown schema in %q (declare its URN in an [[extension]])", text)
		}
		urn = t.coreURN
	} else if e := t.findExt(urn); e != nil {
		urn = e.urn
	} else {
		urn = t.coreURN
	}
	p.urn = urn
	attr := rest
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		if p.sub != "" {
			return p, fmt.Errorf("%q has two sub-attributes", text)
		}
		attr, p.sub = rest[:i], rest[i+1:]
	}
	p.top = findDef(t.catalog[urn], attr)
	if p.top == nil {
		return p, fmt.Errorf("unknown SCIM attribute %q", text)
	}
	p.attr = p.top.Name
	if p.sub != "" {
		if p.top.Type != bridge.TypeComplex {
			return p, fmt.Errorf("%s has no sub-attributes", p.attr)
		}
		p.subDef = p.top.Sub(p.sub)
		if p.subDef == nil {
			return p, fmt.Errorf("unknown SCIM attribute %q", text)
		}
		p.sub = p.subDef.Name
	}
	if p.typ != "" && (!p.top.MultiValued || p.top.Type != bridge.TypeComplex || p.top.Sub("type") == nil) {
		return p, fmt.Errorf("%s has no typed values", p.attr)
	}
	return p, nil
}

func (t *Table) compileRow(n, line int, fr fileRow, sub *subst) (*row, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	noteSub := func(s string) string {
		return sub.do(s, line, func(_ int, format string, args ...any) { bad(format, args...) })
	}
	r := &row{n: n, line: line, scim: strings.TrimSpace(noteSub(fr.SCIM)), ldap: strings.TrimSpace(fr.LDAP),
		required: fr.Required, multi: fr.Multi, itemType: fr.ItemType, placeholder: noteSub(fr.Placeholder),
		createOnly: fr.CreateOnly || fr.Unique != "" && strings.TrimSpace(fr.UPNFallback) == "", unique: fr.Unique,
		maxLen: fr.MaxLength, nested: fr.Nested}

	if r.ldap == "" {
		bad("ldap is missing")
	} else if !bridge.ValidAttrDescription(r.ldap) {
		bad("ldap %q is not an attribute name", r.ldap)
	}
	switch owner(fr.Owner) {
	case "", ownerSCIM:
		r.owner = ownerSCIM
	case ownerDirectory, ownerBoth:
		r.owner = owner(fr.Owner)
	default:
		bad("owner %q: must be scim, directory or both", fr.Owner)
	}
	for _, name := range fr.Transform {
		if v, ok := strings.CutPrefix(name, "default:"); ok {
			if fr.Default != nil {
				bad("default is given twice")
			}
			r.dflt, r.hasDflt = noteSub(v), true
			continue
		}
		x, ok := transforms[name]
		if !ok {
			bad("unknown transform %q (known: %s)", name, transformNames)
			continue
		}
		r.xf = append(r.xf, x)
	}
	for _, name := range fr.TemplateTransform {
		x, ok := transforms[name]
		if !ok {
			bad("template_transform: unknown transform %q (known: %s)", name, strings.TrimSuffix(transformNames, ", default:VALUE"))
			continue
		}
		r.txf = append(r.txf, x)
	}
	if fr.TemplateTransform != nil && len(fr.Template) == 0 {
		bad("template_transform applies to template: this row has none")
	}
	if fr.Default != nil {
		r.dflt, r.hasDflt = noteSub(*fr.Default), true
		if r.dflt == "" {
			bad("default is empty")
		}
	}
	if fr.Constant != nil {
		r.constant, r.hasConst = noteSub(*fr.Constant), true
		if r.constant == "" {
			bad("constant is empty (leave the row out to write nothing)")
		}
	}
	for _, text := range fr.Template {
		tm, err := t.compileTemplate(noteSub(text))
		if err != nil {
			bad("%v", err)
			continue
		}
		r.tmpls = append(r.tmpls, tm)
	}
	if fr.Template != nil && len(fr.Template) == 0 {
		bad("template is an empty list")
	}

	if r.scim == "" {
		// A one-way row: computed from the resource, written only.
		r.kind = kindOneWay
		switch {
		case r.hasConst && len(fr.Template) > 0:
			bad("give either constant or template, not both")
		case !r.hasConst && len(fr.Template) == 0:
			bad("a row without scim needs a template or a constant")
		}
		if r.owner != ownerSCIM {
			bad("a row without scim is written by dirbridge; owner %q does not apply", r.owner)
		}
		if r.hasDflt && r.hasConst {
			bad("a constant needs no default")
		}
		if fr.Multi || len(fr.Reference) > 0 || fr.ItemType != "" || fr.Placeholder != "" {
			bad("multi, reference, item_type and placeholder need a scim attribute")
		}
		return r, problems
	}
	if r.hasConst {
		bad("constant cannot be combined with scim (a constant is written, never read)")
	}
	p, err := t.resolvePath(r.scim)
	if err != nil {
		bad("%v", err)
		return nil, problems
	}
	r.path = p
	top := p.top
	for _, rt := range fr.Reference {
		if rt != "User" && rt != "Group" {
			bad("reference %q: must be User or Group", rt)
		}
	}
	r.refTypes = fr.Reference
	isRefAttr := (p.attr == "manager" && p.urn == bridge.EnterpriseSchema) ||
		(p.attr == "members" && t.resource == "Group") || (p.attr == "groups" && t.resource == "User")
	switch {
	case isRefAttr:
		r.kind = kindRef
		if p.sub != "" && p.sub != "value" || p.typ != "" {
			bad("map %s as a whole: it holds references", p.attr)
		}
		if len(r.refTypes) == 0 {
			switch p.attr {
			case "manager":
				bad(`%s holds references: add reference = "User"`, p.attr)
			case "groups":
				bad(`%s holds references: add reference = "Group"`, p.attr)
			default:
				bad(`%s holds references: add reference = ["User", "Group"]`, p.attr)
			}
		}
		if p.attr == "manager" && fr.Multi {
			bad("manager is single-valued")
		}
		if p.attr != "manager" {
			r.multi = true
		}
		if p.attr == "groups" && r.owner != ownerDirectory {
			bad("groups is read-only in SCIM: set owner = \"directory\" (membership is written through the groups' members)")
		}
		if len(r.xf) > 0 || r.hasDflt || len(r.tmpls) > 0 {
			bad("references take no transform, default or template")
		}
	case len(r.refTypes) > 0:
		bad("reference only applies to manager, a group's members and a user's groups")
	case p.typ != "":
		r.kind = kindTyped
		if fr.Multi && p.sub != "value" {
			bad("multi applies to [type eq …].value rows only")
		}
	case top.MultiValued && top.Type == bridge.TypeComplex:
		if p.sub != "" && p.sub != "value" {
			bad(`map %s.%s for one type of value, e.g. %s[type eq "work"].%s`, p.attr, p.sub, p.attr, p.sub)
		}
		r.kind = kindWhole
		p.sub = "value"
		p.subDef = top.Sub("value")
		r.path = p
	case top.MultiValued:
		r.kind = kindMultiSimple
		r.multi = true
	case top.Type == bridge.TypeComplex && p.sub == "":
		bad("%s is complex: map its sub-attributes, e.g. %s.%s", p.attr, p.attr, top.SubAttrs[0].Name)
	default:
		r.kind = kindScalar
		if fr.Multi {
			bad("%s is single-valued: multi does not apply", r.scim)
		}
	}
	if fr.ItemType != "" && r.kind != kindWhole {
		bad("item_type only applies to a whole multi-valued attribute such as emails")
	}
	if fr.Placeholder != "" && !(r.kind == kindRef && r.multi) {
		bad("placeholder only applies to members")
	}
	if fr.Nested && !(r.kind == kindRef && p.attr == "groups") {
		bad("nested only applies to a user's groups")
	}
	if r.required && r.owner == ownerDirectory {
		bad("required applies to what SCIM writes; this row is owned by the directory")
	}
	if r.owner == ownerDirectory && (r.hasDflt || len(r.tmpls) > 0) {
		bad("a directory-owned row is never written: default and template do not apply")
	}
	if (p.attr == "userName" || p.attr == "displayName" && t.resource == "Group") && p.urn == t.coreURN && r.owner == ownerDirectory {
		bad("%s is required in SCIM and cannot be owned by the directory", p.attr)
	}
	return r, problems
}

// checkOverlaps reports a whole multi-valued attribute that is also mapped
// by type: the two would fight over the same SCIM values.
func (t *Table) checkOverlaps(add func(int, string, ...any)) {
	whole := map[string]*row{}
	for _, r := range t.rows {
		if r.kind == kindWhole || r.kind == kindRef {
			whole[strings.ToLower(r.path.urn+"|"+r.path.attr)] = r
		}
	}
	for _, r := range t.rows {
		if r.kind != kindTyped {
			continue
		}
		if w, ok := whole[strings.ToLower(r.path.urn+"|"+r.path.attr)]; ok {
			add(r.line, "attribute %d (%s): %s is already mapped as a whole by attribute %d", r.n, r.scim, r.path.attr, w.n)
		}
	}
	// A multi typed row owns its type: no other row may add sub-attributes
	// to those values, which could not be paired up again on reading.
	for _, r := range t.rows {
		if r.kind != kindTyped || !r.multi {
			continue
		}
		for _, o := range t.rows {
			if o != r && o.kind == kindTyped && strings.EqualFold(o.path.attr, r.path.attr) && strings.EqualFold(o.path.typ, r.path.typ) {
				add(o.line, "attribute %d (%s): values of type %q are mapped with multi by attribute %d", o.n, o.scim, r.path.typ, r.n)
			}
		}
	}
}

var loneFieldRe = regexp.MustCompile(`^\{\{\s*\.([A-Za-z0-9_$]+(?:\.[A-Za-z0-9_$]+)?)\s*\}\}$`)

// compileRDN compiles "attr={{template}}".
func (t *Table) compileRDN(text string, line int, writer map[string]*row, add func(int, string, ...any)) {
	text = strings.TrimSpace(text)
	if text == "" {
		add(line, `rdn is missing, e.g. rdn = "uid={{.userName}}"`)
		return
	}
	attr, val, ok := strings.Cut(text, "=")
	attr = strings.TrimSpace(attr)
	if !ok || !bridge.ValidAttrDescription(attr) {
		add(line, `rdn %q: must be attribute={{template}}, e.g. "uid={{.userName}}"`, text)
		return
	}
	if strings.Contains(val, "+") && !strings.Contains(val, "{{") {
		add(line, "rdn %q: multi-valued RDNs are not supported", text)
		return
	}
	tm, err := t.compileTemplate(strings.TrimSpace(val))
	if err != nil {
		add(line, "rdn: %v", err)
		return
	}
	if len(tm.attrs) == 0 {
		add(line, "rdn %q: the template reads no attribute; every entry would get the same name", text)
		return
	}
	// The name must be computable again from what is read back, or every
	// update would rename the entry.
	for _, a := range tm.attrs {
		if !t.readable(a) {
			add(line, "rdn: %s is not mapped by any row, so the name could not be kept stable", a)
			return
		}
	}
	t.rdnAttr, t.rdnTmpl = attr, tm
	// When the template is just the path of the row that writes the RDN's
	// attribute, the RDN takes that row's value, transforms included, so
	// that the name and the attribute never disagree.
	if m := loneFieldRe.FindStringSubmatch(strings.TrimSpace(val)); m != nil {
		if r, ok := writer[strings.ToLower(attr)]; ok && r.kind == kindScalar && strings.EqualFold(r.path.String(), m[1]) && r.path.urn == t.coreURN {
			t.rdnRow = r
		}
	}
	if r, ok := writer[strings.ToLower(attr)]; ok && t.rdnRow == nil && r.owner != ownerSCIM {
		add(line, "rdn: %s is written by attribute %d with owner %q; the name must follow what SCIM sends", attr, r.n, r.owner)
	}
}

// readable reports whether a row reads the SCIM path back from the
// directory.
func (t *Table) readable(path string) bool {
	p, err := t.resolvePath(path)
	if err != nil {
		return false
	}
	for _, r := range t.rows {
		if r.kind == kindOneWay || r.path.urn != p.urn || r.path.top.Name != p.attr {
			continue
		}
		if (p.sub == "" || strings.EqualFold(r.path.sub, p.sub)) && strings.EqualFold(r.path.typ, p.typ) {
			return true
		}
	}
	return false
}

// checkKeyCase reports keys that differ from the format's only in case:
// the decoder would accept them, but the format is lower case, and a table
// that works by accident is not strict.
func checkKeyCase(md toml.MetaData, pos *positions, add func(int, string, ...any)) {
	allowed := map[string]map[string]bool{
		"":          set("resource", "container", "object_classes", "rdn", "sort", "extension", "attribute", "description", "placement", "create_missing_containers", "rdn_unique"),
		"placement": set("when", "container"),
		"extension": set("urn", "name", "description", "aliases"),
		"attribute": set("scim", "ldap", "owner", "transform", "default", "constant", "template", "required", "multi",
			"reference", "item_type", "placeholder", "type", "case_exact", "description", "create_only", "unique", "max_length", "nested",
			"upn_fallback", "template_transform"),
	}
	for _, k := range md.Keys() {
		if len(k) == 0 || len(k) > 2 {
			continue
		}
		section, name := "", k[0]
		if len(k) == 2 {
			section, name = k[0], k[1]
		}
		keys, ok := allowed[section]
		if !ok || keys[name] {
			continue
		}
		for a := range keys {
			if strings.EqualFold(a, name) {
				lines := pos.keyLines(k)
				if len(lines) == 0 {
					lines = []int{0}
				}
				add(lines[0], "unknown key %q (did you mean %q?)", k.String(), a)
			}
		}
	}
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// subst performs ${name} and ${name:-default} substitution.
type subst struct{ vars map[string]string }

func newSubst(o Options) *subst {
	v := map[string]string{}
	for k, x := range o.Vars {
		v[k] = x
	}
	if o.BaseDN != "" {
		v["base_dn"] = o.BaseDN
		// ${base_domain}: the DNS name the base DN spells with its DC=
		// components (DC=corp,DC=example → corp.example), AD's default UPN
		// suffix.
		if _, set := v["base_domain"]; !set {
			if rdns, err := bridge.ParseDN(o.BaseDN); err == nil {
				var dcs []string
				for _, r := range rdns {
					if len(r) == 1 && strings.EqualFold(r[0].Type, "dc") {
						dcs = append(dcs, strings.ToLower(r[0].Value))
					}
				}
				if len(dcs) > 0 {
					v["base_domain"] = strings.Join(dcs, ".")
				}
			}
		}
	}
	return &subst{vars: v}
}

var varRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

func (s *subst) do(in string, line int, add func(int, string, ...any)) string {
	return varRe.ReplaceAllStringFunc(in, func(m string) string {
		g := varRe.FindStringSubmatch(m)
		if v, ok := s.vars[g[1]]; ok && v != "" {
			return v
		}
		if g[2] != "" {
			return g[3]
		}
		add(line, "${%s} is not set (pass it in the configuration, or write ${%s:-default})", g[1], g[1])
		return m
	})
}

// peek substitutes without reporting: for a first look at a path.
func (s *subst) peek(in string) string {
	return s.do(in, 0, func(int, string, ...any) {})
}

// positions maps keys of the TOML text to line numbers. BurntSushi/toml
// does not export key positions, so a line scan finds table headers and
// keys; it understands the layout tables are written in ([[attribute]]
// blocks of key = value lines), which is what an operator needs pointed at.
type positions struct {
	headers map[string][]int          // "attribute" → line of each [[attribute]]
	keys    map[string]map[string]int // section#index → key → line; section "" is the top
	keyAny  map[string][]int          // "section.key" → every line it appears on
}

var (
	arrayHeaderRe = regexp.MustCompile(`^\s*\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]`)
	tableHeaderRe = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]`)
	keyRe         = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+|"[^"]*")\s*=`)
)

func scanPositions(data []byte) *positions {
	p := &positions{headers: map[string][]int{}, keys: map[string]map[string]int{}, keyAny: map[string][]int{}}
	section, idx := "", 0
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if m := arrayHeaderRe.FindStringSubmatch(line); m != nil {
			section = m[1]
			p.headers[section] = append(p.headers[section], n)
			idx = len(p.headers[section]) - 1
			continue
		}
		if m := tableHeaderRe.FindStringSubmatch(line); m != nil {
			section, idx = m[1], 0
			continue
		}
		if m := keyRe.FindStringSubmatch(line); m != nil {
			k := strings.Trim(m[1], `"`)
			sk := fmt.Sprintf("%s#%d", section, idx)
			if p.keys[sk] == nil {
				p.keys[sk] = map[string]int{}
			}
			if _, ok := p.keys[sk][k]; !ok {
				p.keys[sk][k] = n
			}
			full := k
			if section != "" {
				full = section + "." + k
			}
			p.keyAny[full] = append(p.keyAny[full], n)
		}
	}
	return p
}

func (p *positions) header(section string, i int) int {
	if h := p.headers[section]; i < len(h) {
		return h[i]
	}
	return 0
}

func (p *positions) key(section, key string) int {
	return p.keys[section+"#0"][key]
}

// keyLines finds the lines of an undecoded key. Keys of array tables carry
// no index, so every line where the key appears in such a table is taken.
func (p *positions) keyLines(k toml.Key) []int {
	if len(k) == 0 {
		return nil
	}
	if lines := p.keyAny[strings.Join(k, ".")]; len(lines) > 0 {
		return lines
	}
	if len(k) == 1 {
		if h := p.headers[k[0]]; len(h) > 0 {
			return h[:1]
		}
	}
	return nil
}
