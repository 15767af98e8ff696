package ldapside

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// walk reads every page of req's query, count entries a page, and returns
// the uids in order and the Total of each page.
func walk(t *testing.T, c *Conn, req bridge.SearchRequest, count int) (uids []string, totals []int) {
	t.Helper()
	for off := 0; ; off += count {
		req.Offset, req.Count = off, count
		res, err := c.Search(tctx(t), req)
		if err != nil {
			t.Errorf("page at %d: %v", off, err) // not Fatal: walks run in goroutines too
			return uids, totals
		}
		totals = append(totals, res.Total)
		for _, e := range res.Entries {
			uids = append(uids, e.First("uid"))
		}
		if off+count >= res.Total {
			return uids, totals
		}
	}
}

// TestVLVWalkContinuesContext: the pages after the first continue the sort
// context the first one made, on the same connection (no dial per page),
// in the same order as pages of a fresh sort, and see the snapshot of the
// first page.
func TestVLVWalkContinuesContext(t *testing.T) {
	o, c := startDirectory(t, func(cfg *Config) { cfg.PoolSize = 4 })
	ou := fillPeople(t, c, o, 60)
	req := bridge.SearchRequest{Base: ou, Filter: bridge.Eq("objectClass", "inetOrgPerson"), SortBy: "uid"}
	var dials atomic.Int64
	c.dialHook = func(string) { dials.Add(1) }
	uids, totals := walk(t, c, req, 7)
	if len(uids) != 60 {
		t.Fatalf("walk read %d entries, want 60", len(uids))
	}
	for i, u := range uids {
		if want := fmt.Sprintf("v%03d", i); u != want {
			t.Fatalf("entry %d is %q, want %q", i, u, want)
		}
	}
	for i, n := range totals {
		if n != 60 {
			t.Errorf("page %d: Total %d, want 60", i, n)
		}
	}
	// The walk's 9 pages: at most the first page dials (the connections
	// the fill left idle may serve it).
	if n := dials.Load(); n > 1 {
		t.Errorf("a 9-page walk dialed %d connections, want at most 1", n)
	}

	// Snapshot semantics: an entry added during a walk is not in it, and
	// Total stays that of the first page; a new walk sees it.
	req.Offset, req.Count = 0, 10
	first, err := c.Search(tctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	addPerson(t, c, ou, "v000a", "", false) // sorts second
	req.Offset = 10
	second, err := c.Search(tctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if first.Total != 60 || second.Total != 60 || second.Entries[0].First("uid") != "v010" {
		t.Errorf("during a walk: totals %d, %d, page 2 starts at %q; want 60, 60, v010 (the snapshot)", first.Total, second.Total, second.Entries[0].First("uid"))
	}
	req.Offset = 0
	again, err := c.Search(tctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Total != 61 || again.Entries[1].First("uid") != "v000a" {
		t.Errorf("a new walk: Total %d, second entry %q; want 61, v000a", again.Total, again.Entries[1].First("uid"))
	}
	if c.busyRetries.Load() != 0 {
		t.Errorf("%d searches were refused as busy", c.busyRetries.Load())
	}
}

// TestVLVContextsDoNotLeak: the test slapd allows 16 sort contexts in all
// (olcSssVlvMax) and per connection. Many walks of different queries,
// abandoned part way, one after the other and at the same time, must never
// meet a busy server: a pool of 4 keeps at most one context a connection.
func TestVLVContextsDoNotLeak(t *testing.T) {
	o, c := startDirectory(t, func(cfg *Config) { cfg.PoolSize = 4 })
	ou := fillPeople(t, c, o, 40)
	query := func(i int) bridge.SearchRequest {
		// Distinct filters: every walk is a new sort context.
		return bridge.SearchRequest{Base: ou, SortBy: []string{"uid", "cn", ""}[i%3],
			Filter: bridge.And(bridge.Eq("objectClass", "inetOrgPerson"), bridge.Not(bridge.Eq("uid", fmt.Sprintf("nobody%d", i))))}
	}
	for i := range 120 {
		req := query(i)
		for p := range 1 + i%3 { // abandon walks after 1 to 3 pages of 40
			req.Offset, req.Count = p*5, 5
			res, err := c.Search(tctx(t), req)
			if err != nil {
				t.Fatalf("walk %d page %d: %v", i, p, err)
			}
			if res.Total != 40 || len(res.Entries) != 5 {
				t.Fatalf("walk %d page %d: Total %d, %d entries", i, p, res.Total, len(res.Entries))
			}
		}
	}
	// slapd frees a closed connection's sort context when it notices the
	// close, so a retired connection's context can still count for a moment
	// and one search may be answered busy and retried (the searches above
	// all succeeded). A leak would make nearly every search after the 16th
	// busy: the bound tells the two apart without depending on timing.
	if n := c.busyRetries.Load(); n > 30 {
		t.Errorf("sequential walks: %d of about 240 searches were refused as busy: sort contexts leak", n)
	}
	t.Logf("sequential walks: %d busy retries", c.busyRetries.Load())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				uids, _ := walk(t, c, query(1000+g*10+i), 9)
				if len(uids) != 40 {
					t.Errorf("concurrent walk %d/%d read %d entries, want 40", g, i, len(uids))
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("concurrent walks: %d busy retries", c.busyRetries.Load())
}
