package bridge

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestEntryCacheIsBoundedAndCopies(t *testing.T) {
	c := newEntryCache(3)
	at := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)
	mk := func(i int) *Entry {
		return &Entry{ID: fmt.Sprintf("id%d", i), DN: fmt.Sprintf("uid=u%d,ou=people", i), Version: fmt.Sprintf("v%d", i),
			Created: at, Modified: at.Add(time.Duration(i)), Disabled: i%2 == 0,
			Attrs: map[string][]string{"uid": {fmt.Sprintf("u%d", i)}, "mail": {"a@x", "b@x"}, "empty": {}}}
	}
	for i := 0; i < 5; i++ {
		c.put(mk(i))
	}
	if c.len() != 3 {
		t.Fatalf("%d entries kept, want the bound 3", c.len())
	}
	if c.get("id0") != nil || c.get("id1") != nil {
		t.Fatalf("the least recently used entries were kept")
	}
	got := c.get("id3")
	want := mk(3)
	want.Attrs["empty"] = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("unpacked %+v, want %+v", got, want)
	}
	// What get returns is the caller's: changing it changes no later get.
	got.Attrs["uid"][0] = "changed"
	got.Attrs["new"] = []string{"x"}
	if again := c.get("id3"); again.First("uid") != "u3" || again.Values("new") != nil {
		t.Fatalf("a change to a returned entry reached the cache: %+v", again.Attrs)
	}
	// id3 was used last: a new entry pushes out id2, the oldest.
	c.put(mk(5))
	if c.get("id2") != nil || c.get("id3") == nil {
		t.Fatalf("eviction is not least-recently-used")
	}
	c.drop("id3")
	if c.get("id3") != nil || c.len() != 2 {
		t.Fatalf("drop left the entry")
	}
	// Nothing unguardable is kept.
	c.put(&Entry{ID: "x", DN: "uid=x"})
	if c.get("x") != nil {
		t.Fatalf("an entry without a version was kept")
	}
}
