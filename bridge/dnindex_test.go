package bridge

import (
	"fmt"
	"runtime"
	"testing"
)

func testUUID(i int) string {
	return fmt.Sprintf("%08x-82ca-1041-%04x-53d2ccc983d0", i, i%0x10000)
}

func TestDNIndex(t *testing.T) {
	x := newDNIndex(4)
	dn := func(i int) string { return fmt.Sprintf(`uid=u%d\,x,ou=people,dc=example,dc=com`, i) }
	for i := 0; i < 2; i++ {
		x.put(testUUID(i), dn(i))
	}
	if got := x.get(testUUID(1)); got != dn(1) {
		t.Fatalf("get = %q, want %q", got, dn(1))
	}
	// An id in upper case is the same id (entryUUID compares so).
	if got := x.get(fmt.Sprintf("%08X-82CA-1041-%04X-53D2CCC983D0", 0, 0)); got != dn(0) {
		t.Fatalf("upper-case id: %q", got)
	}
	x.drop(testUUID(0))
	if got := x.get(testUUID(0)); got != "" {
		t.Fatalf("dropped id still names %q", got)
	}
	// Moved: the new DN replaces the old.
	x.put(testUUID(1), "uid=moved,ou=leavers,dc=example,dc=com")
	if got := x.get(testUUID(1)); got != "uid=moved,ou=leavers,dc=example,dc=com" {
		t.Fatalf("after a move: %q", got)
	}
	// Bounded: never more than max ids, and the max/2 most recent kept.
	for i := 10; i < 100; i++ {
		x.put(testUUID(i), dn(i))
		if n := x.len(); n > 4 {
			t.Fatalf("%d ids held, max 4", n)
		}
		if i > 10 && x.get(testUUID(i-1)) != dn(i-1) || x.get(testUUID(i)) != dn(i) {
			t.Fatalf("the two most recent ids are not both held at %d", i)
		}
	}
	if x.get(testUUID(10)) != "" {
		t.Errorf("an old id is still held")
	}
	// Not a UUID, or no parent: not kept.
	x.put("not-a-uuid", dn(1))
	x.put(testUUID(500), "dc=com")
	if x.get("not-a-uuid") != "" || x.get(testUUID(500)) != "" {
		t.Errorf("kept what it cannot key or split")
	}
	var nilIndex *dnIndex
	nilIndex.put(testUUID(1), dn(1))
	if nilIndex.get(testUUID(1)) != "" {
		t.Errorf("a nil index answered")
	}
}

// TestDNIndexMemory measures the index's live heap per id for the bench's
// shape (uid=userNNNNNN below one parent): 100,000 ids, 2026-12: about 50
// bytes each (DefaultDNIndex's comment). It fails above 100.
func TestDNIndexMemory(t *testing.T) {
	const n = 100_000
	ids := make([]string, n)
	dns := make([]string, n)
	for i := range ids {
		ids[i] = testUUID(i)
		dns[i] = fmt.Sprintf("uid=user%06d,ou=people,dc=example,dc=com", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	x := newDNIndex(2 * n)
	for i := range ids {
		x.put(ids[i], dns[i])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f bytes per id live (%d ids)", per, x.len())
	if x.len() != n || x.get(ids[n/2]) != dns[n/2] {
		t.Fatalf("the index lost ids")
	}
	if per > 100 {
		t.Errorf("%.1f bytes per id, want well under 100", per)
	}
	runtime.KeepAlive(x)
}
