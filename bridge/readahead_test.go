package bridge_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// recordingDir records the offset of every search.
type recordingDir struct {
	bridge.Directory
	mu      sync.Mutex
	offsets []int
	attrs   [][]string
}

func (d *recordingDir) Search(ctx context.Context, req bridge.SearchRequest) (*bridge.SearchResult, error) {
	d.mu.Lock()
	d.offsets = append(d.offsets, req.Offset)
	d.attrs = append(d.attrs, req.Attrs)
	d.mu.Unlock()
	return d.Directory.Search(ctx, req)
}

func (d *recordingDir) searched() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]int(nil), d.offsets...)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newWalkable(t *testing.T, n int) (*bridge.Service, *recordingDir, *bridge.ReadAhead, *clock) {
	t.Helper()
	e, m := embeddedUsers(t)
	d := &recordingDir{Directory: e}
	r := bridge.NewResolver(d, 0)
	r.Register(m)
	c := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	ra := bridge.NewReadAhead(10*time.Second, 4, c.now)
	s := bridge.NewService(d, m, r, bridge.ServiceConfig{Lifecycle: true, HardDelete: true, ReadAhead: ra})
	ctx := context.Background()
	for i := range n {
		if _, err := s.Create(ctx, user(fmt.Sprintf("u%03d", i), "t")); err != nil {
			t.Fatal(err)
		}
	}
	return s, d, ra, c
}

// walk lists every page of size count and returns the userNames in order.
func walk(t *testing.T, s *bridge.Service, count int) []string {
	t.Helper()
	var names []string
	for start := 1; ; start += count {
		p, err := s.List(context.Background(), bridge.Query{StartIndex: start, Count: count})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Resources {
			names = append(names, r.Attrs["userName"].(string))
		}
		if len(p.Resources) < count || start-1+count >= p.TotalResults {
			return names
		}
	}
}

// A walk gets the same resources with and without read-ahead, every page
// after the second is served from a page fetched ahead, and nothing is
// fetched past the end.
func TestReadAheadWalkIsCompleteAndPrefetched(t *testing.T) {
	s, d, ra, _ := newWalkable(t, 23)
	before := len(d.searched())
	got := walk(t, s, 5)
	if len(got) != 23 {
		t.Fatalf("walk read %d users, want 23: %v", len(got), got)
	}
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] {
			t.Fatalf("%s read twice", n)
		}
		seen[n] = true
	}
	st := ra.Stats()
	// Pages at 0 and 5 are read when asked (the second page is the first
	// sign of a walk: a miss); 10, 15, 20 ahead.
	if st.Hits != 3 || st.Misses != 1 || st.Fetched != 3 {
		t.Errorf("stats %+v, want 3 fetched, 3 hits and 1 miss", st)
	}
	offs := d.searched()[before:]
	for _, o := range offs {
		if o >= 23 {
			t.Errorf("searched at offset %d, past the end", o)
		}
	}
	if len(offs) != 5 {
		t.Errorf("searches at %v, want one per page", offs)
	}
}

// A write through the service drops the page fetched before it: the walk
// shows the change.
func TestReadAheadDropsPagesOnWrite(t *testing.T) {
	s, _, ra, _ := newWalkable(t, 12)
	ctx := context.Background()
	for _, start := range []int{1, 5} { // the second fetches 9..12 ahead
		if _, err := s.List(ctx, bridge.Query{StartIndex: start, Count: 4}); err != nil {
			t.Fatal(err)
		}
	}
	p3want, err := s.List(ctx, bridge.Query{StartIndex: 9, Count: 4}) // the hit; fetches nothing more
	if err != nil {
		t.Fatal(err)
	}
	// Again, with a change to a user of the third page between.
	for _, start := range []int{1, 5} {
		if _, err := s.List(ctx, bridge.Query{StartIndex: start, Count: 4}); err != nil {
			t.Fatal(err)
		}
	}
	id := p3want.Resources[0].ID
	if _, err := s.Replace(ctx, id, user(p3want.Resources[0].Attrs["userName"].(string), "changed")); err != nil {
		t.Fatal(err)
	}
	p3, err := s.List(ctx, bridge.Query{StartIndex: 9, Count: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := p3.Resources[0].Attrs["title"]; got != "changed" {
		t.Errorf("after a write the walk read title %v, want the new value", got)
	}
	if st := ra.Stats(); st.Dropped == 0 {
		t.Errorf("stats %+v: the page fetched before the write was not dropped", st)
	}
}

// A page older than the limit is not used.
func TestReadAheadDropsOldPages(t *testing.T) {
	s, _, ra, c := newWalkable(t, 12)
	ctx := context.Background()
	for _, start := range []int{1, 5} {
		if _, err := s.List(ctx, bridge.Query{StartIndex: start, Count: 4}); err != nil {
			t.Fatal(err)
		}
	}
	c.add(11 * time.Second)
	if _, err := s.List(ctx, bridge.Query{StartIndex: 9, Count: 4}); err != nil {
		t.Fatal(err)
	}
	if st := ra.Stats(); st.Hits != 0 || st.Dropped != 1 {
		t.Errorf("stats %+v, want the old page dropped, not used", st)
	}
}

// A single page, or pages that do not follow each other, fetch nothing
// ahead.
func TestReadAheadOnlyForWalks(t *testing.T) {
	s, d, ra, _ := newWalkable(t, 20)
	ctx := context.Background()
	before := len(d.searched())
	for _, start := range []int{1, 11, 6} {
		if _, err := s.List(ctx, bridge.Query{StartIndex: start, Count: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if st := ra.Stats(); st.Fetched != 0 {
		t.Errorf("3 unrelated pages fetched %d ahead", st.Fetched)
	}
	if n := len(d.searched()) - before; n != 3 {
		t.Errorf("3 unrelated pages made %d searches (%v)", n, d.searched()[before:])
	}
}

// A list without a filter (an import walk) asks the directory for the
// mapper's ListAttrs, without objectClass; a filtered one (a lookup) for
// DirectoryAttrs, so that the one entry it finds can be remembered whole.
func TestListAsksListAttrs(t *testing.T) {
	e, m := embeddedUsers(t)
	d := &recordingDir{Directory: e}
	r := bridge.NewResolver(d, 0)
	r.Register(m)
	s := bridge.NewService(d, m, r, bridge.ServiceConfig{Lifecycle: true, HardDelete: true})
	ctx := context.Background()
	if _, err := s.Create(ctx, user("la001", "t")); err != nil {
		t.Fatal(err)
	}
	lm, ok := m.(bridge.ListMapper)
	if !ok {
		t.Fatal("the users table is no ListMapper")
	}
	asked := func(q bridge.Query) []string {
		d.mu.Lock()
		d.attrs = nil
		d.mu.Unlock()
		if _, err := s.List(ctx, q); err != nil {
			t.Fatal(err)
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.attrs) == 0 {
			t.Fatal("the list searched nothing")
		}
		return d.attrs[len(d.attrs)-1]
	}
	if got := asked(bridge.Query{StartIndex: 1, Count: 10}); fmt.Sprint(got) != fmt.Sprint(lm.ListAttrs()) {
		t.Errorf("an unfiltered list asked %v, want ListAttrs %v", got, lm.ListAttrs())
	}
	f := &bridge.CompareExpr{Op: bridge.OpEq, Path: bridge.AttrPath{Attr: "userName"}, Value: "la001"}
	if got := asked(bridge.Query{StartIndex: 1, Count: 10, Filter: f}); fmt.Sprint(got) != fmt.Sprint(m.DirectoryAttrs()) {
		t.Errorf("a filtered list asked %v, want DirectoryAttrs %v", got, m.DirectoryAttrs())
	}
}
