package ldapside

import (
	"strings"
	"testing"
)

// Descriptions as OpenLDAP and AD (Samba) publish them.
var (
	testAttrs = []string{
		"( 2.5.4.0 NAME 'objectClass' DESC 'RFC4512: object classes of the entity' EQUALITY objectIdentifierMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.38 )",
		"( 2.5.4.41 NAME 'name' DESC 'RFC4519: common supertype of name attributes' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
		"( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s) for which the entity is known by' SUP name )",
		"( 2.5.4.4 NAME ( 'sn' 'surname' ) SUP name )",
		"( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
		"( 2.16.840.1.113730.3.1.241 NAME 'displayName' DESC 'RFC2798: preferred name to be used when displaying entries' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )",
		"( 2.5.4.31 NAME 'member' SUP distinguishedName )",
		"( 2.5.4.12 NAME 'title' SUP name )",
		"( 2.5.4.49 NAME 'distinguishedName' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
		"( 1.3.6.1.1.16.4 NAME 'entryUUID' DESC 'UUID of the entry' EQUALITY UUIDMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
		"( 1.2.840.113556.1.4.8 NAME 'userAccountControl' SYNTAX '1.3.6.1.4.1.1466.115.121.1.27' SINGLE-VALUE )",
		"( 0.9.2342.19200300.100.1.3 NAME 'mail' SYNTAX '1.3.6.1.4.1.1466.115.121.1.26' )",
		`( 1.1.1 NAME 'quoted' DESC 'it\27s a \5C test' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 X-ORIGIN ( 'a' 'b' ) )`,
	}
	testClasses = []string{
		"( 2.5.6.0 NAME 'top' DESC 'top of the superclass chain' ABSTRACT MUST objectClass )",
		"( 2.5.6.6 NAME 'person' DESC 'RFC2256: a person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber ) )",
		"( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL MAY ( title $ ou ) )",
		"( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL MAY ( uid $ displayName $ mail ) )",
		"( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL MAY ( userAccountControl ) )",
		"( 1.2.840.113556.1.3.46 NAME 'mailRecipient' SUP top AUXILIARY MAY ( mail ) )",
		"( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST ( member $ cn ) )",
	}
	testRules = []string{
		"( 1.2.840.113556.1.5.9 NAME 'user' AUX ( mailRecipient ) )",
	}
)

func TestParseSchema(t *testing.T) {
	s, errs := ParseSchema(testAttrs, testClasses, testRules)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	// Names and aliases, any case; OIDs.
	for _, n := range []string{"cn", "CommonName", "2.5.4.3", " CN "} {
		if a := s.Attribute(n); a == nil || a.OID != "2.5.4.3" {
			t.Errorf("Attribute(%q) = %+v", n, a)
		}
	}
	if s.Attribute("dispalyName") != nil {
		t.Error("a typo is found")
	}
	// Syntax through SUP, length bounds and AD's quotes dropped.
	if got := s.SyntaxOf(s.Attribute("cn")); got != "1.3.6.1.4.1.1466.115.121.1.15" {
		t.Errorf("cn syntax %q", got)
	}
	if got := s.SyntaxOf(s.Attribute("userAccountControl")); got != "1.3.6.1.4.1.1466.115.121.1.27" {
		t.Errorf("uac syntax %q", got)
	}
	if a := s.Attribute("entryUUID"); !a.NoUserModification || !a.Operational() || !a.SingleValue {
		t.Errorf("entryUUID flags %+v", a)
	}
	if a := s.Attribute("quoted"); a == nil || a.Name() != "quoted" {
		t.Errorf("quoted: %+v", a)
	}
	// MUST/MAY through SUP chains.
	al := s.Allowed([]string{"top", "person", "organizationalPerson", "inetOrgPerson"})
	for _, n := range []string{"uid", "displayName", "sn", "cn", "title", "objectClass"} {
		if !al.Permits(s, s.Attribute(n)) {
			t.Errorf("inetOrgPerson does not allow %s", n)
		}
	}
	if !al.Must[strings.ToLower(s.Attribute("sn").OID)] || al.Must[strings.ToLower(s.Attribute("uid").OID)] {
		t.Errorf("MUST %v", al.Must)
	}
	if al.Permits(s, s.Attribute("userAccountControl")) {
		t.Error("inetOrgPerson allows userAccountControl")
	}
	if !al.Permits(s, s.Attribute("entryUUID")) {
		t.Error("an operational attribute is not allowed")
	}
	// AD: the content rule's auxiliary classes count.
	ad := s.Allowed([]string{"top", "person", "organizationalPerson", "user"})
	if !ad.Permits(s, s.Attribute("mail")) || !ad.Permits(s, s.Attribute("userAccountControl")) {
		t.Error("user does not allow mail (mailRecipient) or userAccountControl")
	}
	if u := s.Allowed([]string{"inetOrgPersn"}).Unknown; len(u) != 1 {
		t.Errorf("unknown classes %v", u)
	}
}

func TestParseSchemaRejects(t *testing.T) {
	for _, bad := range []string{
		"",
		"2.5.4.3 NAME 'cn'",
		"( 2.5.4.3 NAME 'cn' ",
		"( 2.5.4.3 NAME 'cn )",
		"( 2.5.4.3 NAME ( 'cn' 'commonName' )",
		"( 2.5.4.3 NAME ( 'cn' ( 'x' ) ) )",
		"( )",
		"( ( ) )",
	} {
		if _, err := parseDescription(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	// One bad description does not lose the rest.
	s, errs := ParseSchema(append([]string{"( broken"}, testAttrs...), testClasses, nil)
	if len(errs) != 1 || s.Attribute("cn") == nil {
		t.Errorf("errs %v", errs)
	}
}

func FuzzParseSchema(f *testing.F) {
	for _, s := range append(append(testAttrs, testClasses...), testRules...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, errs := ParseSchema([]string{in}, []string{in}, []string{in})
		if len(errs) > 0 {
			return
		}
		// Whatever parsed is found by every name it has, in any case.
		d, err := parseDescription(in)
		if err != nil {
			t.Fatalf("ParseSchema took %q, parseDescription refuses it: %v", in, err)
		}
		for _, n := range append([]string{d.oid}, d.list("NAME")...) {
			if s.Attribute(strings.ToUpper(n)) == nil || s.Class(strings.ToLower(n)) == nil {
				t.Fatalf("%q: %q not found", in, n)
			}
		}
		_ = s.Allowed(append(d.list("SUP"), d.oid))
		_ = s.SyntaxOf(s.Attribute(d.oid))
	})
}
