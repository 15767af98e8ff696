package embedded

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/bridge"
)

func TestCheckEntry(t *testing.T) {
	d, _ := parseDN("uid=j,ou=people,dc=example,dc=com")
	base := func() map[string][]string {
		return map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"j"}, "cn": {"J"}, "sn": {"S"}}
	}
	if err := checkEntry("t", d, base()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(map[string][]string)
		code   uint16
		attr   string
	}{
		{"no sn", func(a map[string][]string) { delete(a, "sn") }, ldap.LDAPResultObjectClassViolation, "sn"},
		{"no objectClass", func(a map[string][]string) { delete(a, "objectClass") }, ldap.LDAPResultObjectClassViolation, "objectClass"},
		{"unknown class", func(a map[string][]string) { a["objectClass"] = append(a["objectClass"], "fooClass") }, ldap.LDAPResultObjectClassViolation, "fooClass"},
		{"only auxiliary", func(a map[string][]string) { a["objectClass"] = []string{"dcObject"}; a["dc"] = []string{"x"} }, ldap.LDAPResultObjectClassViolation, "objectClass"},
		{"two chains", func(a map[string][]string) {
			a["objectClass"] = append(a["objectClass"], "organizationalUnit")
			a["ou"] = []string{"x"}
		}, ldap.LDAPResultObjectClassViolation, "objectClass"},
		{"not allowed", func(a map[string][]string) { a["member"] = []string{"cn=x"} }, ldap.LDAPResultObjectClassViolation, "member"},
		{"single valued", func(a map[string][]string) { a["displayName"] = []string{"a", "b"} }, ldap.LDAPResultConstraintViolation, "displayName"},
		{"naming value", func(a map[string][]string) { a["uid"] = []string{"other"} }, ldap.LDAPResultNamingViolation, "uid"},
	} {
		a := base()
		tc.change(a)
		err := checkEntry("t", d, a)
		var rc resultCode
		// What only the mapping table can get wrong is the operator's; a
		// value's constraint is the client's.
		kind := bridge.KindMisconfigured
		if tc.code == ldap.LDAPResultConstraintViolation {
			kind = bridge.KindInvalidValue
		}
		if err == nil || bridge.KindOf(err) != kind || !errorsAs(err, &rc) || uint16(rc) != tc.code ||
			!strings.Contains(bridge.SafeMessage(err), tc.attr) {
			t.Errorf("%s: %v (code %d), want code %d naming %s", tc.name, err, rc, tc.code, tc.attr)
		}
	}
}

func TestSyntaxAndMatching(t *testing.T) {
	for _, tc := range []struct {
		attr, v string
		ok      bool
	}{
		{"cn", "x", true}, {"cn", "", false}, {"mail", "a@b.c", true}, {"mail", "ä@b.c", false},
		{"member", "cn=a,dc=b", true}, {"member", "nonsense", false}, {"telephoneNumber", "+1 (555) 0100", true},
		{"telephoneNumber", "555#1", false}, {"pwdAccountLockedTime", lockedTime, true},
		{"pwdAccountLockedTime", "20240101000000Z", true}, {"pwdAccountLockedTime", "soon", false},
		{"userPassword", "", true}, {"c", "DE", true}, {"c", "DEU", false},
	} {
		if got := lookupAttr(tc.attr).checkSyntax(tc.v); got != tc.ok {
			t.Errorf("%s %q: %v", tc.attr, tc.v, got)
		}
	}
	for _, tc := range []struct{ attr, a, b string }{
		{"cn", " John  DOE ", "john doe"}, {"member", "CN=A, DC=B", "cn=a,dc=b"},
		{"telephoneNumber", "+1 555-0100", "+15550100"}, {"entryUUID", "ABC", "abc"},
		{"createTimestamp", "20240102030405Z", "20240102040405+0100"},
	} {
		if normValue(tc.attr, tc.a) != normValue(tc.attr, tc.b) {
			t.Errorf("%s: %q != %q", tc.attr, tc.a, tc.b)
		}
	}
	if !ocIsA("inetOrgPerson", "PERSON") || ocIsA("person", "inetOrgPerson") {
		t.Error("objectClass matching")
	}
	if canonicalAttrName("SURNAME") != "sn" || canonicalAttrName("xyz") != "xyz" {
		t.Error("aliases")
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
