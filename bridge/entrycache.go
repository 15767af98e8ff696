package bridge

import (
	"container/list"
	"strings"
	"sync"
	"time"
)

// entryCache remembers the last entry the service read or wrote for each
// of at most max ids, least recently used dropped first, so that a PUT or
// PATCH can be planned on it and sent as one guarded modify
// (ModifyRequest.Guessed) instead of reading the entry first. Nothing in
// it is trusted: the directory checks every use against the entry as it is.
//
// Entries are kept packed (packedEntry): the map-of-slices form costs
// several times the entry's text, which the gateway's flat memory cannot
// afford. (List pages no longer pass through it, see cachingDirectory: the
// id -> DN index serves the users an import walk saw.)
type entryCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List // front: most recently used; values are *packedEntry
	ids map[string]*list.Element
}

func newEntryCache(max int) *entryCache {
	if max <= 0 {
		return nil
	}
	return &entryCache{max: max, ll: list.New(), ids: make(map[string]*list.Element)}
}

// get returns a fresh copy of the entry remembered for id, or nil.
func (c *entryCache) get(id string) *Entry {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	el, ok := c.ids[id]
	if ok {
		c.ll.MoveToFront(el)
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return el.Value.(*packedEntry).unpack()
}

// put remembers e; an entry without id, DN or version cannot be guarded
// and is not kept.
func (c *entryCache) put(e *Entry) {
	if c == nil || e == nil || e.ID == "" || e.DN == "" || e.Version == "" {
		return
	}
	p := pack(e) // outside the lock: it copies the entry
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.ids[p.id()]; ok {
		el.Value = p
		c.ll.MoveToFront(el)
		return
	}
	c.ids[p.id()] = c.ll.PushFront(p)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.ids, last.Value.(*packedEntry).id())
	}
}

func (c *entryCache) drop(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.ids[id]; ok {
		c.ll.Remove(el)
		delete(c.ids, id)
	}
}

func (c *entryCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// packedEntry is an Entry in two allocations: its strings one after the
// other in buf (id, DN, version, then each attribute's name and values),
// and ends[i] the end of the i-th string in buf. counts[j] is how many
// values the j-th attribute has.
type packedEntry struct {
	buf      string
	ends     []uint32
	counts   []uint32
	created  time.Time
	modified time.Time
	disabled bool
}

func pack(e *Entry) *packedEntry {
	n, size := 3, len(e.ID)+len(e.DN)+len(e.Version)
	for k, vs := range e.Attrs {
		n += 1 + len(vs)
		size += len(k)
		for _, v := range vs {
			size += len(v)
		}
	}
	var b strings.Builder
	b.Grow(size)
	p := &packedEntry{ends: make([]uint32, 0, n), counts: make([]uint32, 0, len(e.Attrs)),
		created: e.Created, modified: e.Modified, disabled: e.Disabled}
	add := func(s string) {
		b.WriteString(s)
		p.ends = append(p.ends, uint32(b.Len()))
	}
	add(e.ID)
	add(e.DN)
	add(e.Version)
	for k, vs := range e.Attrs {
		add(k)
		for _, v := range vs {
			add(v)
		}
		p.counts = append(p.counts, uint32(len(vs)))
	}
	p.buf = b.String()
	return p
}

func (p *packedEntry) str(i int) string {
	start := uint32(0)
	if i > 0 {
		start = p.ends[i-1]
	}
	return p.buf[start:p.ends[i]]
}

func (p *packedEntry) id() string { return p.str(0) }

// unpack returns a new Entry; its strings share buf, which never changes.
func (p *packedEntry) unpack() *Entry {
	e := &Entry{ID: p.str(0), DN: p.str(1), Version: p.str(2), Created: p.created, Modified: p.modified,
		Disabled: p.disabled, Attrs: make(map[string][]string, len(p.counts))}
	i := 3
	for _, n := range p.counts {
		k := p.str(i)
		i++
		var vs []string
		if n > 0 {
			vs = make([]string, n)
			for j := range vs {
				vs[j] = p.str(i)
				i++
			}
		}
		e.Attrs[k] = vs
	}
	return e
}
