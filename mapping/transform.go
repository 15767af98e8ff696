package mapping

import (
	"strings"
	"unicode"
)

// A transform rewrites one value on its way into the directory (write) and,
// for the few that are reversible encodings, on its way back (read). Lossy
// transforms (trim, lower, upper, collapse) read back as they are stored:
// the directory's value is the truth, and applying them again to what was
// read gives the same value, which keeps PUT-after-GET a no-op.
type transform struct {
	name  string
	write func(string) string
	read  func(string) string
}

func identity(s string) string { return s }

var transforms = map[string]transform{
	"trim":     {"trim", strings.TrimSpace, identity},
	"lower":    {"lower", strings.ToLower, identity},
	"upper":    {"upper", strings.ToUpper, identity},
	"collapse": {"collapse", collapseSpace, identity},
	// postal: SCIM's formatted address has lines separated by newlines;
	// the directory's Postal Address syntax (RFC 4517 §3.3.28) separates
	// lines with '$' and escapes '$' and '\' as \24 and \5C.
	"postal": {"postal", postalEncode, postalDecode},
	// fold: letters with accents become their base letters (Zoë → Zoe);
	// account: what AD forbids in logon names is removed (see accountName).
	"fold":    {"fold", foldAccents, identity},
	"account": {"account", accountName, identity},
	// filetime: an RFC 3339 date-time ⇄ AD's FILETIME integer
	// (accountExpires); "never" reads as no value.
	"filetime": {"filetime", toFiletime, fromFiletime},
}

// transformNames lists the transforms for error messages, in a fixed order.
const transformNames = "trim, lower, upper, collapse, postal, fold, account, filetime, default:VALUE"

func collapseSpace(s string) string {
	return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
}

func postalEncode(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\5C`)
		case '$':
			b.WriteString(`\24`)
		case '\n':
			b.WriteByte('$')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func postalDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			b.WriteByte('\n')
		case c == '\\' && i+2 < len(s) && strings.EqualFold(s[i+1:i+3], "24"):
			b.WriteByte('$')
			i += 2
		case c == '\\' && i+2 < len(s) && strings.EqualFold(s[i+1:i+3], "5c"):
			b.WriteByte('\\')
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func applyWrite(xf []transform, s string) string {
	for _, t := range xf {
		s = t.write(s)
	}
	return s
}

func applyRead(xf []transform, s string) string {
	for i := len(xf) - 1; i >= 0; i-- {
		s = xf[i].read(s)
	}
	return s
}
