package bridge

import (
	"fmt"
	"strings"
)

// AttrPath names a SCIM attribute: an optional schema URN (empty for the
// resource type's core schema), a top-level attribute and an optional
// sub-attribute. Names are as the client sent them; matching is
// case-insensitive.
type AttrPath struct {
	URN  string
	Attr string
	Sub  string
}

func (p AttrPath) String() string {
	s := p.Attr
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	if p.Sub != "" {
		s += "." + p.Sub
	}
	return s
}

// Expr is a parsed SCIM filter (RFC 7644 §3.4.2.2). Implementations are
// *CompareExpr, *LogicalExpr, *NotExpr and *ValuePathExpr.
type Expr interface{ isExpr() }

// CompareOp is a SCIM attribute operator, in lower case.
type CompareOp string

const (
	OpEq CompareOp = "eq"
	OpNe CompareOp = "ne"
	OpCo CompareOp = "co"
	OpSw CompareOp = "sw"
	OpEw CompareOp = "ew"
	OpGt CompareOp = "gt"
	OpGe CompareOp = "ge"
	OpLt CompareOp = "lt"
	OpLe CompareOp = "le"
	OpPr CompareOp = "pr"
)

// CompareExpr is "path op value" or "path pr". Value is a string, float64,
// bool or nil (JSON null); it is nil for pr.
type CompareExpr struct {
	Path  AttrPath
	Op    CompareOp
	Value any
}

// LogicalExpr is "left and right" or "left or right".
type LogicalExpr struct {
	Op          string // "and" or "or"
	Left, Right Expr
}

// NotExpr is "not (x)".
type NotExpr struct{ X Expr }

// ValuePathExpr is "attr[filter]", the filter applying to the values of a
// multi-valued complex attribute (its paths name sub-attributes).
type ValuePathExpr struct {
	Path   AttrPath
	Filter Expr
}

func (*CompareExpr) isExpr()   {}
func (*LogicalExpr) isExpr()   {}
func (*NotExpr) isExpr()       {}
func (*ValuePathExpr) isExpr() {}

func (e *CompareExpr) String() string {
	if e.Op == OpPr {
		return e.Path.String() + " pr"
	}
	return fmt.Sprintf("%s %s %s", e.Path, e.Op, literal(e.Value))
}
func (e *LogicalExpr) String() string {
	return fmt.Sprintf("(%v %s %v)", e.Left, e.Op, e.Right)
}
func (e *NotExpr) String() string       { return fmt.Sprintf("not (%v)", e.X) }
func (e *ValuePathExpr) String() string { return fmt.Sprintf("%s[%v]", e.Path, e.Filter) }

func literal(v any) string {
	switch t := v.(type) {
	case string:
		return fmt.Sprintf("%q", t)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// PatchOp is one operation of a SCIM PATCH request in canonical form: Op is
// "add", "replace" or "remove" in lower case whatever the client sent, and a
// non-nil Path is parsed. Value is JSON-shaped.
type PatchOp struct {
	Op    string
	Path  *PatchPath
	Value any
}

// PatchPath is a PATCH path: an attribute, optionally filtered to some of its
// values ("emails[type eq \"work\"]") and optionally narrowed to a
// sub-attribute of those values ("emails[type eq \"work\"].value").
type PatchPath struct {
	Attr   AttrPath // Attr.Sub is set for "name.givenName"
	Filter Expr     // nil unless the path has [...]
	Sub    string   // sub-attribute after the filter, as in "[...].value"
}

func (p *PatchPath) String() string {
	s := p.Attr.String()
	if p.Filter != nil {
		s += fmt.Sprintf("[%v]", p.Filter)
	}
	if p.Sub != "" {
		s += "." + p.Sub
	}
	return s
}

// Query is a list request in canonical form.
type Query struct {
	Filter             Expr // nil: all
	StartIndex         int  // 1-based; values below 1 are read as 1
	Count              int  // -1: the server's default page size
	Attributes         []string
	ExcludedAttributes []string
}

// Page is one page of a list response.
type Page struct {
	TotalResults int
	StartIndex   int
	Resources    []Resource
}

// SplitURNPath splits "urn:...:User:employeeNumber" into the URN and the
// attribute path after it, given the URNs that are known. Unknown URN-shaped
// names are returned whole as the attribute with an empty URN, so that the
// caller reports them as unknown attributes.
func SplitURNPath(name string, known []string) (urn, rest string) {
	// Every request names attributes this way, most without a URN: no
	// lower-cased copies (they were a twentieth of a PUT's processor time).
	if strings.IndexByte(name, ':') < 0 {
		return "", name
	}
	best := ""
	for _, u := range known {
		if len(u) > len(best) && len(name) > len(u) && name[len(u)] == ':' && strings.EqualFold(name[:len(u)], u) {
			best = u
		}
	}
	if best == "" {
		return "", name
	}
	return best, name[len(best)+1:]
}
