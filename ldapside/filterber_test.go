package ldapside

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// checkAppendFilter: what appendFilter writes is what CompileFilter
// encodes, and it writes every filter CompileFilter takes that is not an
// extensible match (no ':' anywhere, to stay on the safe side).
func checkAppendFilter(t *testing.T, s string) {
	t.Helper()
	e := berBuf{b: []byte{0x30, 0x00}}
	ok := appendFilter(&e, s)
	p, err := ldap.CompileFilter(s)
	switch {
	case ok && err != nil:
		t.Fatalf("%q: appendFilter wrote % x, CompileFilter refuses it: %v", s, e.b[2:], err)
	case ok && !bytes.Equal(e.b[2:], p.Bytes()):
		t.Fatalf("%q:\nappendFilter  % x\nCompileFilter % x", s, e.b[2:], p.Bytes())
	case !ok && len(e.b) != 2:
		t.Fatalf("%q: appendFilter refused it but left % x", s, e.b[2:])
	case !ok && err == nil && !strings.Contains(s, ":"):
		t.Fatalf("%q: CompileFilter encodes it, appendFilter does not", s)
	}
}

var filterSeeds = []string{
	"(uid=jdoe)",
	"(&(&(objectClass=person)(objectClass=organizationalPerson)(objectClass=inetOrgPerson))(uid=u0007693))",
	"(|(mail=a@example.com)(mail=b@example.com))",
	"(!(cn=b))", "(!cn=b)", "((uid=a))", "(&)", "(|)",
	"(cn=*)", "(cn=a*)", "(cn=*a)", "(cn=*a*b*)", "(cn=a*b*c)", "(cn=**)", "(cn=***x)",
	"(uidNumber>=1000)", "(uidNumber<=1000)", "(mail~=x)", "(a>b=c)", "(a=>b)", "(a>=*)",
	`(cn=\2a\28\29\5c)`, `(cn=a\2A*b\2a)`, `(cn=\e4\bd\a0)`, "(cn=José)", "(cn=日本)",
	`(cn=\2)`, `(cn=\zz)`, `(cn=\)`, `(cn=a\`, "(cn=\xff)", "(cn=\uFFFD)",
	"(cn:caseExactMatch:=Bob)", "(cn:=x)", "(:dn:2.4.6.8.10:=x)", "(o:dn:=Ace)", "(url=http://x)",
	"", "(", ")", "()", "(=)", "(=b)", "(a=)", "(cn=a", "(&(a=b)", "(&(a=b)x)", "(a=b))", "x(a=b)",
	"(&(a=b)(|(c=d)(!(e=f))))", "(cn=a(b)",
}

func TestAppendFilterAsCompileFilter(t *testing.T) {
	for _, s := range append(filterSeeds, "(cn="+strings.Repeat("x", 300)+")", "(&"+strings.Repeat("(uid=a)", 40)+")") {
		checkAppendFilter(t, s)
	}
	// What renderFilter writes for values with every byte escaped.
	for c := 0; c < 256; c++ {
		checkAppendFilter(t, "(cn=a"+ldap.EscapeFilter(string([]byte{byte(c)}))+"*)")
	}
}

func FuzzAppendFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 256 {
			return // long inputs add no paths; minimizing them took the whole run
		}
		checkAppendFilter(t, s)
	})
}
