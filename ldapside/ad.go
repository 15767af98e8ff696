package ldapside

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
	"golang.org/x/crypto/argon2"
)

// activeDirectory is the dialect of Microsoft Active Directory and Samba AD
// DC: objectGUID is the id (binary, shown in Microsoft's string form),
// uSNChanged the version, whenCreated/whenChanged the timestamps, and an
// account is disabled by bit 0x2 (ACCOUNTDISABLE) of userAccountControl.
//
// Passwords are written as unicodePwd (the quoted password in UTF-16LE),
// which AD accepts only over an encrypted connection; Samba also accepts it
// in the clear, so ldapside refuses that itself. unicodePwd cannot be read,
// so "is this the password we already set?" is answered by a fingerprint
// that dirbridge keeps next to it, see pwFingerprint.
type activeDirectory struct {
	// stateAttr holds the fingerprint of the last password dirbridge set;
	// "" turns same-password detection off (every password sent is set).
	stateAttr string
	// key is the secret the fingerprint is keyed with.
	key []byte
}

const (
	attrObjectGUID  = "objectGUID"
	attrObjectSid   = "objectSid"
	attrUAC         = "userAccountControl"
	attrWhenCreated = "whenCreated"
	attrWhenChanged = "whenChanged"
	attrUSNChanged  = "uSNChanged"
	attrUnicodePwd  = "unicodePwd"
	attrPwdLastSet  = "pwdLastSet"

	uacAccountDisable = 0x2
	uacNormalAccount  = 0x200

	// DefaultADPasswordStateAttr is where the AD dialect keeps the password
	// fingerprint unless configured otherwise: one of the twenty
	// single-valued attributes that the 2012 schema (and Samba's) reserve
	// for extensions and that nothing in AD itself writes.
	DefaultADPasswordStateAttr = "msDS-cloudExtensionAttribute20"

	adGeneralizedLayout = "20060102150405.0Z"
	// bitAnd is LDAP_MATCHING_RULE_BIT_AND.
	bitAnd = "1.2.840.113556.1.4.803"
)

// adSecretAttrs are never returned and never written as attributes.
var adSecretAttrs = []string{attrUnicodePwd, attrUserPassword, "dBCSPwd", "ntPwdHistory", "lmPwdHistory",
	"supplementalCredentials", "msDS-KeyVersionNumber"}

func (activeDirectory) idAttr() string { return attrObjectGUID }

func (activeDirectory) validID(id string) bool { return isUUID(id) }

// idFilter matches the binary objectGUID, every byte escaped: AD compares
// octet strings byte by byte.
func (activeDirectory) idFilter(id string) string {
	b, err := guidBytes(id)
	if err != nil {
		return filterNone
	}
	var s strings.Builder
	s.WriteString("(" + attrObjectGUID + "=")
	for _, x := range b {
		fmt.Fprintf(&s, `\%02x`, x)
	}
	s.WriteString(")")
	return s.String()
}

func (activeDirectory) virtualAttr(name string) (string, bool) {
	switch strings.ToLower(name) {
	case bridge.VirtualID:
		return attrObjectGUID, true
	case bridge.VirtualCreated:
		return attrWhenCreated, true
	case bridge.VirtualModified:
		return attrWhenChanged, true
	case bridge.VirtualDisabled:
		return attrUAC, true
	}
	return "", false
}

func (activeDirectory) disabledFilter() string {
	return "(" + attrUAC + ":" + bitAnd + ":=" + strconv.Itoa(uacAccountDisable) + ")"
}

func (activeDirectory) generalizedTime(t time.Time) string {
	return t.UTC().Format(adGeneralizedLayout)
}

// oneSortKey: AD and Samba sort by a single key.
func (activeDirectory) oneSortKey() {}

// sortKey: AD orders every syntax it can sort by itself.
func (activeDirectory) sortKey(attr string) *ldap.SortKey { return &ldap.SortKey{AttributeType: attr} }

func (activeDirectory) operationalAttrs() []string {
	return []string{attrObjectGUID, attrWhenCreated, attrWhenChanged, attrUSNChanged, attrUAC}
}

func (d activeDirectory) secretAttr(attr string) bool {
	if d.stateAttr != "" && strings.EqualFold(attr, d.stateAttr) {
		return true
	}
	for _, s := range adSecretAttrs {
		if strings.EqualFold(attr, s) {
			return true
		}
	}
	return false
}

func (activeDirectory) fill(out *bridge.Entry, e *ldap.Entry) {
	out.ID = ""
	if raw := e.GetEqualFoldRawAttributeValue(attrObjectGUID); len(raw) == 16 {
		out.ID = guidString(raw)
	}
	out.Created = parseGeneralizedTime(e.GetEqualFoldAttributeValue(attrWhenCreated))
	out.Modified = parseGeneralizedTime(e.GetEqualFoldAttributeValue(attrWhenChanged))
	out.Version = e.GetEqualFoldAttributeValue(attrUSNChanged)
	uac, _ := strconv.ParseInt(e.GetEqualFoldAttributeValue(attrUAC), 10, 64)
	out.Disabled = uac&uacAccountDisable != 0
}

// renderValue turns AD's binary ids into the strings people know:
// objectGUID in Microsoft's form, objectSid as S-1-5-21-….
func (activeDirectory) renderValue(attr string, raw []byte) (string, bool) {
	switch {
	case strings.EqualFold(attr, attrObjectGUID) && len(raw) == 16:
		return guidString(raw), true
	case strings.EqualFold(attr, attrObjectSid):
		if s, ok := sidString(raw); ok {
			return s, true
		}
	}
	return "", false
}

// uacOf reads userAccountControl; an entry without one is a normal account.
func uacOf(e *ldap.Entry) int64 {
	if e == nil {
		return uacNormalAccount
	}
	v, err := strconv.ParseInt(e.GetEqualFoldAttributeValue(attrUAC), 10, 64)
	if err != nil {
		return uacNormalAccount
	}
	return v
}

// disableChange and enableChange set or clear bit 0x2 only: the other bits
// (password never expires, smartcard required, ...) are an administrator's
// and stay as they were read.
func (activeDirectory) disableChange(e *ldap.Entry) ldap.Change {
	return ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrUAC,
		Vals: []string{strconv.FormatInt(uacOf(e)|uacAccountDisable, 10)}}}
}

func (activeDirectory) enableChange(e *ldap.Entry) ldap.Change {
	return ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrUAC,
		Vals: []string{strconv.FormatInt(uacOf(e)&^uacAccountDisable, 10)}}}
}

func (activeDirectory) addDisabled() ldap.Attribute {
	return ldap.Attribute{Type: attrUAC, Vals: []string{strconv.Itoa(uacNormalAccount | uacAccountDisable)}}
}

// A unicodePwd reset leaves userAccountControl alone.
func (activeDirectory) passwordResetUnlocks() bool { return false }

func (activeDirectory) lockedPassword(string) (string, error) {
	return "", errors.New("ldapside: AD passwords are not stored as hashes by dirbridge")
}

func (activeDirectory) lockedPasswordChanges(string) ([]ldap.Change, error) {
	return nil, errors.New("ldapside: AD passwords are not stored as hashes by dirbridge")
}

func (d activeDirectory) passwordReadAttrs() []string {
	if d.stateAttr == "" {
		return nil
	}
	return []string{d.stateAttr}
}

// samePassword compares the fingerprint stored with the entry with the
// fingerprint of password. No fingerprint (set by someone else, or before
// dirbridge) means "different": the password is set, the safe direction.
func (d activeDirectory) samePassword(e *ldap.Entry, password string) bool {
	if d.stateAttr == "" {
		return false
	}
	guid := e.GetEqualFoldRawAttributeValue(attrObjectGUID)
	if len(guid) != 16 {
		return false
	}
	want := d.pwFingerprint(guid, password)
	for _, v := range e.GetEqualFoldAttributeValues(d.stateAttr) {
		if subtle.ConstantTimeCompare([]byte(v), []byte(want)) == 1 {
			return true
		}
	}
	return false
}

// passwordChanges is the admin reset: one replace of unicodePwd, and in the
// same operation the fingerprint, so the two never disagree.
func (d activeDirectory) passwordChanges(guid []byte, password string) []ldap.Change {
	ch := []ldap.Change{{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrUnicodePwd, Vals: []string{unicodePwd(password)}}}}
	if d.stateAttr != "" && len(guid) == 16 {
		ch = append(ch, ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: d.stateAttr, Vals: []string{d.pwFingerprint(guid, password)}}})
	}
	return ch
}

// deferredAttrs are attributes an Add must write after the password:
// setting a password stamps pwdLastSet with the current time, so "must
// change at next logon" (pwdLastSet = 0) only holds when written after it.
func (activeDirectory) deferredAttrs() []string { return []string{attrPwdLastSet} }

// pwFingerprint answers "is this the password dirbridge set last?" without
// binding as the user (a failed bind counts towards lockout) and without
// anything that could give the password back:
//
//	"dbpw1:" + base64(HMAC-SHA256(key, argon2id(password, salt = objectGUID)))
//
// The key is derived from the service account's password, which only the
// gateway holds; argon2id makes guessing costly even for someone who holds
// that password too (such a person can reset passwords, but should not
// learn them). The objectGUID as salt makes the same password differ
// between users. Limits: a password changed in AD by other means (the user
// at Ctrl-Alt-Del, an admin) is not seen, so Okta resending the password it
// last pushed still counts as unchanged; rotating the service password makes
// every fingerprint stale, so the next push of each user's password is
// written once more (harmless).
func (d activeDirectory) pwFingerprint(guid []byte, password string) string {
	stretched := argon2.IDKey([]byte(password), guid, 1, 16*1024, 1, 32)
	m := hmac.New(sha256.New, d.key)
	m.Write(stretched)
	return "dbpw1:" + base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// fingerprintKey derives the fingerprint key from the service password.
func fingerprintKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte("dirbridge AD password fingerprint v1"))
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// unicodePwd encodes a password as AD wants it: in double quotes, UTF-16LE.
func unicodePwd(password string) string {
	u := utf16.Encode([]rune(`"` + password + `"`))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return string(b)
}

// guidString renders a 16-byte GUID in Microsoft's string form: the first
// three groups little-endian, the last two as stored.
func guidString(b []byte) string {
	return fmt.Sprintf("%08x-%04x-%04x-%s-%s",
		binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]),
		hex.EncodeToString(b[8:10]), hex.EncodeToString(b[10:16]))
}

// guidBytes is the inverse of guidString.
func guidBytes(s string) ([]byte, error) {
	if !isUUID(s) {
		return nil, errors.New("not a GUID")
	}
	h, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 16)
	binary.LittleEndian.PutUint32(out[0:4], binary.BigEndian.Uint32(h[0:4]))
	binary.LittleEndian.PutUint16(out[4:6], binary.BigEndian.Uint16(h[4:6]))
	binary.LittleEndian.PutUint16(out[6:8], binary.BigEndian.Uint16(h[6:8]))
	copy(out[8:], h[8:])
	return out, nil
}

// sidString renders a binary SID (MS-DTYP 2.4.2.2) as S-R-I-S-S-….
func sidString(b []byte) (string, bool) {
	if len(b) < 8 || b[0] != 1 {
		return "", false
	}
	n := int(b[1])
	if len(b) != 8+4*n {
		return "", false
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	s := fmt.Sprintf("S-%d-%d", b[0], auth)
	for i := 0; i < n; i++ {
		s += "-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return s, true
}
