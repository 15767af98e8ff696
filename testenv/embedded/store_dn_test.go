package embedded

import (
	"testing"
)

func TestParseDN(t *testing.T) {
	for _, tc := range []struct {
		in, str, norm string
	}{
		{"dc=example,dc=com", "dc=example,dc=com", "dc=example,dc=com"},
		{"UID=JDoe , OU=People;DC=Example, DC=com", "uid=JDoe,ou=People,dc=Example,dc=com", "uid=jdoe,ou=people,dc=example,dc=com"},
		{`cn=Doe\, John,dc=x`, `cn=Doe\, John,dc=x`, `cn=doe\, john,dc=x`},
		{`cn=a\+b+sn=c,dc=x`, `cn=a\+b+sn=c,dc=x`, `cn=a\+b+sn=c,dc=x`},
		{`sn=c+cn=B,dc=x`, `sn=c+cn=B,dc=x`, `cn=b+sn=c,dc=x`},             // AVAs of an RDN in a fixed order
		{`cn=\"quoted\",dc=x`, `cn=\"quoted\",dc=x`, `cn=\"quoted\",dc=x`}, // escaped quotes
		{`cn="a, b",dc=x`, `cn=a\, b,dc=x`, `cn=a\, b,dc=x`},               // RFC 2253 quoting
		{`cn=Zo\C3\AB,dc=x`, `cn=Zoë,dc=x`, `cn=zoë,dc=x`},                 // hex UTF-8
		{`cn=Zoë,dc=x`, `cn=Zoë,dc=x`, `cn=zoë,dc=x`},                      // raw UTF-8
		{`cn=#04024869,dc=x`, `cn=Hi,dc=x`, `cn=hi,dc=x`},                  // BER hex value
		{`cn=\#hash,dc=x`, `cn=\#hash,dc=x`, `cn=\#hash,dc=x`},             // leading #
		{`cn=\ lead  and  trail\ ,dc=x`, `cn=\ lead  and  trail\ ,dc=x`, `cn=lead and trail,dc=x`},
		{`cn=trailing   ,dc=x`, `cn=trailing,dc=x`, `cn=trailing,dc=x`}, // unescaped trailing spaces go
		{`commonName=x,DC=y`, `cn=x,dc=y`, `cn=x,dc=y`},                 // aliases
		{`2.5.4.3=x,dc=y`, `2.5.4.3=x,dc=y`, `2.5.4.3=x,dc=y`},          // numeric OIDs are kept
		{`member=cn\=a\,dc\=x,dc=y`, `member=cn=a\,dc=x,dc=y`, `member=cn=a\,dc=x,dc=y`},
		{`cn=a=b,dc=y`, `cn=a=b,dc=y`, `cn=a=b,dc=y`}, // RFC 4514 allows a bare '=' in a value
		{"", "", ""},
	} {
		d, err := parseDN(tc.in)
		if err != nil {
			t.Errorf("parseDN(%q): %v", tc.in, err)
			continue
		}
		if d.String() != tc.str {
			t.Errorf("parseDN(%q).String() = %q, want %q", tc.in, d.String(), tc.str)
		}
		if d.norm() != tc.norm {
			t.Errorf("parseDN(%q).norm() = %q, want %q", tc.in, d.norm(), tc.norm)
		}
		// The string form parses back to the same DN.
		again, err := parseDN(d.String())
		if err != nil || again.norm() != d.norm() {
			t.Errorf("round trip of %q: %q, %v", tc.in, d.String(), err)
		}
	}
	for _, bad := range []string{
		"cn", "cn=", "=x", "cn=a,", ",cn=a", "cn=a,,dc=b", `cn=a\`, `cn=a\zz`, `cn=a"b`, "c n=x",
		"1cn=x", "cn=a,dc=b,", `cn=\ff\fe`, "cn=,dc=x", `cn=#zz`, `cn=#04`, `cn="open`, "cn=a<b", "cn=x+",
	} {
		if d, err := parseDN(bad); err == nil {
			t.Errorf("parseDN(%q) = %q, want an error", bad, d.String())
		}
	}
}

func TestDNUnder(t *testing.T) {
	d, _ := parseDN(`uid=a\,ou=people,ou=x,dc=example,dc=com`)
	base, _ := parseDN("OU=X,dc=Example,dc=com")
	if !d.under(base) {
		t.Fatal("not under")
	}
	if !ndnUnder(d.norm(), base.norm()) {
		t.Fatal("ndnUnder")
	}
	// A value that ends like the base must not look like it is below it.
	tricky, _ := parseDN(`uid=a\,ou\=x\,dc\=example\,dc\=com,dc=org`)
	if ndnUnder(tricky.norm(), base.norm()) || tricky.under(base) {
		t.Fatal("escaped commas fooled the suffix test")
	}
}

// FuzzParseDN: parsing never panics, and what parses round-trips through
// its string form to the same normalized DN.
func FuzzParseDN(f *testing.F) {
	for _, s := range []string{"dc=example,dc=com", `cn=a\,b+sn=c;dc=x`, `cn="q, r"`, `cn=#04024869`, `cn=\c3\a9`, `cn= x `, "2.5.4.3=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDN(s)
		if err != nil {
			return
		}
		again, err := parseDN(d.String())
		if err != nil {
			t.Fatalf("%q parsed, its string form %q did not: %v", s, d.String(), err)
		}
		if again.norm() != d.norm() {
			t.Fatalf("%q: norm %q, after round trip %q", s, d.norm(), again.norm())
		}
	})
}
