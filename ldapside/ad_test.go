package ldapside

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/bridge/conformance"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
)

// TestMain stops the test binary's one Samba AD (testenv.SharedSambaAD):
// its ports are fixed, so tests share it rather than start their own.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := testenv.StopSharedSambaAD(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping Samba AD:", err)
	}
	os.Exit(code)
}

var adOnce struct {
	sync.Mutex
	ous map[string]bool
}

// startAD opens a Conn on the shared Samba AD over LDAPS, with the people
// and leavers containers of this test made.
func startAD(t *testing.T, tune func(*Config)) (*testenv.SambaAD, *Conn, string, string) {
	t.Helper()
	s := testenv.SharedSambaAD(t)
	cfg := Config{
		URLs:         []string{s.LDAPSURL},
		BindDN:       s.AdminUPN,
		BindPassword: s.AdminPassword,
		BaseDN:       s.BaseDN,
		CAFile:       s.CAFile,
		Dialect:      "ad",
		PoolSize:     4,
		OpTimeout:    60 * time.Second,
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := Open(cfg, hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	tag := randTag()
	people := "OU=people-" + tag + "," + s.BaseDN
	leavers := "OU=leavers-" + tag + "," + s.BaseDN
	for _, ou := range []string{people, leavers} {
		if err := c.EnsureContainer(tctx(t), ou); err != nil {
			t.Fatalf("EnsureContainer(%s): %v", ou, err)
		}
	}
	return s, c, people, leavers
}

func randTag() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// adShape is how the suite's inetOrgPerson-shaped people look in AD: user
// entries named by cn (the key), with AD's multi-valued string attributes
// for mail and description (AD's own are single-valued), and a DN-syntax
// violation as the schema error (AD requires no attribute that the suite
// could leave out).
var adShape = conformance.Shape{
	ObjectClasses: []string{"top", "person", "organizationalPerson", "user"},
	Naming:        "cn",
	Attrs:         map[string]string{"uid": "cn", "cn": "company", "mail": "otherMailbox", "description": "url"},
	Invalid:       &bridge.Change{Op: bridge.ChangeReplace, Attr: "manager", Values: []string{"not a DN"}},
}

// TestADConformance runs the Directory suite against Samba AD with VLV.
func TestADConformance(t *testing.T) {
	s, c, people, leavers := startAD(t, nil)
	conformance.Run(t, func(t *testing.T) conformance.Env {
		return conformance.Env{Dir: c, Auth: c, BaseDN: s.BaseDN, People: people, Leavers: leavers, Shape: adShape}
	})
}

// TestADConformancePaged runs it on the Simple Paged Results path.
func TestADConformancePaged(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s, c, people, leavers := startAD(t, nil)
	c.noVLV = true
	conformance.Run(t, func(t *testing.T) conformance.Env {
		return conformance.Env{Dir: c, Auth: c, BaseDN: s.BaseDN, People: people, Leavers: leavers, Shape: adShape}
	})
}

func adUser(people, cn string) bridge.AddRequest {
	return bridge.AddRequest{DN: "CN=" + cn + "," + people, Attrs: map[string][]string{
		"objectClass": {"top", "person", "organizationalPerson", "user"}, "sn": {cn},
		"sAMAccountName": {cn}, "userPrincipalName": {cn + "@EXAMPLE.TEST"},
	}}
}

// adminSearch reads as the administrator, bypassing ldapside.
func adminSearch(t *testing.T, s *testenv.SambaAD, base, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	l, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(s.AdminUPN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	res, err := l.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, 0, 0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

func TestADIdentity(t *testing.T) {
	s, c, people, _ := startAD(t, nil)
	e, err := c.Add(tctx(t), adUser(people, "ident"+randTag()))
	if err != nil {
		t.Fatal(err)
	}
	raw := adminSearch(t, s, people, "(cn="+e.First("cn")+")", "objectGUID", "objectSid")
	if len(raw) != 1 {
		t.Fatalf("admin search found %d", len(raw))
	}
	guid := raw[0].GetRawAttributeValue("objectGUID")
	if guidString(guid) != e.ID || !isUUID(e.ID) || strings.ToLower(e.ID) != e.ID {
		t.Fatalf("id %q, objectGUID %x", e.ID, guid)
	}
	if b, _ := guidBytes(e.ID); !bytes.Equal(b, guid) {
		t.Fatalf("guidBytes(%s) = %x, want %x", e.ID, b, guid)
	}
	// Microsoft's form: the first three groups little-endian.
	want := fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-", guid[3], guid[2], guid[1], guid[0], guid[5], guid[4], guid[7], guid[6])
	if !strings.HasPrefix(e.ID, want) {
		t.Fatalf("id %s does not start %s", e.ID, want)
	}
	// The same entry by <GUID=…>, as AD tools address it.
	byGUID := adminSearchBase(t, s, "<GUID="+e.ID+">")
	if !strings.EqualFold(byGUID, e.DN) {
		t.Fatalf("<GUID=%s> is %q, want %q", e.ID, byGUID, e.DN)
	}
	got, err := c.Get(tctx(t), "", e.ID, []string{"objectSid", "cn"})
	if err != nil {
		t.Fatal(err)
	}
	if sid := got.First("objectSid"); !strings.HasPrefix(sid, "S-1-5-21-") {
		t.Fatalf("objectSid = %q, want S-1-5-21-…", sid)
	}
}

func adminSearchBase(t *testing.T, s *testenv.SambaAD, base string) string {
	t.Helper()
	l, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(s.AdminUPN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	res, err := l.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("base search %s: %v", base, err)
	}
	return res.Entries[0].DN
}

// TestADPasswordSteps: a weak password gets the policy's message and leaves
// nothing; a good one binds; bit 0x2 is toggled alone; resending the same
// password writes nothing.
func TestADPasswordSteps(t *testing.T) {
	s, c, people, _ := startAD(t, nil)
	cn := "pw" + randTag()
	req := adUser(people, cn)
	req.Password = "abc"
	_, err := c.Add(tctx(t), req)
	if bridge.KindOf(err) != bridge.KindInvalidValue || bridge.SafeMessage(err) != "the password does not meet the domain's policy" {
		t.Fatalf("weak password: %v (message %q)", err, bridge.SafeMessage(err))
	}
	if n := len(adminSearch(t, s, s.BaseDN, "(sAMAccountName="+cn+")", "1.1")); n != 0 {
		t.Fatalf("a failed create left %d entries", n)
	}
	// Extra bits of userAccountControl survive enable and disable.
	req.Password = "Good-Pa55word-1"
	req.Attrs["userAccountControl"] = []string{"66048"} // NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
	req.Attrs["pwdLastSet"] = []string{"0"}
	e, err := c.Add(tctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	uac := func() string {
		return adminSearch(t, s, people, "(cn="+cn+")", "userAccountControl")[0].GetAttributeValue("userAccountControl")
	}
	if got := uac(); got != "66048" || e.Disabled {
		t.Fatalf("after create: userAccountControl %s, disabled %t", got, e.Disabled)
	}
	if got := adminSearch(t, s, people, "(cn="+cn+")", "pwdLastSet")[0].GetAttributeValue("pwdLastSet"); got != "0" {
		t.Fatalf("pwdLastSet = %s, want 0 (must change at next logon), kept in the add that sets the password", got)
	}
	yes := true
	if _, err := c.Modify(tctx(t), bridge.ModifyRequest{ID: e.ID, Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if got := uac(); got != "66050" {
		t.Fatalf("after disable: userAccountControl %s, want 66050", got)
	}
	// Same password: nothing written, Version unchanged.
	if err := c.Authenticate(tctx(t), e.DN, "Good-Pa55word-1"); err == nil {
		t.Fatal("a disabled account binds")
	}
	no := false
	en, err := c.Modify(tctx(t), bridge.ModifyRequest{ID: e.ID, Disabled: &no})
	if err != nil {
		t.Fatal(err)
	}
	same := "Good-Pa55word-1"
	again, err := c.Modify(tctx(t), bridge.ModifyRequest{ID: e.ID, Password: &same})
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != en.Version {
		t.Fatalf("resending the password changed Version %s -> %s", en.Version, again.Version)
	}
	if got := again.Values(DefaultADPasswordStateAttr); got != nil {
		t.Fatalf("the fingerprint is returned: %q", got)
	}
	weak := "x"
	_, err = c.Modify(tctx(t), bridge.ModifyRequest{ID: e.ID, Password: &weak, Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"T"}}}})
	if bridge.KindOf(err) != bridge.KindInvalidValue {
		t.Fatalf("weak password on modify: %v", err)
	}
	if got := adminSearch(t, s, people, "(cn="+cn+")", "title"); got[0].GetAttributeValue("title") != "" {
		t.Fatalf("a failed password change left the title written")
	}
	if err := c.Authenticate(tctx(t), e.DN, "Good-Pa55word-1"); err != nil {
		t.Fatalf("bind with the password after a refused change: %v", err)
	}
}

// TestADRefusesCleartextPassword: over ldap:// without StartTLS a password
// is never sent, and nothing is created.
func TestADRefusesCleartextPassword(t *testing.T) {
	s, _, people, _ := startAD(t, nil)
	_, plain, _, _ := startAD(t, func(c *Config) { c.URLs = []string{s.URL} })
	cn := "clear" + randTag()
	req := adUser(people, cn)
	req.Password = "Good-Pa55word-1"
	_, err := plain.Add(tctx(t), req)
	if bridge.KindOf(err) != bridge.KindMisconfigured || !strings.Contains(err.Error(), "unencrypted") || !strings.Contains(bridge.FixOf(err), "ldaps://") {
		t.Fatalf("cleartext add: %v", err)
	}
	if bridge.SafeMessage(err) != "the gateway is misconfigured" {
		t.Errorf("client message %q", bridge.SafeMessage(err))
	}
	if n := len(adminSearch(t, s, s.BaseDN, "(cn="+cn+")", "1.1")); n != 0 {
		t.Fatalf("a refused create left %d entries", n)
	}
	// Without a password the plain connection is fine; a password change is refused.
	req.Password = ""
	e, err := plain.Add(tctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	pw := "Good-Pa55word-2"
	if _, err := plain.Modify(tctx(t), bridge.ModifyRequest{ID: e.ID, Password: &pw}); bridge.KindOf(err) != bridge.KindMisconfigured {
		t.Fatalf("cleartext password change: %v", err)
	}
}

// TestADErrors: AD's answers become the kinds and messages people act on.
func TestADErrors(t *testing.T) {
	_, c, people, _ := startAD(t, nil)
	cn := "dup" + randTag()
	if _, err := c.Add(tctx(t), adUser(people, cn)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Add(tctx(t), adUser(people, cn))
	if bridge.KindOf(err) != bridge.KindConflict {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = c.Add(tctx(t), adUser("OU=missing-"+randTag()+","+people, "x"+randTag()))
	if bridge.KindOf(err) != bridge.KindMisconfigured || strings.Contains(bridge.SafeMessage(err), "OU=") || !strings.Contains(bridge.FixOf(err), "OU=missing-") {
		t.Fatalf("missing OU: %v (%q, fix %q)", err, bridge.SafeMessage(err), bridge.FixOf(err))
	}
	// A table row naming an attribute Samba's schema lacks.
	typo := adUser(people, "typo"+randTag())
	typo.Attrs["dispalyName"] = []string{"x"}
	_, err = c.Add(tctx(t), typo)
	t.Logf("schema typo: %v", err)
	if bridge.KindOf(err) != bridge.KindMisconfigured || bridge.AttrOf(err) != "dispalyName" || !strings.Contains(bridge.FixOf(err), "not in the directory schema") {
		t.Errorf("schema typo: %v (attr %q, fix %q)", err, bridge.AttrOf(err), bridge.FixOf(err))
	}
	// An attribute the object classes do not allow.
	notAllowed := adUser(people, "na"+randTag())
	notAllowed.Attrs["member"] = []string{people}
	_, err = c.Add(tctx(t), notAllowed)
	t.Logf("not allowed: %v", err)
	if bridge.KindOf(err) != bridge.KindMisconfigured {
		t.Errorf("attribute not allowed by the object classes: %v (fix %q)", err, bridge.FixOf(err))
	}
	// Outside a write, "no such object" is a resource that is not there.
	for code, kind := range map[string]bridge.Kind{"0000052D": bridge.KindInvalidValue, "00002071": bridge.KindConflict,
		"0000208D": bridge.KindNotFound, "00000005": bridge.KindMisconfigured, "0000001F": bridge.KindMisconfigured, "00002077": bridge.KindMisconfigured} {
		e := &ldap.Error{ResultCode: ldap.LDAPResultOther, Err: fmt.Errorf("%s: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0", code)}
		if got := bridge.KindOf(translate("t", e)); got != kind {
			t.Errorf("%s: kind %v, want %v", code, got, kind)
		}
	}
}

// TestADPagingAboveThePageCap reads windows larger than AD's 1,000-entry
// page on the paged path.
func TestADPagingAboveThePageCap(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	_, c, people, _ := startAD(t, nil)
	const n = 1100
	var wg sync.WaitGroup
	work := make(chan int)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := adUser(people, fmt.Sprintf("cap%04d", i))
				delete(r.Attrs, "sAMAccountName")
				delete(r.Attrs, "userPrincipalName")
				if _, err := c.Add(context.Background(), r); err != nil {
					t.Errorf("add %d: %v", i, err)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, vlv := range []bool{true, false} {
		c.noVLV = !vlv
		res, err := c.Search(tctx(t), bridge.SearchRequest{Base: people, Filter: bridge.Eq("objectClass", "user"), Count: n + 5, Attrs: []string{"cn"}})
		if err != nil {
			t.Fatalf("vlv=%t: %v", vlv, err)
		}
		if res.Total != n || len(res.Entries) != n {
			t.Fatalf("vlv=%t: Total %d with %d entries, want %d", vlv, res.Total, len(res.Entries), n)
		}
	}
}

// setUPNSuffix adds (or, with add false, removes) a UPN suffix of the
// forest, as "Active Directory Domains and Trusts" does.
func setUPNSuffix(t *testing.T, s *testenv.SambaAD, suffix string, add bool) {
	t.Helper()
	l, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(s.AdminUPN, s.AdminPassword); err != nil {
		t.Fatal(err)
	}
	m := ldap.NewModifyRequest("CN=Partitions,CN=Configuration,"+s.BaseDN, nil)
	if add {
		m.Add("uPNSuffixes", []string{suffix})
	} else {
		m.Delete("uPNSuffixes", []string{suffix})
	}
	if err := l.Modify(m); err != nil {
		t.Fatalf("uPNSuffixes %s (add %v): %v", suffix, add, err)
	}
}

func TestADUPNSuffixes(t *testing.T) {
	s, c, _, _ := startAD(t, nil)
	got, err := c.UPNSuffixes(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "example.test" {
		t.Fatalf("UPNSuffixes of a forest of one domain: %q, want its DNS name", got)
	}
	extra := "Corp-" + randTag() + ".Example"
	setUPNSuffix(t, s, extra, true)
	t.Cleanup(func() { setUPNSuffix(t, s, extra, false) })
	got, err = c.UPNSuffixes(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != strings.ToLower(extra) || got[1] != "example.test" {
		t.Fatalf("UPNSuffixes with %s added: %q", extra, got)
	}
}
