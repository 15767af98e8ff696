package embedded

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	bolt "go.etcd.io/bbolt"

	"github.com/dirbridge/dirbridge/bridge"
)

// LDAP application tags of the protocol operations (RFC 4511 §4.2-4.12).
const (
	appBindRequest      = 0
	appBindResponse     = 1
	appUnbindRequest    = 2
	appSearchRequest    = 3
	appSearchDone       = 5
	appModifyRequest    = 6
	appAddRequest       = 8
	appDelRequest       = 10
	appModDNRequest     = 12
	appModDNResponse    = 13
	appCompareRequest   = 14
	appCompareResponse  = 15
	appAbandonRequest   = 16
	appExtendedRequest  = 23
	appExtendedResponse = 24
)

// helloMsgID is the message id of the front's hello on a new gldap
// connection; it goes out before any client message, so it cannot collide.
const helloMsgID = 2147483647

var errProtocol = errors.New("malformed LDAP message")

// readPDU reads one LDAPMessage: a definite-length SEQUENCE of at most max
// bytes. The limit is checked before anything is allocated.
func readPDU(r *bufio.Reader, max int) ([]byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != 0x30 {
		return nil, errProtocol
	}
	first, err := r.ReadByte()
	if err != nil {
		return nil, unexpected(err)
	}
	head := []byte{tag, first}
	length := int(first)
	if first&0x80 != 0 {
		n := int(first & 0x7f)
		if n == 0 || n > 4 { // indefinite lengths are not LDAP (RFC 4511 §5.1)
			return nil, errProtocol
		}
		length = 0
		for i := 0; i < n; i++ {
			b, err := r.ReadByte()
			if err != nil {
				return nil, unexpected(err)
			}
			head = append(head, b)
			length = length<<8 | int(b)
		}
	}
	if length > max {
		return nil, errProtocol
	}
	buf := make([]byte, len(head)+length)
	copy(buf, head)
	if _, err := io.ReadFull(r, buf[len(head):]); err != nil {
		return nil, unexpected(err)
	}
	return buf, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// peekOp reads the message id and the operation's application tag from a
// raw LDAPMessage without decoding the rest.
func peekOp(raw []byte) (msgID int64, app int, ok bool) {
	skipHeader := func(b []byte) ([]byte, bool) { // returns the contents
		if len(b) < 2 {
			return nil, false
		}
		l, off := int(b[1]), 2
		if b[1]&0x80 != 0 {
			n := int(b[1] & 0x7f)
			if n == 0 || n > 4 || len(b) < 2+n {
				return nil, false
			}
			l = 0
			for _, x := range b[2 : 2+n] {
				l = l<<8 | int(x)
			}
			off = 2 + n
		}
		if off+l > len(b) {
			return nil, false
		}
		return b[off : off+l], true
	}
	body, ok := skipHeader(raw)
	if !ok || len(body) < 3 || body[0] != 0x02 {
		return 0, 0, false
	}
	n := int(body[1])
	if n < 1 || n > 4 || len(body) < 2+n+1 {
		return 0, 0, false
	}
	for _, x := range body[2 : 2+n] {
		msgID = msgID<<8 | int64(x)
	}
	opTag := body[2+n]
	if opTag&0xc0 != 0x40 { // application class
		return 0, 0, false
	}
	return msgID, int(opTag & 0x1f), true
}

func envelope(msgID int64, op *ber.Packet, controls ...*ber.Packet) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Message")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, msgID, "MessageID"))
	p.AppendChild(op)
	if len(controls) > 0 {
		cs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		for _, c := range controls {
			cs.AppendChild(c)
		}
		p.AppendChild(cs)
	}
	return p.Bytes()
}

func resultOp(app int, code int, matched, msg string) *ber.Packet {
	p := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ber.Tag(app), nil, "Response")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), "resultCode"))
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, matched, "matchedDN"))
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, msg, "diagnosticMessage"))
	return p
}

// noticeOfDisconnection is the unsolicited notification RFC 4511 §4.4.1
// sends before the server closes a connection it cannot go on with.
func noticeOfDisconnection(code int, msg string) []byte {
	op := resultOp(appExtendedResponse, code, "", msg)
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, "1.3.6.1.4.1.1466.20036", "responseName"))
	return envelope(0, op)
}

// front is one client connection: requests are read and checked here, then
// answered here or passed to the gldap connection back; answers from back are
// framed and written to the client. wmu keeps packets whole on the client
// side.
type front struct {
	s      *LDAPServer
	sess   *session
	client net.Conn
	back   net.Conn
	cr     *bufio.Reader
	wmu    sync.Mutex

	// A bind waits for its answer before the next request is read: RFC 4511
	// §4.2.1 has clients wait too, and gldap runs requests concurrently, so a
	// request pipelined behind a bind could otherwise run unauthenticated.
	bindMu      sync.Mutex
	pendingBind int64
	bindDone    chan struct{}
}

func (s *LDAPServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Error("ldap accept failed", "error", err)
			waitABit()
			continue
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

// waitABit yields before a retry; no result depends on how long it is.
func waitABit() { time.Sleep(5 * time.Millisecond) }

func (s *LDAPServer) serveConn(client net.Conn) {
	defer s.wg.Done()
	defer client.Close()
	sess := &session{}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	s.nextID++
	id := s.nextID
	s.sessions[id] = sess
	s.conns[id] = client
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, id)
		delete(s.conns, id)
		s.mu.Unlock()
	}()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("ldap connection panicked", "panic", fmt.Sprint(p), "remote_addr", client.RemoteAddr().String())
		}
	}()
	back, err := s.dialBack(s.backAddr, sess, id)
	if err != nil {
		s.log.Error("ldap backend unreachable", "error", err)
		_, _ = client.Write(noticeOfDisconnection(codeUnavailable, "the directory is not available"))
		return
	}
	defer back.Close()
	f := &front{s: s, sess: sess, client: client, back: back, cr: bufio.NewReader(client)}
	backDone := make(chan struct{})
	go func() {
		defer close(backDone)
		f.pumpBack()
	}()
	f.pumpClient()
	_ = back.Close()
	<-backDone
}

// dialBack opens a gldap connection and introduces it as session id.
func (s *LDAPServer) dialBack(addr string, sess *session, id uint64) (net.Conn, error) {
	if id == 0 { // the probe of startBack
		s.mu.Lock()
		s.sessions[0] = sess
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.sessions, 0)
			s.mu.Unlock()
		}()
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, appSearchRequest, nil, "Search")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "base"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, "scope"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, "deref"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "size"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "time"))
	op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, "typesOnly"))
	filter, _ := ldap.CompileFilter("(objectClass=*)")
	op.AppendChild(filter)
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attrs")
	for _, a := range []string{helloAttr, s.secret, strconv.FormatUint(id, 10)} {
		attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "attr"))
	}
	op.AppendChild(attrs)
	if _, err := c.Write(envelope(helloMsgID, op)); err != nil {
		_ = c.Close()
		return nil, err
	}
	raw, err := readPDU(bufio.NewReader(c), 1<<16)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	p, err := ber.DecodePacketErr(raw)
	if err != nil || len(p.Children) < 2 || len(p.Children[1].Children) < 1 {
		_ = c.Close()
		return nil, errProtocol
	}
	if code, _ := p.Children[1].Children[0].Value.(int64); code != 0 || p.Children[1].Tag != appSearchDone {
		_ = c.Close()
		return nil, fmt.Errorf("hello refused with result %d", code)
	}
	return c, nil
}

func (f *front) write(raw []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_, err := f.client.Write(raw)
	return err
}

func (f *front) reply(msgID int64, app, code int, msg string) {
	_ = f.write(envelope(msgID, resultOp(app, code, "", msg)))
}

// pumpBack copies gldap's answers to the client, one whole PDU at a time.
func (f *front) pumpBack() {
	defer func() {
		// The gldap side is gone (unbind, stop): so is the client.
		_ = f.client.Close()
		f.bindMu.Lock()
		if f.bindDone != nil {
			close(f.bindDone)
			f.bindDone = nil
		}
		f.bindMu.Unlock()
	}()
	br := bufio.NewReader(f.back)
	for {
		raw, err := readPDU(br, 1<<30)
		if err != nil {
			return
		}
		if err := f.write(raw); err != nil {
			return
		}
		if id, app, ok := peekOp(raw); ok && app == appBindResponse {
			f.bindMu.Lock()
			if f.bindDone != nil && f.pendingBind == id {
				close(f.bindDone)
				f.bindDone = nil
			}
			f.bindMu.Unlock()
		}
	}
}

func (f *front) pumpClient() {
	for {
		raw, err := readPDU(f.cr, f.s.opt.MaxPDU)
		if err != nil {
			if errors.Is(err, errProtocol) {
				_ = f.write(noticeOfDisconnection(codeProtocolError, "malformed LDAP message"))
			}
			return
		}
		if !f.dispatch(raw) {
			return
		}
	}
}

// dispatch handles one request; false ends the connection.
func (f *front) dispatch(raw []byte) bool {
	p, err := ber.DecodePacketErr(raw)
	if err != nil || len(p.Children) < 2 || len(p.Children) > 3 || !isInt(p.Children[0]) ||
		p.Children[1].ClassType != ber.ClassApplication {
		_ = f.write(noticeOfDisconnection(codeProtocolError, "malformed LDAP message"))
		return false
	}
	msgID, _ := p.Children[0].Value.(int64)
	if msgID < 0 || msgID > 2147483647 {
		_ = f.write(noticeOfDisconnection(codeProtocolError, "bad message id"))
		return false
	}
	req := p.Children[1]
	var controls []*ber.Packet
	if len(p.Children) == 3 {
		cs := p.Children[2]
		if cs.ClassType != ber.ClassContext || cs.Tag != 0 || cs.TagType != ber.TypeConstructed {
			_ = f.write(noticeOfDisconnection(codeProtocolError, "malformed controls"))
			return false
		}
		controls = cs.Children
	}
	respApp := map[ber.Tag]int{appBindRequest: appBindResponse, appSearchRequest: appSearchDone,
		appModifyRequest: 7, appAddRequest: 9, appDelRequest: 11, appModDNRequest: appModDNResponse,
		appCompareRequest: appCompareResponse, appExtendedRequest: appExtendedResponse}[req.Tag]
	if req.Tag != appUnbindRequest && req.Tag != appAbandonRequest && respApp == 0 {
		_ = f.write(noticeOfDisconnection(codeProtocolError, "unknown operation"))
		return false
	}
	// Controls: well-formed, and none critical that this server ignores.
	for _, c := range controls {
		oid, critical, value, ok := parseControl(c)
		if !ok {
			f.reply(msgID, respApp, codeProtocolError, "malformed control")
			return true
		}
		switch {
		case oid == oidPaging && req.Tag == appSearchRequest:
			if !validPagingValue(value) {
				f.reply(msgID, respApp, codeProtocolError, "malformed paged results control")
				return true
			}
		case oid == oidManageDsaIT:
		case critical:
			f.reply(msgID, respApp, codeCriticalExt, "critical control not supported")
			return true
		}
	}
	switch req.Tag {
	case appBindRequest:
		return f.bind(msgID, req, raw)
	case appUnbindRequest:
		_, _ = f.back.Write(raw)
		return false
	case appAbandonRequest:
		return true // nothing runs long enough here to be worth abandoning
	case appSearchRequest:
		if !validSearch(req) {
			f.reply(msgID, respApp, codeProtocolError, "malformed search request")
			return true
		}
	case appModifyRequest:
		if !validModify(req) {
			f.reply(msgID, respApp, codeProtocolError, "malformed modify request")
			return true
		}
	case appAddRequest:
		if !validAdd(req) {
			f.reply(msgID, respApp, codeProtocolError, "malformed add request")
			return true
		}
	case appDelRequest:
		if req.TagType != ber.TypePrimitive {
			f.reply(msgID, respApp, codeProtocolError, "malformed delete request")
			return true
		}
	case appModDNRequest:
		f.modifyDN(msgID, req)
		return true
	case appCompareRequest:
		f.compare(msgID, req)
		return true
	case appExtendedRequest:
		f.extended(msgID, req)
		return true
	}
	_, err = f.back.Write(raw)
	return err == nil
}

func (f *front) bind(msgID int64, req *ber.Packet, raw []byte) bool {
	if len(req.Children) < 3 || !isInt(req.Children[0]) || !isOctets(req.Children[1]) ||
		req.Children[2].ClassType != ber.ClassContext {
		f.sess.set("", false)
		f.reply(msgID, appBindResponse, codeProtocolError, "malformed bind request")
		return true
	}
	if v, _ := req.Children[0].Value.(int64); v != 3 {
		f.sess.set("", false)
		f.reply(msgID, appBindResponse, codeProtocolError, "only LDAP version 3 is supported")
		return true
	}
	auth := req.Children[2]
	if auth.Tag != 0 || auth.TagType != ber.TypePrimitive || len(req.Children) != 3 {
		// SASL (tag 3) or anything else: a failed bind leaves the
		// connection anonymous.
		f.sess.set("", false)
		f.reply(msgID, appBindResponse, codeAuthMethod, "only simple binds are supported")
		return true
	}
	done := make(chan struct{})
	f.bindMu.Lock()
	f.pendingBind, f.bindDone = msgID, done
	f.bindMu.Unlock()
	if _, err := f.back.Write(raw); err != nil {
		return false
	}
	<-done
	return true
}

func isInt(p *ber.Packet) bool {
	if p.ClassType != ber.ClassUniversal || p.TagType != ber.TypePrimitive ||
		p.Tag != ber.TagInteger && p.Tag != ber.TagEnumerated {
		return false
	}
	_, ok := p.Value.(int64)
	return ok
}

func isOctets(p *ber.Packet) bool {
	return p.ClassType == ber.ClassUniversal && p.TagType == ber.TypePrimitive && p.Tag == ber.TagOctetString
}

func isSeq(p *ber.Packet, tag ber.Tag) bool {
	return p.ClassType == ber.ClassUniversal && p.TagType == ber.TypeConstructed && p.Tag == tag
}

func octets(p *ber.Packet) string {
	if p.Data != nil {
		return p.Data.String()
	}
	return ""
}

func parseControl(c *ber.Packet) (oid string, critical bool, value *ber.Packet, ok bool) {
	if !isSeq(c, ber.TagSequence) || len(c.Children) < 1 || len(c.Children) > 3 || !isOctets(c.Children[0]) {
		return "", false, nil, false
	}
	oid = octets(c.Children[0])
	rest := c.Children[1:]
	if len(rest) > 0 && rest[0].Tag == ber.TagBoolean && rest[0].ClassType == ber.ClassUniversal {
		b, isBool := rest[0].Value.(bool)
		if !isBool {
			return "", false, nil, false
		}
		critical = b
		rest = rest[1:]
	}
	if len(rest) > 1 {
		return "", false, nil, false
	}
	if len(rest) == 1 {
		if !isOctets(rest[0]) {
			return "", false, nil, false
		}
		if _, isStr := rest[0].Value.(string); !isStr {
			return "", false, nil, false
		}
		value = rest[0]
	}
	return oid, critical, value, true
}

func validPagingValue(v *ber.Packet) bool {
	if v == nil || v.Data == nil {
		return false
	}
	inner, err := ber.DecodePacketErr(v.Data.Bytes())
	if err != nil || !isSeq(inner, ber.TagSequence) || len(inner.Children) != 2 {
		return false
	}
	size, ok := inner.Children[0].Value.(int64)
	return ok && isInt(inner.Children[0]) && size >= 0 && size <= 2147483647 && isOctets(inner.Children[1])
}

// validSearch checks what gldap's parser assumes, so that gldap never
// drops a connection over a request it cannot read.
func validSearch(req *ber.Packet) bool {
	c := req.Children
	if req.TagType != ber.TypeConstructed || len(c) != 8 || !isOctets(c[0]) || !isInt(c[1]) || !isInt(c[2]) ||
		!isInt(c[3]) || !isInt(c[4]) || c[5].Tag != ber.TagBoolean || !isSeq(c[7], ber.TagSequence) {
		return false
	}
	if _, ok := c[5].Value.(bool); !ok {
		return false
	}
	scope, _ := c[1].Value.(int64)
	size, _ := c[3].Value.(int64)
	if scope < 0 || scope > 2 || size < 0 {
		return false
	}
	if _, err := ldap.DecompileFilter(c[6]); err != nil {
		return false
	}
	if _, err := filterFromBER(c[6], 0); err != nil {
		return false
	}
	for _, a := range c[7].Children {
		if !isOctets(a) {
			return false
		}
	}
	return true
}

func validAttribute(a *ber.Packet, needValues bool) bool {
	if !isSeq(a, ber.TagSequence) || len(a.Children) != 2 || !isOctets(a.Children[0]) || !isSeq(a.Children[1], ber.TagSet) {
		return false
	}
	if needValues && len(a.Children[1].Children) == 0 {
		return false
	}
	for _, v := range a.Children[1].Children {
		if !isOctets(v) {
			return false
		}
	}
	return true
}

func validAdd(req *ber.Packet) bool {
	c := req.Children
	if req.TagType != ber.TypeConstructed || len(c) != 2 || !isOctets(c[0]) || !isSeq(c[1], ber.TagSequence) {
		return false
	}
	for _, a := range c[1].Children {
		if !validAttribute(a, true) {
			return false
		}
	}
	return true
}

func validModify(req *ber.Packet) bool {
	c := req.Children
	if req.TagType != ber.TypeConstructed || len(c) != 2 || !isOctets(c[0]) || !isSeq(c[1], ber.TagSequence) {
		return false
	}
	for _, ch := range c[1].Children {
		if !isSeq(ch, ber.TagSequence) || len(ch.Children) != 2 || !isInt(ch.Children[0]) ||
			!validAttribute(ch.Children[1], false) {
			return false
		}
	}
	return true
}

// modifyDN renames or moves an entry (RFC 4511 §4.9): gldap has no route
// for it, so the front does it, with the same directory code as Modify.
func (f *front) modifyDN(msgID int64, req *ber.Packet) {
	const op = "embedded.(*LDAPServer).modifyDN"
	c := req.Children
	if req.TagType != ber.TypeConstructed || len(c) < 3 || len(c) > 4 || !isOctets(c[0]) || !isOctets(c[1]) ||
		c[2].Tag != ber.TagBoolean || len(c) == 4 && (c[3].ClassType != ber.ClassContext || c[3].Tag != 0) {
		f.reply(msgID, appModDNResponse, codeProtocolError, "malformed modify DN request")
		return
	}
	deleteOld, ok := c[2].Value.(bool)
	if !ok {
		f.reply(msgID, appModDNResponse, codeProtocolError, "malformed modify DN request")
		return
	}
	bound, admin := f.sess.get()
	if !admin {
		f.reply(msgID, appModDNResponse, codeInsufficient, "")
		return
	}
	d, err1 := parseDN(octets(c[0]))
	nr, err2 := parseDN(octets(c[1]))
	if err1 != nil || err2 != nil || len(nr) != 1 || len(d) == 0 {
		f.reply(msgID, appModDNResponse, codeInvalidDN, "invalid DN")
		return
	}
	spec := modSpec{newRDN: nr[0], deleteOld: deleteOld, strict: true}
	if len(c) == 4 {
		sup, err := parseDN(octets(c[3]))
		if err != nil {
			f.reply(msgID, appModDNResponse, codeInvalidDN, "invalid DN")
			return
		}
		spec.newSuperior = sup
	}
	rec, err := f.s.dir.modify(op, func(tx *bolt.Tx) (*record, error) {
		r, err := getRecordByNDN(tx, d.norm())
		if errors.Is(err, errNotFound) {
			return nil, fail(op, bridge.KindNotFound, codeNoSuchObject, "")
		}
		return r, err
	}, spec, bound)
	if err != nil {
		f.reply(msgID, appModDNResponse, codeFor(err), diag(err))
		return
	}
	f.s.log.Info("ldap modify dn", "old_dn", d.String(), "dn", rec.DN, "id", rec.ID, "bound_dn", bound)
	f.reply(msgID, appModDNResponse, codeSuccess, "")
}

// compare answers compareTrue or compareFalse (RFC 4511 §4.10).
func (f *front) compare(msgID int64, req *ber.Packet) {
	c := req.Children
	if req.TagType != ber.TypeConstructed || len(c) != 2 || !isOctets(c[0]) || !isSeq(c[1], ber.TagSequence) ||
		len(c[1].Children) != 2 || !isOctets(c[1].Children[0]) || !isOctets(c[1].Children[1]) {
		f.reply(msgID, appCompareResponse, codeProtocolError, "malformed compare request")
		return
	}
	bound, admin := f.sess.get()
	if bound == "" {
		f.reply(msgID, appCompareResponse, codeInsufficient, "")
		return
	}
	d, err := parseDN(octets(c[0]))
	if err != nil {
		f.reply(msgID, appCompareResponse, codeInvalidDN, "invalid DN")
		return
	}
	def := lookupAttr(ldapAttr(octets(c[1].Children[0])))
	if def == nil {
		f.reply(msgID, appCompareResponse, codeUndefinedAttr, "attribute type undefined")
		return
	}
	boundN, _ := normDN(bound)
	if def.Name == "userPassword" && !admin && boundN != d.norm() {
		f.reply(msgID, appCompareResponse, codeInsufficient, "")
		return
	}
	var rec *record
	err = f.s.dir.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = getRecordByNDN(tx, d.norm())
		return err
	})
	if err != nil {
		code := codeOther
		if errors.Is(err, errNotFound) {
			code = codeNoSuchObject
		}
		f.reply(msgID, appCompareResponse, code, "")
		return
	}
	value := octets(c[1].Children[1])
	res := evalEqual(def, rec.values(def.Name), value)
	if def.Name == "userPassword" {
		res = boolTri(matchesAny(rec.values(def.Name), value))
	}
	switch res {
	case triTrue:
		f.reply(msgID, appCompareResponse, codeCompareTrue, "")
	case triFalse:
		f.reply(msgID, appCompareResponse, codeCompareFalse, "")
	default:
		f.reply(msgID, appCompareResponse, codeInappropriateMat, "")
	}
}

// extended answers the extended operations: WhoAmI (RFC 4532) and Password
// Modify (RFC 3062) here, because gldap can neither read a request value nor
// write a response value; StartTLS is not offered.
func (f *front) extended(msgID int64, req *ber.Packet) {
	c := req.Children
	if req.TagType != ber.TypeConstructed || len(c) < 1 || len(c) > 2 || c[0].ClassType != ber.ClassContext || c[0].Tag != 0 ||
		len(c) == 2 && (c[1].ClassType != ber.ClassContext || c[1].Tag != 1) {
		f.reply(msgID, appExtendedResponse, codeProtocolError, "malformed extended request")
		return
	}
	name := octets(c[0])
	var value []byte
	if len(c) == 2 && c[1].Data != nil {
		value = c[1].Data.Bytes()
	}
	switch name {
	case oidWhoAmI:
		bound, _ := f.sess.get()
		authz := ""
		if bound != "" {
			authz = "dn:" + bound
		}
		op := resultOp(appExtendedResponse, codeSuccess, "", "")
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 11, authz, "responseValue"))
		_ = f.write(envelope(msgID, op))
	case oidPasswordModify:
		code, msg := f.passwordModify(value)
		f.reply(msgID, appExtendedResponse, code, msg)
	case oidStartTLS:
		f.reply(msgID, appExtendedResponse, codeUnavailable, "TLS is not offered by the embedded directory")
	default:
		f.reply(msgID, appExtendedResponse, codeProtocolError, "unsupported extended operation")
	}
}

func (f *front) passwordModify(value []byte) (int, string) {
	const op = "embedded.(*LDAPServer).passwordModify"
	bound, admin := f.sess.get()
	if bound == "" {
		return codeUnwilling, "only authenticated users may change passwords"
	}
	var target, oldPw, newPw string
	var hasOld, hasNew bool
	if len(value) > 0 {
		p, err := ber.DecodePacketErr(value)
		if err != nil || !isSeq(p, ber.TagSequence) {
			return codeProtocolError, "malformed password modify request"
		}
		for _, ch := range p.Children {
			if ch.ClassType != ber.ClassContext || ch.TagType != ber.TypePrimitive {
				return codeProtocolError, "malformed password modify request"
			}
			v := octets(ch)
			switch ch.Tag {
			case 0:
				target = v
			case 1:
				oldPw, hasOld = v, true
			case 2:
				newPw, hasNew = v, true
			default:
				return codeProtocolError, "malformed password modify request"
			}
		}
	}
	if !hasNew || newPw == "" {
		return codeUnwilling, "password generation is not supported"
	}
	if target == "" {
		target = bound
	}
	target = strings.TrimPrefix(target, "dn:")
	d, err := parseDN(target)
	if err != nil || len(d) == 0 {
		return codeInvalidDN, "invalid DN"
	}
	boundN, _ := normDN(bound)
	if !admin && d.norm() != boundN {
		return codeInsufficient, ""
	}
	if hasOld && !admin {
		if _, _, err := f.s.dir.authenticate(op, target, oldPw); err != nil {
			return codeInvalidCreds, ""
		}
	}
	rec, err := f.s.dir.modify(op, func(tx *bolt.Tx) (*record, error) {
		r, err := getRecordByNDN(tx, d.norm())
		if errors.Is(err, errNotFound) {
			return nil, fail(op, bridge.KindNotFound, codeNoSuchObject, "")
		}
		return r, err
	}, modSpec{password: &newPw}, bound)
	if err != nil {
		return codeFor(err), diag(err)
	}
	f.s.log.Info("ldap password modify", "dn", rec.DN, "id", rec.ID, "bound_dn", bound)
	return codeSuccess, ""
}
