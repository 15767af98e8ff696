package bridge

import (
	"container/list"
	"sync"
)

// entryCache remembers the last entry the service read or wrote for each
// of at most max ids, least recently used dropped first, so that a PUT or
// PATCH can be planned on it and sent as one guarded modify
// (ModifyRequest.Guessed) instead of reading the entry first. Nothing in
// it is trusted: the directory checks every use against the entry as it is.
// Entries are shared, never changed: callers treat them as read-only.
type entryCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List // front: most recently used; values are *Entry
	ids map[string]*list.Element
}

func newEntryCache(max int) *entryCache {
	if max <= 0 {
		return nil
	}
	return &entryCache{max: max, ll: list.New(), ids: make(map[string]*list.Element)}
}

func (c *entryCache) get(id string) *Entry {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.ids[id]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*Entry)
}

// put remembers e; an entry without id, DN or version cannot be guarded
// and is not kept.
func (c *entryCache) put(e *Entry) {
	if c == nil || e == nil || e.ID == "" || e.DN == "" || e.Version == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.ids[e.ID]; ok {
		el.Value = e
		c.ll.MoveToFront(el)
		return
	}
	c.ids[e.ID] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.ids, last.Value.(*Entry).ID)
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
