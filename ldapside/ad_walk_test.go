package ldapside

import (
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

// pagedGUIDs runs one unsorted Simple Paged Results search of the contacts
// below base on l, with pages of size, and returns the objectGUIDs in the
// order the server sent them and the size field of each page's response.
func pagedGUIDs(t *testing.T, l *ldap.Conn, base string, attrs []string, size uint32, between func(page int)) (guids []string, sizes []uint32) {
	guids, sizes, _ = pagedEntries(t, l, base, attrs, size, between)
	return guids, sizes
}

// pagedEntries is pagedGUIDs, with the DN of each GUID.
func pagedEntries(t *testing.T, l *ldap.Conn, base string, attrs []string, size uint32, between func(page int)) (guids []string, sizes []uint32, dnOf map[string]string) {
	dnOf = map[string]string{}
	t.Helper()
	paging := ldap.NewControlPaging(size)
	for page := 0; ; page++ {
		res, err := l.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=contact)", attrs, []ldap.Control{paging}))
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		for _, e := range res.Entries {
			g := hex.EncodeToString(e.GetEqualFoldRawAttributeValue("objectGUID"))
			guids = append(guids, g)
			dnOf[g] = e.DN
		}
		pr, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if pr == nil {
			t.Fatalf("page %d: no paged results response control", page)
		}
		sizes = append(sizes, pr.PagingSize)
		if len(pr.Cookie) == 0 {
			return guids, sizes, dnOf
		}
		paging.SetCookie(pr.Cookie)
		if between != nil {
			between(page)
		}
	}
}

// TestSambaPagedResultsFacts records what Samba 4.17's Simple Paged Results
// does, on which the AD walk (ad_walk.go) relies or which it guards
// against: the size field of the response, the order of an unsorted search
// (the same for the same search, whatever the attributes asked for), and
// what a walk sees of entries added or deleted after its first page.
func TestSambaPagedResultsFacts(t *testing.T) {
	s, _, people, _ := startAD(t, nil)
	const n = 250
	addContacts(t, s, people, "pf", n)
	l := adminConn(t, s)

	full, sizes, dnOf := pagedEntries(t, l, people, []string{"cn", "description", "objectGUID"}, 100, nil)
	t.Logf("size fields of the pages: %v", sizes)
	if len(full) != n {
		t.Fatalf("the walk gave %d entries, want %d", len(full), n)
	}
	for _, sz := range sizes {
		if int(sz) != n && sz != 0 {
			t.Errorf("a page's size field is %d: neither the exact total %d nor 0", sz, n)
		}
	}
	again, _ := pagedGUIDs(t, l, people, []string{"objectGUID"}, 1000, nil)
	if !slices.Equal(full, again) {
		t.Errorf("the same search with other attributes and another page size came in another order")
	}

	// Writes after the first page.
	added := "CN=pfadded," + people
	during, _ := pagedGUIDs(t, l, people, []string{"objectGUID"}, 100, func(page int) {
		if page != 0 {
			return
		}
		ar := ldap.NewAddRequest(added, nil)
		ar.Attribute("objectClass", []string{"contact"})
		if err := l.Add(ar); err != nil {
			t.Fatal(err)
		}
		if err := l.Del(ldap.NewDelRequest(dnOf[full[n-1]], nil)); err != nil {
			t.Fatal(err)
		}
	})
	after, _ := pagedGUIDs(t, l, people, []string{"objectGUID"}, 1000, nil)
	var addedGUID string
	for _, g := range after {
		if !slices.Contains(full, g) {
			addedGUID = g
		}
	}
	deletedGUID := full[n-1]
	t.Logf("a walk with one add and one delete after its first page: %d entries, the added one in it: %t, the deleted one in it: %t",
		len(during), slices.Contains(during, addedGUID), slices.Contains(during, deletedGUID))
	t.Logf("a walk after them: %d entries, the added one at %d; in objectGUID byte order: %t",
		len(after), slices.Index(after, addedGUID), slices.IsSorted(after))
}

// startADWalk opens a Conn on the shared Samba DC over plain LDAP through
// a fault proxy (cuts) and an op counter (searches and controls on the
// wire), with n contacts below a container of its own.
func startADWalk(t *testing.T, n int) (*Conn, *testenv.FaultProxy, *opCounter, *ldap.Conn, string, []string) {
	t.Helper()
	s := testenv.SharedSambaAD(t)
	counter := startOpCounter(t, strings.TrimPrefix(s.URL, "ldap://"), nil, nil)
	proxy, err := testenv.StartFaultProxy(t, strings.TrimPrefix(counter.url(), "ldap://"))
	if err != nil {
		t.Fatal(err)
	}
	_, c, people, _ := startAD(t, func(cfg *Config) { cfg.URLs = []string{proxy.URL()}; cfg.PoolSize = 2 })
	dns := addContacts(t, s, people, "w", n)
	return c, proxy, counter, adminConn(t, s), people, dns
}

// walkPage reads one page of the contacts below people in the default order.
func walkPage(t *testing.T, c *Conn, people string, offset, count int) (*bridge.SearchResult, error) {
	t.Helper()
	return c.Search(tctx(t), bridge.SearchRequest{Base: people, Filter: bridge.Eq("objectClass", "contact"),
		Offset: offset, Count: count, Attrs: []string{"cn"}})
}

func idsOf(res *bridge.SearchResult) []string {
	var out []string
	for _, e := range res.Entries {
		out = append(out, e.ID)
	}
	return out
}

// TestADWalk: on Samba a walk of a list in the default order is one
// unsorted paged search, one search on the wire per page and no sort
// control, with the exact total on every page; it yields every entry
// once, in ascending objectGUID order (the id order), and random pages
// agree with it. With the VLV path put back (noADWalk) every page carries
// Server-Side Sort and the test fails there.
func TestADWalk(t *testing.T) {
	const n, size = 1234, 100
	c, _, counter, _, people, _ := startADWalk(t, n)
	if _, err := walkPage(t, c, people, 0, 0); err != nil { // warm the pool; a total keeps no cookie
		t.Fatal(err)
	}
	counter.take()
	var walk []string
	seen := map[string]bool{}
	pages := 0
	for off := 0; off < n; off += size {
		res, err := walkPage(t, c, people, off, size)
		if err != nil {
			t.Fatalf("page at %d: %v", off, err)
		}
		pages++
		if res.Total != n || len(res.Entries) != min(size, n-off) {
			t.Fatalf("page at %d: Total %d with %d entries, want %d with %d", off, res.Total, len(res.Entries), n, min(size, n-off))
		}
		for _, id := range idsOf(res) {
			if seen[id] {
				t.Fatalf("page at %d: %s again", off, id)
			}
			seen[id] = true
			walk = append(walk, id)
		}
	}
	ctrls := counter.takeControls()
	if got := counter.take()[opSearch]; got != pages {
		t.Errorf("the walk of %d pages sent %d searches, want one a page", pages, got)
	}
	if ctrls[oidSortRequest] != 0 || ctrls[oidVLVRequest] != 0 || ctrls[oidPagedResults] != pages {
		t.Errorf("the walk's controls: %d sort, %d VLV, %d paged; want 0, 0, %d", ctrls[oidSortRequest], ctrls[oidVLVRequest], ctrls[oidPagedResults], pages)
	}
	admin, _ := pagedGUIDs(t, adminConn(t, testenv.SharedSambaAD(t)), people, []string{"1.1", "objectGUID"}, 1000, nil)
	var got []string
	for _, id := range walk {
		b, _ := guidBytes(id)
		got = append(got, hex.EncodeToString(b))
	}
	if len(admin) != n || !sameSet(got, admin) {
		t.Fatalf("the walk saw %d entries, the admin %d (of %d), not the same set", len(walk), len(admin), n)
	}
	guidOrder := slices.Clone(walk)
	slices.SortFunc(guidOrder, func(a, b string) int {
		x, _ := guidBytes(a)
		y, _ := guidBytes(b)
		return slices.Compare(x, y)
	})
	if !slices.Equal(walk, guidOrder) {
		t.Errorf("the walk is not in objectGUID byte order")
	}
	// Random pages, first the ones no walk ended at, then walk positions.
	for _, w := range []struct{ off, count int }{{1, 10}, {457, 10}, {999, 3}, {1001, 50}, {1230, 10}, {0, 5}, {700, 100}, {1200, 100}} {
		counter.take()
		res, err := walkPage(t, c, people, w.off, w.count)
		if err != nil {
			t.Fatalf("window %+v: %v", w, err)
		}
		if res.Total != n || !slices.Equal(idsOf(res), walk[w.off:min(n, w.off+w.count)]) {
			t.Errorf("window %+v: Total %d, entries not the walk's [%d:%d]", w, res.Total, w.off, w.off+w.count)
		}
		// Pages of up to 1,000 ids (or entries, for a walk position)
		// to the window's end, a read of the window, an abandon.
		got, bound := counter.take()[opSearch], (w.off+w.count)/1000+3
		t.Logf("window %+v: %d searches", w, got)
		if got > bound {
			t.Errorf("window %+v: %d searches, want at most %d", w, got, bound)
		}
	}
	// Beyond the end and a total only.
	for _, off := range []int{n, n + 5} {
		if res, err := walkPage(t, c, people, off, 10); err != nil || res.Total != n || len(res.Entries) != 0 {
			t.Errorf("offset %d: %v, %+v", off, err, res)
		}
	}
	counter.take()
	if res, err := walkPage(t, c, people, 0, 0); err != nil || res.Total != n || len(res.Entries) != 0 {
		t.Errorf("count 0: %v, %+v", err, res)
	}
	t.Logf("a total only: %d searches", counter.take()[opSearch])
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// walkAll walks every page of size from offset 0 and returns the ids.
func walkAll(t *testing.T, c *Conn, people string, size int) []string {
	t.Helper()
	var out []string
	for off := 0; ; off += size {
		res, err := walkPage(t, c, people, off, size)
		if err != nil {
			t.Fatalf("page at %d: %v", off, err)
		}
		out = append(out, idsOf(res)...)
		if off+size >= res.Total {
			return out
		}
	}
}

// pageAfterCut asks for the page at off until the connections the cut
// closed are gone from the pool: the first attempts may meet one.
func pageAfterCut(t *testing.T, c *Conn, people string, off, size int) (*bridge.SearchResult, error) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		res, err := walkPage(t, c, people, off, size)
		if err == nil || attempt == 3 || strings.Contains(bridge.SafeMessage(err), "startIndex 1") {
			return res, err
		}
		t.Logf("page at %d, attempt %d: %v", off, attempt+1, err)
	}
}

// TestADWalkCut: a walk whose connection is cut continues from a new
// search that skips to its offset, and gives every entry once, when the
// directory did not change; when an entry it had served was deleted and
// another added meanwhile, the page fails with KindUnavailable and a text
// saying to start again (a restart would have shifted every entry by
// one), and a new walk sees the directory as it is. Concurrent walks on
// fewer connections than walkers also give every entry once. With the VLV
// path put back (noADWalk) the changed walk is served, shifted, and the
// test fails.
func TestADWalkCut(t *testing.T) {
	const n, size = 450, 100
	c, proxy, counter, admin, people, _ := startADWalk(t, n)
	ref := walkAll(t, c, people, size)
	if len(ref) != n {
		t.Fatalf("the first walk saw %d of %d", len(ref), n)
	}
	cut := func() {
		proxy.CutFor(time.Hour)
		proxy.Restore()
	}

	// A cut, nothing changed: the walk goes on exactly.
	var walk []string
	for off := 0; off < 200; off += size {
		res, err := walkPage(t, c, people, off, size)
		if err != nil {
			t.Fatal(err)
		}
		walk = append(walk, idsOf(res)...)
	}
	cut()
	counter.take()
	for off := 200; off < n; off += size {
		res, err := pageAfterCut(t, c, people, off, size)
		if err != nil {
			t.Fatalf("page at %d after the cut: %v", off, err)
		}
		if res.Total != n {
			t.Fatalf("page at %d after the cut: Total %d", off, res.Total)
		}
		walk = append(walk, idsOf(res)...)
	}
	if !slices.Equal(walk, ref) {
		t.Fatalf("the walk across a cut (%d entries) is not the walk without one", len(walk))
	}
	t.Logf("the rest of the walk after the cut: %d searches", counter.take()[opSearch])

	// A cut, an entry the walk served deleted and one added.
	walk = walk[:0]
	for off := 0; off < 200; off += size {
		res, err := walkPage(t, c, people, off, size)
		if err != nil {
			t.Fatal(err)
		}
		walk = append(walk, idsOf(res)...)
	}
	served, err := c.Get(tctx(t), people, walk[50], nil)
	if err != nil {
		t.Fatal(err)
	}
	cut()
	if err := admin.Del(ldap.NewDelRequest(served.DN, nil)); err != nil {
		t.Fatal(err)
	}
	ar := ldap.NewAddRequest("CN=wadded,"+people, nil)
	ar.Attribute("objectClass", []string{"contact"})
	if err := admin.Add(ar); err != nil {
		t.Fatal(err)
	}
	res, err := pageAfterCut(t, c, people, 200, size)
	if err == nil {
		t.Fatalf("the page after the cut and the changes was served (%d entries, Total %d): the walk skips or repeats an entry", len(res.Entries), res.Total)
	}
	if bridge.KindOf(err) != bridge.KindUnavailable || !strings.Contains(bridge.SafeMessage(err), "start again at startIndex 1") {
		t.Fatalf("the page after the cut and the changes: %v (kind %v), want unavailable with a text to start again", err, bridge.KindOf(err))
	}
	again := walkAll(t, c, people, size)
	if len(again) != n || slices.Contains(again, served.ID) {
		t.Fatalf("a new walk: %d entries (want %d), the deleted one in it: %t", len(again), n, slices.Contains(again, served.ID))
	}

	// Three walkers on two connections: the pages of each continue on
	// another walker's connection or restart, and every walk is whole.
	var wg sync.WaitGroup
	walks := make([][]string, 3)
	for i := range walks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := 0; off < n; off += 50 {
				res, err := walkPage(t, c, people, off, 50)
				if err != nil {
					t.Errorf("walker %d, page at %d: %v", i, off, err)
					return
				}
				walks[i] = append(walks[i], idsOf(res)...)
			}
		}()
	}
	wg.Wait()
	for i, w := range walks {
		if !slices.Equal(w, again) {
			t.Errorf("walker %d saw %d entries, not the walk's %d in its order", i, len(w), len(again))
		}
	}
}
