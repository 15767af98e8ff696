package ldapside

import (
	"crypto/rand"
	"slices"
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
	// addDisabled is the attribute an Add carries to create an account
	// disabled.
	addDisabled() ldap.Attribute
	// passwordReadAttrs are read before a password change so that
	// samePassword can tell whether the password is the current one.
	passwordReadAttrs() []string
	samePassword(e *ldap.Entry, password string) bool
	// passwordHash is the userPassword value an Add carries for password:
	// hashed here, so that no directory stores it in cleartext.
	passwordHash(password string) (string, error)
	// accountChanges are the modifications that set the password (unless
	// password is nil) and the disabled state (unless disabled is nil) of
	// cur, the entry as read with operationalAttrs and passwordReadAttrs.
	// Modify sends them in the same modify operation as the attribute
	// changes: one request, one operation, which the directory applies
	// whole or not at all. cur may be nil when password is nil.
	accountChanges(cur *ldap.Entry, password *string, disabled *bool) ([]ldap.Change, error)
}

var dialects = map[string]dialect{
	"openldap": openLDAP{},
	"ad":       activeDirectory{},
}

// attrPasswords is implemented by dialects whose password is an attribute
// that only an encrypted connection may carry and that cannot be read back
// (AD's unicodePwd): Modify and Add refuse to send it in the clear, and Add
// writes it and the account's state in the add itself (see addAccount).
type attrPasswords interface {
	// passwordAttrs are the attributes an add carries to set password.
	passwordAttrs(password string) []ldap.Attribute
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

// openLDAP is the dialect of OpenLDAP: entryUUID is the id, entryCSN the
// version. An account is disabled by the ppolicy "locked forever" value of
// pwdAccountLockedTime (the zero value), or, on a directory without the
// ppolicy overlay, by the attribute and value the users table's
// [lifecycle] names (389 DS and FreeIPA: nsAccountLock: TRUE).
type openLDAP struct {
	// lockAttr, lockValue and unlockValue are the [lifecycle] attribute
	// choice; lockAttr "" means ppolicy.
	lockAttr, lockValue, unlockValue string
}

const (
	lockedForever     = "000001010000Z"
	attrLockedTime    = "pwdAccountLockedTime"
	attrEntryUUID     = "entryUUID"
	attrEntryCSN      = "entryCSN"
	attrCreated       = "createTimestamp"
	attrModified      = "modifyTimestamp"
	generalizedLayout = "20060102150405Z"
)

// ppolicy reports whether the lock is ppolicy's, which interacts with
// password changes (see accountChanges).
func (d openLDAP) ppolicy() bool { return d.lockAttr == "" }

// lock returns the attribute and value that mark a disabled account.
func (d openLDAP) lock() (attr, value string) {
	if d.ppolicy() {
		return attrLockedTime, lockedForever
	}
	return d.lockAttr, d.lockValue
}

// locked reports whether v, a value of the lock attribute, marks the
// account disabled. ppolicy's value is a timestamp compared exactly; a
// table's value (nsAccountLock's TRUE) is text compared as its directory
// string matching rule does, without case.
func (d openLDAP) locked(v string) bool {
	_, want := d.lock()
	if d.ppolicy() {
		return v == want
	}
	return strings.EqualFold(v, want)
}

func (openLDAP) idAttr() string { return attrEntryUUID }

func (openLDAP) validID(id string) bool { return isUUID(id) }

func (openLDAP) idFilter(id string) string {
	return "(" + attrEntryUUID + "=" + ldap.EscapeFilter(strings.ToLower(id)) + ")"
}

func (d openLDAP) virtualAttr(name string) (string, bool) {
	switch strings.ToLower(name) {
	case bridge.VirtualID:
		return attrEntryUUID, true
	case bridge.VirtualCreated:
		return attrCreated, true
	case bridge.VirtualModified:
		return attrModified, true
	case bridge.VirtualDisabled:
		attr, _ := d.lock()
		return attr, true
	}
	return "", false
}

func (d openLDAP) disabledFilter() string {
	attr, v := d.lock()
	return "(" + attr + "=" + ldap.EscapeFilter(v) + ")"
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

func (d openLDAP) operationalAttrs() []string {
	attr, _ := d.lock()
	return []string{attrEntryUUID, attrCreated, attrModified, attrEntryCSN, attr}
}

func (openLDAP) secretAttr(attr string) bool {
	return strings.EqualFold(attr, attrUserPassword) || strings.EqualFold(attr, "pwdHistory")
}

func (d openLDAP) fill(out *bridge.Entry, e *ldap.Entry) {
	out.ID = e.GetEqualFoldAttributeValue(attrEntryUUID)
	out.Created = parseGeneralizedTime(e.GetEqualFoldAttributeValue(attrCreated))
	out.Modified = parseGeneralizedTime(e.GetEqualFoldAttributeValue(attrModified))
	out.Version = e.GetEqualFoldAttributeValue(attrEntryCSN)
	out.Disabled = false
	attr, _ := d.lock()
	for _, v := range e.GetEqualFoldAttributeValues(attr) {
		if d.locked(v) {
			out.Disabled = true
		}
	}
}

func (openLDAP) passwordReadAttrs() []string { return []string{attrUserPassword} }

func (openLDAP) samePassword(e *ldap.Entry, password string) bool {
	return anyPasswordMatches(e.GetEqualFoldRawAttributeValues(attrUserPassword), password)
}

func (d openLDAP) disableChange() ldap.Change {
	attr, v := d.lock()
	return ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attr, Vals: []string{v}}}
}

func (d openLDAP) enableChange() ldap.Change {
	attr, _ := d.lock()
	if d.unlockValue != "" {
		return ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attr, Vals: []string{d.unlockValue}}}
	}
	// A replace with no values removes the attribute and, unlike a delete,
	// is not an error when it is absent.
	return ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attr, Vals: []string{}}}
}

func (d openLDAP) addDisabled() ldap.Attribute {
	attr, v := d.lock()
	return ldap.Attribute{Type: attr, Vals: []string{v}}
}

// passwordHash hashes as slapd's default olcPasswordHash does ({SSHA},
// with a random salt), the one salted scheme every slapd verifies without
// extra modules. The gateway hashes because a userPassword written by a
// modify is stored as sent unless slapd runs ppolicy with
// olcPPolicyHashCleartext, which dirbridge cannot see from outside.
func (openLDAP) passwordHash(password string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	return hashPassword("SSHA", password, salt), nil
}

// accountChanges: the password is a replace of userPassword with its hash,
// so that it travels in the same modify as everything else (the Password
// Modify extended operation would be a second operation, and a failure
// between the two leaves half a request applied). ppolicy treats such a
// replace as a password change: it stamps pwdChangedTime, keeps pwdHistory
// when the policy asks for it and clears pwdFailureTime, all inside this
// operation.
//
// ppolicy also removes any pwdAccountLockedTime of an account whose
// password changes - it appends a delete of it to the modify - unless the
// modify itself deletes pwdAccountLockedTime. So with a new password a
// present lock is deleted here explicitly (a second delete would fail with
// noSuchAttribute, and a replace does not count), and the lock is added
// back in the same operation when the account is to stay or become
// disabled. Checked on slapd 2.5: a replace of the lock alone next to a
// new password leaves the account unlocked.
//
// A lock that is not ppolicy's (an attribute the table names) is untouched
// by a password change: its change is simply added to the same modify.
func (d openLDAP) accountChanges(cur *ldap.Entry, password *string, disabled *bool) ([]ldap.Change, error) {
	if password == nil || !d.ppolicy() {
		var out []ldap.Change
		if password != nil {
			h, err := d.passwordHash(*password)
			if err != nil {
				return nil, err
			}
			out = append(out, ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrUserPassword, Vals: []string{h}}})
		}
		switch {
		case disabled == nil:
		case *disabled:
			out = append(out, d.disableChange())
		default:
			out = append(out, d.enableChange())
		}
		return out, nil
	}
	h, err := d.passwordHash(*password)
	if err != nil {
		return nil, err
	}
	out := []ldap.Change{{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrUserPassword, Vals: []string{h}}}}
	var locks []string
	if cur != nil {
		locks = cur.GetEqualFoldAttributeValues(attrLockedTime)
	}
	keep := slices.Contains(locks, lockedForever)
	if disabled != nil {
		keep = *disabled
	}
	if len(locks) > 0 {
		out = append(out, ldap.Change{Operation: ldap.DeleteAttribute, Modification: ldap.PartialAttribute{Type: attrLockedTime, Vals: []string{}}})
	}
	if keep {
		out = append(out, ldap.Change{Operation: ldap.AddAttribute, Modification: ldap.PartialAttribute{Type: attrLockedTime, Vals: []string{lockedForever}}})
	}
	return out, nil
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
