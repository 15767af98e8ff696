package ldapside

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
)

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func addPerson(t *testing.T, c *Conn, parent, uid, password string, disabled bool) *bridge.Entry {
	t.Helper()
	e, err := c.Add(tctx(t), bridge.AddRequest{
		DN: "uid=" + uid + "," + parent,
		Attrs: map[string][]string{
			"objectClass": {"inetOrgPerson"}, "uid": {uid}, "cn": {uid}, "sn": {uid},
		},
		Password: password, Disabled: disabled,
	})
	if err != nil {
		t.Fatalf("Add(%s): %v", uid, err)
	}
	return e
}

// adminRead reads attrs of dn as the rootdn, bypassing ldapside.
func adminRead(t *testing.T, o *testenv.OpenLDAP, dn string, attrs ...string) *ldap.Entry {
	t.Helper()
	l, err := ldap.DialURL(o.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(o.AdminDN, o.AdminPassword); err != nil {
		t.Fatal(err)
	}
	res, err := l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", attrs, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("reading %s: %v", dn, err)
	}
	return res.Entries[0]
}

func TestPasswordModifyStoresHash(t *testing.T) {
	o, c := startDirectory(t, nil)
	for _, disabled := range []bool{false, true} {
		e := addPerson(t, c, o.PeopleDN, fmt.Sprintf("hash%t", disabled), "Clear-Text-1", disabled)
		pw := adminRead(t, o, e.DN, "userPassword").GetAttributeValue("userPassword")
		if !strings.HasPrefix(pw, "{SSHA}") || strings.Contains(pw, "Clear-Text-1") {
			t.Errorf("disabled=%t: stored userPassword %q, want an {SSHA} hash", disabled, pw)
		}
		if !passwordMatches(pw, "Clear-Text-1") {
			t.Errorf("disabled=%t: the stored hash does not verify locally", disabled)
		}
		if e.Values("userPassword") != nil {
			t.Errorf("Add returned userPassword %q", e.Values("userPassword"))
		}
		if g, err := c.Get(tctx(t), "", e.ID, []string{"userPassword"}); err != nil || g.Values("userPassword") != nil {
			t.Errorf("Get(userPassword) = %v, %v: a password hash is never returned", g, err)
		}
	}
}

func TestPoolRecoversAfterRestart(t *testing.T) {
	o, c := startDirectory(t, func(cfg *Config) { cfg.PoolSize = 3 })
	e := addPerson(t, c, o.PeopleDN, "survivor", "", false)
	// Fill the pool with live connections.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Get(tctx(t), "", e.ID, nil); err != nil {
				t.Errorf("Get before restart: %v", err)
			}
		}()
	}
	wg.Wait()
	pidBefore := o.PID()

	// Requests run while the directory restarts.
	stop := make(chan struct{})
	var failures, successes atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.Get(tctx(t), "", e.ID, nil)
				switch {
				case err == nil:
					successes.Add(1)
				case bridge.KindOf(err) == bridge.KindUnavailable:
					failures.Add(1)
				default:
					t.Errorf("Get during restart: %v, want success or KindUnavailable", err)
				}
			}
		}()
	}
	if err := o.Restart(); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("Restart: %v", err)
	}
	if o.PID() == pidBefore || o.PID() == 0 {
		t.Fatalf("slapd was not restarted (pid %d before, %d after)", pidBefore, o.PID())
	}
	close(stop)
	wg.Wait()
	t.Logf("during the restart: %d successes, %d KindUnavailable", successes.Load(), failures.Load())

	// After the restart every pooled connection is dead; each is found out
	// at most once, so within PoolSize+1 requests one succeeds, and from
	// then on all do.
	var got *bridge.Entry
	var err error
	for range 3 + 1 {
		if got, err = c.Get(tctx(t), "", e.ID, nil); err == nil {
			break
		}
		if bridge.KindOf(err) != bridge.KindUnavailable {
			t.Fatalf("Get after restart: %v, want KindUnavailable or success", err)
		}
	}
	if err != nil {
		t.Fatalf("the pool did not recover: %v", err)
	}
	if got.ID != e.ID {
		t.Fatalf("after restart got %+v", got)
	}
	for i := range 10 {
		if err := c.Ping(tctx(t)); err != nil {
			t.Fatalf("Ping %d after recovery: %v", i, err)
		}
	}
}

func TestLDAPS(t *testing.T) {
	o, _ := startDirectory(t, nil)
	open := func(url, ca string, startTLS bool) *Conn {
		c, err := Open(Config{URLs: []string{url}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN, CAFile: ca, StartTLS: startTLS, PoolSize: 1}, hclog.NewNullLogger())
		if err != nil {
			t.Fatalf("Open(%s): %v", url, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	wantUnknownAuthority := func(what string, err error) {
		t.Helper()
		if bridge.KindOf(err) != bridge.KindUnavailable {
			t.Fatalf("%s: %v, want KindUnavailable", what, err)
		}
		// go-ldap flattens StartTLS's cause into text.
		var uae x509.UnknownAuthorityError
		if !errors.As(err, &uae) && !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") {
			t.Fatalf("%s: %v, want a certificate verification failure", what, err)
		}
	}
	plainPlusTLS := strings.Replace(o.LDAPSURL, "127.0.0.1", "localhost", 1)
	for i, url := range []string{o.LDAPSURL, plainPlusTLS} {
		c := open(url, o.CAFile, false)
		if err := c.Ping(tctx(t)); err != nil {
			t.Fatalf("ldaps with the CA file (%s): %v", url, err)
		}
		e := addPerson(t, c, o.PeopleDN, fmt.Sprintf("tls%d", i), "Tls-Secret-1", false)
		if err := c.Authenticate(tctx(t), e.DN, "Tls-Secret-1"); err != nil {
			t.Fatalf("Authenticate over ldaps: %v", err)
		}
	}
	wantUnknownAuthority("ldaps without the CA file", open(o.LDAPSURL, "", false).Ping(tctx(t)))

	// StartTLS on the plain port.
	st := open(o.URL, o.CAFile, true)
	if err := st.Ping(tctx(t)); err != nil {
		t.Fatalf("StartTLS with the CA file: %v", err)
	}
	pc, err := st.pool.get(tctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := pc.l.(*wireConn).TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Errorf("StartTLS: the pooled connection is not encrypted")
	}
	st.pool.put(pc, nil)
	wantUnknownAuthority("StartTLS without the CA file", open(o.URL, "", true).Ping(tctx(t)))

	// The wrong server name fails verification too.
	cfg := Config{URLs: []string{strings.Replace(o.LDAPSURL, "127.0.0.1", "127.0.0.2", 1)}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN, CAFile: o.CAFile}
	if c, err := Open(cfg, nil); err == nil {
		if err := c.Ping(tctx(t)); err == nil {
			t.Errorf("a server name not in the certificate was accepted")
		}
		c.Close()
	}
	// ldaps:// with StartTLS is a configuration error.
	if _, err := Open(Config{URLs: []string{o.LDAPSURL}, BindDN: o.AdminDN, BindPassword: "x", BaseDN: o.BaseDN, StartTLS: true}, nil); err == nil {
		t.Errorf("Open accepted start_tls with ldaps://")
	}
}

func TestFailover(t *testing.T) {
	o, _ := startDirectory(t, nil)
	var dialed []string
	var mu sync.Mutex
	c, err := Open(Config{URLs: []string{"ldap://127.0.0.1:1", o.URL}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN, PoolSize: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.dialHook = func(u string) { mu.Lock(); dialed = append(dialed, u); mu.Unlock() }
	if err := c.Ping(tctx(t)); err != nil {
		t.Fatalf("Ping with the first URL dead: %v", err)
	}
	if !slices.Equal(dialed, []string{"ldap://127.0.0.1:1", o.URL}) {
		t.Errorf("dialed %q, want the URLs in order", dialed)
	}
	bad, err := Open(Config{URLs: []string{"ldap://127.0.0.1:1"}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Ping(tctx(t)); bridge.KindOf(err) != bridge.KindUnavailable {
		t.Errorf("Ping with no server: %v, want KindUnavailable", err)
	}
	wrong, err := Open(Config{URLs: []string{o.URL}, BindDN: o.AdminDN, BindPassword: "wrong", BaseDN: o.BaseDN}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if err := wrong.Ping(tctx(t)); bridge.KindOf(err) != bridge.KindUnavailable || strings.Contains(bridge.SafeMessage(err), "wrong") ||
		!strings.Contains(bridge.FixOf(err), "bind_dn") || strings.Contains(fmt.Sprint(err, bridge.FixOf(err)), "wrong") {
		t.Errorf("Ping with a wrong service password: %v (%q, fix %q)", err, bridge.SafeMessage(err), bridge.FixOf(err))
	}
}

func TestPoolBounded(t *testing.T) {
	o, c := startDirectory(t, func(cfg *Config) { cfg.PoolSize = 2 })
	e := addPerson(t, c, o.PeopleDN, "bounded", "", false)
	var dials atomic.Int64
	c.dialHook = func(string) { dials.Add(1) }
	base := dials.Load()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := c.Get(tctx(t), "", e.ID, nil); err != nil {
					t.Errorf("Get: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if n := dials.Load() - base; n > 2 {
		t.Errorf("%d connections dialed for a pool of 2", n)
	}
	// With every connection taken, a caller waits until its context ends.
	a, err := c.pool.get(tctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.pool.get(tctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "", e.ID, nil); bridge.KindOf(err) != bridge.KindUnavailable {
		t.Errorf("Get with an exhausted pool: %v, want KindUnavailable", err)
	}
	c.pool.put(a, nil)
	c.pool.put(b, nil)
	// A cancelled request gives its connection back, closed.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := c.Get(cctx, "", e.ID, nil); bridge.KindOf(err) != bridge.KindUnavailable {
		t.Errorf("Get with a cancelled context: %v", err)
	}
	if _, err := c.Get(tctx(t), "", e.ID, nil); err != nil {
		t.Errorf("Get after a cancelled one: %v", err)
	}
}

// fillPeople adds n people below a new container and returns it.
func fillPeople(t *testing.T, c *Conn, o *testenv.OpenLDAP, n int) string {
	t.Helper()
	ou := "ou=vlv" + fmt.Sprint(time.Now().UnixNano()) + "," + o.PeopleDN
	if err := c.EnsureContainer(tctx(t), ou); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				addPerson(t, c, ou, fmt.Sprintf("v%03d", i), "", false)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return ou
}

// TestVLVCostDoesNotGrowWithOffset proves the window is fetched with VLV:
// the server sends the page, not the entries before it.
func TestVLVCostDoesNotGrowWithOffset(t *testing.T) {
	o, c := startDirectory(t, nil)
	ou := fillPeople(t, c, o, 250)
	people := bridge.Eq("objectClass", "inetOrgPerson")
	all, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: people, SortBy: "uid", Count: 1000})
	if err != nil || all.Total != 250 {
		t.Fatalf("whole listing: %v, %v", all, err)
	}
	page := func(noVLV bool) (*bridge.SearchResult, int64) {
		c.noVLV = noVLV
		defer func() { c.noVLV = false }()
		before := c.entriesRead.Load()
		res, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: people, SortBy: "uid", Offset: 200, Count: 25})
		if err != nil {
			t.Fatalf("Search(offset 200, noVLV=%t): %v", noVLV, err)
		}
		return res, c.entriesRead.Load() - before
	}
	for _, noVLV := range []bool{false, true} {
		res, read := page(noVLV)
		if res.Total != 250 || len(res.Entries) != 25 {
			t.Fatalf("noVLV=%t: Total %d, %d entries", noVLV, res.Total, len(res.Entries))
		}
		for i, e := range res.Entries {
			if want := fmt.Sprintf("v%03d", 200+i); e.First("uid") != want || e.ID != all.Entries[200+i].ID {
				t.Fatalf("noVLV=%t: entry %d is %q, want %q", noVLV, i, e.First("uid"), want)
			}
		}
		t.Logf("noVLV=%t: the page at offset 200 read %d entries from the server", noVLV, read)
		if !noVLV && read != 25 {
			t.Errorf("with VLV the page at offset 200 read %d entries, want 25", read)
		}
		if noVLV && read <= 200 {
			t.Errorf("the paged fallback read only %d entries: did it use VLV?", read)
		}
	}
	// The paged fallback continues a sequential walk from its cookie.
	c.noVLV = true
	defer func() { c.noVLV = false }()
	var walked []string
	var reads []int64
	for off := 0; off < 250; off += 50 {
		before := c.entriesRead.Load()
		res, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: people, SortBy: "uid", Offset: off, Count: 50})
		if err != nil {
			t.Fatal(err)
		}
		reads = append(reads, c.entriesRead.Load()-before)
		for _, e := range res.Entries {
			walked = append(walked, e.ID)
		}
	}
	if len(walked) != 250 || walked[0] != all.Entries[0].ID || walked[249] != all.Entries[249].ID {
		t.Fatalf("paged walk returned %d entries", len(walked))
	}
	for i, r := range reads[1:] {
		if r != 50 {
			t.Errorf("paged walk page %d read %d entries, want 50 (continued from the cookie)", i+1, r)
		}
	}
}

// TestNoSortContextLeak: sssvlv keeps each VLV sort context until the
// connection ends and refuses new sorts past 16 per connection (and in
// all); 100 pages on one pooled connection must all work.
func TestNoSortContextLeak(t *testing.T) {
	o, c := startDirectory(t, func(cfg *Config) { cfg.PoolSize = 1 })
	ou := fillPeople(t, c, o, 30)
	for i := range 100 {
		res, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.Eq("objectClass", "inetOrgPerson"), Offset: i % 30, Count: 5})
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if res.Total != 30 || len(res.Entries) != min(5, 30-i%30) {
			t.Fatalf("page %d: Total %d, %d entries", i, res.Total, len(res.Entries))
		}
	}
	// The paged path keeps at most one open search per connection.
	c.noVLV = true
	for i := range 100 {
		if _, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.Present("uid"), SortBy: "cn", Offset: (i * 7) % 30, Count: 3}); err != nil {
			t.Fatalf("paged page %d: %v", i, err)
		}
	}
}

func TestErrorsAreTranslated(t *testing.T) {
	o, c := startDirectory(t, nil)
	e := addPerson(t, c, o.PeopleDN, "errs", "", false)
	_, err := c.Modify(tctx(t), bridge.ModifyRequest{ID: e.ID, Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "mail", Values: []string{"ok@example.com", "x"}}, {Op: bridge.ChangeReplace, Attr: "manager", Values: []string{"not a dn"}}}})
	if bridge.KindOf(err) != bridge.KindInvalidValue {
		t.Fatalf("invalid DN syntax in manager: %v", err)
	}
	if msg := bridge.SafeMessage(err); bridge.AttrOf(err) != "manager" || strings.Contains(msg, "not a dn") || strings.Contains(msg, "manager") {
		t.Errorf("message %q (attribute %q): want the attribute kept for the service to name in SCIM terms, the value not quoted", msg, bridge.AttrOf(err))
	}
	// The container is the table's (or the operator's) to provide: a 500,
	// and the log says which one is missing.
	_, err = c.Add(tctx(t), bridge.AddRequest{DN: "uid=x,ou=nowhere," + o.BaseDN, Attrs: map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"x"}, "cn": {"x"}, "sn": {"x"}}})
	if bridge.KindOf(err) != bridge.KindMisconfigured || strings.Contains(bridge.SafeMessage(err), "nowhere") ||
		!strings.Contains(bridge.FixOf(err), "ou=nowhere,"+o.BaseDN) {
		t.Errorf("Add below a missing parent: %v (fix %q)", err, bridge.FixOf(err))
	}
	// A table row naming an attribute the schema lacks.
	_, err = c.Add(tctx(t), bridge.AddRequest{DN: "uid=x," + o.PeopleDN, Attrs: map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"x"}, "cn": {"x"}, "sn": {"x"}, "dispalyName": {"x"}}})
	if bridge.KindOf(err) != bridge.KindMisconfigured || bridge.AttrOf(err) != "dispalyName" || !strings.Contains(bridge.FixOf(err), "dispalyName is not in the directory schema") {
		t.Errorf("Add with an attribute the schema lacks: %v (fix %q)", err, bridge.FixOf(err))
	}
	var be *bridge.Error
	if !errors.As(err, &be) || !strings.HasPrefix(be.Op, "ldapside.(*Conn).Add") {
		t.Errorf("error does not name its op: %v", err)
	}
	_, err = c.Search(tctx(t), bridge.SearchRequest{Filter: bridge.Eq("cn)(uid=*", "x"), Count: 1})
	if bridge.KindOf(err) != bridge.KindInvalidFilter {
		t.Errorf("filter with an injected attribute name: %v", err)
	}
	_, err = c.Search(tctx(t), bridge.SearchRequest{SortBy: "noSuchAttrXyz", Count: 1})
	if k := bridge.KindOf(err); k != bridge.KindMisconfigured {
		t.Errorf("sort by an unknown attribute: %v", err)
	}
}
