package ldapside

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
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

// uacChange sets or clears bit 0x2 only: the other bits (password never
// expires, smartcard required, ...) are an administrator's and stay as they
// were read.
func uacChange(e *ldap.Entry, disabled bool) ldap.Change {
	uac := uacOf(e) &^ uacAccountDisable
	if disabled {
		uac |= uacAccountDisable
	}
	return ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attrUAC,
		Vals: []string{strconv.FormatInt(uac, 10)}}}
}

func (activeDirectory) addDisabled() ldap.Attribute {
	return ldap.Attribute{Type: attrUAC, Vals: []string{strconv.Itoa(uacNormalAccount | uacAccountDisable)}}
}

func (activeDirectory) passwordHash(string) (string, error) {
	return "", errors.New("ldapside: AD passwords are not stored as hashes by dirbridge")
}

// accountChanges: the admin reset (unicodePwd replaced, with its
// fingerprint) and the userAccountControl bit in one modify, which AD
// applies whole or not at all: checked on Samba 4.17, where the same modify
// with a password the domain refuses (0000052D) leaves every attribute,
// userAccountControl included, as it was. Windows AD documents a modify as
// atomic too.
func (d activeDirectory) accountChanges(cur *ldap.Entry, password *string, disabled *bool) ([]ldap.Change, error) {
	var out []ldap.Change
	if password != nil {
		out = append(out, d.passwordChanges(*password)...)
	}
	if disabled != nil {
		out = append(out, uacChange(cur, *disabled))
	}
	return out, nil
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
	for _, v := range e.GetEqualFoldAttributeValues(d.stateAttr) {
		var want string
		switch {
		case strings.HasPrefix(v, fpV2):
			salt, _, ok := strings.Cut(strings.TrimPrefix(v, fpV2), ":")
			raw, err := base64.RawStdEncoding.DecodeString(salt)
			if !ok || err != nil || len(raw) != fpSaltLen {
				continue
			}
			want = d.pwFingerprint(raw, password)
		case strings.HasPrefix(v, fpV1):
			// Written before the fingerprint carried its salt: salted
			// with the objectGUID.
			guid := e.GetEqualFoldRawAttributeValue(attrObjectGUID)
			if len(guid) != 16 {
				continue
			}
			want = d.pwFingerprintV1(guid, password)
		default:
			continue
		}
		if subtle.ConstantTimeCompare([]byte(v), []byte(want)) == 1 {
			return true
		}
	}
	return false
}

// passwordChanges is the admin reset: one replace of unicodePwd, and next to
// it the fingerprint, so the two never disagree.
func (d activeDirectory) passwordChanges(password string) []ldap.Change {
	var out []ldap.Change
	for _, a := range d.passwordAttrs(password) {
		out = append(out, ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: a.Type, Vals: a.Vals}})
	}
	return out
}

// passwordAttrs are unicodePwd and the fingerprint, for an add or (as
// replaces) a modify.
func (d activeDirectory) passwordAttrs(password string) []ldap.Attribute {
	out := []ldap.Attribute{{Type: attrUnicodePwd, Vals: []string{unicodePwd(password)}}}
	if d.stateAttr != "" {
		salt := make([]byte, fpSaltLen)
		if _, err := rand.Read(salt); err == nil {
			out = append(out, ldap.Attribute{Type: d.stateAttr, Vals: []string{d.pwFingerprint(salt, password)}})
		}
		// Without randomness no fingerprint: the next resend sets the
		// password again, the safe direction.
	}
	return out
}

const (
	fpV1      = "dbpw1:"
	fpV2      = "dbpw2:"
	fpSaltLen = 16
)

// pwFingerprint answers "is this the password dirbridge set last?" without
// binding as the user (a failed bind counts towards lockout) and without
// anything that could give the password back:
//
//	"dbpw2:" + base64(salt) + ":" + base64(HMAC-SHA256(key, argon2id(password, salt)))
//
// The key is derived from the service account's password, which only the
// gateway holds; argon2id makes guessing costly even for someone who holds
// that password too (such a person can reset passwords, but should not
// learn them). The salt is random per write and stored with the
// fingerprint, so the same password differs between users and between
// writes, and the fingerprint can travel in the very add that creates the
// user (the objectGUID, the salt of version 1, exists only after it).
// Limits: a password changed in AD by other means (the user at
// Ctrl-Alt-Del, an admin) is not seen, so Okta resending the password it
// last pushed still counts as unchanged; rotating the service password
// makes every fingerprint stale, so the next push of each user's password
// is written once more (harmless).
func (d activeDirectory) pwFingerprint(salt []byte, password string) string {
	return fpV2 + base64.RawStdEncoding.EncodeToString(salt) + ":" + d.mac(salt, password)
}

// pwFingerprintV1 is version 1, salted with the objectGUID: still read, no
// longer written.
func (d activeDirectory) pwFingerprintV1(guid []byte, password string) string {
	return fpV1 + d.mac(guid, password)
}

func (d activeDirectory) mac(salt []byte, password string) string {
	stretched := argon2.IDKey([]byte(password), salt, 1, 16*1024, 1, 32)
	m := hmac.New(sha256.New, d.key)
	m.Write(stretched)
	return base64.RawStdEncoding.EncodeToString(m.Sum(nil))
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

// UPNSuffixes lists the UPN suffixes an Active Directory forest accepts:
// the uPNSuffixes of CN=Partitions in its configuration naming context
// (what "Active Directory Domains and Trusts" adds) and the DNS names
// (dnsRoot) of its domains' crossRefs, in lower case. The mapping writes a
// userName that ends in one of them as the UPN (mapping.Options.UPNSuffixes).
func (c *Conn) UPNSuffixes(ctx context.Context) ([]string, error) {
	const op = "ldapside.(*Conn).UPNSuffixes"
	var out []string
	add := func(vals []string) {
		for _, v := range vals {
			v = strings.ToLower(strings.Trim(strings.TrimSpace(v), "."))
			if v != "" && !containsString(out, v) {
				out = append(out, v)
			}
		}
	}
	err := c.with(ctx, nil, func(pc *pconn) error {
		root, err := pc.l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			filterAll, []string{"configurationNamingContext"}, nil))
		if err != nil {
			return err
		}
		config := ""
		if len(root.Entries) == 1 {
			config = root.Entries[0].GetAttributeValue("configurationNamingContext")
		}
		if config == "" {
			return bridge.Errorf(op, bridge.KindInternal, "the directory's root DSE names no configurationNamingContext: is it Active Directory?")
		}
		partitions := "CN=Partitions," + config
		res, err := pc.l.Search(ldap.NewSearchRequest(partitions, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			filterAll, []string{"uPNSuffixes"}, nil))
		if err != nil {
			return err
		}
		if len(res.Entries) == 1 {
			add(res.Entries[0].GetAttributeValues("uPNSuffixes"))
		}
		// systemFlags bit 0x2 (FLAG_CR_NTDS_DOMAIN): the crossRefs of the
		// forest's domains, not of its application partitions.
		res, err = pc.l.Search(ldap.NewSearchRequest(partitions, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=crossRef)(systemFlags:"+bitAnd+":=2))", []string{"dnsRoot"}, nil))
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			add(e.GetAttributeValues("dnsRoot"))
		}
		return nil
	})
	if err != nil {
		return nil, translate(op, err)
	}
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// retiresVLVConnections reports whether a connection that made a VLV sort
// context must be closed for the server to free it. OpenLDAP's sssvlv keeps
// every context until the connection ends and counts them against a
// server-wide limit (see searchVLV). Samba does not need it: its
// vlv_pagination module keeps a fixed ring of VLV_N_SEARCHES (5) contexts
// per connection and reuses the oldest slot for a new search, so its state
// per connection is bounded by the server itself; closing the connection
// after every VLV search only cost a TLS handshake and a bind per lookup or
// page (the import and every userName lookup on AD go through VLV).
func (c *Conn) retiresVLVConnections() bool {
	_, ad := c.d.(activeDirectory)
	return !ad
}
