package embedded

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/bridge"
)

const (
	testAdminDN = "cn=admin,dc=example,dc=com"
	testAdminPW = "admin-secret"
)

func startTestServer(t testing.TB) (*Embedded, *LDAPServer) {
	t.Helper()
	e := newTestEmbedded(t)
	srv, err := NewLDAPServer(e, LDAPServerOptions{PageChunk: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return e, srv
}

func dial(t testing.TB, srv *LDAPServer) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func adminConn(t testing.TB, srv *LDAPServer) *ldap.Conn {
	t.Helper()
	c := dial(t, srv)
	if err := c.Bind(testAdminDN, testAdminPW); err != nil {
		t.Fatal(err)
	}
	return c
}

func ldapCode(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0xffff
}

func wantCode(t testing.TB, err error, code uint16) {
	t.Helper()
	if got := ldapCode(err); got != code {
		t.Fatalf("want LDAP result %d (%s), got %v", code, ldap.LDAPResultCodeMap[code], err)
	}
}

func addUsers(t testing.TB, e *Embedded, n int) []*bridge.Entry {
	t.Helper()
	var out []*bridge.Entry
	for i := 0; i < n; i++ {
		req := person(fmt.Sprintf("user%02d", i), "mail", fmt.Sprintf("user%02d@example.com", i))
		req.Password = fmt.Sprintf("pw-%d", i)
		out = append(out, mustAdd(t, e, req))
	}
	return out
}

func TestLDAPBindAndWhoAmI(t *testing.T) {
	e, srv := startTestServer(t)
	users := addUsers(t, e, 2)
	c := dial(t, srv)
	res, err := c.WhoAmI(nil)
	if err != nil || res.AuthzID != "" {
		t.Fatalf("anonymous whoami: %+v %v", res, err)
	}
	wantCode(t, c.Bind(users[0].DN, "wrong"), ldap.LDAPResultInvalidCredentials)
	wantCode(t, c.Bind("uid=nobody,ou=people,dc=example,dc=com", "x"), ldap.LDAPResultInvalidCredentials)
	wantCode(t, c.Bind("not a dn", "x"), ldap.LDAPResultInvalidDNSyntax)
	// A DN with no password is an unauthenticated bind: never authenticated.
	wantCode(t, c.UnauthenticatedBind(users[0].DN), ldap.LDAPResultUnwillingToPerform)
	if err := c.Bind(users[0].DN, "pw-0"); err != nil {
		t.Fatal(err)
	}
	res, err = c.WhoAmI(nil)
	if err != nil || res.AuthzID != "dn:"+users[0].DN {
		t.Fatalf("whoami: %+v %v", res, err)
	}
	// A user may not write.
	wantCode(t, c.Del(ldap.NewDelRequest(users[1].DN, nil)), ldap.LDAPResultInsufficientAccessRights)
	// Disabled: the bind fails.
	yes := true
	if _, err := e.Modify(context.Background(), bridge.ModifyRequest{ID: users[1].ID, Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Bind(users[1].DN, "pw-1"), ldap.LDAPResultInvalidCredentials)
	// After a failed bind the connection is anonymous again.
	res, err = c.WhoAmI(nil)
	if err != nil || res.AuthzID != "" {
		t.Fatalf("whoami after failed bind: %+v %v", res, err)
	}
}

func TestLDAPAnonymousSeesOnlyRootDSE(t *testing.T) {
	e, srv := startTestServer(t)
	addUsers(t, e, 1)
	c := dial(t, srv)
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)",
		[]string{"namingContexts", "supportedControl", "supportedLDAPVersion", "supportedExtension"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("namingContexts") != "dc=example,dc=com" ||
		!slices.Contains(res.Entries[0].GetAttributeValues("supportedControl"), oidPaging) ||
		res.Entries[0].GetAttributeValue("supportedLDAPVersion") != "3" {
		t.Fatalf("root DSE: %+v", res.Entries)
	}
	// As slapd with "by * none" answers: the base is not disclosed.
	res, err = c.Search(ldap.NewSearchRequest("dc=example,dc=com", ldap.ScopeWholeSubtree, 0, 0, 0, false,
		"(objectClass=*)", nil, nil))
	wantCode(t, err, ldap.LDAPResultNoSuchObject)
	if res != nil && len(res.Entries) != 0 {
		t.Fatalf("anonymous search: %d entries", len(res.Entries))
	}
}

func TestLDAPSearchFiltersScopesAttrs(t *testing.T) {
	e, srv := startTestServer(t)
	users := addUsers(t, e, 5)
	ctx := context.Background()
	odd := mustAdd(t, e, bridge.AddRequest{DN: `uid=a\,b+cn=x\2by,ou=people,dc=example,dc=com`, Attrs: map[string][]string{
		"objectClass": {"inetOrgPerson"}, "uid": {"a,b"}, "cn": {"x+y", "Zoë (admin)*"}, "sn": {"Ödön"},
		"description": {`star * paren ( back \ slash`},
	}})
	group := mustAdd(t, e, bridge.AddRequest{DN: "cn=staff,ou=groups,dc=example,dc=com", Attrs: map[string][]string{
		"objectClass": {"groupOfNames"}, "cn": {"staff"}, "member": {users[0].DN, users[1].DN},
	}})
	_ = group
	c := adminConn(t, srv)
	search := func(base string, scope int, filter string, attrs ...string) []*ldap.Entry {
		t.Helper()
		res, err := c.Search(ldap.NewSearchRequest(base, scope, 0, 0, 0, false, filter, attrs, nil))
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		return res.Entries
	}
	count := func(filter string) int {
		t.Helper()
		return len(search("ou=people,dc=example,dc=com", ldap.ScopeSingleLevel, filter))
	}
	for filter, want := range map[string]int{
		"(uid=USER01)":                   1,
		"(uid=user0*)":                   5,
		"(uid=*ser0*)":                   5,
		"(uid=*3)":                       1,
		"(uid=u*0*1)":                    1,
		"(mail=*)":                       5,
		"(!(mail=*))":                    1,
		"(|(uid=user01)(uid=user02))":    2,
		"(&(uid=user0*)(!(uid=user04)))": 4,
		`(uid=a\2cb)`:                    1,
		`(cn=x+y)`:                       1,
		`(cn=zo\c3\ab \28admin\29\2a)`:   1,
		`(cn=zoë*)`:                      1,
		`(sn=ödön)`:                      1,
		`(description=*\2a*\28*\5c*)`:    1,
		"(cn~=user   USER01)":            1,
		"(objectClass=person)":           6,
		"(memberOf=cn=STAFF,ou=groups,dc=example,dc=com)": 2,
		"(createTimestamp>=20000101000000Z)":              6,
		"(createTimestamp<=20000101000000Z)":              0,
		"(uid>=user03)":                                   0, // uid has no ordering rule: Undefined, as in slapd
		"(!(uid>=user03))":                                0, // and NOT Undefined is Undefined
		"(unknownAttr=1)":                                 0,
		"(!(unknownAttr=1))":                              0,
		"(&)":                                             6,
		"(|)":                                             0,
		"(uid:caseExactMatch:=user01)":                    0, // extensible match is Undefined here
	} {
		if got := count(filter); got != want {
			t.Errorf("%s: %d entries, want %d", filter, got, want)
		}
	}
	if got := len(search("dc=example,dc=com", ldap.ScopeBaseObject, "(objectClass=*)")); got != 1 {
		t.Errorf("base scope: %d", got)
	}
	if got := len(search("dc=example,dc=com", ldap.ScopeWholeSubtree, "(objectClass=*)")); got != 10 {
		t.Errorf("sub scope: %d", got)
	}
	// Attribute selection.
	ent := search(odd.DN, ldap.ScopeBaseObject, "(objectClass=*)", "cn")[0]
	if len(ent.Attributes) != 1 || ent.Attributes[0].Name != "cn" {
		t.Fatalf("attrs cn: %+v", ent.Attributes)
	}
	if n, _ := normDN(ent.DN); n != mustNorm(t, odd.DN) {
		t.Fatalf("dn %q vs %q", ent.DN, odd.DN)
	}
	ent = search(users[0].DN, ldap.ScopeBaseObject, "(objectClass=*)")[0]
	if ent.GetAttributeValue("entryUUID") != "" || ent.GetAttributeValue("memberOf") != "" {
		t.Fatal("operational attributes returned without being asked for")
	}
	if !strings.HasPrefix(ent.GetAttributeValue("userPassword"), "{ARGON2}") {
		t.Fatalf("admin should see the hash: %q", ent.GetAttributeValue("userPassword"))
	}
	ent = search(users[0].DN, ldap.ScopeBaseObject, "(objectClass=*)", "+")[0]
	if ent.GetAttributeValue("entryUUID") != users[0].ID || ent.GetAttributeValue("memberOf") != group.DN ||
		ent.GetAttributeValue("createTimestamp") == "" || ent.GetAttributeValue("uid") != "" {
		t.Fatalf("+: %+v", ent.Attributes)
	}
	ent = search(users[0].DN, ldap.ScopeBaseObject, "(objectClass=*)", "1.1")[0]
	if len(ent.Attributes) != 0 {
		t.Fatalf("1.1: %+v", ent.Attributes)
	}
	// Users see others' entries but not their password hashes.
	uc := dial(t, srv)
	if err := uc.Bind(users[2].DN, "pw-2"); err != nil {
		t.Fatal(err)
	}
	res, err := uc.Search(ldap.NewSearchRequest(users[0].DN, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"*"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("userPassword") != "" || res.Entries[0].GetAttributeValue("uid") != "user00" {
		t.Fatalf("user search: %v %+v", err, res)
	}
	// Errors.
	_, err = c.Search(ldap.NewSearchRequest("ou=nowhere,dc=example,dc=com", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", nil, nil))
	wantCode(t, err, ldap.LDAPResultNoSuchObject)
	_, err = c.Search(ldap.NewSearchRequest("bad dn", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", nil, nil))
	wantCode(t, err, ldap.LDAPResultInvalidDNSyntax)
	// Size limit: entries up to the limit, then sizeLimitExceeded.
	res, err = c.Search(ldap.NewSearchRequest("dc=example,dc=com", ldap.ScopeWholeSubtree, 0, 4, 0, false, "(objectClass=*)", nil, nil))
	wantCode(t, err, ldap.LDAPResultSizeLimitExceeded)
	if res == nil || len(res.Entries) != 4 {
		t.Fatalf("size limit: %+v", res)
	}
	_ = ctx
}

func mustNorm(t testing.TB, s string) string {
	t.Helper()
	n, err := normDN(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLDAPPagedResults(t *testing.T) {
	e, srv := startTestServer(t)
	addUsers(t, e, 11)
	c := adminConn(t, srv)
	for _, size := range []uint32{1, 2, 4, 11, 50} {
		res, err := c.SearchWithPaging(ldap.NewSearchRequest("ou=people,dc=example,dc=com", ldap.ScopeSingleLevel, 0, 0, 0, false,
			"(uid=*)", []string{"uid"}, nil), size)
		if err != nil {
			t.Fatalf("page size %d: %v", size, err)
		}
		var uids []string
		for _, e := range res.Entries {
			uids = append(uids, e.GetAttributeValue("uid"))
		}
		slices.Sort(uids)
		if len(uids) != 11 || slices.Compact(slices.Clone(uids))[10] != uids[10] {
			t.Fatalf("page size %d: %v", size, uids)
		}
	}
}

func TestLDAPWrites(t *testing.T) {
	e, srv := startTestServer(t)
	c := adminConn(t, srv)
	dn := "uid=ldapuser,ou=people,dc=example,dc=com"
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	add.Attribute("uid", []string{"ldapuser"})
	add.Attribute("cn", []string{"LDAP User"})
	add.Attribute("sn", []string{"User"})
	add.Attribute("userPassword", []string{"clear-pw"})
	if err := c.Add(add); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Add(add), ldap.LDAPResultEntryAlreadyExists)
	got, err := e.GetByDN(context.Background(), dn, []string{"userPassword", "creatorsName"})
	if err != nil || !strings.HasPrefix(got.First("userPassword"), "{ARGON2}") || got.First("creatorsName") != testAdminDN {
		t.Fatalf("stored: %+v %v", got, err)
	}
	if err := e.Authenticate(context.Background(), dn, "clear-pw"); err != nil {
		t.Fatal(err)
	}
	noSN := ldap.NewAddRequest("uid=x,ou=people,dc=example,dc=com", nil)
	noSN.Attribute("objectClass", []string{"inetOrgPerson"})
	noSN.Attribute("uid", []string{"x"})
	noSN.Attribute("cn", []string{"x"})
	wantCode(t, c.Add(noSN), ldap.LDAPResultObjectClassViolation)
	orphan := ldap.NewAddRequest("uid=x,ou=nowhere,dc=example,dc=com", nil)
	orphan.Attribute("objectClass", []string{"inetOrgPerson"})
	wantCode(t, c.Add(orphan), ldap.LDAPResultNoSuchObject)
	wantCode(t, c.Add(ldap.NewAddRequest("not a dn", nil)), ldap.LDAPResultInvalidDNSyntax)

	mod := ldap.NewModifyRequest(dn, nil)
	mod.Add("mail", []string{"a@example.com", "b@example.com"})
	mod.Replace("title", []string{"Engineer"})
	mod.Delete("cn", []string{"LDAP User"})
	mod.Add("cn", []string{"New Name"})
	if err := c.Modify(mod); err != nil {
		t.Fatal(err)
	}
	got, _ = e.GetByDN(context.Background(), dn, nil)
	if !slices.Equal(got.Values("mail"), []string{"a@example.com", "b@example.com"}) || got.First("title") != "Engineer" || got.First("cn") != "New Name" {
		t.Fatalf("after modify: %+v", got.Attrs)
	}
	strictAdd := ldap.NewModifyRequest(dn, nil)
	strictAdd.Add("mail", []string{"A@example.com"})
	wantCode(t, c.Modify(strictAdd), ldap.LDAPResultAttributeOrValueExists)
	strictDel := ldap.NewModifyRequest(dn, nil)
	strictDel.Delete("mail", []string{"zzz@example.com"})
	wantCode(t, c.Modify(strictDel), ldap.LDAPResultNoSuchAttribute)
	undef := ldap.NewModifyRequest(dn, nil)
	undef.Replace("noSuchType", []string{"1"})
	wantCode(t, c.Modify(undef), ldap.LDAPResultUndefinedAttributeType)

	// modifyDN: gldap has no route for it; the front does it.
	if err := c.ModifyDN(ldap.NewModifyDNRequest(dn, "uid=renamed", true, "")); err != nil {
		t.Fatal(err)
	}
	got, err = e.GetByDN(context.Background(), "uid=renamed,ou=people,dc=example,dc=com", nil)
	if err != nil || got.First("uid") != "renamed" || len(got.Values("uid")) != 1 {
		t.Fatalf("after rename: %+v %v", got, err)
	}
	// compare
	ok, err := c.Compare(got.DN, "title", "engineer")
	if err != nil || !ok {
		t.Fatalf("compare: %v %v", ok, err)
	}
	// password modify as the admin, then a bind with it.
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest(got.DN, "", "new-pw")); err != nil {
		t.Fatal(err)
	}
	if err := e.Authenticate(context.Background(), got.DN, "new-pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ldap.NewDelRequest(got.DN, nil)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Del(ldap.NewDelRequest(got.DN, nil)), ldap.LDAPResultNoSuchObject)
	wantCode(t, c.Del(ldap.NewDelRequest("dc=example,dc=com", nil)), ldap.LDAPResultNotAllowedOnNonLeaf)
	// The connection is still good after all those errors.
	if _, err := c.WhoAmI(nil); err != nil {
		t.Fatal(err)
	}
}

// TestLDAPBadRequests sends what gldap alone would drop the connection for:
// each gets an answer and the connection lives on.
func TestLDAPBadRequests(t *testing.T) {
	_, srv := startTestServer(t)
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(raw []byte) (int64, int, int) {
		t.Helper()
		if _, err := conn.Write(raw); err != nil {
			t.Fatal(err)
		}
		pdu, err := readPDU(bufioReader(conn), 1<<20)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		id, app, _ := peekOp(pdu)
		p, _ := berDecode(pdu)
		code, _ := p.Children[1].Children[0].Value.(int64)
		return id, app, int(code)
	}
	_ = send
	// A SASL bind.
	if id, app, code := send(raw(t, "sasl bind")); id != 1 || app != appBindResponse || code != codeAuthMethod {
		t.Fatalf("sasl: %d %d %d", id, app, code)
	}
	if _, app, code := send(raw(t, "unknown ext")); app != appExtendedResponse || code != codeProtocolError {
		t.Fatalf("unknown extended: %d %d", app, code)
	}
	if _, app, code := send(raw(t, "critical control")); app != appSearchDone || code != codeCriticalExt {
		t.Fatalf("critical control: %d %d", app, code)
	}
	if _, app, code := send(raw(t, "modrdn anonymous")); app != appModDNResponse || code != codeInsufficient {
		t.Fatalf("modrdn: %d %d", app, code)
	}
	if _, app, code := send(raw(t, "bad paging")); app != appSearchDone || code != codeProtocolError {
		t.Fatalf("bad paging: %d %d", app, code)
	}
	// Garbage gets a notice of disconnection, then the close.
	if _, err := conn.Write([]byte{0x04, 0x02, 'h', 'i'}); err != nil {
		t.Fatal(err)
	}
	pdu, err := readPDU(bufioReader(conn), 1<<20)
	if err != nil {
		t.Fatalf("no notice: %v", err)
	}
	if id, app, _ := peekOp(pdu); id != 0 || app != appExtendedResponse {
		t.Fatalf("notice: %d %d", id, app)
	}
}

func TestLDAPWithOpenLDAPClients(t *testing.T) {
	for _, bin := range []string{"/usr/bin/ldapsearch", "/usr/bin/ldapwhoami", "/usr/bin/ldapadd", "/usr/bin/ldapmodify", "/usr/bin/ldapdelete", "/usr/bin/ldapmodrdn", "/usr/bin/ldappasswd"} {
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing; CI must run every directory test", bin)
			}
			t.Skipf("%s missing (apt-get install ldap-utils)", bin)
		}
	}
	e, srv := startTestServer(t)
	url := srv.URL()
	run := func(stdin string, name string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command("/usr/bin/"+name, append([]string{"-x", "-H", url}, args...)...)
		cmd.Env = append(os.Environ(), "LDAPNOINIT=1")
		cmd.Stdin = strings.NewReader(stdin)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err := cmd.Run()
		if err != nil {
			return out.String() + stderr.String(), err
		}
		return out.String(), nil
	}
	must := func(stdin, name string, args ...string) string {
		t.Helper()
		out, err := run(stdin, name, args...)
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return out
	}
	admin := []string{"-D", testAdminDN, "-w", testAdminPW}
	must(`dn: uid=cli,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: cli
cn: CLI User
sn: User
mail: cli@example.com
userPassword: cli-secret
`, "ldapadd", admin...)
	if out := must("", "ldapwhoami", "-D", "uid=cli,ou=people,dc=example,dc=com", "-w", "cli-secret"); strings.TrimSpace(out) != "dn:uid=cli,ou=people,dc=example,dc=com" {
		t.Fatalf("ldapwhoami: %q", out)
	}
	if out, err := run("", "ldapwhoami", "-D", "uid=cli,ou=people,dc=example,dc=com", "-w", "wrong"); err == nil || !strings.Contains(out, "Invalid credentials (49)") {
		t.Fatalf("wrong password: %v %s", err, out)
	}
	out := must("", "ldapsearch", append(admin, "-LLL", "-b", "dc=example,dc=com", "(uid=cli)", "uid", "mail", "userPassword", "entryUUID")...)
	for _, want := range []string{"dn: uid=cli,ou=people,dc=example,dc=com", "uid: cli", "mail: cli@example.com", "userPassword:: ", "entryUUID: "} {
		if !strings.Contains(out, want) {
			t.Fatalf("ldapsearch output lacks %q:\n%s", want, out)
		}
	}
	must(`dn: uid=cli,ou=people,dc=example,dc=com
changetype: modify
replace: title
title: Tester
-
add: telephoneNumber
telephoneNumber: +1 555 0100
`, "ldapmodify", admin...)
	out = must("", "ldapsearch", append(admin, "-LLL", "-b", "dc=example,dc=com", "(telephoneNumber=+15550100)", "title")...)
	if !strings.Contains(out, "title: Tester") {
		t.Fatalf("after ldapmodify:\n%s", out)
	}
	// Paged results through ldapsearch.
	addUsers(t, e, 7)
	out = must("", "ldapsearch", append(admin, "-LLL", "-E", "pr=3/noprompt", "-b", "ou=people,dc=example,dc=com", "(objectClass=person)", "1.1")...)
	if n := strings.Count(out, "dn: "); n != 8 {
		t.Fatalf("paged ldapsearch returned %d entries:\n%s", n, out)
	}
	// Size limit.
	out, err := run("", "ldapsearch", append(admin, "-LLL", "-z", "2", "-b", "ou=people,dc=example,dc=com", "(objectClass=person)", "1.1")...)
	if err == nil || !strings.Contains(out, "Size limit exceeded (4)") || strings.Count(out, "dn: ") != 2 {
		t.Fatalf("size limit: %v\n%s", err, out)
	}
	// Root DSE, anonymously.
	out = must("", "ldapsearch", "-LLL", "-b", "", "-s", "base", "namingContexts", "supportedLDAPVersion")
	if !strings.Contains(out, "namingContexts: dc=example,dc=com") {
		t.Fatalf("root DSE:\n%s", out)
	}
	must("", "ldapmodrdn", append(admin, "-r", "uid=cli,ou=people,dc=example,dc=com", "uid=cli2")...)
	must("", "ldappasswd", append(admin, "-s", "cli-new", "uid=cli2,ou=people,dc=example,dc=com")...)
	if out := must("", "ldapwhoami", "-D", "uid=cli2,ou=people,dc=example,dc=com", "-w", "cli-new"); !strings.Contains(out, "dn:uid=cli2,") {
		t.Fatalf("after rename and password change: %q", out)
	}
	// A user cannot add.
	if out, err := run("dn: uid=y,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: y\ncn: y\nsn: y\n", "ldapadd",
		"-D", "uid=cli2,ou=people,dc=example,dc=com", "-w", "cli-new"); err == nil || !strings.Contains(out, "Insufficient access (50)") {
		t.Fatalf("user add: %v %s", err, out)
	}
	must("", "ldapdelete", append(admin, "uid=cli2,ou=people,dc=example,dc=com")...)
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func berDecode(b []byte) (*ber.Packet, error) { return ber.DecodePacketErr(b) }

// raw builds the hand-made requests of TestLDAPBadRequests.
func raw(t testing.TB, what string) []byte {
	t.Helper()
	str := func(s string) *ber.Packet {
		return ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s, "")
	}
	search := func() *ber.Packet {
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appSearchRequest, nil, "")
		op.AppendChild(str(""))
		for _, v := range []int64{0, 0} {
			op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, v, ""))
		}
		for _, v := range []int64{0, 0} {
			op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, v, ""))
		}
		op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, ""))
		f, _ := ldap.CompileFilter("(objectClass=*)")
		op.AppendChild(f)
		op.AppendChild(ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, ""))
		return op
	}
	control := func(oid string, critical bool, value *ber.Packet) *ber.Packet {
		c := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		c.AppendChild(str(oid))
		c.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, critical, ""))
		if value != nil {
			c.AppendChild(value)
		}
		return c
	}
	switch what {
	case "sasl bind":
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appBindRequest, nil, "")
		op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, ""))
		op.AppendChild(str(""))
		sasl := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "")
		sasl.AppendChild(str("EXTERNAL"))
		op.AppendChild(sasl)
		return envelope(1, op)
	case "unknown ext":
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appExtendedRequest, nil, "")
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "1.2.3.4", ""))
		return envelope(2, op)
	case "critical control":
		return envelope(3, search(), control("1.2.3.4.5", true, nil))
	case "modrdn anonymous":
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appModDNRequest, nil, "")
		op.AppendChild(str("uid=a,ou=people,dc=example,dc=com"))
		op.AppendChild(str("uid=b"))
		op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, true, ""))
		return envelope(4, op)
	case "bad paging":
		return envelope(5, search(), control(oidPaging, false, str("not ber")))
	}
	t.Fatalf("unknown request %q", what)
	return nil
}
