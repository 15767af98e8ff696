package ldapside

import (
	"crypto/rand"
	"sort"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// dialect is what differs between directory servers. Everything else (pool,
// paging, error translation, password verification) is shared.
type dialect interface {
	// idAttr is the attribute that holds the immutable id.
	idAttr() string
	// validID reports whether id can be an id at all, so that a malformed
	// id costs no round trip.
	validID(id string) bool
	// idFilter renders "the entry whose id is id"; id is valid.
	idFilter(id string) string
	// virtualAttr maps a virtual attribute (bridge.Virtual*) to the
	// directory attribute behind it.
	virtualAttr(name string) (attr string, ok bool)
	// disabledFilter renders "the account is disabled".
	disabledFilter() string
	// generalizedTime renders t for a filter on a timestamp attribute.
	generalizedTime(t time.Time) string
	// sortKey returns the sort key for attr, naming an ordering rule where
	// the attribute type has none of its own.
	sortKey(attr string) *ldap.SortKey
	// operationalAttrs are read with every entry to fill the virtual fields.
	operationalAttrs() []string
	// secretAttr reports whether attr holds secrets (password hashes) that
	// an Entry never carries.
	secretAttr(attr string) bool
	// fill sets ID, Created, Modified, Version and Disabled from e.
	fill(out *bridge.Entry, e *ldap.Entry)
	// disableChange and enableChange are the modifications that disable and
	// enable an account; addDisabled is the attribute an Add carries to
	// create it disabled.
	// cur is the entry as read before the change, with the
	// operational attributes.
	disableChange(cur *ldap.Entry) ldap.Change
	enableChange(cur *ldap.Entry) ldap.Change
	addDisabled() ldap.Attribute
	// passwordReadAttrs are read before a password change so that
	// samePassword can tell whether the password is the current one.
	passwordReadAttrs() []string
	samePassword(e *ldap.Entry, password string) bool
	// passwordResetUnlocks reports whether setting a password as the
	// service account also removes the disabled state (OpenLDAP's ppolicy
	// clears pwdAccountLockedTime on a Password Modify). Then a disabled
	// account gets its password as lockedPassword's value, written in the
	// same operation as the lock, so it can never bind in between.
	passwordResetUnlocks() bool
	lockedPassword(password string) (string, error)
	// lockedPasswordChanges set the password of a disabled account and
	// keep it disabled, in one modify operation.
	lockedPasswordChanges(password string) ([]ldap.Change, error)
}

var dialects = map[string]dialect{
	"openldap": openLDAP{},
	"ad":       activeDirectory{},
}

// attrPasswords is implemented by dialects whose password is an attribute
// written with a modify operation (AD's unicodePwd) rather than a hash
// that ldapside can read back: Add creates the entry disabled, sets the
// password, then enables it (see addInSteps).
type attrPasswords interface {
	// passwordChanges set the password of the entry with the raw id.
	passwordChanges(rawID []byte, password string) []ldap.Change
	// deferredAttrs are written only after the password.
	deferredAttrs() []string
}

// valueRenderer turns binary attribute values into text for an Entry.
type valueRenderer interface {
	renderValue(attr string, raw []byte) (string, bool)
}

func dialectNames() string {
	names := make([]string, 0, len(dialects))
	for n := range dialects {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// openLDAP is the dialect of OpenLDAP with the ppolicy overlay: entryUUID is
// the id, entryCSN the version, and an account is disabled by the ppolicy
// "locked forever" value of pwdAccountLockedTime.
type openLDAP struct{}

const (
	lockedForever     = "000001010000Z"
	attrLockedTime    = "pwdAccountLockedTime"
	attrEntryUUID     = "entryUUID"
	attrEntryCSN      = "entryCSN"
	attrCreated       = "createTimestamp"
	attrModified      = "modifyTimestamp"
	generalizedLayout = "20060102150405Z"
)

func (openLDAP) idAttr() string { return attrEntryUUID }

func (openLDAP) validID(id string) bool { return isUUID(id) }

func (openLDAP) idFilter(id string) string {
	return "(" + attrEntryUUID + "=" + ldap.EscapeFilter(strings.ToLower(id)) + ")"
}

func (openLDAP) virtualAttr(name string) (string, bool) {
	switch strings.ToLower(name) {
	case bridge.VirtualID:
		return attrEntryUUID, true
	case bridge.VirtualCreated:
		return attrCreated, true
	case bridge.VirtualModified:
		return attrModified, true
	case bridge.VirtualDisabled:
		return attrLockedTime, true
	}
	return "", false
}

func (openLDAP) disabledFilter() string {
	return "(" + attrLockedTime + "=" + lockedForever + ")"
}

func (openLDAP) generalizedTime(t time.Time) string { return t.UTC().Format(generalizedLayout) }

// sortKey: OpenLDAP's sssvlv refuses a key whose attribute type has no
// ORDERING rule (uid, mail, cn...), so those get caseIgnoreOrderingMatch
// named explicitly. The operational attributes below have their own.
func (openLDAP) sortKey(attr string) *ldap.SortKey {
	switch strings.ToLower(attr) {
	case "entryuuid", "createtimestamp", "modifytimestamp", "entrycsn", "pwdaccountlockedtime":
		return &ldap.SortKey{AttributeType: attr}
	}
	return &ldap.SortKey{AttributeType: attr, MatchingRule: "caseIgnoreOrderingMatch"}
}

func (openLDAP) operationalAttrs() []string {
	return []string{attrEntryUUID, attrCreated, attrModified, attrEntryCSN, attrLockedTime}
}

func (openLDAP) secretAttr(attr string) bool {
	return strings.EqualFold(attr, attrUserPassword) || strings.EqualFold(attr, "pwdHistory")
}

func (openLDAP) fill(out *bridge.Entry, e *ldap.Entry) {
	out.ID = e.GetEqualFoldAttributeValue(attrEntryUUID)
	out.Created = parseGeneralizedTime(e.GetEqualFoldAttributeValue(attrCreated))
	out.Modified = parseGeneralizedTime(e.GetEqualFoldAttributeValue(attrModified))
	out.Version = e.GetEqualFoldAttributeValue(attrEntryCSN)
	out.Disabled = false
	for _, v := range e.GetEqualFoldAttributeValues(attrLockedTime) {
		if v == lockedForever {
			out.Disabled = true
		}
	}
}

func (openLDAP) passwordReadAttrs() []string { return []string{attrUserPassword} }

func (openLDAP) samePassword(e *ldap.Entry, password string) bool {
	return anyPasswordMatches(e.GetEqualFoldRawAttributeValues(attrUserPassword), password)
}

func (openLDAP) disableChange(*ldap.Entry) ldap.Change {
	return ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrLockedTime, Vals: []string{lockedForever}}}
}

func (openLDAP) enableChange(*ldap.Entry) ldap.Change {
	// A replace with no values removes the attribute and, unlike a delete,
	// is not an error when it is absent.
	return ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrLockedTime, Vals: []string{}}}
}

func (openLDAP) addDisabled() ldap.Attribute {
	return ldap.Attribute{Type: attrLockedTime, Vals: []string{lockedForever}}
}

func (openLDAP) passwordResetUnlocks() bool { return true }

// lockedPassword hashes as slapd's default olcPasswordHash does ({SSHA}),
// the one salted scheme every slapd verifies without extra modules.
func (openLDAP) lockedPassword(password string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return hashPassword("SSHA", password, salt), nil
}

// lockedPasswordChanges: ppolicy drops an existing lock when the password
// changes, unless the same operation deletes and adds the lock itself.
func (d openLDAP) lockedPasswordChanges(password string) ([]ldap.Change, error) {
	h, err := d.lockedPassword(password)
	if err != nil {
		return nil, err
	}
	return []ldap.Change{
		{Operation: ldap.DeleteAttribute, Modification: ldap.PartialAttribute{Type: attrLockedTime, Vals: []string{}}},
		{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrUserPassword, Vals: []string{h}}},
		{Operation: ldap.AddAttribute, Modification: ldap.PartialAttribute{Type: attrLockedTime, Vals: []string{lockedForever}}},
	}, nil
}

// parseGeneralizedTime reads the GeneralizedTime forms OpenLDAP and AD write
// (with or without fractional seconds); anything else is the zero time.
func parseGeneralizedTime(s string) time.Time {
	for _, layout := range []string{"20060102150405Z", "20060102150405.999999Z", "20060102150405.0Z", "20060102150405-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
