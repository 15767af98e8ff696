package ldapside

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
)

// adOpCounter is an opCounter in front of the Samba DC's LDAPS port,
// presenting Samba's own certificate.
func adOpCounter(t *testing.T, s *testenv.SambaAD) *opCounter {
	t.Helper()
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(s.CAFile, filepath.Join(filepath.Dir(s.CAFile), "tls-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return startOpCounter(t, strings.TrimPrefix(s.LDAPSURL, "ldaps://"),
		&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
}

// TestADMemberPatchReadsOnlyNamedMembers: on Samba AD a value-level
// membership write no longer reads the group's member list. It finds the
// group without member, asks which of the named members have the group in
// their memberOf, and sends the modify. The test counts the searches on the
// wire and the bytes the DC sent back, in two setups. One asks for member
// in ranges of 500, as Windows AD answers past MaxValRange; the old read
// took 3 range steps there. The other takes Samba's own answer without
// ranges, where the old read was one search carrying all 1,200 DNs. A
// re-add and an absent delete must stay no-ops with no modify sent. A
// mixed request writes only what is left to do. A member named in
// upper case is matched by DN equality. The admin reads the member list
// itself after each step, with an explicit range.
func TestADMemberPatchReadsOnlyNamedMembers(t *testing.T) {
	s := testenv.SharedSambaAD(t)
	p := adOpCounter(t, s)
	_, c, people, _ := startAD(t, func(cfg *Config) { cfg.URLs = []string{p.url()}; cfg.PoolSize = 1 })
	ctx := tctx(t)
	const n = 1200
	dns := addContacts(t, s, people, "m", n+4)
	members, outside := dns[:n], dns[n:]
	admin := adminConn(t, s)
	gdn := "CN=mgroup," + people
	ar := ldap.NewAddRequest(gdn, nil)
	ar.Attribute("objectClass", []string{"group"})
	ar.Attribute("sAMAccountName", []string{"mgroup" + randTag()})
	ar.Attribute("member", members)
	if err := admin.Add(ar); err != nil {
		t.Fatal(err)
	}
	g, err := c.GetByDN(ctx, gdn, []string{"objectClass"})
	if err != nil {
		t.Fatal(err)
	}
	want := lowerAll(members)
	listBytes := int64(0)
	for _, m := range members {
		listBytes += int64(len(m))
	}

	type step struct {
		what    string
		changes []bridge.Change
		add     []string // what the list gains
		del     []string // and loses
		confirm int      // removals not found by memberOf, confirmed by a search each
	}
	add := func(v ...string) bridge.Change { return bridge.Change{Op: bridge.ChangeAdd, Attr: "member", Values: v} }
	del := func(v ...string) bridge.Change {
		return bridge.Change{Op: bridge.ChangeDelete, Attr: "member", Values: v}
	}
	steps := []step{
		{what: "add an absent member", changes: []bridge.Change{add(outside[0])}, add: []string{outside[0]}},
		{what: "re-add it", changes: []bridge.Change{add(outside[0])}},
		{what: "remove a member beyond the first range", changes: []bridge.Change{del(members[1100])}, del: []string{members[1100]}},
		{what: "remove it again", changes: []bridge.Change{del(members[1100])}, confirm: 1},
		{what: "mixed: add present+absent, remove present+absent",
			changes: []bridge.Change{add(outside[0], outside[1]), del(members[5], members[1100])},
			add:     []string{outside[1]}, del: []string{members[5]}, confirm: 1},
		{what: "remove a member named in upper case", changes: []bridge.Change{del(strings.ToUpper(members[7]))}, del: []string{members[7]}},
	}
	for _, rangeStep := range []int{500, 0} {
		c.rangeStep = rangeStep
		for _, st := range steps {
			what := fmt.Sprintf("rangeStep %d, %s", rangeStep, st.what)
			p.take()
			p.down.Store(0)
			if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: g.ID, Base: people, Changes: st.changes, Return: []string{"objectClass"}}); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			counts := p.take()
			wantMod := 0
			if len(st.add)+len(st.del) > 0 {
				wantMod = 1
			}
			// Find the group (without member), find the named members,
			// confirm removals not found, read the group back for the
			// answer (Samba has no Post-Read).
			if got := fmt.Sprintf("search=%d %s", counts[opSearch], writeCounts(counts)); got != fmt.Sprintf("search=%d modify=%d add=0 delete=0 modifyDN=0 extended=0", 3+st.confirm, wantMod) {
				t.Errorf("%s sent %s, want %d searches and %d modify", what, got, 3+st.confirm, wantMod)
			}
			if d := p.down.Load(); d >= listBytes/4 {
				t.Errorf("%s: the DC sent %d bytes, the member list is %d: the list was read", what, d, listBytes)
			}
			for _, v := range st.add {
				want = append(want, strings.ToLower(v))
			}
			want = slices.DeleteFunc(want, func(v string) bool { return slices.Contains(lowerAll(st.del), v) })
			slices.Sort(want)
			if got := adminMembers(t, admin, gdn); !slices.Equal(got, want) {
				t.Fatalf("%s: the group has %d members, want %d (diff at the ends: %v / %v)", what, len(got), len(want), got[:2], want[:2])
			}
		}
		if rangeStep == 500 {
			// Put the list back as it was for the second pass.
			m := ldap.NewModifyRequest(gdn, nil)
			m.Delete("member", outside[:2])
			m.Add("member", []string{members[5], members[7], members[1100]})
			if err := admin.Modify(m); err != nil {
				t.Fatal(err)
			}
			want = lowerAll(members)
		}
	}
	// Asked for nothing back (a SCIM membership PATCH), the group is not
	// read again after the modify: one search fewer.
	p.take()
	out, err := c.Modify(ctx, bridge.ModifyRequest{ID: g.ID, Base: people, Changes: []bridge.Change{add(outside[2])}, Return: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("search=%d %s", p.take()[opSearch], ""); got != "search=2 " || out.ID != g.ID || !strings.EqualFold(out.DN, gdn) {
		t.Errorf("add with nothing to return: %s, answered %q %q; want 2 searches and the group's id and DN", got, out.ID, out.DN)
	}
	if got := adminMembers(t, admin, gdn); !slices.Contains(got, strings.ToLower(outside[2])) {
		t.Errorf("the member added with nothing to return is not in the group")
	}
}

// TestADValueLevel: only member adds and deletes of named values are
// planned from the named values on AD; a replace or a delete of the whole
// list needs the list, and other attributes are read whole.
func TestADValueLevel(t *testing.T) {
	add := func(a string, v ...string) bridge.Change {
		return bridge.Change{Op: bridge.ChangeAdd, Attr: a, Values: v}
	}
	for _, tc := range []struct {
		name    string
		changes []bridge.Change
		want    []string // nil: no value-level plan
	}{
		{"add and delete", []bridge.Change{add("member", "CN=a"), {Op: bridge.ChangeDelete, Attr: "Member", Values: []string{"CN=b"}}}, []string{"CN=a", "CN=b"}},
		{"with another attribute", []bridge.Change{add("description", "x"), add("member", "CN=a")}, []string{"CN=a"}},
		{"replace", []bridge.Change{add("member", "CN=a"), {Op: bridge.ChangeReplace, Attr: "member", Values: []string{"CN=b"}}}, nil},
		{"delete all", []bridge.Change{{Op: bridge.ChangeDelete, Attr: "member"}}, nil},
		{"no member", []bridge.Change{add("otherMailbox", "x@y")}, nil},
	} {
		got := adValueLevel(tc.changes)
		if !slices.Equal(got["member"], tc.want) || (tc.want == nil) != (got == nil) || len(got) > 1 {
			t.Errorf("%s: %v, want member=%v", tc.name, got, tc.want)
		}
	}
}

// TestADMemberOutsideTheBase: with a base DN that does not hold a member
// entry, the memberOf search cannot see it; the write must stay exact. Its
// removal is confirmed on the group itself and sent (the member is gone
// afterwards, checked by the admin), a second removal writes nothing, and
// its re-add draws Samba's 68, which the re-read turns into a no-op; a
// fresh add of it works.
func TestADMemberOutsideTheBase(t *testing.T) {
	s, _, people, leavers := startAD(t, nil)
	ctx := tctx(t)
	c, err := Open(Config{URLs: []string{s.LDAPSURL}, BindDN: s.AdminUPN, BindPassword: s.AdminPassword, BaseDN: people,
		CAFile: s.CAFile, Dialect: "ad", PoolSize: 1, OpTimeout: 60 * time.Second},
		hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	in := addContacts(t, s, people, "in", 2)
	out := addContacts(t, s, leavers, "out", 1)[0]
	admin := adminConn(t, s)
	gdn := "CN=ogroup," + people
	ar := ldap.NewAddRequest(gdn, nil)
	ar.Attribute("objectClass", []string{"group"})
	ar.Attribute("sAMAccountName", []string{"og" + randTag()})
	ar.Attribute("member", []string{in[0], out})
	if err := admin.Add(ar); err != nil {
		t.Fatal(err)
	}
	g, err := c.GetByDN(ctx, gdn, []string{"objectClass"})
	if err != nil {
		t.Fatal(err)
	}
	step := func(what string, ch bridge.Change, want ...string) {
		t.Helper()
		if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: g.ID, Changes: []bridge.Change{ch}, Return: []string{"objectClass"}}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := adminMembers(t, admin, gdn); !slices.Equal(got, lowerAll(want)) {
			t.Fatalf("%s: members %v, want %v", what, got, lowerAll(want))
		}
	}
	step("re-add the member outside the base", bridge.Change{Op: bridge.ChangeAdd, Attr: "member", Values: []string{out}}, in[0], out)
	step("remove it", bridge.Change{Op: bridge.ChangeDelete, Attr: "member", Values: []string{out}}, in[0])
	step("remove it again", bridge.Change{Op: bridge.ChangeDelete, Attr: "member", Values: []string{out}}, in[0])
	step("add it back", bridge.Change{Op: bridge.ChangeAdd, Attr: "member", Values: []string{out, in[1]}}, in[0], in[1], out)
}
