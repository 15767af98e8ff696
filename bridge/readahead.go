package bridge

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ReadAhead fetches the next page of a walk while the client is still
// reading the current one. Identity providers import page after page,
// one request at a time; without it the directory, the gateway and the
// client take turns and each waits for the others. With it the directory
// read and the mapping of page k+1 overlap the encoding of page k and the
// client's parsing of it.
//
// One page ahead: fetching a second one after it (tried in stop 22) made
// no import faster, on OpenLDAP (100,000 users) or Samba (10,000), where
// the gateway's own processor time per page is the limit.
//
// A page is fetched ahead only for a walk: a request that starts where a
// page served before ended, for the same search. A prefetched page is used
// only if no write went through any Service sharing the ReadAhead since
// its fetch began and it is younger than MaxAge; otherwise it is dropped
// and the request reads the directory itself. Writes made directly in the
// directory by others can therefore be up to MaxAge late in a walk, which
// is no later than the snapshot a sorted walk already reads from.
type ReadAhead struct {
	maxAge   time.Duration
	maxPages int
	now      func() time.Time

	mu      sync.Mutex
	gen     uint64
	pages   map[string]*aheadPage // search key and offset
	ends    map[string]time.Time  // search key and offset just past a served page
	fetched uint64
	hits    uint64
	misses  uint64
	dropped uint64
}

// aheadPage is a page being fetched (done open) or fetched.
type aheadPage struct {
	gen     uint64
	started time.Time
	done    chan struct{}
	page    Page
	err     error
}

// ReadAheadStats counts what the read-ahead did.
type ReadAheadStats struct {
	Fetched uint64 // pages fetched ahead
	Hits    uint64 // requests answered from a prefetched page
	Misses  uint64 // walk requests that found no usable page
	Dropped uint64 // prefetched pages dropped unused (write, age, room)
}

// Stats returns the counters.
func (ra *ReadAhead) Stats() ReadAheadStats {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	return ReadAheadStats{Fetched: ra.fetched, Hits: ra.hits, Misses: ra.misses, Dropped: ra.dropped}
}

// NewReadAhead returns a ReadAhead that holds at most maxPages pages (each
// up to a service's MaxPageSize resources) and uses none older than maxAge.
func NewReadAhead(maxAge time.Duration, maxPages int, now func() time.Time) *ReadAhead {
	return &ReadAhead{maxAge: maxAge, maxPages: max(maxPages, 1), now: now,
		pages: map[string]*aheadPage{}, ends: map[string]time.Time{}}
}

// writesDrop is a Service's directory when it has a ReadAhead: every
// write through it, once done (or failed: a failed write may have been
// partly applied and undone), drops the pages fetched before it.
type writesDrop struct {
	Directory
	ra *ReadAhead
}

func (d writesDrop) Add(ctx context.Context, req AddRequest) (*Entry, error) {
	defer d.ra.wrote()
	return d.Directory.Add(ctx, req)
}

func (d writesDrop) Modify(ctx context.Context, req ModifyRequest) (*Entry, error) {
	defer d.ra.wrote()
	return d.Directory.Modify(ctx, req)
}

func (d writesDrop) Delete(ctx context.Context, id string) error {
	defer d.ra.wrote()
	return d.Directory.Delete(ctx, id)
}

// wrote records a write: pages fetched before it are not used.
func (ra *ReadAhead) wrote() {
	ra.mu.Lock()
	ra.gen++
	for k, p := range ra.pages {
		select {
		case <-p.done:
			delete(ra.pages, k)
			ra.dropped++
		default: // still fetching: dropped by its generation when taken
		}
	}
	ra.mu.Unlock()
}

func pageKey(search string, offset int) string {
	return search + "\x00" + strconv.Itoa(offset)
}

// searchKey identifies a search apart from its offset.
func searchKey(rt string, req SearchRequest) string {
	var b strings.Builder
	b.WriteString(rt)
	b.WriteByte(0)
	b.WriteString(req.Base)
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(int(req.Scope)))
	b.WriteByte(0)
	b.WriteString(req.Filter.String())
	b.WriteByte(0)
	b.WriteString(strings.Join(req.Attrs, ","))
	b.WriteByte(0)
	b.WriteString(req.SortBy)
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(req.Count))
	return b.String()
}

// take returns the prefetched page for key at offset, waiting for one in
// flight, and reports whether it was usable. A walk request (one starting
// where a served page ended) that finds nothing counts as a miss.
func (ra *ReadAhead) take(ctx context.Context, key string, offset int) (Page, bool) {
	k := pageKey(key, offset)
	ra.mu.Lock()
	p, ok := ra.pages[k]
	if ok {
		delete(ra.pages, k)
	} else if _, walk := ra.ends[k]; walk {
		ra.misses++
	}
	ra.mu.Unlock()
	if !ok {
		return Page{}, false
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return Page{}, false
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if p.err != nil || p.gen != ra.gen || ra.now().Sub(p.started) > ra.maxAge {
		ra.dropped++
		return Page{}, false
	}
	ra.hits++
	return p.page, true
}

// served records that a page of key ending before next was answered, and
// returns whether that page continued a walk (so the next one is worth
// fetching ahead).
func (ra *ReadAhead) served(key string, offset, next int) bool {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	now := ra.now()
	for k, t := range ra.ends {
		if now.Sub(t) > ra.maxAge {
			delete(ra.ends, k)
		}
	}
	start := pageKey(key, offset)
	_, walk := ra.ends[start]
	delete(ra.ends, start)
	if len(ra.ends) < 4*ra.maxPages {
		ra.ends[pageKey(key, next)] = now
	}
	return walk
}

// start fetches the page of key at offset in the background, unless it is
// already held or there is no room.
func (ra *ReadAhead) start(ctx context.Context, key string, offset int, fetch func(context.Context) (Page, error)) {
	k := pageKey(key, offset)
	ra.mu.Lock()
	if _, ok := ra.pages[k]; ok {
		ra.mu.Unlock()
		return
	}
	if len(ra.pages) >= ra.maxPages {
		oldest := ""
		var at time.Time
		for pk, p := range ra.pages {
			select {
			case <-p.done:
				if oldest == "" || p.started.Before(at) {
					oldest, at = pk, p.started
				}
			default:
			}
		}
		if oldest == "" {
			ra.mu.Unlock()
			return // every slot is fetching: do not pile up directory reads
		}
		delete(ra.pages, oldest)
		ra.dropped++
	}
	p := &aheadPage{gen: ra.gen, started: ra.now(), done: make(chan struct{})}
	ra.pages[k] = p
	ra.fetched++
	ra.mu.Unlock()
	go func() {
		defer close(p.done)
		// The request that caused this has ended; its values (request
		// id for logs) stay, its cancellation does not.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ra.maxAge)
		defer cancel()
		p.page, p.err = fetch(fctx)
	}()
}
