package ldapside

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

func TestRenderFilter(t *testing.T) {
	d := openLDAP{}
	id := "3f0e8a52-7c1d-11ee-b962-0242ac120002"
	cases := []struct {
		f    *bridge.Filter
		want string
	}{
		{nil, "(objectClass=*)"},
		{bridge.MatchAll(), "(objectClass=*)"},
		{bridge.MatchNone(), "(!(objectClass=*))"},
		{bridge.And(), "(objectClass=*)"},
		{bridge.Or(), "(!(objectClass=*))"},
		{bridge.Eq("cn", "a*b"), `(cn=a\2ab)`},
		{bridge.Eq("cn", "*)(uid=*"), `(cn=\2a\29\28uid=\2a)`},
		{bridge.Eq("cn", `back\slash`), `(cn=back\5cslash)`},
		{bridge.Eq("cn", "nul\x00"), `(cn=nul\00)`},
		{bridge.Eq("cn", "Zoë"), `(cn=Zo\c3\ab)`},
		{bridge.Eq("cn", `Doe, "J" + Co`), `(cn=Doe, "J" + Co)`},
		{bridge.Substrings("cn", "a(", []string{"*", ")"}, `\`), `(cn=a\28*\2a*\29*\5c)`},
		{bridge.Substrings("cn", "", []string{"mid"}, ""), `(cn=*mid*)`},
		{bridge.Present("mail"), "(mail=*)"},
		{bridge.GE("employeeNumber", "1)"), `(employeeNumber>=1\29)`},
		{bridge.Not(bridge.Or(bridge.Eq("uid", "a"), bridge.Eq("uid", "b"))), "(!(|(uid=a)(uid=b)))"},
		{bridge.Eq("@id", id), "(entryUUID=" + id + ")"},
		{bridge.Eq("@id", strings.ToUpper(id)), "(entryUUID=" + id + ")"},
		{bridge.Eq("@id", "x*"), "(!(objectClass=*))"},
		{bridge.Present("@id"), "(entryUUID=*)"},
		{bridge.GE("@modified", "2024-03-01T10:20:30Z"), "(modifyTimestamp>=20240301102030Z)"},
		{bridge.LE("@created", "2024-03-01T12:20:30.999+02:00"), "(createTimestamp<=20240301102030Z)"},
		{bridge.Eq("@disabled", "TRUE"), "(pwdAccountLockedTime=000001010000Z)"},
		{bridge.Eq("@disabled", "false"), "(!(pwdAccountLockedTime=000001010000Z))"},
	}
	for _, c := range cases {
		got, err := renderFilter(d, c.f)
		if err != nil || got != c.want {
			t.Errorf("renderFilter(%v) = %q, %v; want %q", c.f, got, err, c.want)
			continue
		}
		if _, err := ldap.CompileFilter(got); err != nil {
			t.Errorf("renderFilter(%v) = %q does not compile: %v", c.f, got, err)
		}
	}
	bad := []*bridge.Filter{
		bridge.Eq("cn)(uid=*", "x"),
		bridge.Eq("", "x"),
		bridge.Eq("c n", "x"),
		bridge.Eq("@nope", "x"),
		bridge.GE("@modified", "yesterday"),
		bridge.Substrings("@id", "a", nil, ""),
		bridge.Eq("@disabled", "maybe"),
		{Op: bridge.FilterNot},
		bridge.And(nil),
	}
	for _, f := range bad {
		if got, err := renderFilter(d, f); bridge.KindOf(err) != bridge.KindInvalidFilter {
			t.Errorf("renderFilter(%+v) = %q, %v; want KindInvalidFilter", f, got, err)
		}
	}
	deep := bridge.Eq("cn", "x")
	for range maxFilterDepth + 2 {
		deep = bridge.Not(deep)
	}
	if _, err := renderFilter(d, deep); bridge.KindOf(err) != bridge.KindInvalidFilter {
		t.Errorf("a filter nested too deeply: %v", err)
	}
}

func TestVLVControlRoundTrip(t *testing.T) {
	for _, r := range []vlvRequest{
		{BeforeCount: 0, AfterCount: 99, Offset: 201, ContentCount: 0},
		{BeforeCount: 3, AfterCount: 0, Offset: 1, ContentCount: 250, ContextID: []byte{1, 2, 3, 0}},
		{AfterCount: 1 << 31, Offset: 1 << 40},
	} {
		got, err := decodeVLVRequest(r.value())
		if err != nil || got.BeforeCount != r.BeforeCount || got.AfterCount != r.AfterCount || got.Offset != r.Offset ||
			got.ContentCount != r.ContentCount || !bytes.Equal(got.ContextID, r.ContextID) {
			t.Errorf("request round trip %+v -> %+v, %v", r, got, err)
		}
		// The control envelope: type, criticality, value.
		p := (&vlvRequest{Offset: 1, Critical: true}).Encode()
		if len(p.Children) != 3 || p.Children[0].Value != oidVLVRequest || p.Children[1].Value != true {
			t.Errorf("control envelope: %d children", len(p.Children))
		}
	}
	for _, r := range []vlvResponse{
		{TargetPosition: 201, ContentCount: 250, Result: 0, ContextID: []byte("ctx")},
		{TargetPosition: 0, ContentCount: 30, Result: 77},
	} {
		got, err := decodeVLVResponse(r.encode())
		if err != nil || got.TargetPosition != r.TargetPosition || got.ContentCount != r.ContentCount || got.Result != r.Result || !bytes.Equal(got.ContextID, r.ContextID) {
			t.Errorf("response round trip %+v -> %+v, %v", r, got, err)
		}
		// As a server sends it, through go-ldap's control decoder.
		ctrl := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
		ctrl.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oidVLVResponse, ""))
		ctrl.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(r.encode()), ""))
		dec, err := ldap.DecodeControl(ber.DecodePacket(ctrl.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := findVLVResponse([]ldap.Control{dec})
		if !ok || err != nil || got.ContentCount != r.ContentCount {
			t.Errorf("findVLVResponse: %+v, %v, %v", got, ok, err)
		}
	}
	for _, junk := range [][]byte{nil, {0x30}, {0x30, 0x00}, {0x04, 0x01, 'x'}, (&vlvRequest{Offset: 1}).value()} {
		if _, err := decodeVLVResponse(junk); err == nil {
			t.Errorf("decodeVLVResponse(%x) accepted junk", junk)
		}
	}
}

// TestControlsOfError checks that the VLV response is found on a failed
// search result, which go-ldap does not hand out.
func TestControlsOfError(t *testing.T) {
	msg := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Response")
	msg.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 2, "MessageID"))
	done := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultDone, nil, "Search Result Done")
	done.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 76, "resultCode"))
	done.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matchedDN"))
	done.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "diagnosticMessage"))
	msg.AppendChild(done)
	ctrls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
	ctrl := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
	ctrl.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oidVLVResponse, ""))
	ctrl.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string((&vlvResponse{ContentCount: 30, Result: 77}).encode()), ""))
	ctrls.AppendChild(ctrl)
	msg.AppendChild(ctrls)
	err := ldap.GetLDAPError(ber.DecodePacket(msg.Bytes()))
	if err == nil {
		t.Fatal("no error for result code 76")
	}
	resp, ok, derr := findVLVResponse(controlsOfError(err))
	if !ok || derr != nil || resp.ContentCount != 30 || resp.Result != 77 {
		t.Fatalf("controlsOfError: %+v, %v, %v", resp, ok, derr)
	}
	if got := controlsOfError(errors.New("plain")); got != nil {
		t.Errorf("controlsOfError(plain error) = %v", got)
	}
}

func TestPasswordMatches(t *testing.T) {
	salt := []byte("saltsalt")
	for _, scheme := range []string{"SSHA", "SSHA256", "SSHA512"} {
		h := hashPassword(scheme, "Secret-1", salt)
		if !passwordMatches(h, "Secret-1") {
			t.Errorf("%s: the right password does not match", scheme)
		}
		if passwordMatches(h, "Secret-2") || passwordMatches(h, "") {
			t.Errorf("%s: a wrong password matches", scheme)
		}
		if !passwordMatches(strings.ToLower(h[:len(scheme)+2])+h[len(scheme)+2:], "Secret-1") {
			t.Errorf("%s: the scheme is case-insensitive", scheme)
		}
	}
	// Known answers: slappasswd -h {SHA} -s secret; {SSHA} made by slapd.
	known := map[string]string{
		"{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=": "secret",
		"secret":                            "secret",
		"{CLEARTEXT}secret":                 "secret",
		"{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==":     "secret",
	}
	for stored, pw := range known {
		if !passwordMatches(stored, pw) {
			t.Errorf("%q does not match %q", stored, pw)
		}
		if passwordMatches(stored, pw+"x") {
			t.Errorf("%q matches a wrong password", stored)
		}
	}
	for _, stored := range []string{"{CRYPT}$6$abc$def", "{SSHA}!!notbase64", "{SSHA}", "{SHA}AAAA", "{ARGON2}$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", "{}secret"} {
		if passwordMatches(stored, "secret") {
			t.Errorf("%q matches: unknown or broken values must not", stored)
		}
	}
	if !anyPasswordMatches([][]byte{[]byte("{SHA}AAAA"), []byte(hashPassword("SSHA", "x", salt))}, "x") {
		t.Errorf("anyPasswordMatches misses the second value")
	}
}

// TestADFingerprint: fingerprints carry their own random salt (so they can
// travel in the add that creates the user), differ between writes of the
// same password, and the objectGUID-salted ones written before still count.
func TestADFingerprint(t *testing.T) {
	d := activeDirectory{stateAttr: DefaultADPasswordStateAttr, key: fingerprintKey("svc-secret")}
	guid := []byte("0123456789abcdef")
	entry := func(fp string) *ldap.Entry {
		return &ldap.Entry{Attributes: []*ldap.EntryAttribute{
			{Name: attrObjectGUID, Values: []string{string(guid)}, ByteValues: [][]byte{guid}},
			ldap.NewEntryAttribute(DefaultADPasswordStateAttr, []string{fp}),
		}}
	}
	attrs := d.passwordAttrs("Secret-1")
	if len(attrs) != 2 || attrs[0].Type != attrUnicodePwd || attrs[1].Type != DefaultADPasswordStateAttr {
		t.Fatalf("passwordAttrs = %v", attrs)
	}
	fp := attrs[1].Vals[0]
	if !strings.HasPrefix(fp, fpV2) || strings.Contains(fp, "Secret-1") {
		t.Fatalf("fingerprint %q", fp)
	}
	if again := d.passwordAttrs("Secret-1")[1].Vals[0]; again == fp {
		t.Errorf("two writes of one password gave the same fingerprint: the salt is not random")
	}
	if !d.samePassword(entry(fp), "Secret-1") || d.samePassword(entry(fp), "Secret-2") {
		t.Errorf("version 2 does not tell the password apart")
	}
	if (activeDirectory{stateAttr: d.stateAttr, key: fingerprintKey("rotated")}).samePassword(entry(fp), "Secret-1") {
		t.Errorf("a fingerprint matches under another key")
	}
	v1 := d.pwFingerprintV1(guid, "Secret-1")
	if !d.samePassword(entry(v1), "Secret-1") || d.samePassword(entry(v1), "Secret-2") {
		t.Errorf("version 1 (objectGUID-salted) is no longer read right")
	}
	for _, broken := range []string{"", "dbpw2:", "dbpw2:!!:x", "dbpw2:c2FsdA:" + strings.Repeat("A", 43), "dbpw9:x"} {
		if d.samePassword(entry(broken), "Secret-1") {
			t.Errorf("%q matches", broken)
		}
	}
	if (activeDirectory{}).samePassword(entry(fp), "Secret-1") {
		t.Errorf("with the fingerprint turned off a password counts as the same")
	}
}

func TestTranslate(t *testing.T) {
	const op = "ldapside.test"
	dnInDiag := "uid=secret-person,ou=people,dc=example,dc=com"
	add := &writeOp{what: "add", dn: "uid=x,ou=people,dc=example,dc=com", bindDN: "cn=svc,dc=example,dc=com"}
	move := &writeOp{what: "modify", dn: "uid=x,ou=people,dc=example,dc=com", newParent: "ou=sales,dc=example,dc=com", bindDN: "cn=svc,dc=example,dc=com"}
	modify := &writeOp{what: "modify", dn: "uid=x,ou=people,dc=example,dc=com", bindDN: "cn=svc,dc=example,dc=com"}
	cases := []struct {
		name    string
		code    uint16
		diag    string
		matched string
		w       *writeOp
		kind    bridge.Kind
		attr    string // Attr of the error
		fix     string // in Fix; "" means no Fix at all
	}{
		{"exists", ldap.LDAPResultEntryAlreadyExists, dnInDiag, "", add, bridge.KindConflict, "", ""},
		{"read of a gone entry", ldap.LDAPResultNoSuchObject, dnInDiag, "", nil, bridge.KindNotFound, "", ""},
		{"modify of a gone entry", ldap.LDAPResultNoSuchObject, dnInDiag, "", modify, bridge.KindNotFound, "", ""},
		{"delete of a gone entry", ldap.LDAPResultNoSuchObject, dnInDiag, "", &writeOp{what: "delete", dn: add.dn}, bridge.KindNotFound, "", ""},
		{"add below a missing container", ldap.LDAPResultNoSuchObject, "", "dc=example,dc=com", add, bridge.KindMisconfigured, "", "the container ou=people,dc=example,dc=com does not exist"},
		{"add whose parent is there", ldap.LDAPResultNoSuchObject, "", "ou=people,dc=example,dc=com", add, bridge.KindNotFound, "", ""},
		{"move to a missing container", ldap.LDAPResultNoSuchObject, "", "", move, bridge.KindMisconfigured, "", "the container ou=sales,dc=example,dc=com does not exist"},
		{"AD add below a missing OU", ldap.LDAPResultNoSuchObject, "0000208D: NameErr: DSID-0310028D, problem 2001 (NO_OBJECT), data 0, best match of:", "", add, bridge.KindMisconfigured, "", "create_missing_containers"},
		{"schema requires", ldap.LDAPResultObjectClassViolation, "object class 'inetOrgPerson' requires attribute 'sn'", "", add, bridge.KindMisconfigured, "sn", "require attribute sn"},
		{"schema does not allow", ldap.LDAPResultObjectClassViolation, "attribute 'pwdAccountLockedTime' not allowed", "", modify, bridge.KindMisconfigured, "pwdAccountLockedTime", "do not allow attribute pwdAccountLockedTime"},
		{"syntax", ldap.LDAPResultInvalidAttributeSyntax, "manager: value #0 invalid per syntax", "", modify, bridge.KindInvalidValue, "manager", ""},
		{"undefined", ldap.LDAPResultUndefinedAttributeType, "dispalyName: attribute type undefined", "", add, bridge.KindMisconfigured, "dispalyName", "dispalyName is not in the directory schema"},
		{"Samba: not in the schema", ldap.LDAPResultNoSuchAttribute, "objectclass_attrs: attribute 'dispalyName' on entry 'CN=x,DC=corp' was not found in the schema!", "", add, bridge.KindMisconfigured, "dispalyName", "dispalyName is not in the directory schema"},
		{"unknown sort key", ldap.LDAPResultNoSuchAttribute, "serverSort control: Unrecognized attribute type in sort key", "", nil, bridge.KindMisconfigured, "", "not in the directory schema"},
		// Samba 4's own words (TestADErrors logs them).
		{"Samba: unknown attribute", ldap.LDAPResultNoSuchAttribute, "0000200A: objectclass_attrs: attribute 'dispalyName' on entry 'CN=t,OU=people,DC=example,DC=test' was not found in the schema!", "", add, bridge.KindMisconfigured, "dispalyName", "dispalyName is not in the directory schema"},
		{"Samba: not allowed", ldap.LDAPResultObjectClassViolation, "00002014: objectclass_attrs: attribute 'member' on entry 'CN=t,OU=people,DC=example,DC=test' does not exist in the specified objectclasses!", "", add, bridge.KindMisconfigured, "member", "do not allow attribute member"},
		{"value to remove absent", ldap.LDAPResultNoSuchAttribute, "modify/delete: mail: no such value", "", modify, bridge.KindInvalidValue, "", ""},
		{"constraint", ldap.LDAPResultConstraintViolation, "attribute 'displayName' cannot have multiple values", "", modify, bridge.KindInvalidValue, "displayName", ""},
		{"AD password policy", ldap.LDAPResultConstraintViolation, "0000052D: Constraint violation - check_password_restrictions: the password is too short", "", modify, bridge.KindInvalidValue, "", ""},
		{"naming", ldap.LDAPResultNamingViolation, dnInDiag, "", add, bridge.KindMisconfigured, "", "rdn"},
		// Samba answers invalidDNSyntax for a DN-valued attribute (manager)
		// whose value is no DN: the client's, since the entry's own name is
		// well formed; a name the table made unparsable is the operator's.
		{"Samba: a value that is no DN", ldap.LDAPResultInvalidDNSyntax, "could not parse not a DN as a 1.3.6.1.4.1.1466.115.121.1.12 DN", "", modify, bridge.KindInvalidValue, "", ""},
		{"an entry name the table broke", ldap.LDAPResultInvalidDNSyntax, "invalid DN", "", &writeOp{what: "add", dn: "uid=,=x"}, bridge.KindMisconfigured, "", "rdn"},
		{"rdn", ldap.LDAPResultNotAllowedOnRDN, "value of naming attribute 'uid' is not present in entry", "", modify, bridge.KindMisconfigured, "uid", "rdn"},
		{"oc mods", ldap.LDAPResultObjectClassModsProhibited, "structural object class modification from 'a' to 'b' not allowed", "", modify, bridge.KindMisconfigured, "", "object_classes"},
		{"matching", ldap.LDAPResultInappropriateMatching, "title: no ordering rule", "", nil, bridge.KindMisconfigured, "title", "matching rule"},
		{"rights on add", ldap.LDAPResultInsufficientAccessRights, "no write access to parent", "", add, bridge.KindMisconfigured, "", "the service account cn=svc,dc=example,dc=com may not add entries in ou=people,dc=example,dc=com"},
		{"rights on read", ldap.LDAPResultInsufficientAccessRights, dnInDiag, "", nil, bridge.KindMisconfigured, "", "bind_dn"},
		{"AD access denied", ldap.LDAPResultInsufficientAccessRights, "00000005: SecErr: DSID-031A0FC4, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0", "", modify, bridge.KindMisconfigured, "", "delegate"},
		{"unwilling", ldap.LDAPResultUnwillingToPerform, dnInDiag, "", modify, bridge.KindMisconfigured, "", "unwilling"},
		{"AD unwilling", ldap.LDAPResultUnwillingToPerform, "0000001F: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0", "", modify, bridge.KindMisconfigured, "", "encrypted"},
		{"sort control", ldap.LDAPResultUnavailableCriticalExtension, "critical extension is unavailable", "", nil, bridge.KindMisconfigured, "", "sssvlv"},
		{"TLS required", ldap.LDAPResultConfidentialityRequired, "confidentiality required", "", modify, bridge.KindMisconfigured, "", "ldaps://"},
		{"referral", ldap.LDAPResultReferral, "", "", modify, bridge.KindMisconfigured, "", "writable server"},
		{"busy", ldap.LDAPResultBusy, "", "", nil, bridge.KindUnavailable, "", ""},
		{"unavailable", ldap.LDAPResultUnavailable, "", "", nil, bridge.KindUnavailable, "", ""},
		{"time limit", ldap.LDAPResultTimeLimitExceeded, "", "", nil, bridge.KindUnavailable, "", ""},
		{"admin limit", ldap.LDAPResultAdminLimitExceeded, "", "", nil, bridge.KindUnavailable, "", ""},
		{"network", ldap.ErrorNetwork, "", "", nil, bridge.KindUnavailable, "", ""},
		{"other", ldap.LDAPResultOther, dnInDiag, "", nil, bridge.KindInternal, "", ""},
		{"AD name exists", ldap.LDAPResultOther, "00002071: UpdErr: DSID-0305038D, problem 6005 (ENTRY_EXISTS), data 0", "", add, bridge.KindConflict, "", ""},
	}
	for _, c := range cases {
		le := ldap.NewError(c.code, errors.New(c.diag))
		le.(*ldap.Error).MatchedDN = c.matched
		err := translateIn(op, c.w, le)
		var be *bridge.Error
		if !errors.As(err, &be) || be.Op != op || be.Kind != c.kind {
			t.Errorf("%s: %v, want kind %v from op %s", c.name, err, c.kind, op)
			continue
		}
		msg := bridge.SafeMessage(err)
		if strings.Contains(msg, "uid=") || strings.Contains(msg, "dc=") || (c.diag != "" && strings.Contains(msg, c.diag)) {
			t.Errorf("%s: the client message %q quotes the directory", c.name, msg)
		}
		if be.Attr != c.attr {
			t.Errorf("%s: Attr %q, want %q", c.name, be.Attr, c.attr)
		}
		if be.Attr != "" && strings.Contains(msg, be.Attr) {
			t.Errorf("%s: the client message %q names the LDAP attribute (the service names the SCIM one)", c.name, msg)
		}
		if c.fix == "" && be.Fix != "" || !strings.Contains(be.Fix, c.fix) {
			t.Errorf("%s: Fix %q, want it to say %q", c.name, be.Fix, c.fix)
		}
		if (c.kind == bridge.KindMisconfigured) != (be.Fix != "") {
			t.Errorf("%s: a misconfiguration, and only one, says what to fix: %q", c.name, be.Fix)
		}
		logged := fmt.Sprint(be.Log...)
		if !strings.Contains(logged, fmt.Sprint(c.code)) || c.diag != "" && !strings.Contains(logged, c.diag) {
			t.Errorf("%s: the log fields %v lack the result code or the diagnostic", c.name, be.Log)
		}
		var got *ldap.Error
		if !errors.As(err, &got) {
			t.Errorf("%s: the cause is lost", c.name)
		}
	}
	if k := bridge.KindOf(translate(op, fmt.Errorf("wrapped: %w", errPoolClosed))); k != bridge.KindInternal {
		t.Errorf("a foreign error: %v", k)
	}
	if translate(op, nil) != nil {
		t.Errorf("translate(nil) is not nil")
	}
	inner := bridge.Errorf("inner", bridge.KindNotFound, "gone")
	if err := translate(op, inner); bridge.KindOf(err) != bridge.KindNotFound || bridge.SafeMessage(err) != "gone" {
		t.Errorf("a bridge error keeps its kind and message: %v", err)
	}
	// attrInDiag never returns something that is not an attribute name.
	for _, diag := range []string{"object class 'x' requires attribute 'a b'", "uid=x,dc=y: bad", ": x", "0000052D: Constraint violation"} {
		if a := attrInDiag(errors.New(diag)); a != "" && !bridge.ValidAttrDescription(a) || strings.HasPrefix(diag, "0000") && a != "" {
			t.Errorf("attrInDiag(%q) = %q", diag, a)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	good := Config{URLs: []string{"ldap://127.0.0.1:389"}, BindDN: "cn=admin,dc=example,dc=com", BindPassword: "pw", BaseDN: "dc=example,dc=com"}
	if _, err := Open(good, nil); err != nil {
		t.Fatalf("Open(good): %v", err)
	}
	bad := good
	bad.URLs = []string{"http://x", "ldaps://"}
	bad.BindPassword = ""
	bad.BaseDN = "not a dn"
	bad.Dialect = "novell"
	bad.PoolSize = -1
	_, err := Open(bad, nil)
	if bridge.KindOf(err) != bridge.KindInvalidValue {
		t.Fatalf("Open(bad): %v", err)
	}
	for _, want := range []string{"urls[0]", "urls[1]", "bind_password", "base_dn", "dialect", "pool_size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(bad) does not report %s: %v", want, err)
		}
	}
	if s := fmt.Sprint(Config{BindPassword: "hunter2"}); strings.Contains(s, "hunter2") {
		t.Errorf("Config.String shows the password: %s", s)
	}
}

func FuzzRenderFilter(f *testing.F) {
	f.Add("cn", "a*b", "x(", ")y", uint8(0))
	f.Add("@id", "3f0e8a52-7c1d-11ee-b962-0242ac120002", "", "", uint8(1))
	f.Add("@modified", "2024-01-02T03:04:05Z", "\x00", "\\", uint8(2))
	f.Fuzz(func(t *testing.T, attr, v1, v2, v3 string, shape uint8) {
		var leaf *bridge.Filter
		switch shape % 6 {
		case 0:
			leaf = bridge.Eq(attr, v1)
		case 1:
			leaf = bridge.Substrings(attr, v1, []string{v2}, v3)
		case 2:
			leaf = bridge.GE(attr, v1)
		case 3:
			leaf = bridge.Present(attr)
		case 4:
			leaf = bridge.Not(bridge.LE(attr, v2))
		default:
			leaf = &bridge.Filter{Op: bridge.FilterApprox, Attr: attr, Value: v3}
		}
		f := bridge.And(leaf, bridge.Or(bridge.Eq("uid", v2), bridge.Present("cn")))
		s, err := renderFilter(openLDAP{}, f)
		if err != nil {
			if bridge.KindOf(err) != bridge.KindInvalidFilter {
				t.Fatalf("renderFilter: %v, want KindInvalidFilter", err)
			}
			return
		}
		// Whatever the values, the structure is ours: it compiles, and
		// the top level has exactly our two operands.
		p, err := ldap.CompileFilter(s)
		if err != nil {
			t.Fatalf("%q does not compile: %v", s, err)
		}
		if len(p.Children) != 2 {
			t.Fatalf("%q has %d top-level operands, want 2", s, len(p.Children))
		}
		back, err := ldap.DecompileFilter(p)
		if err != nil || !strings.EqualFold(back, s) && !strings.Contains(s, `\`) {
			t.Fatalf("round trip %q -> %q, %v", s, back, err)
		}
	})
}

func FuzzDecodeVLVResponse(f *testing.F) {
	f.Add((&vlvResponse{TargetPosition: 1, ContentCount: 30, ContextID: []byte("c")}).encode())
	f.Add((&vlvRequest{Offset: 5, AfterCount: 9}).value())
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeVLVResponse(b)
		if err != nil {
			return
		}
		again, err := decodeVLVResponse(r.encode())
		if err != nil || again.TargetPosition != r.TargetPosition || again.ContentCount != r.ContentCount || again.Result != r.Result || !bytes.Equal(again.ContextID, r.ContextID) {
			t.Fatalf("re-encoding %+v gives %+v, %v", r, again, err)
		}
	})
}

func TestParentOf(t *testing.T) {
	for dn, want := range map[string]string{
		"CN=Smith\\, Jo,OU=People,DC=corp": "OU=People,DC=corp",
		"uid=x,ou=people,dc=example":       "ou=people,dc=example",
		"dc=example":                       "",
		"not a dn":                         "",
	} {
		if got := parentOf(dn); got != want {
			t.Errorf("parentOf(%q) = %q, want %q", dn, got, want)
		}
	}
}
