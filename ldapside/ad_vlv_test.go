package ldapside

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
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
