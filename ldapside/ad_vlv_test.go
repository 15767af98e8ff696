package ldapside

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// TestADVLVKeepsConnection: on Samba a VLV search (every page of an import
// and every lookup, AD has no small-result path) leaves its connection in
// the pool; before, each one retired it and the next search dialed, bound
// and shook hands again. The pages still come out whole and in order.
func TestADVLVKeepsConnection(t *testing.T) {
	s, c, people, _ := startAD(t, func(cfg *Config) { cfg.PoolSize = 2 })
	const n = 23
	dns := addContacts(t, s, people, "vk", n)
	// Warm the pool: one search may dial.
	if _, err := c.Search(tctx(t), bridge.SearchRequest{Base: people, Filter: bridge.Eq("objectClass", "contact")}); err != nil {
		t.Fatal(err)
	}
	var dials atomic.Int64
	c.dialHook = func(string) { dials.Add(1) }
	seen := map[string]bool{}
	prev := ""
	for offset := 0; offset < n; offset += 5 {
		res, err := c.Search(tctx(t), bridge.SearchRequest{Base: people, Filter: bridge.Eq("objectClass", "contact"),
			SortBy: "cn", Offset: offset, Count: 5, Attrs: []string{"cn"}})
		if err != nil {
			t.Fatalf("page at %d: %v", offset, err)
		}
		if res.Total != n || len(res.Entries) != min(5, n-offset) {
			t.Fatalf("page at %d: Total %d, %d entries", offset, res.Total, len(res.Entries))
		}
		for _, e := range res.Entries {
			cn := e.First("cn")
			if seen[cn] || strings.ToLower(cn) <= prev {
				t.Fatalf("page at %d: %q repeated or out of order after %q", offset, cn, prev)
			}
			seen[cn], prev = true, strings.ToLower(cn)
		}
	}
	if len(seen) != n {
		t.Fatalf("the walk saw %d of %d", len(seen), n)
	}
	// More VLV searches on one connection than Samba keeps contexts for
	// (5): the server recycles its oldest, the searches go on.
	for i := range 12 {
		cn := fmt.Sprintf("vk%05d", i)
		res, err := c.Search(tctx(t), bridge.SearchRequest{Base: people, Filter: bridge.Eq("cn", cn), Count: 10, Attrs: []string{"cn"}})
		if err != nil || res.Total != 1 || len(res.Entries) != 1 || !strings.EqualFold(res.Entries[0].DN, dns[i]) {
			t.Fatalf("lookup %s: %v %+v", cn, err, res)
		}
	}
	if d := dials.Load(); d > 0 {
		t.Errorf("%d dials for %d sequential VLV searches, want none (the connection stays pooled)", d, 5+12)
	}
}

// TestADVLVWalkContinuesContext: on Samba the pages after the first send
// the contextID of the last answer, and the DC answers them from the
// objectGUIDs it sorted at the first page instead of sorting again: an
// entry added during the walk is not in it and Total stays the first
// page's, while a new walk sees it. Without the context, the second page
// would start one entry earlier (the new one sorts second).
func TestADVLVWalkContinuesContext(t *testing.T) {
	s, c, people, _ := startAD(t, func(cfg *Config) { cfg.PoolSize = 2 })
	const n = 23
	addContacts(t, s, people, "vc", n)
	req := bridge.SearchRequest{Base: people, Filter: bridge.Eq("objectClass", "contact"), SortBy: "cn", Count: 10, Attrs: []string{"cn"}}
	first, err := c.Search(tctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	l := adminConn(t, s)
	ar := ldap.NewAddRequest("CN=vc00000a,"+people, nil) // sorts second
	ar.Attribute("objectClass", []string{"contact"})
	if err := l.Add(ar); err != nil {
		t.Fatal(err)
	}
	var cns []string
	totals := []int{first.Total}
	for _, e := range first.Entries {
		cns = append(cns, strings.ToLower(e.First("cn")))
	}
	for req.Offset = 10; req.Offset < n; req.Offset += 10 {
		page, err := c.Search(tctx(t), req)
		if err != nil {
			t.Fatalf("page at %d: %v", req.Offset, err)
		}
		totals = append(totals, page.Total)
		for _, e := range page.Entries {
			cns = append(cns, strings.ToLower(e.First("cn")))
		}
	}
	for i, cn := range cns {
		if want := fmt.Sprintf("vc%05d", i); cn != want {
			t.Fatalf("during a walk, entry %d is %q, want %q (the first page's snapshot); totals %v", i, cn, want, totals)
		}
	}
	if len(cns) != n || fmt.Sprint(totals) != fmt.Sprint([]int{n, n, n}) {
		t.Errorf("during a walk: %d entries, totals %v; want %d, all %d", len(cns), totals, n, n)
	}
	req.Offset = 0
	again, err := c.Search(tctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Total != n+1 || !strings.EqualFold(again.Entries[1].First("cn"), "vc00000a") {
		t.Errorf("a new walk: Total %d, second entry %q; want %d, vc00000a", again.Total, again.Entries[1].First("cn"), n+1)
	}
}

// TestADVLVContextRefused: a DC that does not know the contextID a walk
// sends back (here a forged one) fails the critical VLV control; the page
// is sorted again and comes out right, and the walks that follow stop
// sending contexts for vlvRefusalPause rather than pay a refused search on
// every page, then try again.
func TestADVLVContextRefused(t *testing.T) {
	s, c, people, _ := startAD(t, func(cfg *Config) { cfg.PoolSize = 1 })
	const n = 15
	addContacts(t, s, people, "vr", n)
	req := bridge.SearchRequest{Base: people, Filter: bridge.Eq("objectClass", "contact"), SortBy: "cn", Count: 5, Attrs: []string{"cn"}}
	var cns []string
	for req.Offset = 0; req.Offset < n; req.Offset += 5 {
		if req.Offset == 5 {
			c.pool.mu.Lock()
			forged := 0
			for _, pc := range c.pool.idle {
				if pc.vlv != nil {
					pc.vlv.ctxID = []byte{0xde, 0xad, 0xbe, 0xef}
					forged++
				}
			}
			c.pool.mu.Unlock()
			if forged != 1 {
				t.Fatalf("%d connections hold the walk's context after its first page, want 1", forged)
			}
		}
		page, err := c.Search(tctx(t), req)
		if err != nil {
			t.Fatalf("page at %d: %v", req.Offset, err)
		}
		for _, e := range page.Entries {
			cns = append(cns, strings.ToLower(e.First("cn")))
		}
	}
	for i, cn := range cns {
		if want := fmt.Sprintf("vr%05d", i); cn != want {
			t.Fatalf("entry %d is %q, want %q", i, cn, want)
		}
	}
	if len(cns) != n {
		t.Fatalf("the walk read %d entries, want %d", len(cns), n)
	}
	if c.vlvContextRefusedAt.Load() == 0 || c.keepsVLVContext() {
		t.Errorf("after a refused context the walks still keep contexts")
	}
	c.pool.mu.Lock()
	for _, pc := range c.pool.idle {
		if pc.vlv != nil {
			t.Errorf("a connection kept a sort context after the refusal")
		}
	}
	c.pool.mu.Unlock()
	// After the pause, walks try contexts again.
	c.vlvContextRefusedAt.Store(time.Now().Add(-vlvRefusalPause - time.Second).UnixNano())
	if !c.keepsVLVContext() {
		t.Errorf("after %s the walks still sort every page", vlvRefusalPause)
	}
}
