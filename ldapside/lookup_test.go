package ldapside

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// searchSeen is one search request as it went over the wire.
type searchSeen struct {
	sizeLimit int64
	attrs     []string
	controls  []string // OIDs
}

// searchRecorder is a TCP proxy that records the search requests a Conn
// sends, so that a test sees the request's shape on the wire rather than
// what the code under test says it sent.
type searchRecorder struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	seen     []searchSeen
}

func startSearchRecorder(t *testing.T, upstream string) *searchRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &searchRecorder{ln: ln, upstream: upstream}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go r.relay(in)
		}
	}()
	return r
}

func (r *searchRecorder) relay(in net.Conn) {
	defer in.Close()
	out, err := net.Dial("tcp", r.upstream)
	if err != nil {
		return
	}
	defer out.Close()
	go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	// Each request is recorded before it goes upstream, so that it is
	// in the record before its answer can reach the client.
	var buf bytes.Buffer
	rd := io.TeeReader(bufio.NewReader(in), &buf)
	for {
		buf.Reset()
		msg, err := ber.ReadPacket(rd)
		if err != nil {
			return
		}
		r.record(msg)
		if _, err := out.Write(buf.Bytes()); err != nil {
			return
		}
	}
}

func (r *searchRecorder) record(msg *ber.Packet) {
	if len(msg.Children) < 2 || msg.Children[1].Tag != ldap.ApplicationSearchRequest || len(msg.Children[1].Children) < 8 {
		return
	}
	op := msg.Children[1]
	s := searchSeen{}
	s.sizeLimit, _ = op.Children[3].Value.(int64)
	for _, a := range op.Children[7].Children {
		s.attrs = append(s.attrs, fmt.Sprint(a.Value))
	}
	if len(msg.Children) > 2 {
		for _, c := range msg.Children[2].Children {
			if len(c.Children) > 0 {
				s.controls = append(s.controls, fmt.Sprint(c.Children[0].Value))
			}
		}
	}
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
}

func (r *searchRecorder) take() []searchSeen {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

// TestLookupIsOnePlainSearch pins the shape of a userName-style lookup (a
// first page whose result fits in it) on OpenLDAP: one search, no
// controls (no sort, no VLV, no paging), a size limit of count+1, each
// attribute named once; and the search builds no walk key, whose
// formatting cost more than the rest of ldapside's own work on a lookup.
// A walk in pages still builds one and continues its sort context.
func TestLookupIsOnePlainSearch(t *testing.T) {
	o, _ := startDirectory(t, nil)
	rec := startSearchRecorder(t, strings.TrimPrefix(o.URL, "ldap://"))
	c, err := Open(Config{URLs: []string{"ldap://" + rec.ln.Addr().String()}, BindDN: o.AdminDN, BindPassword: o.AdminPassword,
		BaseDN: o.BaseDN, PoolSize: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ou := fillPeople(t, c, o, 12)
	attrs := []string{"objectClass", "uid", "cn", "sn", "mail", "memberOf"}
	// The first search of a connection also reads the root DSE: warm up.
	if _, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.Eq("uid", "v000"), Attrs: attrs, Count: 100}); err != nil {
		t.Fatal(err)
	}
	rec.take()
	keys := c.walkKeys.Load()
	for i := range 12 {
		uid := fmt.Sprintf("v%03d", i)
		res, err := c.Search(tctx(t), bridge.SearchRequest{Base: ou, Filter: bridge.And(bridge.Eq("objectClass", "inetOrgPerson"), bridge.Eq("uid", uid)),
			Attrs: attrs, Count: 100})
		if err != nil || res.Total != 1 || len(res.Entries) != 1 || res.Entries[0].First("uid") != uid || res.Entries[0].ID == "" {
			t.Fatalf("lookup %s: %v %+v", uid, err, res)
		}
		seen := rec.take()
		if len(seen) != 1 {
			t.Fatalf("lookup %s sent %d searches, want 1: %+v", uid, len(seen), seen)
		}
		s := seen[0]
		if len(s.controls) != 0 || s.sizeLimit != 101 {
			t.Errorf("lookup %s: controls %v, size limit %d; want none and 101", uid, s.controls, s.sizeLimit)
		}
		names := map[string]bool{}
		for _, a := range s.attrs {
			if names[strings.ToLower(a)] {
				t.Errorf("lookup %s asks for %s twice: %v", uid, a, s.attrs)
			}
			names[strings.ToLower(a)] = true
		}
		for _, a := range append(attrs, "entryUUID") {
			if !names[strings.ToLower(a)] {
				t.Errorf("lookup %s does not ask for %s: %v", uid, a, s.attrs)
			}
		}
	}
	if n := c.walkKeys.Load() - keys; n != 0 {
		t.Errorf("12 lookups built %d walk keys, want none", n)
	}
	// A walk in pages of 5 keeps and continues its sort context: that
	// needs the key, and the later pages send the context back (VLV).
	uids, _ := walk(t, c, bridge.SearchRequest{Base: ou, Filter: bridge.Present("uid"), Attrs: attrs}, 5)
	if len(uids) != 12 {
		t.Fatalf("walk got %d entries, want 12", len(uids))
	}
	if c.walkKeys.Load() == keys {
		t.Error("a walk in pages built no walk key")
	}
	vlv := 0
	for _, s := range rec.take() {
		for _, ctl := range s.controls {
			if ctl == oidVLVRequest {
				vlv++
			}
		}
	}
	if vlv != 3 {
		t.Errorf("the walk sent %d VLV requests, want 3 (one per page)", vlv)
	}
}

// TestWalkKeyDistinguishesQueries: any part that changes a walk's entries
// or their order changes the key; equal queries share it.
func TestWalkKeyDistinguishesQueries(t *testing.T) {
	base := func() *query {
		return &query{base: "ou=people,dc=x", scope: 2, filter: "(uid=a)", keys: []*ldap.SortKey{{AttributeType: "cn"}}, attrs: []string{"cn", "sn"}}
	}
	ref := base().key()
	if base().key() != ref {
		t.Fatal("equal queries have different keys")
	}
	for name, change := range map[string]func(q *query){
		"base":       func(q *query) { q.base = "ou=other,dc=x" },
		"scope":      func(q *query) { q.scope = 1 },
		"filter":     func(q *query) { q.filter = "(uid=b)" },
		"sort attr":  func(q *query) { q.keys[0].AttributeType = "sn" },
		"rule":       func(q *query) { q.keys = []*ldap.SortKey{{AttributeType: "cn", MatchingRule: "2.5.13.3"}} },
		"reverse":    func(q *query) { q.keys = []*ldap.SortKey{{AttributeType: "cn", Reverse: true}} },
		"second key": func(q *query) { q.keys = append(q.keys, &ldap.SortKey{AttributeType: "uid"}) },
		"attrs":      func(q *query) { q.attrs = []string{"cn"} },
		"split attr": func(q *query) { q.attrs = []string{"cns", "n"} },
		"base+scope": func(q *query) { q.base, q.scope = "ou=people,dc=x2", 0 },
	} {
		q := base()
		change(q)
		if q.key() == ref {
			t.Errorf("%s: the key did not change: %q", name, ref)
		}
	}
}
