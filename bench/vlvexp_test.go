package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

type vlvCtl struct {
	offset, after int64
	ctx           []byte
}

func (c vlvCtl) GetControlType() string { return "2.16.840.1.113730.3.4.9" }
func (c vlvCtl) String() string         { return "vlv" }
func (c vlvCtl) Encode() *ber.Packet {
	seq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), ""))
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.after, ""))
	bo := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
	bo.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.offset, ""))
	bo.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(0), ""))
	seq.AppendChild(bo)
	if len(c.ctx) > 0 {
		seq.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(c.ctx), ""))
	}
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, c.GetControlType(), ""))
	p.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, true, ""))
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(seq.Bytes()), ""))
	return p
}

func vlvContext(res *ldap.SearchResult) []byte {
	c := ldap.FindControl(res.Controls, "2.16.840.1.113730.3.4.10")
	s, ok := c.(*ldap.ControlString)
	if !ok {
		return nil
	}
	p := ber.DecodePacket([]byte(s.ControlValue))
	if len(p.Children) == 4 {
		return p.Children[3].Data.Bytes()
	}
	return nil
}

// TestVLVExperiment measures what the proposed ldapside changes would save.
// Run by hand: VLVEXP_N=100000 go test -run VLVExperiment -v ./bench
func TestVLVExperiment(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("VLVEXP_N"))
	if n == 0 {
		t.Skip("VLVEXP_N not set")
	}
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := newRawPool(openldapDir{o}, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.close()
	l := raw.get()
	growDatabase(l)
	raw.put(l)
	cfg := defaultConfig()
	if err := seed(context.Background(), openldapDir{o}, raw, cfg, 0, n, func(i int) *ldap.AddRequest { return userAdd(o.PeopleDN, seedUID(i), i) }); err != nil {
		t.Fatal(err)
	}
	attrs := []string{"uid", "cn", "sn", "givenName", "mail", "title", "entryUUID", "createTimestamp", "modifyTimestamp", "entryCSN", "pwdAccountLockedTime"}
	sss := ldap.NewControlServerSideSortingWithSortKeys([]*ldap.SortKey{{AttributeType: "entryUUID"}})
	page := func(l *ldap.Conn, filter string, offset int64, ctxID []byte) (*ldap.SearchResult, time.Duration) {
		t0 := time.Now()
		res, err := l.Search(ldap.NewSearchRequest(o.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs,
			[]ldap.Control{sss, vlvCtl{offset: offset, after: 99, ctx: ctxID}}))
		if err != nil {
			t.Fatal(err)
		}
		return res, time.Since(t0)
	}
	offsets := []int64{1, int64(n / 2), int64(n - 99)}
	// 1. As ldapside does now: a fresh bound connection per page.
	for _, off := range offsets {
		var ds latencies
		for range 5 {
			t0 := time.Now()
			l, err := dialRaw(openldapDir{o})
			if err != nil {
				t.Fatal(err)
			}
			page(l, userFilter, off, nil)
			l.Close()
			ds = append(ds, time.Since(t0))
		}
		fmt.Printf("fresh conn + bind + sort, offset %d: p50 %.1f ms\n", off, ms(ds.pct(0.5)))
	}
	// 2. One connection, the walk continued with the contextID.
	l = raw.get()
	res, d0 := page(l, userFilter, 1, nil)
	cid := vlvContext(res)
	fmt.Printf("context walk: first page (sorts) %.1f ms, contextID %d bytes\n", ms(d0), len(cid))
	var cont latencies
	for off := int64(101); off < int64(n); off += int64(max(100, n/200)) {
		r, d := page(l, userFilter, off, cid)
		if len(r.Entries) == 0 {
			t.Fatalf("empty page at %d", off)
		}
		if c := vlvContext(r); c != nil {
			cid = c
		}
		cont = append(cont, d)
	}
	fmt.Printf("context walk: later pages p50 %.1f ms p99 %.1f ms (%d pages)\n", ms(cont.pct(0.5)), ms(cont.pct(0.99)), len(cont))
	raw.put(l)
	// 3. A lookup: fresh+sorted VLV vs plain vs sort without VLV, pooled.
	var fresh, plain, sortOnly latencies
	for i := range 200 {
		f := "(&" + userFilter + uidFilter(seedUID((i*7919)%n)) + ")"
		t0 := time.Now()
		l, _ := dialRaw(openldapDir{o})
		page(l, f, 1, nil)
		l.Close()
		fresh = append(fresh, time.Since(t0))
		l = raw.get()
		t0 = time.Now()
		l.Search(ldap.NewSearchRequest(o.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, f, attrs, nil))
		plain = append(plain, time.Since(t0))
		t0 = time.Now()
		l.Search(ldap.NewSearchRequest(o.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, f, attrs, []ldap.Control{sss}))
		sortOnly = append(sortOnly, time.Since(t0))
		raw.put(l)
	}
	fmt.Printf("lookup: fresh conn+SSS+VLV p50 %.2f ms; pooled plain p50 %.2f ms; pooled SSS only p50 %.2f ms\n", ms(fresh.pct(0.5)), ms(plain.pct(0.5)), ms(sortOnly.pct(0.5)))
	// 4. Reading a big group's member list (what Modify reads first today).
	members := make([]string, min(50000, n))
	for i := range members {
		members[i] = "uid=" + seedUID(i) + "," + o.PeopleDN
	}
	l = raw.get()
	defer raw.put(l)
	if err := buildGroup(openldapDir{o}, l, "big", members); err != nil {
		t.Fatal(err)
	}
	var rd, one latencies
	for range 10 {
		t0 := time.Now()
		l.Search(ldap.NewSearchRequest("cn=big,"+o.GroupsDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"member", "entryUUID"}, nil))
		rd = append(rd, time.Since(t0))
		t0 = time.Now()
		l.Search(ldap.NewSearchRequest("cn=big,"+o.GroupsDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(member="+ldap.EscapeFilter(members[0])+")", []string{"1.1"}, nil))
		one = append(one, time.Since(t0))
	}
	fmt.Printf("big group (%d): read member list p50 %.1f ms; (member=dn) presence check p50 %.2f ms\n", len(members), ms(rd.pct(0.5)), ms(one.pct(0.5)))
}
