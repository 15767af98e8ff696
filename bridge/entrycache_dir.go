package bridge

import (
	"context"
	"errors"
	"slices"
)

// DefaultEntryCache is the number of entries the gateway's users service
// remembers for its one-operation PUT and PATCH. A packed entry of ~20
// attributes of ~20 bytes is ~1.2 KB live (runtime.MemStats over 10,000 of
// them, 2026-12), so the cache holds ~6 MB and, with Go's GC headroom,
// costs ~12 MB of RSS however many users the directory holds: 10,000
// measured +22 MB at the bench's full import, too near the 64 MB target at
// N = 100,000.
const DefaultEntryCache = 5000

// cachingDirectory is the Directory a Service with an entry cache reads and
// writes through: every entry it hands back with the service's full set of
// attributes is remembered, and every write that answers with less (or
// fails) forgets the id. The cache is a hint, never a source of truth: its
// entries are used only for ModifyRequest.Guessed, which the directory
// checks against the entry as it is.
//
// It feeds the id -> DN index (x) too, from every entry it sees, list pages
// included; the entry cache only from entries read or written singly (a
// GET, a lookup that finds one, a create's or write's answer): a list
// page's entries would cost the import their packing and push out the
// entries an identity provider is about to write, and a blind write needs
// only their DN.
type cachingDirectory struct {
	Directory
	c    *entryCache // nil: no entries remembered
	x    *dnIndex    // nil: no DNs remembered
	full []string    // the attributes a remembered entry must have been read with
}

func (d cachingDirectory) complete(attrs []string) bool { return slices.Equal(attrs, d.full) }

func (d cachingDirectory) Get(ctx context.Context, base, id string, attrs []string) (*Entry, error) {
	e, err := d.Directory.Get(ctx, base, id, attrs)
	switch {
	case err == nil:
		d.x.put(e.ID, e.DN)
		if d.complete(attrs) {
			d.c.put(e)
		}
	case KindOf(err) == KindNotFound:
		d.c.drop(id)
		d.x.drop(id)
	}
	return e, err
}

func (d cachingDirectory) GetByDN(ctx context.Context, dn string, attrs []string) (*Entry, error) {
	e, err := d.Directory.GetByDN(ctx, dn, attrs)
	if err == nil {
		d.x.put(e.ID, e.DN)
		if d.complete(attrs) {
			d.c.put(e)
		}
	}
	return e, err
}

func (d cachingDirectory) Search(ctx context.Context, req SearchRequest) (*SearchResult, error) {
	res, err := d.Directory.Search(ctx, req)
	if err != nil {
		return res, err
	}
	for _, e := range res.Entries {
		d.x.put(e.ID, e.DN)
	}
	if len(res.Entries) == 1 && d.complete(req.Attrs) {
		d.c.put(res.Entries[0])
	}
	return res, err
}

func (d cachingDirectory) Add(ctx context.Context, req AddRequest) (*Entry, error) {
	e, err := d.Directory.Add(ctx, req)
	if err == nil {
		d.x.put(e.ID, e.DN)
		if d.complete(req.Return) {
			d.c.put(e)
		}
	}
	return e, err
}

func (d cachingDirectory) Modify(ctx context.Context, req ModifyRequest) (*Entry, error) {
	e, err := d.Directory.Modify(ctx, req)
	if err == nil && d.complete(req.Return) {
		d.c.put(e)
	} else {
		d.c.drop(req.ID)
	}
	if err == nil && e != nil && e.DN != "" {
		d.x.put(e.ID, e.DN)
	} else {
		// Refused or failed: the next write finds the entry by id. (A
		// leaver's DN, outside the container, is kept but never used:
		// blindEntry checks where a DN lies.)
		d.x.drop(req.ID)
	}
	return e, err
}

func (d cachingDirectory) Delete(ctx context.Context, id string) error {
	err := d.Directory.Delete(ctx, id)
	d.c.drop(id)
	d.x.drop(id)
	return err
}

// stale reports whether err is a Guessed request's refusal: nothing was
// written, and the service plans again on a fresh read.
func stale(err error) bool { return errors.Is(err, ErrStaleCurrent) }
