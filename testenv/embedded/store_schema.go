package embedded

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The embedded directory carries a small built-in schema: the attribute types
// and object classes of OpenLDAP's core, cosine and inetorgperson schemas that
// provisioning uses, plus the operational attributes it maintains. It exists
// so that the embedded directory refuses what slapd refuses (a person without
// sn, an attribute no object class allows, two values of a single-valued
// attribute) instead of letting tests pass here and fail against OpenLDAP.

type syntax int

const (
	synDirString syntax = iota // Directory String: non-empty UTF-8
	synIA5                     // IA5 String: ASCII
	synDN                      // Distinguished Name
	synOctet                   // Octet String (userPassword)
	synTel                     // Telephone Number: printable
	synGenTime                 // Generalized Time
	synOID                     // OID or descriptor (objectClass)
	synUUID                    // UUID
	synBinary                  // anything (photos, certificates)
	synCountry                 // two-letter country code
)

type matchRule int

const (
	eqCaseIgnore matchRule = iota
	eqCaseExact
	eqDN
	eqOctet
	eqTel
	eqGenTime
	eqOID
	eqUUID
)

type attrDef struct {
	Name     string
	Aliases  []string
	Syntax   syntax
	Eq       matchRule
	Ordering bool // the type has an ORDERING rule; without one >= and <= are Undefined, as in slapd
	Substr   bool // the type has a SUBSTR rule
	Single   bool
	// Oper marks operational attributes: returned only when asked for by
	// name or with "+". NoUserMod ones are maintained by the directory and
	// refused in add and modify requests, as slapd refuses them.
	Oper      bool
	NoUserMod bool
}

func dirStr(name string, aliases ...string) attrDef {
	return attrDef{Name: name, Aliases: aliases, Syntax: synDirString, Eq: eqCaseIgnore, Substr: true}
}

func dnAttr(name string, aliases ...string) attrDef {
	return attrDef{Name: name, Aliases: aliases, Syntax: synDN, Eq: eqDN}
}

func single(a attrDef) attrDef { a.Single = true; return a }

var attrDefs = []attrDef{
	{Name: "objectClass", Syntax: synOID, Eq: eqOID},
	dirStr("cn", "commonName"),
	dirStr("sn", "surname"),
	dirStr("givenName", "gn"),
	dirStr("uid", "userid"),
	{Name: "mail", Aliases: []string{"rfc822Mailbox"}, Syntax: synIA5, Eq: eqCaseIgnore, Substr: true},
	single(dirStr("displayName")),
	single(dirStr("employeeNumber")),
	dirStr("employeeType"),
	dirStr("departmentNumber"),
	dirStr("title"),
	dirStr("o", "organizationName"),
	dirStr("ou", "organizationalUnitName"),
	dirStr("description"),
	dirStr("initials"),
	dirStr("l", "localityName"),
	dirStr("st", "stateOrProvinceName"),
	dirStr("street", "streetAddress"),
	dirStr("postalCode"),
	dirStr("postOfficeBox"),
	dirStr("postalAddress"),
	dirStr("homePostalAddress"),
	dirStr("registeredAddress"),
	dirStr("physicalDeliveryOfficeName"),
	dirStr("businessCategory"),
	dirStr("roomNumber"),
	dirStr("carLicense"),
	single(dirStr("preferredLanguage")),
	dirStr("labeledURI"),
	dirStr("destinationIndicator"),
	dirStr("x121Address"),
	dirStr("internationaliSDNNumber"),
	dirStr("telexNumber"),
	dirStr("teletexTerminalIdentifier"),
	dirStr("preferredDeliveryMethod"),
	dirStr("searchGuide"),
	dirStr("x500UniqueIdentifier"),
	single(attrDef{Name: "dc", Aliases: []string{"domainComponent"}, Syntax: synIA5, Eq: eqCaseIgnore, Substr: true}),
	single(attrDef{Name: "c", Aliases: []string{"countryName"}, Syntax: synCountry, Eq: eqCaseIgnore, Substr: true}),
	{Name: "telephoneNumber", Syntax: synTel, Eq: eqTel, Substr: true},
	{Name: "facsimileTelephoneNumber", Aliases: []string{"fax"}, Syntax: synTel, Eq: eqTel, Substr: true},
	{Name: "mobile", Aliases: []string{"mobileTelephoneNumber"}, Syntax: synTel, Eq: eqTel, Substr: true},
	{Name: "homePhone", Aliases: []string{"homeTelephoneNumber"}, Syntax: synTel, Eq: eqTel, Substr: true},
	{Name: "pager", Aliases: []string{"pagerTelephoneNumber"}, Syntax: synTel, Eq: eqTel, Substr: true},
	dnAttr("member"),
	dnAttr("manager"),
	dnAttr("owner"),
	dnAttr("seeAlso"),
	dnAttr("secretary"),
	{Name: "userPassword", Syntax: synOctet, Eq: eqOctet},
	{Name: "jpegPhoto", Syntax: synBinary, Eq: eqOctet},
	{Name: "photo", Syntax: synBinary, Eq: eqOctet},
	{Name: "audio", Syntax: synBinary, Eq: eqOctet},
	{Name: "userCertificate", Syntax: synBinary, Eq: eqOctet},
	{Name: "userSMIMECertificate", Syntax: synBinary, Eq: eqOctet},
	{Name: "userPKCS12", Syntax: synBinary, Eq: eqOctet},

	// Operational attributes.
	{Name: "entryUUID", Syntax: synUUID, Eq: eqUUID, Ordering: true, Single: true, Oper: true, NoUserMod: true},
	{Name: "createTimestamp", Syntax: synGenTime, Eq: eqGenTime, Ordering: true, Single: true, Oper: true, NoUserMod: true},
	{Name: "modifyTimestamp", Syntax: synGenTime, Eq: eqGenTime, Ordering: true, Single: true, Oper: true, NoUserMod: true},
	{Name: "creatorsName", Syntax: synDN, Eq: eqDN, Single: true, Oper: true, NoUserMod: true},
	{Name: "modifiersName", Syntax: synDN, Eq: eqDN, Single: true, Oper: true, NoUserMod: true},
	{Name: "entryCSN", Syntax: synIA5, Eq: eqCaseExact, Ordering: true, Single: true, Oper: true, NoUserMod: true},
	{Name: "memberOf", Syntax: synDN, Eq: eqDN, Oper: true, NoUserMod: true},
	{Name: "entryDN", Syntax: synDN, Eq: eqDN, Single: true, Oper: true, NoUserMod: true},
	{Name: "structuralObjectClass", Syntax: synOID, Eq: eqOID, Single: true, Oper: true, NoUserMod: true},
	// ppolicy's lock: the administrator (and dirbridge) may set it.
	{Name: "pwdAccountLockedTime", Syntax: synGenTime, Eq: eqGenTime, Ordering: true, Single: true, Oper: true},
}

type ocKind int

const (
	ocAbstract ocKind = iota
	ocStructural
	ocAuxiliary
)

type objectClassDef struct {
	Name string
	Sup  string
	Kind ocKind
	Must []string
	May  []string
}

var orgAttrs = []string{"userPassword", "searchGuide", "seeAlso", "businessCategory", "x121Address",
	"registeredAddress", "destinationIndicator", "preferredDeliveryMethod", "telexNumber",
	"teletexTerminalIdentifier", "telephoneNumber", "internationaliSDNNumber", "facsimileTelephoneNumber",
	"street", "postOfficeBox", "postalCode", "postalAddress", "physicalDeliveryOfficeName", "st", "l", "description"}

var objectClassDefs = []objectClassDef{
	{Name: "top", Kind: ocAbstract, Must: []string{"objectClass"}},
	{Name: "person", Sup: "top", Kind: ocStructural, Must: []string{"sn", "cn"},
		May: []string{"userPassword", "telephoneNumber", "seeAlso", "description"}},
	{Name: "organizationalPerson", Sup: "person", Kind: ocStructural,
		May: []string{"title", "x121Address", "registeredAddress", "destinationIndicator", "preferredDeliveryMethod",
			"telexNumber", "teletexTerminalIdentifier", "telephoneNumber", "internationaliSDNNumber",
			"facsimileTelephoneNumber", "street", "postOfficeBox", "postalCode", "postalAddress",
			"physicalDeliveryOfficeName", "ou", "st", "l"}},
	{Name: "inetOrgPerson", Sup: "organizationalPerson", Kind: ocStructural,
		May: []string{"audio", "businessCategory", "carLicense", "departmentNumber", "displayName", "employeeNumber",
			"employeeType", "givenName", "homePhone", "homePostalAddress", "initials", "jpegPhoto", "labeledURI",
			"mail", "manager", "mobile", "o", "pager", "photo", "roomNumber", "secretary", "uid", "userCertificate",
			"x500UniqueIdentifier", "preferredLanguage", "userSMIMECertificate", "userPKCS12"}},
	{Name: "organizationalUnit", Sup: "top", Kind: ocStructural, Must: []string{"ou"}, May: orgAttrs},
	{Name: "organization", Sup: "top", Kind: ocStructural, Must: []string{"o"}, May: orgAttrs},
	{Name: "groupOfNames", Sup: "top", Kind: ocStructural, Must: []string{"member", "cn"},
		May: []string{"businessCategory", "seeAlso", "owner", "ou", "o", "description"}},
	{Name: "dcObject", Sup: "top", Kind: ocAuxiliary, Must: []string{"dc"}},
}

var (
	attrByName = map[string]*attrDef{}        // lower-case name or alias → definition
	ocByName   = map[string]*objectClassDef{} // lower-case name → definition
)

func init() {
	for i := range attrDefs {
		a := &attrDefs[i]
		attrByName[strings.ToLower(a.Name)] = a
		for _, al := range a.Aliases {
			attrByName[strings.ToLower(al)] = a
		}
	}
	for i := range objectClassDefs {
		ocByName[strings.ToLower(objectClassDefs[i].Name)] = &objectClassDefs[i]
	}
}

// lookupAttr returns the definition of an attribute type named by its name,
// an alias, or an option-free descriptor in any case.
func lookupAttr(name string) *attrDef { return attrByName[strings.ToLower(name)] }

// canonicalAttrName returns the schema's spelling of name, or name itself
// when it is not in the schema.
func canonicalAttrName(name string) string {
	if a := lookupAttr(name); a != nil {
		return a.Name
	}
	return name
}

// normValue returns the form of v that the attribute's equality rule
// compares: what index keys and filter matching use.
func normValue(attr, v string) string {
	a := lookupAttr(attr)
	if a == nil {
		return strings.ToLower(v)
	}
	return a.norm(v)
}

func (a *attrDef) norm(v string) string {
	switch a.Eq {
	case eqCaseIgnore, eqOID:
		return foldSpaces(strings.ToLower(v))
	case eqCaseExact:
		return foldSpaces(v)
	case eqUUID:
		return strings.ToLower(strings.TrimSpace(v))
	case eqTel:
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, strings.ToLower(v))
	case eqDN:
		n, err := normDN(v)
		if err != nil {
			return "\x00invalid:" + v // never equal to a valid DN's form
		}
		return n
	case eqGenTime:
		t, err := parseGeneralizedTime(v)
		if err != nil {
			return "\x00invalid:" + v
		}
		return t.UTC().Format(genTimeSortable)
	}
	return v
}

// foldSpaces applies the insignificant-space handling of RFC 4518: leading
// and trailing spaces go, inner runs become one space.
func foldSpaces(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

const (
	// genTimeLayout is how timestamps are stored: the way slapd writes
	// createTimestamp and modifyTimestamp.
	genTimeLayout = "20060102150405Z"
	// genTimeSortable is fixed-width so that normalized values sort as times.
	genTimeSortable = "20060102150405.000000000Z"
)

// parseGeneralizedTime parses the forms of RFC 4517 Generalized Time that
// clients send: YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|±hh[mm]).
func parseGeneralizedTime(s string) (time.Time, error) {
	if len(s) < 11 {
		return time.Time{}, fmt.Errorf("generalized time too short")
	}
	i := 10
	digits := func(n int) bool {
		if i+n > len(s) {
			return false
		}
		for _, c := range s[i : i+n] {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	for _, c := range s[:10] {
		if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("generalized time: bad digits")
		}
	}
	layout := "2006010215"
	if digits(2) {
		layout += "04"
		i += 2
		if digits(2) {
			layout += "05"
			i += 2
		}
	}
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 || j-i-1 > 9 {
			return time.Time{}, fmt.Errorf("generalized time: bad fraction")
		}
		layout += "." + strings.Repeat("0", j-i-1)
		if s[i] == ',' {
			s = s[:i] + "." + s[i+1:]
		}
		i = j
	}
	switch {
	case i < len(s) && s[i] == 'Z' && i == len(s)-1:
		layout += "Z07"
	case i < len(s) && (s[i] == '+' || s[i] == '-') && (len(s)-i == 3 || len(s)-i == 5):
		if len(s)-i == 3 {
			layout += "-07"
		} else {
			layout += "-0700"
		}
	default:
		return time.Time{}, fmt.Errorf("generalized time: bad zone")
	}
	return time.Parse(layout, s)
}

func formatGeneralizedTime(t time.Time) string { return t.UTC().Format(genTimeLayout) }

// lockedTime is what ppolicy stores in pwdAccountLockedTime for an account
// that an administrator locked for good; OpenLDAP's dialect disables users
// this way, and so does the embedded directory.
const lockedTime = "000001010000Z"

// checkSyntax reports whether v is a valid value of the attribute's syntax,
// the way slapd's validators would.
func (a *attrDef) checkSyntax(v string) bool {
	switch a.Syntax {
	case synBinary, synOctet:
		return true // any octets, even empty ones
	}
	if v == "" {
		return false // slapd refuses empty Directory Strings, IA5 strings, DNs ...
	}
	switch a.Syntax {
	case synDirString:
		return utf8.ValidString(v)
	case synIA5:
		for i := 0; i < len(v); i++ {
			if v[i] >= 0x80 {
				return false
			}
		}
		return true
	case synDN:
		_, err := parseDN(v)
		return err == nil
	case synTel:
		for _, r := range v {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
				strings.ContainsRune(" '()+,-./:?", r)) {
				return false
			}
		}
		return true
	case synGenTime:
		if a.Name == "pwdAccountLockedTime" && v == lockedTime {
			return true
		}
		_, err := parseGeneralizedTime(v)
		return err == nil
	case synOID:
		return validAttrType(v)
	case synUUID:
		return len(v) == 36
	case synCountry:
		return len(v) == 2
	}
	return true
}

// ocClosure returns the lower-case names of the given object classes and all
// their superclasses; unknown names are returned in the second result.
func ocClosure(classes []string) (map[string]*objectClassDef, []string) {
	out := map[string]*objectClassDef{}
	var unknown []string
	for _, c := range classes {
		oc := ocByName[strings.ToLower(c)]
		if oc == nil {
			unknown = append(unknown, c)
			continue
		}
		for oc != nil {
			out[strings.ToLower(oc.Name)] = oc
			if oc.Sup == "" {
				break
			}
			oc = ocByName[strings.ToLower(oc.Sup)]
		}
	}
	return out, unknown
}

// ocIsA reports whether class (a stored objectClass value) is want or a
// subclass of it: slapd's objectClass equality matches superclasses, so
// (objectClass=person) finds inetOrgPerson entries.
func ocIsA(class, want string) bool {
	want = strings.ToLower(strings.TrimSpace(want))
	oc := ocByName[strings.ToLower(class)]
	if oc == nil {
		return strings.EqualFold(class, want)
	}
	for oc != nil {
		if strings.ToLower(oc.Name) == want {
			return true
		}
		if oc.Sup == "" {
			return false
		}
		oc = ocByName[strings.ToLower(oc.Sup)]
	}
	return false
}
