// Package conformance is the executable form of the bridge.Directory
// contract: one suite that every directory backend (the embedded directory,
// OpenLDAP, Active Directory) must pass. It imports only bridge and the
// standard library. Its people are inetOrgPerson entries named by uid unless
// the Env's Shape says how this directory's person entries look (Active
// Directory: user entries named by cn), and its containers are
// organizationalUnits, so that it runs against any of them.
//
// A backend's test calls Run with a function that returns an Env; the suite
// calls it once per subtest and keeps subtests apart by giving each its own
// container below Env.People, so one directory may serve all of them.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// Env is a directory under test.
type Env struct {
	Dir     bridge.Directory
	Auth    bridge.Authenticator // binds as an entry, as an application would
	BaseDN  string               // the directory's base
	People  string               // ou=people,<BaseDN>; exists
	Leavers string               // a container that exists, for moves
	Shape   Shape                // how person entries look; the zero value is inetOrgPerson
}

// Shape describes this directory's person entries to the suite. The suite
// is written with inetOrgPerson's attribute names; Attrs renames them where
// the directory differs. The zero value is inetOrgPerson named by uid.
type Shape struct {
	// ObjectClasses of a person; the last one selects people in searches.
	ObjectClasses []string
	// Naming is the RDN attribute of a person ("uid").
	Naming string
	// Attrs maps the suite's attribute names (uid, cn, sn, mail,
	// description, ...) to this directory's. The values the suite gives
	// "uid" must land in Naming's attribute when they differ. mail and
	// description must be multi-valued, case-insensitive strings.
	Attrs map[string]string
	// Invalid is a change the directory refuses with KindInvalidValue (a
	// value a client may send), on Add (applied to the attributes) and on
	// Modify; nil means deleting sn, which person requires: the schema's
	// refusal of what a mapping table got wrong, KindMisconfigured.
	Invalid *bridge.Change
}

func (s *suite) a(name string) string {
	if v, ok := s.Shape.Attrs[name]; ok {
		return v
	}
	return name
}

func (s *suite) naming() string {
	if s.Shape.Naming != "" {
		return s.Shape.Naming
	}
	return "uid"
}

// rdn is the escaped RDN of the person whose key is uid.
func (s *suite) rdn(uid string) string { return s.naming() + "=" + escapeRDNValue(uid) }

func (s *suite) people() *bridge.Filter {
	oc := "inetOrgPerson"
	if n := len(s.Shape.ObjectClasses); n > 0 {
		oc = s.Shape.ObjectClasses[n-1]
	}
	return bridge.Eq("objectClass", oc)
}

func (s *suite) invalid() bridge.Change {
	if s.Shape.Invalid != nil {
		return *s.Shape.Invalid
	}
	return bridge.Change{Op: bridge.ChangeDelete, Attr: "sn"}
}

// invalidKind is the kind the directory answers invalid() with.
func (s *suite) invalidKind() bridge.Kind {
	if s.Shape.Invalid != nil {
		return bridge.KindInvalidValue
	}
	return bridge.KindMisconfigured
}

// rename returns f with the suite's attribute names translated.
func (s *suite) rename(f *bridge.Filter) *bridge.Filter {
	if f == nil {
		return nil
	}
	out := *f
	if out.Attr != "" && !strings.HasPrefix(out.Attr, "@") {
		out.Attr = s.a(out.Attr)
	}
	out.Kids = nil
	for _, k := range f.Kids {
		out.Kids = append(out.Kids, s.rename(k))
	}
	return &out
}

func (s *suite) changes(in []bridge.Change) []bridge.Change {
	var out []bridge.Change
	for _, c := range in {
		c.Attr = s.a(c.Attr)
		out = append(out, c)
	}
	return out
}

// Run runs the suite. newDir is called at the start of every subtest.
func Run(t *testing.T, newDir func(t *testing.T) Env) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"AddGet", testAddGet},
		{"NotFound", testNotFound},
		{"Conflict", testConflict},
		{"ConcurrentAdd", testConcurrentAdd},
		{"FailedAddLeavesNothing", testFailedAdd},
		{"Filters", testFilters},
		{"VirtualFilters", testVirtualFilters},
		{"Paging", testPaging},
		{"ModifyAttributes", testModifyAttributes},
		{"RenameAndMove", testRenameMove},
		{"Password", testPassword},
		{"Disabled", testDisabled},
		{"FailedModifyLeavesEntry", testFailedModify},
		{"GuessedModify", testGuessedModify},
		{"BlindModify", testBlindModify},
		{"Delete", testDelete},
		{"EnsureContainer", testEnsureContainer},
		{"HostileNames", testHostileNames},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newDir(t)
			s := &suite{Env: env}
			s.ou = s.container(t, "ou="+tc.name+"-"+randHex(4)+","+env.People)
			tc.fn(t, s)
		})
	}
}

type suite struct {
	Env
	ou string // this subtest's own container
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func (s *suite) container(t *testing.T, dn string) string {
	t.Helper()
	if err := s.Dir.EnsureContainer(ctx(t), dn); err != nil {
		t.Fatalf("EnsureContainer(%q): %v", dn, err)
	}
	return dn
}

// escapeRDNValue escapes a value for a DN (RFC 4514 section 2.4).
func escapeRDNValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case strings.IndexByte(`,+"\<>;=`, c) >= 0,
			c == '#' && i == 0,
			c == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString(`\00`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// person returns the attributes of a person whose key is uid; more uses
// the suite's attribute names.
func (s *suite) person(uid string, more map[string][]string) map[string][]string {
	oc := s.Shape.ObjectClasses
	if len(oc) == 0 {
		oc = []string{"top", "person", "organizationalPerson", "inetOrgPerson"}
	}
	in := map[string][]string{
		"uid": {uid},
		"cn":  {"Person " + uid},
		"sn":  {"Sn" + uid},
	}
	for k, v := range more {
		in[k] = v
	}
	a := map[string][]string{"objectClass": slices.Clone(oc)}
	for k, v := range in {
		a[s.a(k)] = v
	}
	return a
}

func (s *suite) dnOf(uid, parent string) string {
	if parent == "" {
		parent = s.ou
	}
	return s.rdn(uid) + "," + parent
}

func (s *suite) add(t *testing.T, uid string, more map[string][]string) *bridge.Entry {
	t.Helper()
	return s.addReq(t, bridge.AddRequest{DN: s.dnOf(uid, ""), Attrs: s.person(uid, more)})
}

func (s *suite) addReq(t *testing.T, req bridge.AddRequest) *bridge.Entry {
	t.Helper()
	e, err := s.Dir.Add(ctx(t), req)
	if err != nil {
		t.Fatalf("Add(%q): %v", req.DN, err)
	}
	if e == nil || e.ID == "" {
		t.Fatalf("Add(%q) returned no id: %+v", req.DN, e)
	}
	return e
}

func (s *suite) get(t *testing.T, id string) *bridge.Entry {
	t.Helper()
	e, err := s.Dir.Get(ctx(t), "", id, nil)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return e
}

func (s *suite) modify(t *testing.T, req bridge.ModifyRequest) *bridge.Entry {
	t.Helper()
	req.Changes = s.changes(req.Changes)
	e, err := s.Dir.Modify(ctx(t), req)
	if err != nil {
		t.Fatalf("Modify(%+v): %v", req, err)
	}
	return e
}

func wantKind(t *testing.T, what string, err error, kind bridge.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %v", what, kind)
	}
	if got := bridge.KindOf(err); got != kind {
		t.Fatalf("%s: got kind %v (%v), want %v", what, got, err, kind)
	}
	var be *bridge.Error
	if !errors.As(err, &be) {
		t.Fatalf("%s: error %T is not a *bridge.Error", what, err)
	}
}

func sameDN(a, b string) bool {
	return strings.EqualFold(strings.ReplaceAll(a, ", ", ","), strings.ReplaceAll(b, ", ", ","))
}

func sortedFold(v []string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = strings.ToLower(s)
	}
	sort.Strings(out)
	return out
}

func (s *suite) wantValues(t *testing.T, e *bridge.Entry, attr string, want ...string) {
	t.Helper()
	attr = s.a(attr)
	if got := e.Values(attr); !slices.Equal(sortedFold(got), sortedFold(want)) {
		t.Fatalf("%s of %s: got %q, want %q", attr, e.DN, got, want)
	}
}

func testAddGet(t *testing.T, s *suite) {
	before := time.Now().Add(-2 * time.Second)
	e := s.add(t, "alice", map[string][]string{"mail": {"alice@example.com", "a.l@example.com"}, "title": {"Engineer"}})
	if !sameDN(e.DN, s.dnOf("alice", "")) {
		t.Errorf("Add returned DN %q, want %q", e.DN, s.dnOf("alice", ""))
	}
	s.wantValues(t, e, "mail", "alice@example.com", "a.l@example.com")
	s.wantValues(t, e, "title", "Engineer")
	if e.Version == "" || e.Created.Before(before) || e.Modified.Before(before) || e.Disabled {
		t.Errorf("Add returned virtual fields %+v", e)
	}
	g := s.get(t, e.ID)
	if g.ID != e.ID || !sameDN(g.DN, e.DN) || g.Version != e.Version {
		t.Errorf("Get: %+v, want as Add returned: %+v", g, e)
	}
	s.wantValues(t, g, "uid", "alice")
	s.wantValues(t, g, "mail", "alice@example.com", "a.l@example.com")
	// Upper-case ids are the same id.
	if u, err := s.Dir.Get(ctx(t), "", strings.ToUpper(e.ID), nil); err != nil || u.ID != e.ID {
		t.Errorf("Get(upper-case id) = %v, %v", u, err)
	}
	byDN, err := s.Dir.GetByDN(ctx(t), e.DN, nil)
	if err != nil || byDN.ID != e.ID {
		t.Fatalf("GetByDN = %+v, %v", byDN, err)
	}
	// attrs selects attributes; the virtual fields are always there.
	sel, err := s.Dir.Get(ctx(t), s.ou, e.ID, []string{s.a("mail")})
	if err != nil {
		t.Fatalf("Get with attrs: %v", err)
	}
	if sel.First("sn") != "" || len(sel.Values(s.a("mail"))) != 2 || sel.ID != e.ID || sel.Version == "" {
		t.Errorf("Get(attrs=[mail]) = %+v", sel)
	}
	// A base that does not hold the entry hides it.
	_, err = s.Dir.Get(ctx(t), s.Leavers, e.ID, nil)
	wantKind(t, "Get outside base", err, bridge.KindNotFound)
}

func testNotFound(t *testing.T, s *suite) {
	unknown := "3f0e8a52-7c1d-11ee-b962-0242ac120002"
	for _, id := range []string{unknown, "not-a-uuid", "", "*", "(entryUUID=*)", "3f0e8a52-7c1d-11ee-b962-0242ac12000*"} {
		_, err := s.Dir.Get(ctx(t), "", id, nil)
		wantKind(t, fmt.Sprintf("Get(%q)", id), err, bridge.KindNotFound)
		_, err = s.Dir.Modify(ctx(t), bridge.ModifyRequest{ID: id, Changes: s.changes([]bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"x"}}})})
		wantKind(t, fmt.Sprintf("Modify(%q)", id), err, bridge.KindNotFound)
		wantKind(t, fmt.Sprintf("Delete(%q)", id), s.Dir.Delete(ctx(t), id), bridge.KindNotFound)
	}
	_, err := s.Dir.GetByDN(ctx(t), s.rdn("nobody")+","+s.ou, nil)
	wantKind(t, "GetByDN(absent)", err, bridge.KindNotFound)
	_, err = s.Dir.GetByDN(ctx(t), s.rdn("nobody")+",ou=nowhere,"+s.ou, nil)
	wantKind(t, "GetByDN(absent parent)", err, bridge.KindNotFound)
}

func testConflict(t *testing.T, s *suite) {
	s.add(t, "bob", nil)
	_, err := s.Dir.Add(ctx(t), bridge.AddRequest{DN: s.dnOf("bob", ""), Attrs: s.person("bob", nil)})
	wantKind(t, "second Add", err, bridge.KindConflict)
	// Names compare case-insensitively.
	_, err = s.Dir.Add(ctx(t), bridge.AddRequest{DN: strings.ToUpper(s.naming()) + "=BOB," + s.ou, Attrs: s.person("BOB", nil)})
	wantKind(t, "Add differing in case", err, bridge.KindConflict)
}

func testConcurrentAdd(t *testing.T, s *suite) {
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = s.Dir.Add(ctx(t), bridge.AddRequest{DN: s.dnOf("racer", ""), Attrs: s.person("racer", nil)})
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case bridge.KindOf(err) != bridge.KindConflict:
			t.Errorf("concurrent Add: %v, want success or conflict", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent Adds succeeded, want exactly 1", ok)
	}
}

func testFailedAdd(t *testing.T, s *suite) {
	attrs := s.person("nosn", nil)
	switch inv := s.invalid(); inv.Op {
	case bridge.ChangeDelete:
		delete(attrs, s.a(inv.Attr))
	default:
		attrs[s.a(inv.Attr)] = inv.Values
	}
	_, err := s.Dir.Add(ctx(t), bridge.AddRequest{DN: s.dnOf("nosn", ""), Attrs: attrs, Password: "Secret-1"})
	wantKind(t, "Add without sn", err, s.invalidKind())
	if msg := bridge.SafeMessage(err); strings.Contains(msg, s.ou) || strings.Contains(strings.ToLower(msg), s.naming()+"=") {
		t.Errorf("client message %q quotes a DN", msg)
	}
	_, err = s.Dir.GetByDN(ctx(t), s.dnOf("nosn", ""), nil)
	wantKind(t, "GetByDN after failed Add", err, bridge.KindNotFound)
	// Nor anything under another name.
	res, err := s.Dir.Search(ctx(t), bridge.SearchRequest{Base: s.ou, Filter: bridge.Eq("uid", "nosn"), Count: 10})
	if err != nil || res.Total != 0 {
		t.Fatalf("Search after failed Add = %+v, %v", res, err)
	}
	// An attribute the schema does not know.
	_, err = s.Dir.Add(ctx(t), bridge.AddRequest{DN: s.dnOf("bogus", ""), Attrs: s.person("bogus", map[string][]string{"noSuchAttributeXyz": {"x"}})})
	wantKind(t, "Add with unknown attribute", err, bridge.KindMisconfigured)
	_, err = s.Dir.GetByDN(ctx(t), s.dnOf("bogus", ""), nil)
	wantKind(t, "GetByDN after failed Add", err, bridge.KindNotFound)
}

// search runs a search below the subtest's container over people only and
// returns the uids found, sorted.
func (s *suite) searchUIDs(t *testing.T, f *bridge.Filter) []string {
	t.Helper()
	full := bridge.And(s.people(), s.rename(f))
	if f == nil {
		full = s.people()
	}
	res, err := s.Dir.Search(ctx(t), bridge.SearchRequest{Base: s.ou, Filter: full, Count: 1000, Attrs: []string{s.a("uid")}})
	if err != nil {
		t.Fatalf("Search(%v): %v", f, err)
	}
	var uids []string
	for _, e := range res.Entries {
		uids = append(uids, e.First(s.a("uid")))
	}
	sort.Strings(uids)
	if res.Total != len(uids) {
		t.Fatalf("Search(%v): Total %d but %d entries", f, res.Total, len(uids))
	}
	return uids
}

func (s *suite) wantUIDs(t *testing.T, f *bridge.Filter, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := s.searchUIDs(t, f); !slices.Equal(got, want) {
		t.Errorf("Search(%v) = %q, want %q", f, got, want)
	}
}

func testFilters(t *testing.T, s *suite) {
	s.add(t, "alice", map[string][]string{"cn": {"Alice Liddell"}, "mail": {"Alice@Example.com"}, "title": {"Engineer"}, "givenName": {"Alice"}})
	s.add(t, "bob", map[string][]string{"cn": {"Bob Builder"}, "mail": {"bob@example.com", "builder@example.org"}, "title": {"Builder"}})
	s.add(t, "star", map[string][]string{"cn": {"Star*Name"}, "description": {"a*b"}})
	s.add(t, "starx", map[string][]string{"cn": {"StarXName"}})
	s.add(t, "paren", map[string][]string{"cn": {"Paren (x)"}, "description": {")(uid=*)("}})
	s.add(t, "back", map[string][]string{"cn": {`Back\slash`}})
	s.add(t, "zoe", map[string][]string{"cn": {"Zoë Ångström"}, "displayName": {"日本語"}})
	s.add(t, "comma", map[string][]string{"cn": {`Doe, "John" + Co`}})

	s.wantUIDs(t, nil, "alice", "back", "bob", "comma", "paren", "star", "starx", "zoe")
	s.wantUIDs(t, bridge.MatchAll(), "alice", "back", "bob", "comma", "paren", "star", "starx", "zoe")
	s.wantUIDs(t, bridge.MatchNone())
	// Equality is case-insensitive on uid, mail and cn.
	s.wantUIDs(t, bridge.Eq("uid", "ALICE"), "alice")
	s.wantUIDs(t, bridge.Eq("mail", "alice@example.COM"), "alice")
	s.wantUIDs(t, bridge.Eq("mail", "BUILDER@example.org"), "bob")
	s.wantUIDs(t, bridge.Eq("cn", "bob builder"), "bob")
	// Hostile values are values, not filter syntax.
	s.wantUIDs(t, bridge.Eq("cn", "Star*Name"), "star")
	s.wantUIDs(t, bridge.Eq("cn", "*"))
	s.wantUIDs(t, bridge.Eq("cn", "Star*"))
	s.wantUIDs(t, bridge.Eq("description", "a*b"), "star")
	s.wantUIDs(t, bridge.Eq("cn", "Paren (x)"), "paren")
	s.wantUIDs(t, bridge.Eq("description", ")(uid=*)("), "paren")
	s.wantUIDs(t, bridge.Eq("uid", "*)(uid=*"))
	s.wantUIDs(t, bridge.Eq("cn", `Back\slash`), "back")
	s.wantUIDs(t, bridge.Eq("cn", `Back\5cslash`))
	s.wantUIDs(t, bridge.Eq("cn", "nul\x00byte"))
	s.wantUIDs(t, bridge.Eq("cn", "Zoë Ångström"), "zoe")
	s.wantUIDs(t, bridge.Eq("displayName", "日本語"), "zoe")
	s.wantUIDs(t, bridge.Eq("cn", `Doe, "John" + Co`), "comma")
	// Substrings.
	s.wantUIDs(t, bridge.Substrings("uid", "ali", nil, ""), "alice")
	s.wantUIDs(t, bridge.Substrings("cn", "", []string{"build"}, ""), "bob")
	s.wantUIDs(t, bridge.Substrings("mail", "", nil, "EXAMPLE.ORG"), "bob")
	s.wantUIDs(t, bridge.Substrings("cn", "Star*", nil, ""), "star")
	s.wantUIDs(t, bridge.Substrings("cn", "Star", nil, "Name"), "star", "starx")
	s.wantUIDs(t, bridge.Substrings("cn", "", []string{"(x"}, ""), "paren")
	s.wantUIDs(t, bridge.Substrings("cn", "", []string{`\`}, ""), "back")
	s.wantUIDs(t, bridge.Substrings("cn", "zoë", nil, ""), "zoe")
	// Presence, and, or, not.
	s.wantUIDs(t, bridge.Present("title"), "alice", "bob")
	s.wantUIDs(t, bridge.Present("description"), "paren", "star")
	s.wantUIDs(t, bridge.And(bridge.Present("title"), bridge.Eq("uid", "bob")), "bob")
	s.wantUIDs(t, bridge.Or(bridge.Eq("uid", "alice"), bridge.Eq("uid", "zoe"), bridge.Eq("uid", "nobody")), "alice", "zoe")
	s.wantUIDs(t, bridge.And(bridge.Present("title"), bridge.Not(bridge.Eq("uid", "alice"))), "bob")
	s.wantUIDs(t, bridge.Not(bridge.Present("title")), "back", "comma", "paren", "star", "starx", "zoe")
	s.wantUIDs(t, bridge.Or(bridge.And(bridge.Eq("title", "engineer"), bridge.Eq("givenName", "alice")), bridge.Eq("cn", "StarXName")), "alice", "starx")
	// A filter on an attribute nobody has matches nothing.
	s.wantUIDs(t, bridge.Eq("employeeNumber", "42"))
}

func testVirtualFilters(t *testing.T, s *suite) {
	before := time.Now().Add(-2 * time.Second).UTC()
	a := s.add(t, "v1", nil)
	s.add(t, "v2", nil)
	s.addReq(t, bridge.AddRequest{DN: s.dnOf("v3", ""), Attrs: s.person("v3", nil), Disabled: true})
	s.wantUIDs(t, bridge.Eq(bridge.VirtualID, a.ID), "v1")
	s.wantUIDs(t, bridge.Eq(bridge.VirtualID, strings.ToUpper(a.ID)), "v1")
	s.wantUIDs(t, bridge.Eq(bridge.VirtualID, "not-an-id"))
	s.wantUIDs(t, bridge.Eq(bridge.VirtualID, "*"))
	s.wantUIDs(t, bridge.Present(bridge.VirtualID), "v1", "v2", "v3")
	s.wantUIDs(t, bridge.GE(bridge.VirtualModified, before.Format(time.RFC3339)), "v1", "v2", "v3")
	s.wantUIDs(t, bridge.GE(bridge.VirtualCreated, before.Format(time.RFC3339Nano)), "v1", "v2", "v3")
	s.wantUIDs(t, bridge.GE(bridge.VirtualModified, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
	s.wantUIDs(t, bridge.LE(bridge.VirtualCreated, before.Add(-time.Hour).Format(time.RFC3339)))
	s.wantUIDs(t, bridge.LE(bridge.VirtualCreated, time.Now().Add(time.Hour).Format(time.RFC3339)), "v1", "v2", "v3")
	s.wantUIDs(t, bridge.Eq(bridge.VirtualDisabled, "TRUE"), "v3")
	s.wantUIDs(t, bridge.Eq(bridge.VirtualDisabled, "FALSE"), "v1", "v2")
	s.wantUIDs(t, bridge.And(bridge.Eq(bridge.VirtualDisabled, "false"), bridge.Eq("uid", "v2")), "v2")
	// A timestamp that is not RFC 3339 is a bad filter, not a server error.
	_, err := s.Dir.Search(ctx(t), bridge.SearchRequest{Base: s.ou, Filter: bridge.GE(bridge.VirtualModified, "yesterday"), Count: 1})
	wantKind(t, "Search with a malformed timestamp", err, bridge.KindInvalidFilter)
}

func testPaging(t *testing.T, s *suite) {
	const n = 250
	var mu sync.Mutex
	ids := map[string]string{} // id -> uid
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				uid := fmt.Sprintf("p%03d", i)
				e, err := s.Dir.Add(ctx(t), bridge.AddRequest{DN: s.dnOf(uid, ""), Attrs: s.person(uid, nil)})
				if err != nil {
					t.Errorf("Add(%s): %v", uid, err)
					continue
				}
				mu.Lock()
				ids[e.ID] = uid
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	people := s.people()
	search := func(f *bridge.Filter, sortBy string, off, count int) *bridge.SearchResult {
		t.Helper()
		if sortBy != "" {
			sortBy = s.a(sortBy)
		}
		res, err := s.Dir.Search(ctx(t), bridge.SearchRequest{Base: s.ou, Filter: s.rename(f), SortBy: sortBy, Offset: off, Count: count, Attrs: []string{s.a("uid")}})
		if err != nil {
			t.Fatalf("Search(offset %d, count %d): %v", off, count, err)
		}
		return res
	}
	all := search(people, "", 0, n+10)
	if all.Total != n || len(all.Entries) != n {
		t.Fatalf("whole listing: Total %d, %d entries, want %d", all.Total, len(all.Entries), n)
	}
	order := make([]string, n)
	for i, e := range all.Entries {
		order[i] = e.ID
	}
	for _, w := range []struct{ off, count int }{{0, 100}, {1, 100}, {99, 2}, {100, 100}, {200, 100}, {200, 50}, {249, 10}, {123, 1}} {
		res := search(people, "", w.off, w.count)
		want := order[w.off:min(n, w.off+w.count)]
		if res.Total != n {
			t.Errorf("window %+v: Total %d, want %d", w, res.Total, n)
		}
		var got []string
		for _, e := range res.Entries {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("window %+v: got %d entries not equal to the listing's [%d:%d]", w, len(got), w.off, w.off+len(want))
		}
	}
	// Walking pages gives every entry once.
	seen := map[string]bool{}
	for off := 0; off < n; off += 100 {
		for _, e := range search(people, "", off, 100).Entries {
			if seen[e.ID] {
				t.Fatalf("entry %s on two pages", e.ID)
			}
			seen[e.ID] = true
		}
	}
	if len(seen) != n {
		t.Fatalf("pages held %d entries, want %d", len(seen), n)
	}
	for id := range ids {
		if !seen[id] {
			t.Fatalf("entry %s on no page", id)
		}
	}
	// Count 0: only the total. Beyond the end: nothing.
	if res := search(people, "", 0, 0); res.Total != n || len(res.Entries) != 0 {
		t.Errorf("Count 0: Total %d with %d entries", res.Total, len(res.Entries))
	}
	for _, off := range []int{n, n + 1, 10 * n} {
		if res := search(people, "", off, 10); res.Total != n || len(res.Entries) != 0 {
			t.Errorf("Offset %d: Total %d with %d entries", off, res.Total, len(res.Entries))
		}
	}
	// Sorted by an attribute, filtered.
	res := search(bridge.And(people, bridge.Substrings("uid", "p1", nil, "")), "uid", 10, 20)
	if res.Total != 100 || len(res.Entries) != 20 {
		t.Fatalf("filtered sorted window: Total %d, %d entries", res.Total, len(res.Entries))
	}
	for i, e := range res.Entries {
		if want := fmt.Sprintf("p1%02d", 10+i); e.First(s.a("uid")) != want {
			t.Fatalf("sorted by uid: entry %d is %q, want %q", i, e.First(s.a("uid")), want)
		}
	}
	// An empty result.
	if res := search(bridge.And(people, bridge.Eq("uid", "none")), "", 0, 10); res.Total != 0 || len(res.Entries) != 0 {
		t.Errorf("no match: %+v", res)
	}
	if res := search(bridge.And(people, bridge.Eq("uid", "none")), "", 0, 0); res.Total != 0 {
		t.Errorf("no match, count 0: %+v", res)
	}
}

func testModifyAttributes(t *testing.T, s *suite) {
	e := s.add(t, "mod", map[string][]string{"mail": {"m1@example.com"}, "title": {"Old"}, "description": {"d1", "d2"}})
	v := e.Version
	step := func(what string, changes []bridge.Change, wantChange bool) *bridge.Entry {
		t.Helper()
		got := s.modify(t, bridge.ModifyRequest{ID: e.ID, Changes: changes})
		if got.ID != e.ID {
			t.Fatalf("%s: id changed", what)
		}
		if wantChange && got.Version == v {
			t.Fatalf("%s: Version unchanged", what)
		}
		if !wantChange && got.Version != v {
			t.Fatalf("%s: Version changed from %q to %q by a request that changes nothing", what, v, got.Version)
		}
		v = got.Version
		return got
	}
	got := step("replace", []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"New"}}}, true)
	s.wantValues(t, got, "title", "New")
	got = step("add", []bridge.Change{{Op: bridge.ChangeAdd, Attr: "mail", Values: []string{"m2@example.com"}}}, true)
	s.wantValues(t, got, "mail", "m1@example.com", "m2@example.com")
	got = step("add present value", []bridge.Change{{Op: bridge.ChangeAdd, Attr: "mail", Values: []string{"M1@example.com"}}}, false)
	s.wantValues(t, got, "mail", "m1@example.com", "m2@example.com")
	got = step("delete absent value", []bridge.Change{{Op: bridge.ChangeDelete, Attr: "mail", Values: []string{"nope@example.com"}}}, false)
	s.wantValues(t, got, "mail", "m1@example.com", "m2@example.com")
	got = step("delete absent attribute", []bridge.Change{{Op: bridge.ChangeDelete, Attr: "displayName"}}, false)
	got = step("replace with same", []bridge.Change{{Op: bridge.ChangeReplace, Attr: "description", Values: []string{"d2", "d1"}}}, false)
	got = step("add present and new", []bridge.Change{{Op: bridge.ChangeAdd, Attr: "mail", Values: []string{"m2@example.com", "m3@example.com"}}}, true)
	s.wantValues(t, got, "mail", "m1@example.com", "m2@example.com", "m3@example.com")
	got = step("delete present and absent", []bridge.Change{{Op: bridge.ChangeDelete, Attr: "mail", Values: []string{"m1@example.com", "zzz@example.com"}}}, true)
	s.wantValues(t, got, "mail", "m2@example.com", "m3@example.com")
	got = step("delete whole attribute", []bridge.Change{{Op: bridge.ChangeDelete, Attr: "description"}}, true)
	s.wantValues(t, got, "description")
	got = step("replace with none", []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title"}}, true)
	s.wantValues(t, got, "title")
	got = step("several at once", []bridge.Change{
		{Op: bridge.ChangeReplace, Attr: "displayName", Values: []string{"Mod Person"}},
		{Op: bridge.ChangeAdd, Attr: "employeeNumber", Values: []string{"42"}},
		{Op: bridge.ChangeDelete, Attr: "mail", Values: []string{"m3@example.com"}},
	}, true)
	s.wantValues(t, got, "displayName", "Mod Person")
	s.wantValues(t, got, "employeeNumber", "42")
	s.wantValues(t, got, "mail", "m2@example.com")
	step("nothing at all", nil, false)
	// The manager is a DN.
	boss := s.add(t, "boss", nil)
	got = step("manager", []bridge.Change{{Op: bridge.ChangeReplace, Attr: "manager", Values: []string{boss.DN}}}, true)
	if !sameDN(got.First("manager"), boss.DN) {
		t.Errorf("manager = %q, want %q", got.First("manager"), boss.DN)
	}
	// What Get sees is what Modify returned.
	if g := s.get(t, e.ID); g.Version != v {
		t.Errorf("Get after Modify: Version %q, Modify returned %q", g.Version, v)
	}
	// Base scope.
	_, err := s.Dir.Modify(ctx(t), bridge.ModifyRequest{ID: e.ID, Base: s.Leavers, Changes: s.changes([]bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"x"}}})})
	wantKind(t, "Modify outside base", err, bridge.KindNotFound)
}

func testRenameMove(t *testing.T, s *suite) {
	e := s.add(t, "old", map[string][]string{"title": {"T"}})
	got := s.modify(t, bridge.ModifyRequest{ID: e.ID, NewRDN: s.rdn("new")})
	if got.ID != e.ID || !sameDN(got.DN, s.dnOf("new", "")) {
		t.Fatalf("rename: %+v", got)
	}
	s.wantValues(t, got, "uid", "new")
	if got.Version == e.Version {
		t.Errorf("rename: Version unchanged")
	}
	_, err := s.Dir.GetByDN(ctx(t), s.dnOf("old", ""), nil)
	wantKind(t, "GetByDN(old name)", err, bridge.KindNotFound)
	// Rename and change together.
	got = s.modify(t, bridge.ModifyRequest{ID: e.ID, NewRDN: s.rdn("newer"), Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"T2"}}}})
	s.wantValues(t, got, "uid", "newer")
	s.wantValues(t, got, "title", "T2")
	// Move to the leavers.
	got = s.modify(t, bridge.ModifyRequest{ID: e.ID, NewSuperior: s.Leavers})
	if got.ID != e.ID || !sameDN(got.DN, s.dnOf("newer", s.Leavers)) {
		t.Fatalf("move: %+v", got)
	}
	_, err = s.Dir.Get(ctx(t), s.ou, e.ID, nil)
	wantKind(t, "Get in the old container", err, bridge.KindNotFound)
	if g, err := s.Dir.Get(ctx(t), s.Leavers, e.ID, nil); err != nil || g.ID != e.ID {
		t.Fatalf("Get in leavers: %v, %v", g, err)
	}
	// Rename onto a taken name.
	s.add(t, "taken", nil)
	back := s.modify(t, bridge.ModifyRequest{ID: e.ID, NewSuperior: s.ou})
	_, err = s.Dir.Modify(ctx(t), bridge.ModifyRequest{ID: e.ID, NewRDN: s.rdn("taken")})
	wantKind(t, "rename onto a taken name", err, bridge.KindConflict)
	if g := s.get(t, e.ID); !sameDN(g.DN, back.DN) || g.Version != back.Version {
		t.Errorf("failed rename changed the entry: %+v", g)
	}
	// A rename to the current name changes nothing.
	same := s.modify(t, bridge.ModifyRequest{ID: e.ID, NewRDN: s.rdn("newer"), NewSuperior: s.ou})
	if same.Version != back.Version {
		t.Errorf("rename to the same name changed Version")
	}
}

// testGuessedModify: a Guessed request takes effect only on exactly the
// remembered entry - or, where the directory cannot guard it, never - and
// otherwise is ErrStaleCurrent with nothing written: after a change made
// beside it, a rename, and with the entry deleted and made again at the
// same DN.
func testGuessedModify(t *testing.T, s *suite) {
	title := func(v string) []bridge.Change {
		return s.changes([]bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{v}}})
	}
	guess := func(cur *bridge.Entry, v string) (*bridge.Entry, error) {
		return s.Dir.Modify(ctx(t), bridge.ModifyRequest{ID: cur.ID, Changes: title(v), Current: cur, Guessed: true})
	}
	refused := func(what string, cur *bridge.Entry, v string, id string, want *bridge.Entry) {
		t.Helper()
		_, err := guess(cur, v)
		if !errors.Is(err, bridge.ErrStaleCurrent) {
			t.Fatalf("%s: Guessed Modify answered %v, want ErrStaleCurrent", what, err)
		}
		if g := s.get(t, id); g.Version != want.Version || !sameDN(g.DN, want.DN) || g.First(s.a("title")) != want.First(s.a("title")) {
			t.Fatalf("%s: the refused guess changed the entry: %+v, was %+v", what, g, want)
		}
	}
	e := s.add(t, "guess", map[string][]string{"title": {"T0"}})
	cur := s.get(t, e.ID)
	got, err := guess(cur, "T1")
	switch {
	case err == nil:
		s.wantValues(t, got, "title", "T1")
		if got.Version == cur.Version || got.ID != e.ID {
			t.Fatalf("guessed write: Version %q -> %q, id %q", cur.Version, got.Version, got.ID)
		}
		t.Logf("this directory guards a Guessed request")
	case errors.Is(err, bridge.ErrStaleCurrent):
		s.wantValues(t, s.get(t, e.ID), "title", "T0")
		t.Logf("this directory refuses every Guessed request")
	default:
		t.Fatalf("Guessed Modify on the entry as read: %v", err)
	}
	// Changed beside the guess.
	cur = s.get(t, e.ID)
	now := s.modify(t, bridge.ModifyRequest{ID: e.ID, Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"T2"}}}})
	refused("changed since", cur, "T3", e.ID, now)
	// Renamed beside the guess.
	cur = now
	now = s.modify(t, bridge.ModifyRequest{ID: e.ID, NewRDN: s.rdn("guessed")})
	refused("renamed since", cur, "T4", e.ID, now)
	// Deleted and made again at the same DN: another entry.
	cur = now
	if err := s.Dir.Delete(ctx(t), e.ID); err != nil {
		t.Fatal(err)
	}
	again := s.addReq(t, bridge.AddRequest{DN: cur.DN, Attrs: s.person("guessed", map[string][]string{"title": {"T5"}})})
	if _, err := guess(cur, "T6"); !errors.Is(err, bridge.ErrStaleCurrent) {
		t.Fatalf("recreated: Guessed Modify of the gone id answered %v, want ErrStaleCurrent", err)
	}
	cur.ID = again.ID // the new entry's id with the old entry's state
	refused("recreated at the same DN", cur, "T6", again.ID, s.get(t, again.ID))
}

// testBlindModify: a Blind request (Current has the id and the DN only)
// applies its replaces and the disabled state to exactly the entry with
// that id at that DN - or, where the directory cannot guard it, never -
// and otherwise is ErrStaleCurrent with nothing written: renamed, and
// deleted and made again at the same DN. A replace with no values of an
// absent attribute is no error.
func testBlindModify(t *testing.T, s *suite) {
	blind := func(id, dn, v string, disabled *bool) (*bridge.Entry, error) {
		return s.Dir.Modify(ctx(t), bridge.ModifyRequest{ID: id, Changes: s.changes([]bridge.Change{
			{Op: bridge.ChangeReplace, Attr: "title", Values: []string{v}},
			{Op: bridge.ChangeReplace, Attr: "description"},
		}), Disabled: disabled, Current: &bridge.Entry{ID: id, DN: dn}, Guessed: true, Blind: true})
	}
	refused := func(what, id, dn string, want *bridge.Entry) {
		t.Helper()
		if _, err := blind(id, dn, "never", nil); !errors.Is(err, bridge.ErrStaleCurrent) {
			t.Fatalf("%s: Blind Modify answered %v, want ErrStaleCurrent", what, err)
		}
		if g := s.get(t, id); g.Version != want.Version || !sameDN(g.DN, want.DN) || g.First(s.a("title")) != want.First(s.a("title")) {
			t.Fatalf("%s: the refused blind write changed the entry: %+v, was %+v", what, g, want)
		}
	}
	e := s.add(t, "blind", map[string][]string{"title": {"T0"}, "description": {"D0"}})
	yes := true
	got, err := blind(e.ID, e.DN, "T1", &yes)
	switch {
	case err == nil:
		s.wantValues(t, got, "title", "T1")
		if len(got.Values(s.a("description"))) != 0 || !got.Disabled || got.ID != e.ID {
			t.Fatalf("blind write: %+v", got)
		}
		// Again, on the state it made: the same outcome, no error (a
		// replace with no values of an absent attribute, a disable of a
		// disabled account).
		if got, err = blind(e.ID, e.DN, "T1", &yes); err != nil || !got.Disabled || got.First(s.a("title")) != "T1" {
			t.Fatalf("the same blind write again: %v %+v", err, got)
		}
		t.Logf("this directory guards a Blind request")
	case errors.Is(err, bridge.ErrStaleCurrent):
		if g := s.get(t, e.ID); g.First(s.a("title")) != "T0" || g.Disabled {
			t.Fatalf("a refused blind write changed the entry: %+v", g)
		}
		t.Logf("this directory refuses every Blind request")
	default:
		t.Fatalf("Blind Modify of the entry at its DN: %v", err)
	}
	// Renamed beside it: nothing with the id at the remembered DN.
	old := e.DN
	now := s.modify(t, bridge.ModifyRequest{ID: e.ID, NewRDN: s.rdn("blinded")})
	refused("renamed since", e.ID, old, now)
	// Deleted and made again at the same DN: another entry.
	if err := s.Dir.Delete(ctx(t), e.ID); err != nil {
		t.Fatal(err)
	}
	again := s.addReq(t, bridge.AddRequest{DN: now.DN, Attrs: s.person("blinded", map[string][]string{"title": {"T5"}})})
	if _, err := blind(e.ID, now.DN, "T6", nil); !errors.Is(err, bridge.ErrStaleCurrent) {
		t.Fatalf("recreated: Blind Modify of the gone id answered %v, want ErrStaleCurrent", err)
	}
	if g := s.get(t, again.ID); g.First(s.a("title")) != "T5" {
		t.Fatalf("recreated: the new entry's title is %q", g.First(s.a("title")))
	}
}

func testPassword(t *testing.T, s *suite) {
	e := s.addReq(t, bridge.AddRequest{DN: s.dnOf("pw", ""), Attrs: s.person("pw", nil), Password: "First-Secret-1"})
	if len(e.Values("userPassword")) > 0 || len(s.get(t, e.ID).Values("userPassword")) > 0 {
		t.Errorf("the password (or its hash) is returned")
	}
	if err := s.Auth.Authenticate(ctx(t), e.DN, "First-Secret-1"); err != nil {
		t.Fatalf("bind with the password set on Add: %v", err)
	}
	wantKind(t, "bind with a wrong password", s.Auth.Authenticate(ctx(t), e.DN, "wrong"), bridge.KindUnauthorized)
	wantKind(t, "bind with an empty password", s.Auth.Authenticate(ctx(t), e.DN, ""), bridge.KindUnauthorized)
	v := s.get(t, e.ID).Version
	// Resending the same password changes nothing.
	same := "First-Secret-1"
	got := s.modify(t, bridge.ModifyRequest{ID: e.ID, Password: &same})
	if got.Version != v {
		t.Errorf("resending the same password changed Version")
	}
	next := "Second-Secret-2"
	got = s.modify(t, bridge.ModifyRequest{ID: e.ID, Password: &next})
	if got.Version == v {
		t.Errorf("a password change left Version as it was")
	}
	if err := s.Auth.Authenticate(ctx(t), e.DN, next); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	wantKind(t, "bind with the old password", s.Auth.Authenticate(ctx(t), e.DN, "First-Secret-1"), bridge.KindUnauthorized)
	// A password together with attributes.
	third := "Third-Secret-3"
	got = s.modify(t, bridge.ModifyRequest{ID: e.ID, Password: &third, Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"P"}}}})
	s.wantValues(t, got, "title", "P")
	if err := s.Auth.Authenticate(ctx(t), e.DN, third); err != nil {
		t.Fatalf("bind with the third password: %v", err)
	}
	// Without a password an entry cannot bind.
	np := s.add(t, "nopw", nil)
	wantKind(t, "bind without a password", s.Auth.Authenticate(ctx(t), np.DN, "anything"), bridge.KindUnauthorized)
}

func testDisabled(t *testing.T, s *suite) {
	d := s.addReq(t, bridge.AddRequest{DN: s.dnOf("dis", ""), Attrs: s.person("dis", nil), Password: "Dis-Secret-1", Disabled: true})
	if !d.Disabled {
		t.Errorf("Add(Disabled) returned an enabled entry")
	}
	wantKind(t, "bind as disabled on Add", s.Auth.Authenticate(ctx(t), d.DN, "Dis-Secret-1"), bridge.KindUnauthorized)
	if !s.get(t, d.ID).Disabled {
		t.Errorf("Get: not disabled")
	}
	yes, no := true, false
	en := s.modify(t, bridge.ModifyRequest{ID: d.ID, Disabled: &no})
	if en.Disabled || en.Version == d.Version {
		t.Fatalf("enable: %+v", en)
	}
	if err := s.Auth.Authenticate(ctx(t), d.DN, "Dis-Secret-1"); err != nil {
		t.Fatalf("bind after enable: %v", err)
	}
	// A bind may itself change the entry (AD keeps logonCount and
	// lastLogon on it), so compare with the entry as it is now.
	now := s.get(t, d.ID)
	again := s.modify(t, bridge.ModifyRequest{ID: d.ID, Disabled: &no})
	if again.Version != now.Version {
		t.Errorf("enabling an enabled account changed Version")
	}
	dis := s.modify(t, bridge.ModifyRequest{ID: d.ID, Disabled: &yes})
	if !dis.Disabled || dis.Version == en.Version {
		t.Fatalf("disable: %+v", dis)
	}
	wantKind(t, "bind after disable", s.Auth.Authenticate(ctx(t), d.DN, "Dis-Secret-1"), bridge.KindUnauthorized)
	// A new password does not enable a disabled account.
	pw := "Dis-Secret-2"
	s.modify(t, bridge.ModifyRequest{ID: d.ID, Password: &pw})
	wantKind(t, "bind after a password change while disabled", s.Auth.Authenticate(ctx(t), d.DN, pw), bridge.KindUnauthorized)
	en2 := s.modify(t, bridge.ModifyRequest{ID: d.ID, Disabled: &no})
	if en2.Disabled {
		t.Fatalf("enable again: still disabled")
	}
	if err := s.Auth.Authenticate(ctx(t), d.DN, pw); err != nil {
		t.Fatalf("bind after enabling again: %v", err)
	}
}

func testFailedModify(t *testing.T, s *suite) {
	e := s.add(t, "fm", map[string][]string{"title": {"Keep"}})
	// Removing sn breaks the schema; together with a rename, neither may stay.
	_, err := s.Dir.Modify(ctx(t), bridge.ModifyRequest{ID: e.ID, NewRDN: s.rdn("fm2"), Changes: s.changes([]bridge.Change{
		{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"Changed"}},
		s.invalid(),
	})})
	wantKind(t, "Modify removing sn", err, s.invalidKind())
	// The undo of a rename is a write of its own, so Version may differ;
	// the name and the values may not.
	g := s.get(t, e.ID)
	if !sameDN(g.DN, e.DN) {
		t.Fatalf("failed Modify left the entry renamed: DN %q (was %q)", g.DN, e.DN)
	}
	s.wantValues(t, g, "uid", "fm")
	s.wantValues(t, g, "title", "Keep")
	s.wantValues(t, g, "sn", "Snfm")
	// An unknown attribute, with a move.
	_, err = s.Dir.Modify(ctx(t), bridge.ModifyRequest{ID: e.ID, NewSuperior: s.Leavers, Changes: s.changes([]bridge.Change{
		{Op: bridge.ChangeReplace, Attr: "noSuchAttributeXyz", Values: []string{"x"}},
	})})
	wantKind(t, "Modify with an unknown attribute", err, bridge.KindMisconfigured)
	g = s.get(t, e.ID)
	if !sameDN(g.DN, e.DN) {
		t.Fatalf("failed Modify left the entry moved to %q", g.DN)
	}
}

func testDelete(t *testing.T, s *suite) {
	e := s.add(t, "del", nil)
	if err := s.Dir.Delete(ctx(t), e.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Dir.Get(ctx(t), "", e.ID, nil)
	wantKind(t, "Get after Delete", err, bridge.KindNotFound)
	_, err = s.Dir.GetByDN(ctx(t), e.DN, nil)
	wantKind(t, "GetByDN after Delete", err, bridge.KindNotFound)
	wantKind(t, "Delete again", s.Dir.Delete(ctx(t), e.ID), bridge.KindNotFound)
	// The name is free again, and the new entry has a new id.
	e2 := s.add(t, "del", nil)
	if e2.ID == e.ID {
		t.Errorf("a new entry got the deleted one's id")
	}
}

func testEnsureContainer(t *testing.T, s *suite) {
	deep := "ou=c,ou=b,ou=a," + s.ou
	for range 2 {
		if err := s.Dir.EnsureContainer(ctx(t), deep); err != nil {
			t.Fatalf("EnsureContainer(%q): %v", deep, err)
		}
	}
	for _, dn := range []string{"ou=a," + s.ou, "ou=b,ou=a," + s.ou, deep} {
		if _, err := s.Dir.GetByDN(ctx(t), dn, nil); err != nil {
			t.Errorf("GetByDN(%q) after EnsureContainer: %v", dn, err)
		}
	}
	e := s.addReq(t, bridge.AddRequest{DN: s.rdn("inner") + "," + deep, Attrs: s.person("inner", nil)})
	if g, err := s.Dir.Get(ctx(t), "ou=a,"+s.ou, e.ID, nil); err != nil || g.ID != e.ID {
		t.Errorf("Get below a created container: %v, %v", g, err)
	}
	if err := s.Dir.EnsureContainer(ctx(t), s.People); err != nil {
		t.Errorf("EnsureContainer(existing people): %v", err)
	}
	// Concurrent callers all succeed.
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Dir.EnsureContainer(ctx(t), "ou=x,ou=y,"+s.ou)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("concurrent EnsureContainer: %v", err)
		}
	}
}

func testHostileNames(t *testing.T, s *suite) {
	for _, uid := range []string{`doe, john`, `a+b`, `"quoted"`, `back\slash`, `semi;colon`, `<angle>`, `#hash`, ` lead`, `trail `, `équipe`, `star*`, `par(en)`} {
		dn := s.dnOf(uid, "")
		e, err := s.Dir.Add(ctx(t), bridge.AddRequest{DN: dn, Attrs: s.person(uid, nil)})
		if err != nil {
			t.Errorf("Add(%q): %v", dn, err)
			continue
		}
		byDN, err := s.Dir.GetByDN(ctx(t), e.DN, nil)
		if err != nil || byDN.ID != e.ID {
			t.Errorf("GetByDN(%q) = %v, %v", e.DN, byDN, err)
		}
		got := s.searchUIDs(t, bridge.Eq("uid", uid))
		if len(got) != 1 {
			t.Errorf("Search(uid=%q) = %q", uid, got)
		}
		r := s.modify(t, bridge.ModifyRequest{ID: e.ID, NewRDN: s.rdn(uid + "2")})
		s.wantValues(t, r, "uid", uid+"2")
		if err := s.Dir.Delete(ctx(t), e.ID); err != nil {
			t.Errorf("Delete(%q): %v", uid, err)
		}
	}
}
