package mapping

// Directory-side naming rules that Active Directory needs and any directory
// can use: values chosen from ordered candidates and kept unique against the
// directory (sAMAccountName, userPrincipalName, the cn of the RDN),
// placement of users in containers by HR attributes, values written on
// create only, and the transforms that account names and AD's timestamps
// need.

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/bridge"
)

// maxSuffix bounds the numeric suffixes tried after the candidates.
const maxSuffix = 99

// Unique scopes of a row.
const (
	uniqueBase      = "base"      // no other entry below the base DN has the value (sAMAccountName, UPN)
	uniqueContainer = "container" // no sibling in the entry's container has it
)

// placement is one compiled [[placement]]: users whose resource matches all
// terms go to container.
type placement struct {
	line      int
	terms     []placementTerm
	container string
}

type placementTerm struct {
	path  string
	value string
}

type filePlacement struct {
	When      string `toml:"when"`
	Container string `toml:"container"`
}

var (
	termRe = regexp.MustCompile(`^\s*(\S+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$`)
	andRe  = regexp.MustCompile(`(?i)\s+and\s+`)
)

// compilePlacements checks the [[placement]] rules: a when of the form
// `path eq "value" [and path eq "value" ...]` over attributes the table
// maps, and a container below the table's container (users must stay
// where the service searches for them).
func (t *Table) compilePlacements(fps []filePlacement, pos *positions, sub *subst, add func(int, string, ...any)) {
	for i, fp := range fps {
		line := pos.header("placement", i)
		p := placement{line: line, container: strings.TrimSpace(sub.do(fp.Container, line, add))}
		if rdns, err := bridge.ParseDN(p.container); err != nil || len(rdns) == 0 {
			add(line, "placement container %q is not a DN", p.container)
			continue
		}
		if t.container != "" && !bridge.IsUnder(p.container, t.container) {
			add(line, "placement container %q is not below the table's container %q", p.container, t.container)
			continue
		}
		if strings.TrimSpace(fp.When) == "" {
			add(line, `placement needs when, e.g. when = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"'`)
			continue
		}
		ok := true
		for _, part := range andRe.Split(strings.TrimSpace(fp.When), -1) {
			m := termRe.FindStringSubmatch(part)
			if m == nil {
				add(line, `placement when %q: write path eq "value", joined by and`, fp.When)
				ok = false
				break
			}
			if _, err := t.resolvePath(m[1]); err != nil {
				add(line, "placement when: %v", err)
				ok = false
				break
			}
			v, _ := strconv.Unquote(`"` + m[2] + `"`)
			p.terms = append(p.terms, placementTerm{path: m[1], value: v})
		}
		if ok {
			t.placements = append(t.placements, p)
		}
	}
}

// containerFor is where a resource belongs: the first placement that
// matches (values compare case-insensitively, as the directory would),
// else the table's container.
func (t *Table) containerFor(attrs map[string]any) string {
	for _, p := range t.placements {
		match := true
		for _, term := range p.terms {
			if !strings.EqualFold(strings.TrimSpace(t.lookupString(attrs, term.path)), term.value) {
				match = false
				break
			}
		}
		if match {
			return p.container
		}
	}
	return t.container
}

// candidates renders every template of a unique row, cleaned, in order.
func (t *Table) candidates(r *row, attrs map[string]any) ([]string, error) {
	var out []string
	for _, tm := range r.tmpls {
		s, err := tm.render(t, attrs)
		if err != nil {
			return nil, bridge.E("mapping.(*Table).candidates", bridge.KindInternal, "", err)
		}
		for _, v := range cleanTmpl(r, []string{s}) {
			v = truncateRunes(v, r.maxLen)
			if v != "" && !hasFold(out, v) {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// withSuffix appends n to v, before the "@" of a user principal name, and
// shortens v so that the result still fits max runes.
func withSuffix(v, sep string, n, max int) string {
	suffix := sep + strconv.Itoa(n)
	local, domain := v, ""
	if i := strings.LastIndexByte(v, '@'); i > 0 {
		local, domain = v[:i], v[i:]
	}
	if max > 0 {
		local = truncateRunes(local, max-utf8.RuneCountInString(suffix)-utf8.RuneCountInString(domain))
	}
	return strings.TrimRight(local, ". ") + suffix + domain
}

func truncateRunes(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:max]), ". ")
}

// pickUnique returns the first of the candidates, then of the first
// candidate with a numeric suffix (2, 3, ...), that no entry in scope has.
// Without a ValueChecker the first candidate is taken as it is.
func (t *Table) pickUnique(ctx context.Context, refs bridge.Refs, attr string, cands []string, sep string, max int, base string, scope bridge.Scope, self string) (string, error) {
	const op = "mapping.(*Table).pickUnique"
	if len(cands) == 0 {
		return "", nil
	}
	vc, ok := refs.(bridge.ValueChecker)
	if !ok {
		return cands[0], nil
	}
	try := func(v string) (bool, error) {
		taken, err := vc.Taken(ctx, base, scope, t.takenFilter(attr, v), self)
		return !taken, err
	}
	for _, c := range cands {
		free, err := try(c)
		if err != nil {
			return "", bridge.Wrap(op, err)
		}
		if free {
			return c, nil
		}
	}
	for n := 2; n <= maxSuffix; n++ {
		v := withSuffix(cands[0], sep, n, max)
		free, err := try(v)
		if err != nil {
			return "", bridge.Wrap(op, err)
		}
		if free {
			return v, nil
		}
	}
	return "", bridge.Errorf(op, bridge.KindConflict, "no free value for %s: %q and %d numbered variants are taken", attr, cands[0], maxSuffix-1)
}

// uniqueScope is where a unique row's value must be unique.
func (t *Table) uniqueScope(r *row, container string) (string, bridge.Scope) {
	if r.unique == uniqueContainer {
		return container, bridge.ScopeOne
	}
	if t.baseDN != "" {
		return t.baseDN, bridge.ScopeSub
	}
	return t.container, bridge.ScopeSub
}

// rdnSuffixRe recognises a suffixed RDN value: "John Smith 2".
func isSuffixed(cur, want string) bool {
	if strings.EqualFold(cur, want) {
		return true
	}
	if len(cur) <= len(want)+1 || !strings.EqualFold(cur[:len(want)], want) || cur[len(want)] != ' ' {
		return false
	}
	n, err := strconv.Atoi(cur[len(want)+1:])
	return err == nil && n >= 2 && n <= maxSuffix
}

// foldAccents replaces letters with diacritics by their base letters and
// spells out the ligatures and letters ASCII has no form for, so that
// "Zoë Ångström-Łukasiewicz" can be an account name everywhere.
func foldAccents(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		if f, ok := foldTable[r]; ok {
			b.WriteString(f)
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			continue // a combining mark: the base letter went before it
		}
		b.WriteRune(r)
	}
	return b.String()
}

var foldTable = func() map[rune]string {
	m := map[rune]string{}
	groups := map[string]string{
		"a": "àáâãäåāăą", "A": "ÀÁÂÃÄÅĀĂĄ", "c": "çćĉċč", "C": "ÇĆĈĊČ", "d": "ďđ", "D": "ĎĐ",
		"e": "èéêëēĕėęě", "E": "ÈÉÊËĒĔĖĘĚ", "g": "ĝğġģ", "G": "ĜĞĠĢ", "h": "ĥħ", "H": "ĤĦ",
		"i": "ìíîïĩīĭįı", "I": "ÌÍÎÏĨĪĬĮİ", "j": "ĵ", "J": "Ĵ", "k": "ķ", "K": "Ķ", "l": "ĺļľŀł", "L": "ĹĻĽĿŁ",
		"n": "ñńņňŉ", "N": "ÑŃŅŇ", "o": "òóôõöøōŏő", "O": "ÒÓÔÕÖØŌŎŐ", "r": "ŕŗř", "R": "ŔŖŘ",
		"s": "śŝşšș", "S": "ŚŜŞŠȘ", "t": "ţťŧț", "T": "ŢŤŦȚ", "u": "ùúûüũūŭůűų", "U": "ÙÚÛÜŨŪŬŮŰŲ",
		"w": "ŵ", "W": "Ŵ", "y": "ýÿŷ", "Y": "ÝŸŶ", "z": "źżž", "Z": "ŹŻŽ",
	}
	for base, letters := range groups {
		for _, r := range letters {
			m[r] = base
		}
	}
	for r, s := range map[rune]string{'ß': "ss", 'æ': "ae", 'Æ': "AE", 'œ': "oe", 'Œ': "OE", 'þ': "th", 'Þ': "TH", 'ð': "d", 'Ð': "D"} {
		m[r] = s
	}
	return m
}()

// accountName removes what AD forbids in logon names ("/\[]:;|=,+*?<> and
// control characters), blanks, and leading or trailing dots.
func accountName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`"/\[]:;|=,+*?<>`, r) {
			continue
		}
		b.WriteRune(r)
	}
	return strings.Trim(b.String(), ".")
}

// AD's FILETIME: 100-nanosecond intervals since 1601-01-01 UTC. 0 and the
// largest int64 mean "never" (accountExpires).
const (
	filetimeNever = "9223372036854775807"
	epochDelta    = 116444736000000000 // 1601 → 1970 in 100 ns
)

func toFiletime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return s // not a date-time: the directory's syntax check reports it
	}
	return strconv.FormatInt(t.UTC().UnixNano()/100+epochDelta, 10)
}

func fromFiletime(s string) string {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || s == filetimeNever {
		return ""
	}
	return time.Unix(0, (n-epochDelta)*100).UTC().Format(time.RFC3339)
}

// keys of the table format that this file adds, for messages.
func (r *row) accountProblems() []string {
	var p []string
	switch r.unique {
	case "", uniqueBase, uniqueContainer:
	default:
		p = append(p, fmt.Sprintf("unique %q: must be %q or %q", r.unique, uniqueBase, uniqueContainer))
	}
	if r.unique != "" && len(r.tmpls) == 0 {
		p = append(p, "unique needs template: the ordered candidates")
	}
	if r.unique != "" && r.owner != ownerSCIM {
		p = append(p, "unique values are chosen by dirbridge: owner must be scim")
	}
	if r.maxLen < 0 {
		p = append(p, "max_length must be positive")
	}
	return p
}
