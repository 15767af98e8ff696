package ldapside

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// rawMessage reads one BER element whole, as sent.
func rawMessage(r *bufio.Reader) ([]byte, error) {
	hdr, err := r.Peek(2)
	if err != nil {
		return nil, err
	}
	n, hl := int(hdr[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		h, err := r.Peek(2 + k)
		if err != nil {
			return nil, err
		}
		n = 0
		for _, c := range h[2:] {
			n = n<<8 | int(c)
		}
		hl += k
	}
	b := make([]byte, hl+n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// fakeServer reads requests on conn, records them as sent, and writes what
// reply returns for each (nothing: the request gets no answer).
func fakeServer(conn net.Conn, reply func(id int64, op byte, raw []byte) [][]byte) chan []byte {
	got := make(chan []byte, 16)
	go func() {
		defer conn.Close()
		r := bufio.NewReader(conn)
		for {
			raw, err := rawMessage(r)
			if err != nil {
				close(got)
				return
			}
			got <- raw
			m, id, ok := parseEnvelope(string(raw))
			if !ok {
				close(got)
				return
			}
			for _, out := range reply(id, m.op, raw) {
				if _, err := conn.Write(out); err != nil {
					return
				}
			}
		}
	}()
	return got
}

// response builds an LDAPMessage of id with the operation op (an
// LDAPResult of code, matched and diag, then extra) and controls.
func response(id int64, op byte, code int, matched, diag string, extra func(*berBuf), ctrls ...[]byte) []byte {
	var e berBuf
	env := e.open(berSequence)
	e.int(0x02, id)
	o := e.open(op)
	e.int(0x0a, int64(code))
	e.str(0x04, matched)
	e.str(0x04, diag)
	if extra != nil {
		extra(&e)
	}
	e.close(o)
	if len(ctrls) > 0 {
		cs := e.open(0xa0)
		for _, c := range ctrls {
			e.raw(c)
		}
		e.close(cs)
	}
	e.close(env)
	return e.b
}

// respTag is the response to each request operation.
var respTag = map[byte]byte{0x60: 0x61, 0x63: 0x65, 0x66: 0x67, 0x68: 0x69, 0x4a: 0x6b, 0x6c: 0x6d, 0x77: 0x78}

func okReply(id int64, op byte, _ []byte) [][]byte {
	return [][]byte{response(id, respTag[op], 0, "", "", nil)}
}

// TestWireRequestsAsGoLDAP: every request wireConn writes is byte for byte
// what go-ldap writes for the same request (go-ldap is the reference
// encoder; message IDs are 1 on both), including lengths past one, two and
// three bytes.
func TestWireRequestsAsGoLDAP(t *testing.T) {
	long := strings.Repeat("x", 70000)
	ctrls := []ldap.Control{ldap.NewControlPaging(100), &assertionControl{filter: equalityAnd("entryUUID", "u-1")}, &postReadControl{attrs: []string{"uid", "cn"}}}
	modify := ldap.NewModifyRequest("uid=a,ou=people,dc=example,dc=com", ctrls)
	modify.Replace("title", []string{"T", long[:200]})
	modify.Add("mail", []string{"a@example.com"})
	modify.Delete("mobile", nil)
	modify.Increment("uidNumber", "1")
	add := ldap.NewAddRequest("uid=b,ou=people,dc=example,dc=com", nil)
	add.Attribute("objectClass", []string{"top", "inetOrgPerson"})
	add.Attribute("description", []string{long})
	mdn := ldap.NewModifyDNRequest("uid=b,ou=people,dc=example,dc=com", "uid=c", true, "ou=leavers,dc=example,dc=com")
	mdnKeep := ldap.NewModifyDNRequest("uid=b,ou=people,dc=example,dc=com", "uid=c", false, "")
	cases := []struct {
		name   string
		wire   func(w *wireConn) error
		goldap func(l *ldap.Conn) error
	}{
		{"bind", func(w *wireConn) error { return w.Bind("cn=admin,dc=example,dc=com", "secret") },
			func(l *ldap.Conn) error { return l.Bind("cn=admin,dc=example,dc=com", "secret") }},
		{"search", func(w *wireConn) error {
			_, err := w.Search(ldap.NewSearchRequest("ou=people,dc=example,dc=com", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1001, 30, false,
				"(&(objectClass=inetOrgPerson)(|(uid=a*)(!(cn=b)))(mail~=x)(uidNumber>=1000))", []string{"uid", "cn", "entryUUID"}, ctrls))
			return err
		}, func(l *ldap.Conn) error {
			_, err := l.Search(ldap.NewSearchRequest("ou=people,dc=example,dc=com", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1001, 30, false,
				"(&(objectClass=inetOrgPerson)(|(uid=a*)(!(cn=b)))(mail~=x)(uidNumber>=1000))", []string{"uid", "cn", "entryUUID"}, ctrls))
			return err
		}},
		{"search base, no attributes", func(w *wireConn) error {
			_, err := w.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.DerefAlways, 0, 0, false, "(objectClass=*)", nil, nil))
			return err
		}, func(l *ldap.Conn) error {
			_, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.DerefAlways, 0, 0, false, "(objectClass=*)", nil, nil))
			return err
		}},
		{"modify", func(w *wireConn) error { _, err := w.ModifyWithResult(modify); return err },
			func(l *ldap.Conn) error { _, err := l.ModifyWithResult(modify); return err }},
		{"add", func(w *wireConn) error { return w.Add(add) }, func(l *ldap.Conn) error { return l.Add(add) }},
		{"delete", func(w *wireConn) error { return w.Del(ldap.NewDelRequest("uid=b,dc=example,dc=com", ctrls[:1])) },
			func(l *ldap.Conn) error { return l.Del(ldap.NewDelRequest("uid=b,dc=example,dc=com", ctrls[:1])) }},
		{"modifyDN", func(w *wireConn) error { return w.ModifyDN(mdn) }, func(l *ldap.Conn) error { return l.ModifyDN(mdn) }},
		{"modifyDN keeping the old RDN", func(w *wireConn) error { return w.ModifyDN(mdnKeep) }, func(l *ldap.Conn) error { return l.ModifyDN(mdnKeep) }},
		{"password modify", func(w *wireConn) error {
			_, err := w.PasswordModify(ldap.NewPasswordModifyRequest("uid=a,dc=example,dc=com", "", "n3w"))
			return err
		}, func(l *ldap.Conn) error {
			_, err := l.PasswordModify(ldap.NewPasswordModifyRequest("uid=a,dc=example,dc=com", "", "n3w"))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			got := fakeServer(b, okReply)
			w := &wireConn{nc: a, r: bufio.NewReader(a), timeout: 5 * time.Second}
			if err := tc.wire(w); err != nil {
				t.Fatalf("wireConn: %v", err)
			}
			mine := <-got
			w.Close()

			a, b = net.Pipe()
			got = fakeServer(b, okReply)
			l := ldap.NewConn(a, false)
			l.Start()
			l.SetTimeout(5 * time.Second)
			if err := tc.goldap(l); err != nil {
				t.Fatalf("go-ldap: %v", err)
			}
			theirs := <-got
			l.Close()
			if !bytes.Equal(mine, theirs) {
				t.Errorf("wireConn wrote\n%x\ngo-ldap wrote\n%x", mine, theirs)
			}
		})
	}
}

// TestWireBooleanTrue: TRUE is written as 0xff (RFC 4511 §5.1), where
// go-ldap writes a search's typesOnly as 0x01, which Samba reads as FALSE.
func TestWireBooleanTrue(t *testing.T) {
	a, b := net.Pipe()
	got := fakeServer(b, okReply)
	w := &wireConn{nc: a, r: bufio.NewReader(a), timeout: 5 * time.Second}
	defer w.Close()
	if _, err := w.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, true, "(objectClass=*)", nil, nil)); err != nil {
		t.Fatal(err)
	}
	p, err := ber.DecodePacketErr(<-got)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Children[1].Children[5].Data.Bytes(); !bytes.Equal(d, []byte{0xff}) {
		t.Errorf("typesOnly TRUE written as %x, want ff", d)
	}
}

// searchEntry encodes a SearchResultEntry message.
func searchEntry(id int64, dn string, attrs ...[]string) []byte {
	var e berBuf
	env := e.open(berSequence)
	e.int(0x02, id)
	o := e.open(berSearchEntry)
	e.str(0x04, dn)
	list := e.open(berSequence)
	for _, a := range attrs {
		pa := e.open(berSequence)
		e.str(0x04, a[0])
		set := e.open(berSet)
		for _, v := range a[1:] {
			e.str(0x04, v)
		}
		e.close(set)
		e.close(pa)
	}
	e.close(list)
	e.close(o)
	e.close(env)
	return e.b
}

// TestWireResponsesAsGoLDAP: wireConn and go-ldap, given the same answers,
// return the same entries, referrals, controls and errors.
func TestWireResponsesAsGoLDAP(t *testing.T) {
	paging := ldap.NewControlPaging(0)
	paging.SetCookie([]byte("cookie"))
	sortResult := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	sortResult.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, ldap.ControlTypeServerSideSortingResult, ""))
	sortValue := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	sortValue.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, ""))
	sortResult.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(sortValue.Bytes()), ""))
	postRead := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	postRead.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oidPostRead, ""))
	postRead.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(searchEntry(0, "uid=a,dc=x", []string{"uid", "a"})[5:]), ""))
	big := strings.Repeat("v", 300)
	huge := strings.Repeat("\x00\xff", 70000)
	cases := []struct {
		name    string
		reply   func(id int64, op byte, raw []byte) [][]byte
		request func(c ldapConn) (any, error)
	}{
		{"search: entries, a reference, controls", func(id int64, _ byte, _ []byte) [][]byte {
			return [][]byte{
				searchEntry(id, "uid=a,dc=x", []string{"uid", "a"}, []string{"objectClass", "top", "person"}, []string{"description", big, ""}),
				searchEntry(id, "uid=b,dc=x"),
				searchEntry(id, "uid=c,dc=x", []string{"userPassword"}),     // a type without values (no read right)
				searchEntry(id, "cn=big,dc=x", []string{"jpegPhoto", huge}), // larger than the read buffer
				func() []byte {
					var e berBuf
					env := e.open(berSequence)
					e.int(0x02, id)
					o := e.open(0x73)
					e.str(0x04, "ldap://other/dc=x")
					e.close(o)
					e.close(env)
					return e.b
				}(),
				response(id, 0x65, 0, "", "", nil, paging.Encode().Bytes(), sortResult.Bytes()),
			}
		}, func(c ldapConn) (any, error) {
			res, err := c.Search(ldap.NewSearchRequest("dc=x", 2, 0, 0, 0, false, "(uid=*)", nil, nil))
			if res != nil {
				res.Entries = append([]*ldap.Entry{}, res.Entries...) // go-ldap starts with an empty slice
			}
			return res, err
		}},
		{"search: no such object", func(id int64, _ byte, _ []byte) [][]byte {
			return [][]byte{response(id, 0x65, 32, "dc=x", "no such object", nil)}
		}, func(c ldapConn) (any, error) {
			return c.Search(ldap.NewSearchRequest("ou=gone,dc=x", 2, 0, 0, 0, false, "(uid=*)", nil, nil))
		}},
		{"search: size limit after one entry, with a control", func(id int64, _ byte, _ []byte) [][]byte {
			return [][]byte{searchEntry(id, "uid=a,dc=x", []string{"uid", "a"}), response(id, 0x65, 4, "", "", nil, sortResult.Bytes())}
		}, func(c ldapConn) (any, error) {
			res, err := c.Search(ldap.NewSearchRequest("dc=x", 2, 0, 1, 0, false, "(uid=*)", nil, nil))
			return []any{len(res.Entries), controlsOfError(err)}, err
		}},
		{"modify: Post-Read", func(id int64, _ byte, _ []byte) [][]byte {
			return [][]byte{response(id, 0x67, 0, "", "", nil, postRead.Bytes())}
		}, func(c ldapConn) (any, error) {
			res, err := c.ModifyWithResult(ldap.NewModifyRequest("uid=a,dc=x", nil))
			return res, err
		}},
		{"modify: assertion failed", func(id int64, _ byte, _ []byte) [][]byte {
			return [][]byte{response(id, 0x67, 122, "", "assertion failed", nil)}
		}, func(c ldapConn) (any, error) {
			return nil, c.Modify(ldap.NewModifyRequest("uid=a,dc=x", nil))
		}},
		{"add: referral", func(id int64, _ byte, _ []byte) [][]byte {
			return [][]byte{response(id, 0x69, 10, "", "", func(e *berBuf) {
				r := e.open(0xa3)
				e.str(0x04, "ldap://primary/uid=a,dc=x")
				e.close(r)
			})}
		}, func(c ldapConn) (any, error) {
			return nil, c.Add(ldap.NewAddRequest("uid=a,dc=x", nil))
		}},
		{"password modify: generated password", func(id int64, _ byte, _ []byte) [][]byte {
			return [][]byte{response(id, 0x78, 0, "", "", func(e *berBuf) {
				var v berBuf
				s := v.open(berSequence)
				v.str(0x80, "g3nerated")
				v.close(s)
				e.str(0x8b, string(v.b))
			})}
		}, func(c ldapConn) (any, error) {
			return c.PasswordModify(ldap.NewPasswordModifyRequest("uid=a,dc=x", "", ""))
		}},
		{"password modify: refused", func(id int64, _ byte, _ []byte) [][]byte {
			return [][]byte{response(id, 0x78, 19, "", "password fails quality checking policy", nil)}
		}, func(c ldapConn) (any, error) {
			_, err := c.PasswordModify(ldap.NewPasswordModifyRequest("uid=a,dc=x", "", "x"))
			return nil, err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			fakeServer(b, tc.reply)
			w := &wireConn{nc: a, r: bufio.NewReader(a), timeout: 5 * time.Second}
			mine, myErr := tc.request(w)
			w.Close()

			a, b = net.Pipe()
			fakeServer(b, tc.reply)
			l := ldap.NewConn(a, false)
			l.Start()
			l.SetTimeout(5 * time.Second)
			theirs, theirErr := tc.request(l)
			l.Close()
			if fmt.Sprint(myErr) != fmt.Sprint(theirErr) {
				t.Errorf("error: wireConn %v, go-ldap %v", myErr, theirErr)
			}
			var le1, le2 *ldap.Error
			if errors.As(myErr, &le1) != errors.As(theirErr, &le2) || le1 != nil && (le1.ResultCode != le2.ResultCode || le1.MatchedDN != le2.MatchedDN) {
				t.Errorf("error: wireConn %#v, go-ldap %#v", le1, le2)
			}
			if !reflect.DeepEqual(mine, theirs) {
				t.Errorf("result:\nwireConn %s\ngo-ldap  %s", dump(mine), dump(theirs))
			}
		})
	}
}

func dump(v any) string {
	if r, ok := v.(*ldap.SearchResult); ok && r != nil {
		var b strings.Builder
		for _, e := range r.Entries {
			fmt.Fprintf(&b, "%s:", e.DN)
			for _, a := range e.Attributes {
				fmt.Fprintf(&b, " %s=%q/%q", a.Name, a.Values, a.ByteValues)
			}
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "referrals %q controls %v code %d %q", r.Referrals, r.Controls, r.ResultCode, r.DiagnosticMessage)
		return b.String()
	}
	return fmt.Sprintf("%#v", v)
}

// TestWireConnectionEnds: a notice of disconnection, a server that closes
// mid-answer, and a server that does not answer in time each fail the
// request as a connection error and leave the connection closing, so that
// the pool does not lend it again.
func TestWireConnectionEnds(t *testing.T) {
	notice := func(id int64, _ byte, _ []byte) [][]byte {
		return [][]byte{response(0, 0x78, 52, "", "server shutting down", func(e *berBuf) { e.str(0x8a, "1.3.6.1.4.1.1466.20036") })}
	}
	half := func(id int64, _ byte, _ []byte) [][]byte {
		m := searchEntry(id, "uid=a,dc=x", []string{"uid", "a"})
		return [][]byte{m[:len(m)-3]}
	}
	silent := func(int64, byte, []byte) [][]byte { return nil }
	stale := func(id int64, op byte, raw []byte) [][]byte {
		// An answer to another message first: skipped.
		return [][]byte{response(id+7, 0x67, 0, "", "", nil), response(id, 0x67, 0, "", "", nil)}
	}
	for _, tc := range []struct {
		name   string
		reply  func(int64, byte, []byte) [][]byte
		modify bool
		fails  bool
	}{{"notice of disconnection", notice, false, true}, {"closed mid-answer", half, false, true},
		{"no answer", silent, true, true}, {"another message's answer first", stale, true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			fakeServer(b, tc.reply)
			w := &wireConn{nc: a, r: bufio.NewReader(a), timeout: 300 * time.Millisecond}
			defer w.Close()
			var err error
			if tc.modify {
				err = w.Modify(ldap.NewModifyRequest("uid=a,dc=x", nil))
			} else {
				_, err = w.Search(ldap.NewSearchRequest("dc=x", 2, 0, 0, 0, false, "(uid=*)", nil, nil))
			}
			if !tc.fails {
				if err != nil || w.IsClosing() {
					t.Fatalf("err %v, closing %t; want success on an open connection", err, w.IsClosing())
				}
				return
			}
			if !isConnectionError(err) {
				t.Errorf("err %v: not a connection error", err)
			}
			if !w.IsClosing() {
				t.Errorf("the connection is not closing after %v", err)
			}
			if err := w.Modify(ldap.NewModifyRequest("uid=a,dc=x", nil)); !isConnectionError(err) {
				t.Errorf("a request on the closed connection: %v", err)
			}
		})
	}
}

// TestWireIdleConnectionClosedByServer: an idle connection the server has
// closed is found gone without a request (go-ldap's reader noticed it; the
// pool must not lend it), and one the server keeps is not.
func TestWireIdleConnectionClosedByServer(t *testing.T) {
	if !wireTransport {
		t.Skip("the pool uses go-ldap here")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() (*wireConn, net.Conn) {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return &wireConn{nc: nc, r: bufio.NewReader(nc)}, <-accepted
	}
	kept, keptSrv := dial()
	defer keptSrv.Close()
	defer kept.Close()
	closed, closedSrv := dial()
	defer closed.Close()
	closedSrv.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !closed.idleGone() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !closed.idleGone() {
		t.Errorf("a connection the server closed is not closing")
	}
	if kept.idleGone() {
		t.Errorf("a live idle connection reports closing")
	}
	// Bytes nobody asked for (a notice of disconnection) also end it.
	noisy, noisySrv := dial()
	defer noisy.Close()
	defer noisySrv.Close()
	noisySrv.Write(response(0, 0x78, 52, "", "bye", nil))
	deadline = time.Now().Add(5 * time.Second)
	for !noisy.idleGone() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !noisy.idleGone() {
		t.Errorf("a connection with an unsolicited message is not closing")
	}
}

// TestBerBufLengths: lengths of one, two, three and four bytes, nested,
// decode as asn1-ber reads them.
func TestBerBufLengths(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 20} {
		var e berBuf
		outer := e.open(berSequence)
		inner := e.open(berSet)
		e.str(0x04, strings.Repeat("a", n))
		e.int(0x02, int64(n))
		e.close(inner)
		e.bool(true)
		e.close(outer)
		p, err := ber.DecodePacketErr(e.b)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(p.Children) != 2 || len(p.Children[0].Children) != 2 || len(p.Children[0].Children[0].Value.(string)) != n ||
			p.Children[0].Children[1].Value.(int64) != int64(n) || p.Children[1].Value.(bool) != true {
			t.Errorf("n=%d: decoded %d children", n, len(p.Children))
		}
	}
	for _, v := range []int64{0, 1, 127, 128, 255, 256, -1, -128, -129, 1<<31 - 1} {
		var e berBuf
		e.int(0x02, v)
		want := ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, v, "").Bytes()
		if !bytes.Equal(e.b, want) {
			t.Errorf("int %d: %x, asn1-ber %x", v, e.b, want)
		}
	}
}

// FuzzWireResponse: whatever a server sends as the answer to a search or a
// modify, wireConn returns (an error, or a result) and never panics.
func FuzzWireResponse(f *testing.F) {
	f.Add(searchEntry(1, "uid=a,dc=x", []string{"uid", "a"}))
	f.Add(response(1, 0x65, 0, "", "", nil))
	f.Add(response(1, 0x67, 0, "", "", nil, []byte{0x30, 0x03, 0x04, 0x01, 0x31}))
	f.Add(response(0, 0x78, 52, "", "bye", nil))
	f.Add(response(1, 0x65, 10, "", "", func(e *berBuf) { r := e.open(0xa3); e.str(0x04, "ldap://x"); e.close(r) }))
	f.Fuzz(func(t *testing.T, answer []byte) {
		for _, modify := range []bool{false, true} {
			a, b := net.Pipe()
			go func() {
				r := bufio.NewReader(b)
				if _, err := rawMessage(r); err == nil {
					b.Write(answer)
				}
				b.Close()
			}()
			w := &wireConn{nc: a, r: bufio.NewReader(a), timeout: time.Second}
			if modify {
				_, _ = w.ModifyWithResult(ldap.NewModifyRequest("uid=a,dc=x", nil))
			} else {
				_, _ = w.Search(ldap.NewSearchRequest("dc=x", 2, 0, 0, 0, false, "(uid=*)", nil, nil))
			}
			w.Close()
		}
	})
}

// TestTLSConnectionsAreKept: a pooled TLS connection (ldaps:// and
// StartTLS) stays in use across requests with pauses between them. TLS
// 1.3 servers send records of their own after the handshake (session
// tickets), which the idle check must not take for a closed connection.
func TestTLSConnectionsAreKept(t *testing.T) {
	o, _ := startDirectory(t, nil)
	for _, tc := range []struct {
		url      string
		startTLS bool
	}{{o.LDAPSURL, false}, {o.URL, true}} {
		c, err := Open(Config{URLs: []string{tc.url}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN,
			CAFile: o.CAFile, StartTLS: tc.startTLS, PoolSize: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var dials atomic.Int64
		c.dialHook = func(string) { dials.Add(1) }
		for i := range 20 {
			if err := c.Ping(tctx(t)); err != nil {
				t.Fatalf("%s start_tls=%t: Ping %d: %v", tc.url, tc.startTLS, i, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := dials.Load(); n != 1 {
			t.Errorf("%s start_tls=%t: 20 requests dialed %d connections, want 1", tc.url, tc.startTLS, n)
		}
		c.Close()
	}
}

// TestWireIdleTLSRecords: the records a TLS 1.3 server sends on its own
// after the handshake (OpenSSL's s_server, like slapd built with OpenSSL,
// sends two session tickets once the handshake is done, which reach the
// client after its handshake returned) leave an idle connection usable;
// the server going away ends it.
func TestWireIdleTLSRecords(t *testing.T) {
	if !wireTransport {
		t.Skip("the pool uses go-ldap here")
	}
	bin, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is needed for this test")
		}
		t.Skip("no openssl")
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := testenv.WriteSelfSigned(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "s_server", "-accept", "127.0.0.1:0", "-cert", certFile, "-key", keyFile, "-tls1_3", "-naccept", "1")
	stdin, err := cmd.StdinPipe() // kept open: s_server ends the session at its end
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ACCEPT "); ok {
				addr <- a
			}
		}
	}()
	var hostPort string
	select {
	case hostPort = <-addr:
	case <-time.After(10 * time.Second):
		t.Fatal("openssl s_server did not say where it listens")
	}
	nc, err := net.Dial("tcp", hostPort)
	if err != nil {
		t.Fatal(err)
	}
	w := &wireConn{nc: nc, r: bufio.NewReader(nc), timeout: 5 * time.Second}
	defer w.Close()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	if err := w.handshake(tctx(t), &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for idleState(w.nc) != idlePending && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if idleState(w.nc) != idlePending {
		t.Fatalf("s_server sent no session tickets after the handshake: the test cannot check what it is for")
	}
	if w.idleGone() {
		t.Fatalf("session tickets on an idle TLS connection were taken for a closed connection")
	}
	if s := idleState(w.nc); s != idleQuiet {
		t.Errorf("after the check the socket holds %d, want nothing", s)
	}
	_ = cmd.Process.Kill()
	for !w.idleGone() && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(5 * time.Millisecond)
	}
	if !w.idleGone() {
		t.Errorf("a TLS connection whose server went away is not closing")
	}
}
