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
	case strings.TrimSpace(o.Vars[UPNSuffixesVar]) != "":
		raw = strings.Split(o.Vars[UPNSuffixesVar], ",")
	case len(o.UPNSuffixes) > 0:
		raw = o.UPNSuffixes
	default:
		raw = []string{sub.vars["base_domain"]}
	}
	var out []string
	for _, s := range raw {
		s = strings.ToLower(strings.Trim(strings.TrimSpace(s), "."))
		if s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// UPNSuffixes are the suffixes a userName must end in to be written as the
// UPN, in lower case.
func (t *Table) UPNSuffixes() []string { return append([]string(nil), t.upnSuffixes...) }

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
	if !contains(t.upnSuffixes, strings.ToLower(suffix)) {
		return fmt.Sprintf("the forest does not list the UPN suffix %q (it lists %s)", suffix, strings.Join(t.upnSuffixes, ", "))
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
