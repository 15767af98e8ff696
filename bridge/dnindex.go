package bridge

import (
	"encoding/hex"
	"sync"
)

// DefaultDNIndex is how many ids the users service's id -> DN index holds
// (ServiceConfig.DNIndex): at ~50 bytes an id live (TestDNIndexMemory:
// runtime.MemStats over 100,000 ids of the bench's shape, uid=userNNNNNN
// below one parent), 250,000 ids are at most ~13 MB, and 100,000 users fit
// in one of its two generations whole.
const DefaultDNIndex = 250_000

// dnIndex remembers the DN of each id the service saw, so that a PATCH
// whose outcome does not depend on the entry's values can be sent
// as one modify to that DN, guarded by an Assertion on the id (a blind
// write, ModifyRequest.Blind). Like the entry cache it is a hint: the
// directory checks every use.
//
// It is compact rather than exact about recency: ids are kept in two
// generations (maps of 16-byte binary UUIDs to a RDN in an arena and the
// number of a shared parent DN); when the newer one holds max/2 ids the
// older one is forgotten whole and the newer one takes its place. A found
// id moves to the newer generation. So at most max ids are held and the
// max/2 most recently seen are always there. Ids that are not UUIDs (the
// embedded directory's are) are not kept: those directories are small.
type dnIndex struct {
	mu       sync.Mutex
	max      int
	cur, old *dnGen
	parents  []string          // shared parent DNs, by number
	parentNo map[string]uint32 // parent DN -> its number
}

// dnGen is one generation: every RDN it holds, one after the other in
// arena.
type dnGen struct {
	ids   map[[16]byte]dnRef
	arena []byte
}

type dnRef struct {
	off    uint32 // of the RDN in the generation's arena
	n      uint16 // its length
	parent uint16 // number in dnIndex.parents
}

// maxParents bounds the parent DNs: beyond them (a directory of many
// containers) new entries are not indexed and take the reading path.
const maxParents = 1 << 16

func newDNIndex(max int) *dnIndex {
	if max <= 0 {
		return nil
	}
	return &dnIndex{max: max, cur: newDNGen(), old: newDNGen(), parentNo: map[string]uint32{}}
}

func newDNGen() *dnGen { return &dnGen{ids: map[[16]byte]dnRef{}} }

// uuidKey is id as 16 bytes when it is a UUID in its 8-4-4-4-12 form.
func uuidKey(id string) ([16]byte, bool) {
	var k [16]byte
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return k, false
	}
	var b [32]byte
	j := 0
	for i := 0; i < len(id); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		b[j] = id[i]
		j++
	}
	if _, err := hex.Decode(k[:], b[:]); err != nil {
		return k, false
	}
	return k, true
}

// splitRDN splits dn at its first unescaped comma.
func splitRDN(dn string) (rdn, parent string, ok bool) {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return dn[:i], dn[i+1:], i > 0 && i < len(dn)-1
		}
	}
	return "", "", false
}

// put remembers that id names dn.
func (x *dnIndex) put(id, dn string) {
	if x == nil {
		return
	}
	k, ok := uuidKey(id)
	if !ok {
		return
	}
	rdn, parent, ok := splitRDN(dn)
	if !ok || len(rdn) > 1<<16-1 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	p, ok := x.parentNo[parent]
	if !ok {
		if len(x.parents) >= maxParents {
			x.dropLocked(k)
			return
		}
		p = uint32(len(x.parents))
		x.parents = append(x.parents, parent)
		x.parentNo[parent] = p
	}
	if r, ok := x.cur.ids[k]; ok && r.parent == uint16(p) && string(x.cur.arena[r.off:r.off+uint32(r.n)]) == rdn {
		return
	}
	delete(x.old.ids, k)
	x.insertLocked(k, rdn, uint16(p))
}

func (x *dnIndex) insertLocked(k [16]byte, rdn string, p uint16) {
	if len(x.cur.ids) >= (x.max+1)/2 || len(x.cur.arena)+len(rdn) > 1<<32-1 {
		x.old, x.cur = x.cur, newDNGen()
	}
	off := uint32(len(x.cur.arena))
	x.cur.arena = append(x.cur.arena, rdn...)
	x.cur.ids[k] = dnRef{off: off, n: uint16(len(rdn)), parent: p}
}

// get returns the DN remembered for id, or "".
func (x *dnIndex) get(id string) string {
	if x == nil {
		return ""
	}
	k, ok := uuidKey(id)
	if !ok {
		return ""
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if r, ok := x.cur.ids[k]; ok {
		return string(x.cur.arena[r.off:r.off+uint32(r.n)]) + "," + x.parents[r.parent]
	}
	r, ok := x.old.ids[k]
	if !ok {
		return ""
	}
	rdn := string(x.old.arena[r.off : r.off+uint32(r.n)])
	delete(x.old.ids, k)
	x.insertLocked(k, rdn, r.parent)
	return rdn + "," + x.parents[r.parent]
}

func (x *dnIndex) drop(id string) {
	if x == nil {
		return
	}
	k, ok := uuidKey(id)
	if !ok {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dropLocked(k)
}

func (x *dnIndex) dropLocked(k [16]byte) {
	delete(x.cur.ids, k)
	delete(x.old.ids, k)
}

func (x *dnIndex) len() int {
	if x == nil {
		return 0
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.cur.ids) + len(x.old.ids)
}
