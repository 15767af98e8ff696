package ldapside

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// wireConn is the pooled connections' LDAPv3 client: synchronous, one
// request at a time, on the goroutine that asks (the pool lends a
// connection to one caller at a time, so nothing else needs it).
//
// go-ldap's Conn was the transport before. Its reader and dispatcher
// goroutines hand every message through channels, and asn1-ber decodes each
// message element by element into a tree of packets before go-ldap turns the
// tree into entries: in BenchmarkListPage (a page of 100 users through the
// whole gateway) that decoding was 60% of the gateway's processor time, and a
// userName lookup spent 92 µs of processor time in go-ldap's round trip
// where a synchronous one spends 37 µs. Here a response is read whole into
// one string and decoded in place (decodeSearchEntry, the Post-Read
// decoder), requests are written with berBuf in one write.
//
// go-ldap still owns the types (requests, entries, controls, errors: the
// rest of the package is unchanged), the rare paths where its decoding is
// the reference (a non-zero result is decoded by asn1-ber and made an
// *ldap.Error by ldap.GetLDAPError, exactly as go-ldap did; controls other
// than Post-Read go through ldap.DecodeControl), the filters appendFilter
// leaves to ldap.CompileFilter (extensible matches, and anything malformed,
// so that the errors are go-ldap's), and the connections that are not
// pooled (probes, preflight, Authenticate).
type wireConn struct {
	nc      net.Conn
	r       *bufio.Reader
	timeout time.Duration // per request, 0: none
	id      int32         // of the last request
	closing atomic.Bool
	b       berBuf // the request being written; reused
}

var _ ldapConn = (*wireConn)(nil)

// maxMessage bounds one response: a group of a million members read whole
// is about 60 MB.
const maxMessage = 256 << 20

// dialWire connects to u (ldap:// or ldaps://, as Config.validate allows);
// it does not bind.
func dialWire(ctx context.Context, u *url.URL, dialer *net.Dialer, tlsCfg *tls.Config) (*wireConn, error) {
	port := u.Port()
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	nc, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, ldap.NewError(ldap.ErrorNetwork, err)
	}
	w := &wireConn{nc: nc, r: bufio.NewReaderSize(nc, 32<<10), timeout: dialer.Timeout}
	if u.Scheme == "ldaps" {
		if err := w.handshake(ctx, tlsCfg); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// handshake makes the connection a TLS client connection.
func (w *wireConn) handshake(ctx context.Context, cfg *tls.Config) error {
	tc := tls.Client(w.nc, cfg)
	if w.timeout > 0 {
		_ = w.nc.SetDeadline(time.Now().Add(w.timeout))
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = w.nc.Close()
		w.closing.Store(true)
		return ldap.NewError(ldap.ErrorNetwork, err)
	}
	w.nc = tc
	w.r = bufio.NewReaderSize(tc, 32<<10)
	return nil
}

// startTLS sends the StartTLS extended operation (RFC 4511 §4.14) and then
// the TLS handshake.
func (w *wireConn) startTLS(ctx context.Context, cfg *tls.Config) error {
	e := w.begin()
	op := e.open(0x77) // ExtendedRequest
	e.str(0x80, oidStartTLS)
	e.close(op)
	if _, err := w.result(e, nil, 0x78); err != nil {
		_ = w.Close()
		return err
	}
	if w.r.Buffered() > 0 {
		_ = w.Close()
		return ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: the server sent data before the TLS handshake"))
	}
	return w.handshake(ctx, cfg)
}

// Bind is a simple bind (RFC 4511 §4.2). An empty password is refused
// here, as go-ldap does: the server would take it as an unauthenticated
// bind, which succeeds.
func (w *wireConn) Bind(dn, password string) error {
	if password == "" {
		return ldap.NewError(ldap.ErrorEmptyPassword, errors.New("ldap: empty password not allowed by the client"))
	}
	e := w.begin()
	op := e.open(0x60) // BindRequest
	e.int(0x02, 3)
	e.str(0x04, dn)
	e.str(0x80, password) // simple
	e.close(op)
	_, err := w.result(e, nil, 0x61)
	return err
}

// SetTimeout sets the limit of each later request.
func (w *wireConn) SetTimeout(d time.Duration) { w.timeout = d }

// Close ends the connection; a request blocked on it fails. Safe to call
// from another goroutine (the pool's context watcher does).
func (w *wireConn) Close() error {
	w.closing.Store(true)
	return w.nc.Close()
}

// TLSConnectionState returns the TLS state; ok is false on a connection
// that is not encrypted.
func (w *wireConn) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := w.nc.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// IsClosing reports whether the connection was closed or broke.
func (w *wireConn) IsClosing() bool { return w.closing.Load() }

var _ idleChecker = (*wireConn)(nil)

// idleGone reports, for an idle connection about to be lent, whether the
// server has closed it (or sent on it) since its last use, and closes it
// then. go-ldap's reader goroutine noticed that in the background.
func (w *wireConn) idleGone() bool {
	if w.closing.Load() {
		return true
	}
	state := idleState(w.nc)
	if w.r.Buffered() > 0 {
		state = idleClosed // an LDAP message nobody asked for
	}
	if state == idlePending {
		if _, isTLS := w.nc.(*tls.Conn); isTLS && w.quietTLS() {
			return false
		}
		state = idleClosed
	}
	if state == idleClosed {
		_ = w.Close()
		return true
	}
	return false
}

// quietTLS reads what a TLS server sent on an idle connection, for at most
// a millisecond: TLS 1.3 servers send records of their own after the
// handshake (session tickets), which crypto/tls consumes without returning
// data. True when that was all (the read timed out, which crypto/tls and
// bufio recover from); false for an LDAP message, a close_notify or an
// error.
func (w *wireConn) quietTLS() bool {
	_ = w.nc.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := w.r.Peek(1)
	_ = w.nc.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && w.r.Buffered() == 0
}

// idle is what an idle connection's socket holds (idleState).
type idle int

const (
	idleQuiet   idle = iota // nothing: the connection is usable
	idlePending             // bytes nobody asked for
	idleClosed              // the server closed it, or it failed
)

// Search runs req and reads every answer. As with go-ldap, a non-zero
// result is an *ldap.Error (its Packet holds the response, controls
// included) returned beside the entries read before it.
func (w *wireConn) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	e := w.begin()
	op := e.open(0x63) // SearchRequest
	e.str(0x04, req.BaseDN)
	e.int(0x0a, int64(req.Scope))
	e.int(0x0a, int64(req.DerefAliases))
	e.int(0x02, int64(req.SizeLimit))
	e.int(0x02, int64(req.TimeLimit))
	e.bool(req.TypesOnly)
	if !appendFilter(e, req.Filter) {
		filter, err := ldap.CompileFilter(req.Filter)
		if err != nil {
			return nil, err
		}
		e.raw(filter.Bytes())
	}
	attrs := e.open(berSequence)
	for _, a := range req.Attributes {
		e.str(0x04, a)
	}
	e.close(attrs)
	e.close(op)
	if err := w.send(e, req.Controls); err != nil {
		return nil, err
	}
	// Empty, not nil, as go-ldap gives them (zero-length makes allocate
	// nothing).
	res := &ldap.SearchResult{Entries: make([]*ldap.Entry, 0), Referrals: make([]string, 0), Controls: make([]ldap.Control, 0)}
	for {
		m, err := w.read()
		if err != nil {
			return res, err
		}
		switch m.op {
		case berSearchEntry:
			ent := decodeSearchEntry(m.s[m.opAt:m.opEnd])
			if ent == nil {
				return res, w.broken(errors.New("ldap: malformed SearchResultEntry"))
			}
			res.Entries = append(res.Entries, ent)
		case 0x73: // SearchResultReference
			if tag, from, to, ok := berNext(m.s, m.from, m.opEnd); ok && tag == berOctetString {
				res.Referrals = append(res.Referrals, m.s[from:to])
			}
		case 0x79: // IntermediateResponse: nothing this package asks for
		case 0x65: // SearchResultDone
			r, err := w.done(m)
			res.ResultCode = r.code
			res.DiagnosticMessage = r.diag
			if r.controls != nil {
				res.Controls = r.controls
			}
			return res, err
		default:
			return res, w.broken(fmt.Errorf("ldap: unexpected response 0x%02x to a search", m.op))
		}
	}
}

// Add adds an entry (RFC 4511 §4.7).
func (w *wireConn) Add(req *ldap.AddRequest) error {
	e := w.begin()
	op := e.open(0x68)
	e.str(0x04, req.DN)
	list := e.open(berSequence)
	for _, a := range req.Attributes {
		e.attribute(a.Type, a.Vals)
	}
	e.close(list)
	e.close(op)
	_, err := w.result(e, req.Controls, 0x69)
	return err
}

// Del deletes an entry (RFC 4511 §4.8).
func (w *wireConn) Del(req *ldap.DelRequest) error {
	e := w.begin()
	e.str(0x4a, req.DN) // DelRequest ::= [APPLICATION 10] LDAPDN
	_, err := w.result(e, req.Controls, 0x6b)
	return err
}

// Modify modifies an entry (RFC 4511 §4.6).
func (w *wireConn) Modify(req *ldap.ModifyRequest) error {
	_, err := w.ModifyWithResult(req)
	return err
}

// ModifyWithResult is Modify with the response's controls (Post-Read).
func (w *wireConn) ModifyWithResult(req *ldap.ModifyRequest) (*ldap.ModifyResult, error) {
	e := w.begin()
	op := e.open(0x66)
	e.str(0x04, req.DN)
	changes := e.open(berSequence)
	for _, c := range req.Changes {
		ch := e.open(berSequence)
		e.int(0x0a, int64(c.Operation))
		e.attribute(c.Modification.Type, c.Modification.Vals)
		e.close(ch)
	}
	e.close(changes)
	e.close(op)
	r, err := w.result(e, req.Controls, 0x67)
	return &ldap.ModifyResult{Controls: r.controls, Referral: r.referral}, err
}

// ModifyDN renames or moves an entry (RFC 4511 §4.9).
func (w *wireConn) ModifyDN(req *ldap.ModifyDNRequest) error {
	e := w.begin()
	op := e.open(0x6c)
	e.str(0x04, req.DN)
	e.str(0x04, req.NewRDN)
	e.bool(req.DeleteOldRDN)
	if req.NewSuperior != "" {
		e.str(0x80, req.NewSuperior)
	}
	e.close(op)
	_, err := w.result(e, req.Controls, 0x6d)
	return err
}

const oidPasswordModify = "1.3.6.1.4.1.4203.1.11.1"

// PasswordModify is the Password Modify extended operation (RFC 3062).
func (w *wireConn) PasswordModify(req *ldap.PasswordModifyRequest) (*ldap.PasswordModifyResult, error) {
	var v berBuf
	s := v.open(berSequence)
	if req.UserIdentity != "" {
		v.str(0x80, req.UserIdentity)
	}
	if req.OldPassword != "" {
		v.str(0x81, req.OldPassword)
	}
	if req.NewPassword != "" {
		v.str(0x82, req.NewPassword)
	}
	v.close(s)
	e := w.begin()
	op := e.open(0x77)
	e.str(0x80, oidPasswordModify)
	e.str(0x81, string(v.b))
	e.close(op)
	r, err := w.result(e, nil, 0x78)
	out := &ldap.PasswordModifyResult{Referral: r.referral}
	if err != nil {
		return out, err
	}
	// PasswdModifyResponseValue ::= SEQUENCE { genPasswd [0] OCTET STRING OPTIONAL }
	if val := r.value; val != "" {
		if tag, from, to, ok := berNext(val, 0, len(val)); ok && tag == berSequence {
			if tag, gFrom, gTo, ok := berNext(val, from, to); ok && tag == 0x80 {
				out.GeneratedPassword = val[gFrom:gTo]
			}
		}
	}
	return out, nil
}

// begin starts the next request's message: its envelope and message ID.
// The envelope is closed by send.
func (w *wireConn) begin() *berBuf {
	w.id++
	if w.id <= 0 { // message IDs are 1 … 2^31-1; 0 is the server's
		w.id = 1
	}
	w.b.b = w.b.b[:0]
	w.b.open(berSequence)
	w.b.int(0x02, int64(w.id))
	return &w.b
}

// send appends the controls, closes the envelope and writes the message.
func (w *wireConn) send(e *berBuf, ctrls []ldap.Control) error {
	if w.closing.Load() {
		return ldap.NewError(ldap.ErrorNetwork, errors.New("ldap: connection closed"))
	}
	if len(ctrls) > 0 {
		cs := e.open(0xa0)
		for _, c := range ctrls {
			e.raw(c.Encode().Bytes())
		}
		e.close(cs)
	}
	e.close(2) // the envelope opened by begin: its contents start at 2
	if w.timeout > 0 {
		if err := w.nc.SetDeadline(time.Now().Add(w.timeout)); err != nil {
			return w.broken(err)
		}
	}
	if _, err := w.nc.Write(e.b); err != nil {
		return w.broken(err)
	}
	if cap(e.b) > 64<<10 {
		e.b = nil // a large request's buffer is not kept with the connection
	}
	return nil
}

// result sends a request whose answer is one LDAPResult of the given tag.
func (w *wireConn) result(e *berBuf, ctrls []ldap.Control, want byte) (ldapResult, error) {
	if err := w.send(e, ctrls); err != nil {
		return ldapResult{}, err
	}
	for {
		m, err := w.read()
		if err != nil {
			return ldapResult{}, err
		}
		if m.op == 0x79 {
			continue // IntermediateResponse
		}
		if m.op != want {
			return ldapResult{}, w.broken(fmt.Errorf("ldap: unexpected response 0x%02x, want 0x%02x", m.op, want))
		}
		return w.done(m)
	}
}

// message is one response, read whole: s is the LDAPMessage, [opAt, opEnd)
// its protocolOp element, [from, opEnd) that element's contents, and
// [ctrls, len(s)) the controls element (empty when there is none).
type message struct {
	s                        string
	op                       byte
	opAt, from, opEnd, ctrls int
}

// read reads the next response to the last request. A notice of
// disconnection (message ID 0) or a read that fails ends the connection.
func (w *wireConn) read() (message, error) {
	for {
		s, err := w.readMessage()
		if err != nil {
			return message{}, w.broken(err)
		}
		m, id, ok := parseEnvelope(s)
		if !ok {
			return message{}, w.broken(errors.New("ldap: malformed response"))
		}
		if id == 0 {
			diag := ""
			if r, ok := parseResult(m); ok {
				diag = r.diag
			}
			return message{}, w.broken(fmt.Errorf("ldap: the server ended the connection (notice of disconnection: %q)", diag))
		}
		if id != int64(w.id) {
			continue // an answer to an earlier request: none is pending, skip it
		}
		return m, nil
	}
}

// readMessage reads one BER element (an LDAPMessage) whole into a string.
func (w *wireConn) readMessage() (string, error) {
	hdr, err := w.r.Peek(2)
	if err != nil {
		return "", err
	}
	if hdr[0] != berSequence {
		return "", fmt.Errorf("ldap: a response starts with 0x%02x, not a SEQUENCE", hdr[0])
	}
	n, hl := int(hdr[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		if k == 0 || k > 4 {
			return "", errors.New("ldap: a response with an indefinite or oversized length")
		}
		h, err := w.r.Peek(2 + k)
		if err != nil {
			return "", err
		}
		n = 0
		for _, c := range h[2:] {
			n = n<<8 | int(c)
		}
		hl += k
	}
	if n < 0 || n > maxMessage {
		return "", fmt.Errorf("ldap: a response of %d bytes is larger than %d", n, maxMessage)
	}
	var sb strings.Builder
	sb.Grow(hl + n)
	for left := hl + n; left > 0; {
		p, err := w.r.Peek(min(left, w.r.Size()))
		if len(p) == 0 && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		sb.Write(p)
		_, _ = w.r.Discard(len(p))
		left -= len(p)
	}
	return sb.String(), nil
}

// parseEnvelope splits an LDAPMessage into its parts.
//
//	LDAPMessage ::= SEQUENCE { messageID MessageID, protocolOp CHOICE { … },
//	    controls [0] Controls OPTIONAL }
func parseEnvelope(s string) (m message, id int64, ok bool) {
	tag, from, end, ok := berNext(s, 0, len(s))
	if !ok || tag != berSequence || end != len(s) {
		return m, 0, false
	}
	tag, idFrom, idTo, ok := berNext(s, from, end)
	if !ok || tag != 0x02 || idTo-idFrom > 4 || idTo == idFrom {
		return m, 0, false
	}
	for _, c := range []byte(s[idFrom:idTo]) {
		id = id<<8 | int64(c)
	}
	m = message{s: s, opAt: idTo, ctrls: end}
	m.op, m.from, m.opEnd, ok = berNext(s, idTo, end)
	if !ok {
		return m, 0, false
	}
	if m.opEnd < end {
		tag, _, _, ok := berNext(s, m.opEnd, end)
		if !ok || tag != 0xa0 {
			return m, 0, false
		}
		m.ctrls = m.opEnd
	}
	return m, id, true
}

// ldapResult is the LDAPResult of a response and what follows it.
type ldapResult struct {
	code     uint16
	diag     string
	referral string // the first URI, for a referral
	value    string // an ExtendedResponse's responseValue
	controls []ldap.Control
}

// parseResult reads the LDAPResult components of m's protocolOp.
//
//	LDAPResult ::= SEQUENCE { resultCode ENUMERATED, matchedDN LDAPDN,
//	    diagnosticMessage LDAPString, referral [3] Referral OPTIONAL }
func parseResult(m message) (ldapResult, bool) {
	var r ldapResult
	s := m.s
	tag, from, to, ok := berNext(s, m.from, m.opEnd)
	if !ok || tag != 0x0a || to-from > 4 || to == from {
		return r, false
	}
	var code int64
	for _, c := range []byte(s[from:to]) {
		code = code<<8 | int64(c)
	}
	r.code = uint16(code)
	// matchedDN: an error's, read by ldap.GetLDAPError (done).
	tag, _, to, ok = berNext(s, to, m.opEnd)
	if !ok || tag != berOctetString {
		return r, false
	}
	tag, from, to, ok = berNext(s, to, m.opEnd)
	if !ok || tag != berOctetString {
		return r, false
	}
	r.diag = s[from:to]
	for at := to; at < m.opEnd; {
		tag, from, to, ok := berNext(s, at, m.opEnd)
		if !ok {
			return r, false
		}
		at = to
		switch tag {
		case 0xa3: // referral: SEQUENCE OF URI
			if t, uFrom, uTo, ok := berNext(s, from, to); ok && t == berOctetString && r.referral == "" {
				r.referral = s[uFrom:uTo]
			}
		case 0x8b: // ExtendedResponse responseValue
			r.value = s[from:to]
		}
	}
	return r, true
}

// done reads a final response: its result, controls, and for a non-zero
// result the *ldap.Error go-ldap would have made of it.
func (w *wireConn) done(m message) (ldapResult, error) {
	r, ok := parseResult(m)
	if !ok {
		return r, w.broken(errors.New("ldap: malformed LDAPResult"))
	}
	if m.ctrls < len(m.s) {
		ctrls, err := decodeControls(m.s, m.ctrls)
		if err != nil {
			return r, w.broken(err)
		}
		r.controls = ctrls
	}
	if r.code == 0 {
		return r, nil
	}
	pkt, err := ber.DecodePacketErr([]byte(m.s))
	if err != nil {
		return r, w.broken(fmt.Errorf("ldap: undecodable error response: %w", err))
	}
	if err := ldap.GetLDAPError(pkt); err != nil {
		return r, err
	}
	return r, ldap.NewError(r.code, errors.New(r.diag))
}

// decodeControls decodes the Controls element at i. Post-Read's value (a
// whole entry, on every write) is kept as the string go-ldap gives unknown
// controls; the others (sort, VLV, paging responses) are small and are
// decoded by go-ldap into their types.
//
//	Control ::= SEQUENCE { controlType LDAPOID, criticality BOOLEAN DEFAULT FALSE,
//	    controlValue OCTET STRING OPTIONAL }
func decodeControls(s string, i int) ([]ldap.Control, error) {
	bad := errors.New("ldap: malformed response controls")
	tag, from, end, ok := berNext(s, i, len(s))
	if !ok || tag != 0xa0 {
		return nil, bad
	}
	var out []ldap.Control
	for at := from; at < end; {
		tag, cFrom, cTo, ok := berNext(s, at, end)
		if !ok || tag != berSequence {
			return nil, bad
		}
		whole := s[at:cTo]
		at = cTo
		tag, oFrom, oTo, ok := berNext(s, cFrom, cTo)
		if !ok || tag != berOctetString {
			return nil, bad
		}
		if s[oFrom:oTo] == oidPostRead {
			c := &ldap.ControlString{ControlType: oidPostRead}
			for p := oTo; p < cTo; {
				tag, vFrom, vTo, ok := berNext(s, p, cTo)
				if !ok {
					return nil, bad
				}
				p = vTo
				switch tag {
				case 0x01:
					c.Criticality = vTo > vFrom && s[vFrom] != 0
				case berOctetString:
					c.ControlValue = s[vFrom:vTo]
				}
			}
			out = append(out, c)
			continue
		}
		pkt, err := ber.DecodePacketErr([]byte(whole))
		if err != nil {
			return nil, fmt.Errorf("ldap: undecodable response control: %w", err)
		}
		c, err := ldap.DecodeControl(pkt)
		if err != nil {
			return nil, fmt.Errorf("ldap: undecodable response control: %w", err)
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// broken ends a connection whose stream can no longer be trusted (a failed
// read or write, a timeout, a malformed or unexpected message) and returns
// the error as go-ldap's network error.
func (w *wireConn) broken(err error) error {
	w.closing.Store(true)
	_ = w.nc.Close()
	var le *ldap.Error
	if errors.As(err, &le) {
		return err
	}
	return ldap.NewError(ldap.ErrorNetwork, err)
}

// berBuf builds BER: open writes a tag and a one-byte length to be fixed
// by close, which moves the contents when their length needs more bytes.
type berBuf struct{ b []byte }

// open starts a constructed element and returns where its contents start.
func (e *berBuf) open(tag byte) int {
	e.b = append(e.b, tag, 0)
	return len(e.b)
}

// close ends the element whose contents start at start.
func (e *berBuf) close(start int) {
	n := len(e.b) - start
	if n < 0x80 {
		e.b[start-1] = byte(n)
		return
	}
	k := berHeaderLen(n) - 2 // length bytes after the 0x8k byte
	for range k {
		e.b = append(e.b, 0)
	}
	copy(e.b[start+k:], e.b[start:start+n])
	e.b[start-1] = 0x80 | byte(k)
	for i := k - 1; i >= 0; i-- {
		e.b[start+i] = byte(n)
		n >>= 8
	}
}

// attribute writes an Attribute or PartialAttribute:
// SEQUENCE { type AttributeDescription, vals SET OF AttributeValue }.
func (e *berBuf) attribute(typ string, vals []string) {
	attr := e.open(berSequence)
	e.str(berOctetString, typ)
	set := e.open(berSet)
	for _, v := range vals {
		e.str(berOctetString, v)
	}
	e.close(set)
	e.close(attr)
}

// str writes a primitive element with the bytes of s.
func (e *berBuf) str(tag byte, s string) {
	e.b = berAppendHeader(e.b, tag, len(s))
	e.b = append(e.b, s...)
}

// raw writes an element already encoded.
func (e *berBuf) raw(p []byte) { e.b = append(e.b, p...) }

// int writes an INTEGER or ENUMERATED in the fewest two's-complement bytes.
func (e *berBuf) int(tag byte, v int64) {
	n := 1
	for x := v; x > 127 || x < -128; x >>= 8 {
		n++
	}
	e.b = append(e.b, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		e.b = append(e.b, byte(v>>(8*i)))
	}
}

// bool writes a BOOLEAN, TRUE as 0xff (RFC 4511 §5.1; Samba reads any
// other value as FALSE, and go-ldap writes 0x01 for a search's typesOnly).
func (e *berBuf) bool(v bool) {
	b := byte(0)
	if v {
		b = 0xff
	}
	e.b = append(e.b, 0x01, 0x01, b)
}
