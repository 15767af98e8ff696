package ldapside

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// TestSmallResultsWithoutVLV: lookups and counts whose result fits in the
// page are answered without a VLV sort context, so their connections stay
// pooled (no dial per lookup); larger results still get the exact Total
// and the sorted window.
func TestSmallResultsWithoutVLV(t *testing.T) {
	o, c := startDirectory(t, func(cfg *Config) { cfg.PoolSize = 2 })
	ou := fillPeople(t, c, o, 40)
	var dials atomic.Int64
	c.dialHook = func(string) { dials.Add(1) }
	for i := range 40 {
		uid := fmt.Sprintf("v%03d", i)
		res, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.Eq("uid", uid), Count: 100})
		if err != nil || res.Total != 1 || len(res.Entries) != 1 || res.Entries[0].First("uid") != uid {
			t.Fatalf("lookup %s: %v %+v", uid, err, res)
		}
		// A uniqueness check: the total only.
		res, err = c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.Eq("uid", uid)})
		if err != nil || res.Total != 1 || len(res.Entries) != 0 {
			t.Fatalf("count %s: %v %+v", uid, err, res)
		}
	}
	res, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.Present("uid")})
	if err != nil || res.Total != 40 {
		t.Fatalf("count of 40: %v %+v", err, res)
	}
	// A whole result in one page, sorted.
	res, err = c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.Present("uid"), SortBy: "uid", Count: 40})
	if err != nil || res.Total != 40 || len(res.Entries) != 40 || res.Entries[39].First("uid") != "v039" {
		t.Fatalf("a page holding all 40: %v", err)
	}
	if n := dials.Load(); n > 0 {
		t.Errorf("%d dials for searches with small results, want none (no VLV context to retire)", n)
	}
	// Larger than the page: the VLV path, same window and Total.
	res, err = c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.Present("uid"), SortBy: "uid", Count: 5})
	if err != nil || res.Total != 40 || len(res.Entries) != 5 || res.Entries[0].First("uid") != "v000" || res.Entries[4].First("uid") != "v004" {
		t.Fatalf("first page of 5 of 40: %v %+v", err, res)
	}
	// The small path's own order (by id, sorted here) is the server's:
	// the same as pages of 5, which go through VLV.
	for _, sortBy := range []string{"", "cn"} {
		all, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.Present("uid"), SortBy: sortBy, Count: 100})
		if err != nil || len(all.Entries) != 40 {
			t.Fatalf("sortBy %q, all in one page: %v", sortBy, err)
		}
		uids, _ := walk(t, c, bridge.SearchRequest{Base: ou, Filter: bridge.Present("uid"), SortBy: sortBy}, 5)
		for i, e := range all.Entries {
			if i >= len(uids) || e.First("uid") != uids[i] {
				t.Fatalf("sortBy %q: entry %d is %q in one page, %q in pages of 5", sortBy, i, e.First("uid"), uids[min(i, len(uids)-1)])
			}
		}
	}
}
