package mapping

import (
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
)

// readIndex numbers the directory attributes a table reads, so that an
// entry's values are looked up by position instead of by
// bridge.(*Entry).Values, which walks the whole entry for every attribute
// the entry does not hold. A user has values for a few of the 27
// attributes of the shipped users table, and reading it looked the others
// up ~40 times: half of Resource's time in an import.
type readIndex struct {
	lower map[string]int // lower-case name → position
	exact map[string]int // every spelling the table uses → position
}

func (t *Table) buildReadIndex() *readIndex {
	x := &readIndex{lower: map[string]int{}, exact: map[string]int{}}
	add := func(name string) {
		l := strings.ToLower(name)
		i, ok := x.lower[l]
		if !ok {
			i = len(x.lower)
			x.lower[l] = i
		}
		x.exact[name] = i
	}
	for _, a := range t.dirAttrs {
		add(a)
	}
	for _, r := range t.rows {
		if r.ldap != "" {
			add(r.ldap)
			r.readPos = x.exact[r.ldap] + 1
		}
	}
	return x
}

// entryValues is one entry's values by the table's attribute names.
type entryValues struct {
	e    *bridge.Entry
	idx  *readIndex // nil: every lookup goes to e.Values
	vals [][]string // by position in idx
}

// entryValues indexes e's attributes once. It answers exactly as e.Values
// would: an entry with two names for one attribute (possible only for an
// entry built by hand) or a name that is not ASCII (LDAP attribute
// descriptions are) is left to e.Values.
func (t *Table) entryValues(e *bridge.Entry) entryValues {
	ev := entryValues{e: e}
	if t.readIdx == nil || e == nil {
		return ev
	}
	n := len(t.readIdx.lower)
	if n > 64 {
		return ev // seen below holds 64
	}
	vals := make([][]string, n)
	var seen uint64
	var buf [64]byte
	for k, v := range e.Attrs {
		lk, ascii := asciiLower(buf[:0], k)
		if !ascii {
			return ev
		}
		i, ok := t.readIdx.lower[string(lk)]
		if !ok {
			continue
		}
		if seen&(1<<i) != 0 {
			return ev
		}
		seen |= 1 << i
		vals[i] = v
	}
	ev.idx, ev.vals = t.readIdx, vals
	return ev
}

// get is e.Values(attr).
func (ev entryValues) get(attr string) []string {
	if ev.idx != nil {
		if i, ok := ev.idx.exact[attr]; ok {
			return ev.vals[i]
		}
	}
	return ev.e.Values(attr)
}

// of is e.Values(r.ldap).
func (ev entryValues) of(r *row) []string {
	if ev.idx != nil && r.readPos > 0 {
		return ev.vals[r.readPos-1]
	}
	return ev.get(r.ldap)
}

// asciiLower appends s in lower case to dst and reports whether s was
// ASCII.
func asciiLower(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return dst, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}
