package mapping

// userName as Active Directory's userPrincipalName. People log on with
// their UPN, and identity providers that provision into AD (Okta's AD
// integration, Entra's provisioning agent) keep their login as the UPN, so
// the userName is written there exactly as sent when it is a UPN the forest
// accepts. When it is not (no "@", or a suffix the forest does not list:
// john@gmail.com), a UPN is derived from the row's templates, unique, and
// the userName is kept in the row's upn_fallback attribute instead, so that
// it reads back as sent and filters on it still find the user.
//
// A row says so with upn_fallback:
//
//	[[attribute]]
//	scim = "userName"
//	ldap = "userPrincipalName"
//	upn_fallback = "msDS-cloudExtensionAttribute19"
//	template = ["{{.name.givenName}}.{{.name.familyName}}@${base_domain}", ...]
//	template_transform = ["fold", "lower", "account"]
//	unique = "base"
//
// The compiled table holds two rows for the userName: the UPN row and,
// right after it, a row for the fallback attribute (upnOf set). Each writes
// only in its own case, and reading takes the fallback's value when there
// is one, the UPN otherwise.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/bridge"
)

// UPNSuffixesVar is the [mapping.vars] key that pins the UPN suffixes
// (comma-separated), so that they are neither read from the directory nor
// taken from ${base_domain}.
const UPNSuffixesVar = "upn_suffixes"

// AD's userPrincipalName has rangeUpper 1024; the part before the "@" is
// held to what an email address allows (RFC 5321 §4.5.3.1.1), since
// identity providers' logins are email addresses.
const (
	maxUPN      = 1024
	maxUPNLocal = 64
)

// upnSuffixes is the effective suffix list: [mapping.vars] upn_suffixes
// when set, else Options.UPNSuffixes (what the forest lists, read by the
// caller), else ${base_domain}. Lower case, without duplicates.
func upnSuffixes(o Options, sub *subst) []string {
	var raw []string
	switch {
	case pinnedSuffixes(o):
		raw = strings.Split(o.Vars[UPNSuffixesVar], ",")
	case len(o.UPNSuffixes) > 0:
		raw = o.UPNSuffixes
	default:
		raw = []string{sub.vars["base_domain"]}
	}
	return cleanSuffixes(raw)
}

func pinnedSuffixes(o Options) bool { return strings.TrimSpace(o.Vars[UPNSuffixesVar]) != "" }

func cleanSuffixes(raw []string) []string {
	var out []string
	for _, s := range raw {
		s = strings.ToLower(strings.Trim(strings.TrimSpace(s), "."))
		if s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// upnRecheck is how long a suffix the forest did not list counts as not
// one of its suffixes before a userName in it makes the table ask again:
// userNames outside the forest (john@gmail.com, which take a derived UPN)
// then cost one read of the suffixes a minute, not one per request.
const upnRecheck = time.Minute

// upnRetry is how long after a read that found the directory away the
// next one is tried.
const upnRetry = 5 * time.Second

// maxUPNChecked bounds the suffixes remembered as not the forest's.
const maxUPNChecked = 4096

// upnState is the table's UPN suffixes. A derived UPN is chosen once and
// stays (Changes keeps it), so deciding on a list that lacks one of the
// forest's suffixes writes a wrong logon name for good: the list a DC
// could not tell at the start, or a suffix an administrator added since.
// So with a source (Options.UPNSource), a userName whose suffix is not
// listed makes the table read the forest's suffixes again before it
// decides, and a read that fails because the directory is away makes the
// request fail (unavailable) instead of deciding without them.
type upnState struct {
	list    atomic.Pointer[[]string]
	fetch   func(context.Context) ([]string, error) // nil: the list is fixed
	now     func() time.Time
	mu      sync.Mutex           // one read at a time; guards checked and failed
	checked map[string]time.Time // a suffix a read did not list, and when
	failed  time.Time            // when the last read found the directory away
}

func newUPNState(o Options, sub *subst) *upnState {
	u := &upnState{now: o.Now}
	if !pinnedSuffixes(o) {
		u.fetch = o.UPNSource
	}
	if u.now == nil {
		u.now = time.Now
	}
	l := upnSuffixes(o, sub)
	u.list.Store(&l)
	return u
}

func (u *upnState) suffixes() []string { return *u.list.Load() }

// learn reads the forest's suffixes again when v is a name in a suffix
// the table does not list and that no read in the last upnRecheck left
// out.
func (u *upnState) learn(ctx context.Context, v string) error {
	const op = "mapping.upnState.learn"
	if u.fetch == nil || strings.Count(v, "@") != 1 {
		return nil
	}
	_, suffix, _ := strings.Cut(strings.TrimSpace(v), "@")
	suffix = strings.ToLower(suffix)
	if suffix == "" || contains(u.suffixes(), suffix) {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if contains(u.suffixes(), suffix) {
		return nil // read by the request before this one
	}
	if at, ok := u.checked[suffix]; ok && u.now().Sub(at) < upnRecheck {
		return nil
	}
	const unavailable = "the directory's UPN suffixes cannot be read now, so the userName's logon name cannot be decided; try again later"
	if !u.failed.IsZero() && u.now().Sub(u.failed) < upnRetry {
		// The requests queued behind a read that just failed fail at
		// once rather than each waiting out a directory that is away.
		return bridge.Errorf(op, bridge.KindUnavailable, "%s", unavailable)
	}
	// Not the request's own context: a client that goes away must not
	// make the read fail for the requests waiting behind it (the source
	// bounds it with a timeout of its own).
	err := u.readLocked(context.WithoutCancel(ctx))
	u.failed = time.Time{}
	if bridge.KindOf(err) == bridge.KindUnavailable {
		u.failed = u.now()
		return bridge.E(op, bridge.KindUnavailable, unavailable, err)
	}
	// Another failure is a forest that answers but does not tell (the
	// service account may not read its configuration partition): decide
	// on the suffixes known, as after a start that could not read them
	// (serve warns and says to pin them).
	if !contains(u.suffixes(), suffix) {
		if u.checked == nil || len(u.checked) >= maxUPNChecked {
			u.checked = map[string]time.Time{}
		}
		u.checked[suffix] = u.now()
	}
	return nil
}

// UPNSuffixes are the suffixes a userName must end in to be written as the
// UPN, in lower case.
func (t *Table) UPNSuffixes() []string { return append([]string(nil), t.upn.suffixes()...) }

// ReadUPNSuffixes reads the forest's suffixes now (at the start), when the
// table has a source and they are not pinned; it returns them.
func (t *Table) ReadUPNSuffixes(ctx context.Context) ([]string, error) {
	const op = "mapping.(*Table).ReadUPNSuffixes"
	u := t.upn
	if u.fetch == nil {
		return t.UPNSuffixes(), nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.readLocked(ctx); err != nil {
		return nil, bridge.E(op, bridge.KindUnavailable, "", err)
	}
	return t.UPNSuffixes(), nil
}

// readLocked reads the forest's suffixes and keeps them; a read that
// lists none keeps the ones known. u.mu is held.
func (u *upnState) readLocked(ctx context.Context) error {
	list, err := u.fetch(ctx)
	if err != nil {
		return err
	}
	if l := cleanSuffixes(list); len(l) > 0 {
		u.list.Store(&l)
	}
	return nil
}

// learnUPN makes sure the suffix of r's userName is judged on what the
// forest lists now (upnState.learn).
func (t *Table) learnUPN(ctx context.Context, r bridge.Resource) error {
	if t.upn.fetch == nil {
		return nil
	}
	for _, row := range t.rows {
		if row.upnFB != nil {
			if err := t.upn.learn(ctx, t.stringAt(r.Attrs, row.path)); err != nil {
				return err
			}
		}
	}
	return nil
}

// UsesUPNSuffixes reports whether the table decides by the forest's UPN
// suffixes (a row with upn_fallback, or the upn template function), so
// that the caller knows to read them from the directory.
func (t *Table) UsesUPNSuffixes() bool { return t.usesUPN }

// upnProblem says why v is not a usable UPN for the forest, or "".
func (t *Table) upnProblem(v string) string {
	if v == "" {
		return "it is empty"
	}
	if strings.Count(v, "@") != 1 {
		return `it does not have exactly one "@"`
	}
	local, suffix, _ := strings.Cut(v, "@")
	switch {
	case local == "":
		return `nothing comes before the "@"`
	case utf8.RuneCountInString(local) > maxUPNLocal:
		return fmt.Sprintf(`the part before the "@" is longer than %d characters`, maxUPNLocal)
	case utf8.RuneCountInString(v) > maxUPN:
		return fmt.Sprintf("it is longer than %d characters", maxUPN)
	case strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, ".."):
		return `the part before the "@" starts or ends with a dot, or has two in a row`
	}
	for _, r := range local {
		// What AD refuses in logon names, and what an email address's
		// local part cannot hold unquoted.
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`"(),:;<>[\]/|*?=+`, r) {
			return fmt.Sprintf(`the part before the "@" holds %q`, r)
		}
	}
	if list := t.upn.suffixes(); !contains(list, strings.ToLower(suffix)) {
		return fmt.Sprintf("the forest does not list the UPN suffix %q (it lists %s)", suffix, strings.Join(list, ", "))
	}
	return ""
}

// usableUPN reports whether v can be written as a UPN as it is.
func (t *Table) usableUPN(v string) bool { return t.upnProblem(v) == "" }

// ExplainUPN says, for the audit line of a create, which way the UPN of
// the entry attrs describe was chosen: "username" (the userName as sent)
// or "derived" (the userName is not a UPN of the forest). It names no
// value. ok is false for entries of tables without a UPN row.
func (t *Table) ExplainUPN(attrs map[string][]string) (path string, ok bool) {
	for _, r := range t.rows {
		if r.upnFB == nil {
			continue
		}
		if len(attrsFold(attrs, r.ldap)) == 0 {
			return "", false
		}
		if len(attrsFold(attrs, r.upnFB.ldap)) > 0 {
			return "derived", true
		}
		return "username", true
	}
	return "", false
}

// compileUPN checks a row's upn_fallback and makes the fallback row; it
// returns problems for the row's message.
func (t *Table) compileUPN(r *row, fr fileRow) (*row, []string) {
	var p []string
	fb := strings.TrimSpace(fr.UPNFallback)
	if !bridge.ValidAttrDescription(fb) {
		return nil, []string{fmt.Sprintf("upn_fallback %q is not an attribute name", fb)}
	}
	if strings.EqualFold(fb, r.ldap) {
		p = append(p, "upn_fallback must be another attribute than ldap")
	}
	if r.kind != kindScalar || r.valueDef().Type != bridge.TypeString {
		p = append(p, "upn_fallback applies to a single-valued string attribute (userName)")
	}
	if r.owner != ownerSCIM {
		p = append(p, "upn_fallback: the UPN follows what SCIM sends; owner must be scim")
	}
	if len(r.tmpls) == 0 {
		p = append(p, "upn_fallback needs template: how to derive a UPN when the userName is not one")
	}
	if r.unique != uniqueBase {
		p = append(p, `upn_fallback needs unique = "base": a derived UPN must be free in the domain`)
	}
	if len(p) > 0 {
		return nil, p
	}
	fbRow := &row{n: r.n, line: r.line, scim: r.scim, path: r.path, kind: kindScalar, ldap: fb, owner: ownerSCIM,
		xf: r.xf, upnOf: r}
	r.upnFB = fbRow
	t.usesUPN = true
	return fbRow, nil
}

// upnValues narrows a userName row's values to its case: the UPN row
// writes a usable UPN, the fallback row anything else.
func (t *Table) upnValues(r *row, vals []string) []string {
	usable := len(vals) > 0 && t.usableUPN(vals[0])
	if (r.upnFB != nil) == usable {
		return vals
	}
	return nil
}

// checkUPNFree refuses a userName that is already another account's UPN:
// AD would take it (Samba does), and two accounts would claim one logon
// name. It is the client's 409, as for any taken userName.
func (t *Table) checkUPNFree(ctx context.Context, refs bridge.Refs, r *row, v, container, self string) error {
	const op = "mapping.(*Table).checkUPNFree"
	vc, ok := refs.(bridge.ValueChecker)
	if !ok {
		return nil
	}
	base, scope := t.uniqueScope(r, container)
	taken, err := vc.Taken(ctx, base, scope, t.takenFilter(r.ldap, v), self)
	if err != nil {
		return bridge.Wrap(op, err)
	}
	if taken {
		return bridge.Errorf(op, bridge.KindConflict, "%s %q is already the logon name (%s) of another account", r.path.String(), v, r.ldap)
	}
	return nil
}

// takenFilter is what makes value v of attr taken. In a table with a UPN
// row, AD's implicit UPN counts too: every account can log on as
// sAMAccountName@<its domain>, so Samba refuses a UPN local@<domain> when
// another account's sAMAccountName is local ("already in use (implied by
// userPrincipalName)"), and a sAMAccountName that is the local part of
// another account's UPN in the domain would make one logon name name two
// accounts.
func (t *Table) takenFilter(attr, v string) *bridge.Filter {
	f := bridge.Eq(attr, v)
	var upn *row
	for _, r := range t.rows {
		if r.upnFB != nil {
			upn = r
		}
	}
	if upn == nil || t.baseDomain == "" {
		return f
	}
	switch {
	case strings.EqualFold(attr, upn.ldap):
		if local, suffix, ok := strings.Cut(v, "@"); ok && strings.EqualFold(suffix, t.baseDomain) {
			return bridge.Or(f, bridge.Eq(attrSAMAccountName, local))
		}
	case strings.EqualFold(attr, attrSAMAccountName):
		return bridge.Or(f, bridge.Eq(upn.ldap, v+"@"+t.baseDomain))
	}
	return f
}

const attrSAMAccountName = "sAMAccountName"

// upnFilter is the filter for a comparison on a userName kept in either
// attribute: the UPN counts only where no fallback value is stored (else
// the UPN was derived and is not the userName).
func (t *Table) upnFilter(ctx context.Context, r *row, op bridge.CompareOp, lit any, refs bridge.Refs) (*bridge.Filter, error) {
	if op == bridge.OpNe {
		f, err := t.upnFilter(ctx, r, bridge.OpEq, lit, refs)
		if err != nil {
			return nil, err
		}
		return not(f), nil
	}
	onUPN, err := t.leaf(ctx, r, op, lit, refs)
	if err != nil {
		return nil, err
	}
	onFB, err := t.leaf(ctx, r.upnFB, op, lit, refs)
	if err != nil {
		return nil, err
	}
	has := bridge.Present(r.upnFB.ldap)
	return or(and(onUPN, not(has)), and(has, onFB)), nil
}
