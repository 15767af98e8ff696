package bridge

import (
	"strconv"
	"strings"
	"time"
)

// MatchValue evaluates a value filter (the part inside attr[...]) against one
// value of the multi-valued complex attribute def. Paths in x name
// sub-attributes of that value.
func MatchValue(def *AttrDef, x Expr, item map[string]any) bool {
	switch e := x.(type) {
	case *LogicalExpr:
		if e.Op == "and" {
			return MatchValue(def, e.Left, item) && MatchValue(def, e.Right, item)
		}
		return MatchValue(def, e.Left, item) || MatchValue(def, e.Right, item)
	case *NotExpr:
		return !MatchValue(def, e.X, item)
	case *CompareExpr:
		name := e.Path.Attr
		if e.Path.Sub != "" {
			name = e.Path.Sub
		}
		sub := def.Sub(name)
		v, has := lookupFold(item, name)
		if e.Op == OpPr {
			return has && !isEmpty(v)
		}
		return compareScalar(sub, e.Op, v, has, e.Value)
	}
	return false
}

// compareScalar applies a SCIM comparison to a stored value v.
func compareScalar(def *AttrDef, op CompareOp, v any, has bool, lit any) bool {
	if !has || v == nil {
		return op == OpNe && lit != nil
	}
	caseExact := def != nil && def.CaseExact
	switch a := v.(type) {
	case bool:
		b, ok := lit.(bool)
		if !ok {
			if s, isStr := lit.(string); isStr {
				pb, err := strconv.ParseBool(strings.ToLower(s))
				b, ok = pb, err == nil
			}
		}
		if !ok {
			return false
		}
		switch op {
		case OpEq:
			return a == b
		case OpNe:
			return a != b
		}
		return false
	case float64:
		b, ok := lit.(float64)
		if !ok {
			return false
		}
		return cmpOrdered(op, a, b)
	case string:
		b, ok := lit.(string)
		if !ok {
			if op == OpNe {
				return true
			}
			return false
		}
		if def != nil && def.Type == TypeDateTime {
			ta, err1 := time.Parse(time.RFC3339, a)
			tb, err2 := time.Parse(time.RFC3339, b)
			if err1 == nil && err2 == nil {
				return cmpOrdered(op, ta.UnixNano(), tb.UnixNano())
			}
		}
		if !caseExact {
			a, b = strings.ToLower(a), strings.ToLower(b)
		}
		switch op {
		case OpCo:
			return strings.Contains(a, b)
		case OpSw:
			return strings.HasPrefix(a, b)
		case OpEw:
			return strings.HasSuffix(a, b)
		}
		return cmpOrdered(op, a, b)
	}
	return false
}

func cmpOrdered[T int64 | float64 | string](op CompareOp, a, b T) bool {
	switch op {
	case OpEq:
		return a == b
	case OpNe:
		return a != b
	case OpGt:
		return a > b
	case OpGe:
		return a >= b
	case OpLt:
		return a < b
	case OpLe:
		return a <= b
	}
	return false
}
