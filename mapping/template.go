package mapping

import (
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/bridge"
)

// tmpl is a compiled value template: text/template over the canonical
// resource map. Every field chain the template names ({{.name.givenName}})
// is filled with "" when the resource lacks it, so that a missing value
// renders as nothing rather than "<no value>" or an error, and a fallback
// list can move on to its next template.
type tmpl struct {
	text   string
	t      *template.Template
	chains [][]string // field chains named in the template
	attrs  []string   // SCIM paths the template reads, for messages
	// fast, when not nil, is the template as text and field chains only
	// ("{{.name.givenName}} {{.name.familyName}}"): render then
	// concatenates string values itself, as text/template would print
	// them. Every read resource renders its templates (hideDerived), and
	// text/template's Execute with the copy of the resource it needs cost
	// more than the rest of the mapping of a lookup.
	fast []fastPart
}

// fastPart is literal text (chain nil) or the value of a field chain.
type fastPart struct {
	lit   string
	chain []string
}

// fastParts returns root as fastParts when it holds only text and
// {{.a}} / {{.a.b}} actions, and no head is named both alone and with a
// sub-attribute (render's filling makes {{.a}} print a map then); else
// nil.
func fastParts(root *parse.ListNode) []fastPart {
	if root == nil {
		return nil
	}
	var out []fastPart
	alone, parent := map[string]bool{}, map[string]bool{}
	for _, n := range root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			out = append(out, fastPart{lit: string(n.Text)})
		case *parse.ActionNode:
			p := n.Pipe
			if p == nil || len(p.Decl) > 0 || p.IsAssign || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
				return nil
			}
			f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok || len(f.Ident) < 1 || len(f.Ident) > 2 {
				return nil
			}
			if len(f.Ident) == 1 {
				alone[f.Ident[0]] = true
			} else {
				parent[f.Ident[0]] = true
			}
			out = append(out, fastPart{chain: f.Ident})
		default:
			return nil
		}
	}
	for k := range alone {
		if parent[k] {
			return nil
		}
	}
	if out == nil {
		out = []fastPart{}
	}
	return out
}

// renderFast is render by m.fast; ok is false when a value is not a
// string (text/template formats those) or the output is too long (render
// reports that): render then executes the template.
func (m *tmpl) renderFast(attrs map[string]any) (s string, ok bool) {
	var b strings.Builder
	for _, p := range m.fast {
		if p.chain == nil {
			b.WriteString(p.lit)
			continue
		}
		v := attrs[p.chain[0]]
		if len(p.chain) == 2 {
			// render's filling treats a head that is no map as one
			// without the sub-attribute.
			sub, _ := v.(map[string]any)
			v = sub[p.chain[1]]
		}
		switch x := v.(type) {
		case nil:
		case string:
			b.WriteString(x)
		default:
			return "", false
		}
		if b.Len() > maxTemplateOutput {
			return "", false
		}
	}
	return strings.TrimSpace(b.String()), true
}

// templateFuncs are available in every template. attr reads any path,
// including extension attributes, whose URN keys cannot be written as
// fields: {{attr "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}}.
func (t *Table) templateFuncs() template.FuncMap {
	return template.FuncMap{
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		"trim":  strings.TrimSpace,
		"initial": func(s string) string {
			r, n := utf8.DecodeRuneInString(strings.TrimSpace(s))
			if n == 0 {
				return ""
			}
			return string(r)
		},
		// localpart is what comes before the last "@": a logon name made
		// from a userName that is an email address or a UPN.
		"localpart": func(s string) string {
			s = strings.TrimSpace(s)
			if i := strings.LastIndexByte(s, '@'); i >= 0 {
				return s[:i]
			}
			return s
		},
		// upn is s when it is a UPN of the forest (Options.UPNSuffixes),
		// else "": {{if upn .userName}}…{{end}}.
		"upn": func(s string) string {
			s = strings.TrimSpace(s)
			if t.usableUPN(s) {
				return s
			}
			return ""
		},
		"attr": func(data map[string]any, path string) string {
			return t.lookupString(data, path)
		},
	}
}

// compileTemplate parses text and checks every field chain and attr
// argument against the table's schemas.
func (t *Table) compileTemplate(text string) (*tmpl, error) {
	tt, err := template.New("v").Option("missingkey=zero").Funcs(t.templateFuncs()).Parse(text)
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "template: v:"); i >= 0 {
			msg = strings.TrimSpace(msg[i+len("template: v:"):])
		}
		return nil, fmt.Errorf("template %q does not parse: %s", text, msg)
	}
	out := &tmpl{text: text, t: tt, fast: fastParts(tt.Tree.Root)}
	var problems []string
	walkNodes(tt.Tree.Root, func(n parse.Node) {
		switch n := n.(type) {
		case *parse.RangeNode:
			// {{range 1000000000}} would hang every request: a template
			// may range over a resource's values, never over a number.
			walkNodes(n.Pipe, func(x parse.Node) {
				if _, ok := x.(*parse.NumberNode); ok {
					problems = append(problems, "range over a number is not allowed")
				}
			})
		case *parse.FieldNode:
			if p := t.checkChain(n.Ident); p != "" {
				problems = append(problems, p)
				return
			}
			out.chains = append(out.chains, n.Ident)
			out.attrs = append(out.attrs, strings.Join(n.Ident, "."))
		case *parse.IdentifierNode:
			if n.Ident == "upn" {
				t.usesUPN = true
			}
		case *parse.CommandNode:
			if len(n.Args) > 0 {
				if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "attr" {
					if len(n.Args) != 3 {
						problems = append(problems, `attr takes the resource and a path: {{attr . "urn:…:department"}}`)
						return
					}
					s, ok := n.Args[2].(*parse.StringNode)
					if !ok {
						problems = append(problems, "attr needs a quoted path")
						return
					}
					if _, err := t.resolvePath(s.Text); err != nil {
						problems = append(problems, fmt.Sprintf("attr %q: %v", s.Text, err))
						return
					}
					out.attrs = append(out.attrs, s.Text)
				}
			}
		}
	})
	if len(problems) > 0 {
		return nil, fmt.Errorf("template %q: %s", text, strings.Join(problems, "; "))
	}
	if _, err := out.render(t, map[string]any{}); err != nil {
		return nil, fmt.Errorf("template %q cannot run: %v", text, err)
	}
	return out, nil
}

// checkChain checks a field chain against the core schema; it returns a
// problem or "".
func (t *Table) checkChain(chain []string) string {
	if len(chain) == 0 || len(chain) > 2 {
		return fmt.Sprintf("{{.%s}} is not an attribute (use .attr or .attr.sub)", strings.Join(chain, "."))
	}
	d := findDef(t.catalog[t.coreURN], chain[0])
	if d == nil {
		return fmt.Sprintf("{{.%s}}: %s has no attribute %q", strings.Join(chain, "."), t.resource, chain[0])
	}
	if d.Name != chain[0] {
		return fmt.Sprintf("{{.%s}}: write %s (templates are case-sensitive)", strings.Join(chain, "."), d.Name)
	}
	if len(chain) == 2 {
		s := d.Sub(chain[1])
		if d.Type != bridge.TypeComplex || d.MultiValued || s == nil {
			return fmt.Sprintf("{{.%s}}: %s has no sub-attribute %q", strings.Join(chain, "."), d.Name, chain[1])
		}
		if s.Name != chain[1] {
			return fmt.Sprintf("{{.%s}}: write %s.%s (templates are case-sensitive)", strings.Join(chain, "."), d.Name, s.Name)
		}
	}
	return ""
}

func walkNodes(n parse.Node, f func(parse.Node)) {
	if n == nil {
		return
	}
	f(n)
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkNodes(c, f)
		}
	case *parse.ActionNode:
		walkNodes(n.Pipe, f)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walkNodes(c, f)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkNodes(a, f)
		}
	case *parse.IfNode:
		walkNodes(n.Pipe, f)
		walkNodes(n.List, f)
		walkNodes(n.ElseList, f)
	case *parse.RangeNode:
		walkNodes(n.Pipe, f)
		walkNodes(n.List, f)
		walkNodes(n.ElseList, f)
	case *parse.WithNode:
		walkNodes(n.Pipe, f)
		walkNodes(n.List, f)
		walkNodes(n.ElseList, f)
	}
}

// render executes the template over attrs (not modified) and trims the
// result, so that "{{.name.givenName}} {{.name.familyName}}" with no family
// name gives "Jane", and with no name at all gives "".
func (m *tmpl) render(t *Table, attrs map[string]any) (string, error) {
	if m.fast != nil {
		if s, ok := m.renderFast(attrs); ok {
			return s, nil
		}
	}
	return m.execute(attrs)
}

// execute is render by text/template.
func (m *tmpl) execute(attrs map[string]any) (string, error) {
	data := make(map[string]any, len(attrs)+len(m.chains))
	for k, v := range attrs {
		data[k] = v
	}
	for _, c := range m.chains {
		v, ok := data[c[0]]
		if len(c) == 1 {
			if !ok || v == nil {
				data[c[0]] = ""
			}
			continue
		}
		sub, _ := v.(map[string]any)
		cp := make(map[string]any, len(sub)+1)
		for k, x := range sub {
			cp[k] = x
		}
		if x, ok := cp[c[1]]; !ok || x == nil {
			cp[c[1]] = ""
		}
		data[c[0]] = cp
	}
	b := &cappedWriter{max: maxTemplateOutput}
	if err := m.t.Execute(b, data); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// maxTemplateOutput bounds what a template may produce: far more than any
// directory value, far less than would hurt.
const maxTemplateOutput = 64 << 10

type cappedWriter struct {
	strings.Builder
	max int
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.max {
		return 0, fmt.Errorf("the template's output is longer than %d bytes", w.max)
	}
	return w.Builder.Write(p)
}
