package embedded

import (
	"fmt"
	"sort"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/bridge"
)

// tri is the three-valued result of RFC 4511 §4.5.1.7 filter evaluation. An
// assertion on an undefined attribute type, or with a value its syntax
// refuses, or with an operator its type has no rule for, is Undefined; NOT of
// Undefined stays Undefined. Only True entries are returned. slapd evaluates
// filters this way, and (!(x=1)) with an unknown x finding nothing is one of
// the places where a naive two-valued evaluation would differ.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

func boolTri(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// opUndefined marks a filter component that is Undefined whatever the entry:
// an extensible match, which the embedded directory does not implement.
const opUndefined bridge.FilterOp = 1000

// evalFilter evaluates f against r. A nil filter matches everything.
func evalFilter(f *bridge.Filter, r *record) tri {
	if f == nil {
		return triTrue
	}
	switch f.Op {
	case bridge.FilterTrue:
		return triTrue
	case bridge.FilterFalse:
		return triFalse
	case bridge.FilterAnd:
		res := triTrue
		for _, k := range f.Kids {
			switch evalFilter(k, r) {
			case triFalse:
				return triFalse
			case triUndefined:
				res = triUndefined
			}
		}
		return res
	case bridge.FilterOr:
		res := triFalse
		for _, k := range f.Kids {
			switch evalFilter(k, r) {
			case triTrue:
				return triTrue
			case triUndefined:
				res = triUndefined
			}
		}
		return res
	case bridge.FilterNot:
		if len(f.Kids) != 1 {
			return triUndefined
		}
		switch evalFilter(f.Kids[0], r) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUndefined
	case opUndefined:
		return triUndefined
	}
	if strings.HasPrefix(f.Attr, "@") {
		return evalVirtual(f, r)
	}
	def := lookupAttr(f.Attr)
	if def == nil {
		if f.Op == bridge.FilterPresent {
			return triFalse
		}
		return triUndefined
	}
	vals := r.values(def.Name)
	switch f.Op {
	case bridge.FilterPresent:
		if def.Name == "objectClass" {
			return triTrue
		}
		return boolTri(len(vals) > 0)
	case bridge.FilterEqual:
		return evalEqual(def, vals, f.Value)
	case bridge.FilterApprox:
		// slapd falls back to equality for types without an approximate
		// rule; for strings it ignores spacing, and so does this.
		if def.Eq == eqCaseIgnore {
			want := strings.ReplaceAll(def.norm(f.Value), " ", "")
			for _, v := range vals {
				if strings.ReplaceAll(def.norm(v), " ", "") == want {
					return triTrue
				}
			}
			return triFalse
		}
		return evalEqual(def, vals, f.Value)
	case bridge.FilterGreaterOrEqual, bridge.FilterLessOrEqual:
		if !def.Ordering || !def.checkSyntax(f.Value) {
			return triUndefined
		}
		want := def.norm(f.Value)
		for _, v := range vals {
			nv := def.norm(v)
			if f.Op == bridge.FilterGreaterOrEqual && nv >= want || f.Op == bridge.FilterLessOrEqual && nv <= want {
				return triTrue
			}
		}
		return triFalse
	case bridge.FilterSubstrings:
		if !def.Substr || len(f.Subs) < 2 {
			return triUndefined
		}
		for _, v := range vals {
			if substrMatch(def, v, f.Subs) {
				return triTrue
			}
		}
		return triFalse
	}
	return triUndefined
}

func evalEqual(def *attrDef, vals []string, assertion string) tri {
	if def.Name == "objectClass" {
		for _, v := range vals {
			if ocIsA(v, assertion) {
				return triTrue
			}
		}
		return triFalse
	}
	if def.Name == "pwdAccountLockedTime" && assertion == lockedTime {
		for _, v := range vals {
			if v == lockedTime {
				return triTrue
			}
		}
		return triFalse
	}
	if def.Syntax == synDN || def.Syntax == synGenTime || def.Syntax == synUUID {
		if !def.checkSyntax(assertion) {
			return triUndefined
		}
	}
	want := def.norm(assertion)
	for _, v := range vals {
		if def.norm(v) == want {
			return triTrue
		}
	}
	return triFalse
}

// substrMatch applies caseIgnoreSubstringsMatch (or the telephone variant):
// subs is initial, any..., final, with "" for an absent initial or final.
func substrMatch(def *attrDef, v string, subs []string) bool {
	norm := func(s string) string {
		if def.Eq == eqTel {
			return def.norm(s)
		}
		if def.Eq == eqCaseExact {
			return s
		}
		return strings.ToLower(s)
	}
	s := norm(foldSpaces(v))
	initial, final := norm(subs[0]), norm(subs[len(subs)-1])
	if !strings.HasPrefix(s, initial) {
		return false
	}
	s = s[len(initial):]
	for _, a := range subs[1 : len(subs)-1] {
		a = norm(a)
		i := strings.Index(s, a)
		if i < 0 {
			return false
		}
		s = s[i+len(a):]
	}
	return strings.HasSuffix(s, final)
}

// evalVirtual evaluates the '@' attributes of bridge filters: @id is
// entryUUID, @created and @modified compare RFC 3339 instants with the
// stored timestamps, @disabled is "TRUE" for a locked account.
func evalVirtual(f *bridge.Filter, r *record) tri {
	switch strings.ToLower(f.Attr) {
	case bridge.VirtualID:
		g := *f
		g.Attr = "entryUUID"
		return evalFilter(&g, r)
	case bridge.VirtualCreated, bridge.VirtualModified:
		stored := r.Created
		if strings.EqualFold(f.Attr, bridge.VirtualModified) {
			stored = r.Modified
		}
		if f.Op == bridge.FilterPresent {
			return triTrue
		}
		have, err := time.Parse(genTimeLayout, stored)
		if err != nil {
			return triUndefined
		}
		want, err := time.Parse(time.RFC3339Nano, f.Value)
		if err != nil {
			return triUndefined
		}
		// Stored timestamps have whole seconds, as slapd's do; an instant
		// with a fraction compares against its second.
		want = want.Truncate(time.Second)
		switch f.Op {
		case bridge.FilterEqual, bridge.FilterApprox:
			return boolTri(have.Equal(want))
		case bridge.FilterGreaterOrEqual:
			return boolTri(!have.Before(want))
		case bridge.FilterLessOrEqual:
			return boolTri(!have.After(want))
		}
		return triUndefined
	case bridge.VirtualDisabled:
		val := "FALSE"
		if r.disabled() {
			val = "TRUE"
		}
		switch f.Op {
		case bridge.FilterPresent:
			return triTrue
		case bridge.FilterEqual, bridge.FilterApprox:
			return boolTri(strings.EqualFold(f.Value, val))
		}
		return triUndefined
	}
	if f.Op == bridge.FilterPresent {
		return triFalse
	}
	return triUndefined
}

// parseLDAPFilter parses an RFC 4515 string filter into a bridge.Filter, with
// go-ldap's compiler doing the lexing and the unescaping of values.
func parseLDAPFilter(s string) (*bridge.Filter, error) {
	p, err := ldap.CompileFilter(s)
	if err != nil {
		return nil, err
	}
	return filterFromBER(p, 0)
}

// filterFromBER converts a BER-encoded Filter (RFC 4511 §4.5.1.7).
func filterFromBER(p *ber.Packet, depth int) (*bridge.Filter, error) {
	if depth > 100 {
		return nil, fmt.Errorf("filter nested too deeply")
	}
	if p == nil || p.ClassType != ber.ClassContext {
		return nil, fmt.Errorf("filter: not a filter choice")
	}
	str := func(q *ber.Packet) string {
		if q.Data != nil {
			return q.Data.String()
		}
		if s, ok := q.Value.(string); ok {
			return s
		}
		return ""
	}
	switch p.Tag {
	case ldap.FilterAnd, ldap.FilterOr:
		f := &bridge.Filter{Op: bridge.FilterAnd}
		if p.Tag == ldap.FilterOr {
			f.Op = bridge.FilterOr
		}
		for _, c := range p.Children {
			k, err := filterFromBER(c, depth+1)
			if err != nil {
				return nil, err
			}
			f.Kids = append(f.Kids, k)
		}
		if len(f.Kids) == 0 {
			// RFC 4526 absolute true (&) and false (|).
			if f.Op == bridge.FilterAnd {
				return bridge.MatchAll(), nil
			}
			return bridge.MatchNone(), nil
		}
		return f, nil
	case ldap.FilterNot:
		if len(p.Children) != 1 {
			return nil, fmt.Errorf("filter: not needs one child")
		}
		k, err := filterFromBER(p.Children[0], depth+1)
		if err != nil {
			return nil, err
		}
		return bridge.Not(k), nil
	case ldap.FilterEqualityMatch, ldap.FilterGreaterOrEqual, ldap.FilterLessOrEqual, ldap.FilterApproxMatch:
		if len(p.Children) != 2 || str(p.Children[0]) == "" {
			return nil, fmt.Errorf("filter: malformed assertion")
		}
		op := map[ber.Tag]bridge.FilterOp{
			ldap.FilterEqualityMatch: bridge.FilterEqual, ldap.FilterGreaterOrEqual: bridge.FilterGreaterOrEqual,
			ldap.FilterLessOrEqual: bridge.FilterLessOrEqual, ldap.FilterApproxMatch: bridge.FilterApprox,
		}[p.Tag]
		return &bridge.Filter{Op: op, Attr: ldapAttr(str(p.Children[0])), Value: str(p.Children[1])}, nil
	case ldap.FilterPresent:
		if str(p) == "" {
			return nil, fmt.Errorf("filter: empty attribute description")
		}
		return bridge.Present(ldapAttr(str(p))), nil
	case ldap.FilterSubstrings:
		if len(p.Children) != 2 || str(p.Children[0]) == "" {
			return nil, fmt.Errorf("filter: malformed substrings")
		}
		initial, final := "", ""
		var anys []string
		for i, c := range p.Children[1].Children {
			switch c.Tag {
			case ldap.FilterSubstringsInitial:
				if i != 0 {
					return nil, fmt.Errorf("filter: initial substring not first")
				}
				initial = str(c)
			case ldap.FilterSubstringsAny:
				anys = append(anys, str(c))
			case ldap.FilterSubstringsFinal:
				if i != len(p.Children[1].Children)-1 {
					return nil, fmt.Errorf("filter: final substring not last")
				}
				final = str(c)
			}
		}
		return bridge.Substrings(ldapAttr(str(p.Children[0])), initial, anys, final), nil
	case ldap.FilterExtensibleMatch:
		return &bridge.Filter{Op: opUndefined}, nil
	}
	return nil, fmt.Errorf("filter: unknown choice %d", p.Tag)
}

// ldapAttr keeps an LDAP filter from reaching the bridge's virtual
// attributes: "@id" is not an attribute description over LDAP.
// Anything else that is not an attribute description is kept unusable too,
// so that it evaluates as Undefined, the way slapd treats a description it
// cannot resolve.
func ldapAttr(a string) string {
	// Attribute options (";binary", ";lang-en") are ignored.
	if i := strings.IndexByte(a, ';'); i >= 0 {
		a = a[:i]
	}
	if !validAttrType(a) {
		return "\x00" + a
	}
	return a
}

// candidates returns the ids an indexed lookup narrows f to, in id order, or
// ok=false when f needs a scan. Only equality on indexed attributes (and on
// the id) is used; AND takes the first indexable child, OR needs all of
// them. The caller still evaluates the whole filter on every candidate.
func candidates(f *bridge.Filter, lookup func(attr, norm string) []string) (ids []string, ok bool) {
	if f == nil {
		return nil, false
	}
	switch f.Op {
	case bridge.FilterEqual:
		attr := strings.ToLower(f.Attr)
		if attr == bridge.VirtualID || attr == "entryuuid" {
			return []string{strings.ToLower(strings.TrimSpace(f.Value))}, true
		}
		def := lookupAttr(f.Attr)
		if def == nil || !indexedAttrs[strings.ToLower(def.Name)] {
			return nil, false
		}
		if def.Syntax == synDN && !def.checkSyntax(f.Value) {
			return nil, true // Undefined for every entry
		}
		return lookup(strings.ToLower(def.Name), def.norm(f.Value)), true
	case bridge.FilterFalse:
		return nil, true
	case bridge.FilterAnd:
		for _, k := range f.Kids {
			if ids, ok := candidates(k, lookup); ok {
				return ids, true
			}
		}
	case bridge.FilterOr:
		seen := map[string]bool{}
		for _, k := range f.Kids {
			ids, ok := candidates(k, lookup)
			if !ok {
				return nil, false
			}
			for _, id := range ids {
				seen[id] = true
			}
		}
		out := make([]string, 0, len(seen))
		for id := range seen {
			out = append(out, id)
		}
		sort.Strings(out)
		return out, true
	}
	return nil, false
}
