package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/jimlambrt/gldap"
	bolt "go.etcd.io/bbolt"

	"github.com/dirbridge/dirbridge/bridge"
)

// LDAPServer serves an Embedded directory over LDAP v3 (no TLS: the caller
// keeps it on loopback).
//
// gldap does the protocol work for bind, search, add, modify and delete. A
// small front in this package (ldapserver_front.go) owns the listening socket
// and passes each client's requests to gldap on a private loopback
// connection, because gldap alone cannot keep the promises this server makes:
// it drops the connection on any operation it does not know (modifyDN,
// compare, abandon, SASL binds, a filter it cannot decode), it cannot put a
// value in an extended response (WhoAmI must answer "dn:..."), it reads
// packets of any announced length, and its Run takes only an address, never a
// listener. The front frames and checks every PDU, answers those operations
// itself with the right result codes, and forwards the rest.
//
// Access is slapd's as configured by testenv's OpenLDAP: the administrator
// may do anything; a bound user may read everything but other users'
// userPassword and may change only their own password; anonymous clients may
// read only the root DSE.
type LDAPServer struct {
	dir *Embedded
	log hclog.Logger
	opt LDAPServerOptions

	gl       *gldap.Server
	glErr    chan error
	backAddr string
	secret   string // proves to the gldap side that a connection came through the front

	ln     net.Listener
	wg     sync.WaitGroup
	closed atomic.Bool

	mu       sync.Mutex
	sessions map[uint64]*session // by front connection id
	byConn   map[int]*session    // by gldap connection id
	conns    map[uint64]net.Conn
	nextID   uint64
}

// LDAPServerOptions tunes an LDAPServer; the zero value is fine.
type LDAPServerOptions struct {
	Logger hclog.Logger
	// MaxPDU bounds the size of one request, 4 MiB by default.
	MaxPDU int
	// PageChunk is how many entries a search reads per read transaction,
	// 256 by default: results go out between chunks, so a slow client never
	// holds a bbolt transaction open.
	PageChunk int
}

// session is one client connection's authentication state, shared by the
// front (WhoAmI, modifyDN, compare) and the gldap handlers (everything else).
type session struct {
	mu    sync.Mutex
	bound string // DN as the directory writes it; "" is anonymous
	admin bool
}

func (s *session) get() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bound, s.admin
}

func (s *session) set(dn string, admin bool) {
	s.mu.Lock()
	s.bound, s.admin = dn, admin
	s.mu.Unlock()
}

// Result codes the server answers that go-ldap names but gldap does not.
const (
	codeSuccess          = ldap.LDAPResultSuccess
	codeProtocolError    = ldap.LDAPResultProtocolError
	codeSizeLimit        = ldap.LDAPResultSizeLimitExceeded
	codeCompareFalse     = ldap.LDAPResultCompareFalse
	codeCompareTrue      = ldap.LDAPResultCompareTrue
	codeAuthMethod       = ldap.LDAPResultAuthMethodNotSupported
	codeCriticalExt      = ldap.LDAPResultUnavailableCriticalExtension
	codeInsufficient     = ldap.LDAPResultInsufficientAccessRights
	codeUnwilling        = ldap.LDAPResultUnwillingToPerform
	codeNoSuchObject     = ldap.LDAPResultNoSuchObject
	codeInvalidDN        = ldap.LDAPResultInvalidDNSyntax
	codeInvalidCreds     = ldap.LDAPResultInvalidCredentials
	codeOther            = ldap.LDAPResultOther
	codeUnavailable      = ldap.LDAPResultUnavailable
	codeUndefinedAttr    = ldap.LDAPResultUndefinedAttributeType
	codeAttrExists       = ldap.LDAPResultAttributeOrValueExists
	codeNoSuchAttr       = ldap.LDAPResultNoSuchAttribute
	codeInappropriateMat = ldap.LDAPResultInappropriateMatching
)

const (
	oidWhoAmI         = "1.3.6.1.4.1.4203.1.11.3"
	oidPasswordModify = "1.3.6.1.4.1.4203.1.11.1"
	oidStartTLS       = "1.3.6.1.4.1.1466.20037"
	oidPaging         = "1.2.840.113556.1.4.319"
	oidManageDsaIT    = "2.16.840.1.113730.3.4.2"
	// helloAttr is what the front asks for in the search that introduces a
	// connection to the gldap side; the private-use arc keeps it from
	// meaning anything to anyone else.
	helloAttr = "1.3.6.1.4.1.32473.4203.1"
)

// NewLDAPServer prepares a server for dir; Start makes it listen.
func NewLDAPServer(dir *Embedded, opts LDAPServerOptions) (*LDAPServer, error) {
	const op = "embedded.NewLDAPServer"
	if dir == nil {
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "a directory is required")
	}
	if opts.Logger == nil {
		opts.Logger = dir.log
	}
	if opts.MaxPDU <= 0 {
		opts.MaxPDU = 4 << 20
	}
	if opts.PageChunk <= 0 {
		opts.PageChunk = 256
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, bridge.E(op, bridge.KindInternal, "", err)
	}
	return &LDAPServer{
		dir:      dir,
		log:      opts.Logger.Named("ldap"),
		opt:      opts,
		secret:   hex.EncodeToString(secret),
		sessions: map[uint64]*session{},
		byConn:   map[int]*session{},
		conns:    map[uint64]net.Conn{},
	}, nil
}

// ServeLDAP starts an LDAPServer for e on addr ("127.0.0.1:0" picks a port;
// Addr tells which).
func (e *Embedded) ServeLDAP(addr string) (*LDAPServer, error) {
	s, err := NewLDAPServer(e, LDAPServerOptions{})
	if err != nil {
		return nil, err
	}
	if err := s.Start(addr); err != nil {
		return nil, err
	}
	return s, nil
}

// Start listens on addr and serves until Stop.
func (s *LDAPServer) Start(addr string) error {
	const op = "embedded.(*LDAPServer).Start"
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return bridge.E(op, bridge.KindUnavailable, "the LDAP address cannot be listened on", err)
	}
	return s.Serve(ln)
}

// Serve serves on ln (which it closes on Stop). It returns once the server
// accepts connections.
func (s *LDAPServer) Serve(ln net.Listener) error {
	const op = "embedded.(*LDAPServer).Serve"
	if err := s.startBack(); err != nil {
		_ = ln.Close()
		return bridge.E(op, bridge.KindUnavailable, "the LDAP server cannot start", err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.acceptLoop()
	s.log.Info("ldap listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the address the server listens on.
func (s *LDAPServer) Addr() net.Addr { return s.ln.Addr() }

// URL is "ldap://" + Addr.
func (s *LDAPServer) URL() string { return "ldap://" + s.ln.Addr().String() }

// Stop closes the listener and every connection and waits for them.
func (s *LDAPServer) Stop() error {
	const op = "embedded.(*LDAPServer).Stop"
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	if s.ln != nil {
		errs = append(errs, s.ln.Close())
	}
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.gl != nil {
		errs = append(errs, s.gl.Stop())
		<-s.glErr
	}
	if err := errors.Join(errs...); err != nil {
		return bridge.E(op, bridge.KindInternal, "", err)
	}
	return nil
}

// startBack runs gldap on a private loopback port. gldap listens by address
// only, so a free port is found by listening and closing; if another process
// takes it in between, gldap's Run fails and another port is tried. The hello
// handshake proves the port is really ours.
func (s *LDAPServer) startBack() error {
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		probe, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr := probe.Addr().String()
		_ = probe.Close()

		mux, err := s.routes()
		if err != nil {
			return err
		}
		gl, err := gldap.NewServer(
			gldap.WithLogger(infoAsDebug{s.log.Named("gldap")}),
			gldap.WithOnClose(s.onBackClose),
		)
		if err != nil {
			return err
		}
		if err := gl.Router(mux); err != nil {
			return err
		}
		errc := make(chan error, 1)
		go func() { errc <- gl.Run(addr) }()
		for !gl.Ready() {
			select {
			case err := <-errc:
				lastErr = err
			default:
				waitABit()
				continue
			}
			break
		}
		if lastErr == nil {
			// Ready: the listen was attempted. A hello that works proves
			// it succeeded and that the port is ours.
			c, err := s.dialBack(addr, &session{}, 0)
			if err == nil {
				_ = c.Close()
				s.gl, s.glErr, s.backAddr = gl, errc, addr
				return nil
			}
			lastErr = err
			_ = gl.Stop()
			<-errc
		}
		s.log.Debug("gldap port taken, trying another", "addr", addr, "error", lastErr)
	}
	return fmt.Errorf("cannot start gldap: %w", lastErr)
}

func (s *LDAPServer) onBackClose(connID int) {
	s.mu.Lock()
	delete(s.byConn, connID)
	s.mu.Unlock()
}

func (s *LDAPServer) routes() (*gldap.Mux, error) {
	mux, err := gldap.NewMux()
	if err != nil {
		return nil, err
	}
	for _, f := range []func() error{
		func() error { return mux.Bind(s.guard(s.handleBind)) },
		func() error { return mux.Search(s.guard(s.handleSearch)) },
		func() error { return mux.Add(s.guard(s.handleAdd)) },
		func() error { return mux.Modify(s.guard(s.handleModify)) },
		func() error { return mux.Delete(s.guard(s.handleDelete)) },
		func() error { return mux.DefaultRoute(s.guard(s.handleDefault)) },
	} {
		if err := f(); err != nil {
			return nil, err
		}
	}
	return mux, nil
}

// guard recovers from a panic in a handler and answers "other" instead, so
// that a defect costs one request, never the connection or the process.
func (s *LDAPServer) guard(h gldap.HandlerFunc) gldap.HandlerFunc {
	return func(w *gldap.ResponseWriter, r *gldap.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("ldap handler panicked", "panic", fmt.Sprint(p), "conn_id", r.ConnectionID())
				_ = w.Write(r.NewResponse(gldap.WithResponseCode(codeOther), gldap.WithDiagnosticMessage("internal error")))
			}
		}()
		h(w, r)
	}
}

func (s *LDAPServer) sessionOf(r *gldap.Request) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byConn[r.ConnectionID()]
}

// codeFor picks the LDAP result code of a directory error: the one slapd
// would give when the directory recorded it, else one by kind.
func codeFor(err error) int {
	var rc resultCode
	if errors.As(err, &rc) {
		return int(rc)
	}
	switch bridge.KindOf(err) {
	case bridge.KindNotFound:
		return codeNoSuchObject
	case bridge.KindConflict:
		return ldap.LDAPResultEntryAlreadyExists
	case bridge.KindInvalidValue:
		return ldap.LDAPResultConstraintViolation
	case bridge.KindUnauthorized:
		return codeInvalidCreds
	case bridge.KindForbidden:
		return codeInsufficient
	case bridge.KindUnavailable:
		return codeUnavailable
	}
	return codeOther
}

// diag is the diagnostic message for err: the client-safe text only.
func diag(err error) string { return bridge.SafeMessage(err) }

func (s *LDAPServer) handleBind(w *gldap.ResponseWriter, r *gldap.Request) {
	const op = "embedded.(*LDAPServer).bind"
	resp := r.NewBindResponse(gldap.WithResponseCode(codeInvalidCreds))
	sess := s.sessionOf(r)
	m, err := r.GetSimpleBindMessage()
	if sess == nil || err != nil {
		resp.SetResultCode(codeUnwilling)
		_ = w.Write(resp)
		return
	}
	// Whatever happens next, the connection is anonymous until a bind
	// succeeds (RFC 4513 §5.1).
	sess.set("", false)
	switch {
	case m.UserName == "" && m.Password == "":
		resp.SetResultCode(codeSuccess) // anonymous bind
	case m.Password == "":
		// An unauthenticated bind (a name, no password) authenticates
		// nobody; slapd refuses it by default, and so does this server.
		resp.SetResultCode(codeUnwilling)
		resp.SetDiagnosticMessage("unauthenticated bind (DN with no password) disallowed")
	default:
		dn, admin, err := s.dir.authenticate(op, m.UserName, string(m.Password))
		if err != nil {
			resp.SetResultCode(codeFor(err))
			if codeFor(err) != codeInvalidCreds && codeFor(err) != codeInvalidDN {
				s.log.Error("bind failed", "error", err)
			}
			break
		}
		sess.set(dn, admin)
		resp.SetResultCode(codeSuccess)
	}
	_ = w.Write(resp)
}

func (s *LDAPServer) handleDefault(w *gldap.ResponseWriter, r *gldap.Request) {
	// The front answers every extended operation itself; anything that
	// reaches here is an operation gldap parsed but this server has no
	// route for.
	_ = w.Write(r.NewResponse(gldap.WithResponseCode(codeUnwilling), gldap.WithDiagnosticMessage("operation not supported")))
}

// searchParams is a search request as the directory evaluates it.
type searchParams struct {
	base      *record
	scope     bridge.Scope
	filter    *bridge.Filter
	attrs     []string
	typesOnly bool
	sizeLimit int
}

func (s *LDAPServer) handleSearch(w *gldap.ResponseWriter, r *gldap.Request) {
	done := r.NewSearchDoneResponse(gldap.WithResponseCode(codeSuccess))
	m, err := r.GetSearchMessage()
	if err != nil {
		done.SetResultCode(codeProtocolError)
		_ = w.Write(done)
		return
	}
	if len(m.Attributes) == 3 && m.Attributes[0] == helloAttr {
		s.hello(w, r, m, done)
		return
	}
	sess := s.sessionOf(r)
	if sess == nil {
		done.SetResultCode(codeUnwilling)
		_ = w.Write(done)
		return
	}
	bound, admin := sess.get()
	if m.BaseDN == "" && m.Scope == gldap.BaseObject {
		s.rootDSE(w, r, m, done)
		return
	}
	filter, err := parseLDAPFilter(m.Filter)
	if err != nil {
		done.SetResultCode(codeProtocolError)
		done.SetDiagnosticMessage("the filter is not valid")
		_ = w.Write(done)
		return
	}
	base, err := parseDN(m.BaseDN)
	if err != nil {
		done.SetResultCode(codeInvalidDN)
		done.SetDiagnosticMessage("invalid DN")
		_ = w.Write(done)
		return
	}
	if bound == "" {
		// Anonymous clients read only the root DSE. slapd's "by * none"
		// does not even disclose that the base exists: noSuchObject.
		done.SetResultCode(codeNoSuchObject)
		_ = w.Write(done)
		return
	}
	var paging *gldap.ControlPaging
	for _, c := range m.Controls {
		if p, ok := c.(*gldap.ControlPaging); ok {
			paging = p
		}
	}
	var scope bridge.Scope
	switch m.Scope {
	case gldap.BaseObject:
		scope = bridge.ScopeBase
	case gldap.SingleLevel:
		scope = bridge.ScopeOne
	case gldap.WholeSubtree:
		scope = bridge.ScopeSub
	default:
		done.SetResultCode(codeProtocolError)
		_ = w.Write(done)
		return
	}
	p := searchParams{scope: scope, filter: filter, attrs: m.Attributes, typesOnly: m.TypesOnly, sizeLimit: int(m.SizeLimit)}
	err = s.dir.db.View(func(tx *bolt.Tx) error {
		b, err := getRecordByNDN(tx, base.norm())
		if err != nil {
			return err
		}
		p.base = b
		return nil
	})
	if err != nil {
		if errors.Is(err, errNotFound) {
			done.SetResultCode(codeNoSuchObject)
			done.SetMatchedDN(s.matchedDN(base))
		} else {
			done.SetResultCode(codeOther)
		}
		_ = w.Write(done)
		return
	}
	after := ""
	pageSize := 0
	if paging != nil {
		if paging.PagingSize == 0 {
			// A page size of 0 abandons the paged search (RFC 2696 §3).
			done.SetControls(&gldap.ControlPaging{})
			_ = w.Write(done)
			return
		}
		pageSize = int(paging.PagingSize)
		after = string(paging.Cookie)
		if after != "" && !validCookie(after) {
			done.SetResultCode(codeUnwilling)
			done.SetDiagnosticMessage("the paging cookie is not valid")
			_ = w.Write(done)
			return
		}
	}
	sent, more, last, err := s.stream(r.ConnectionID(), w, r, p, bound, admin, after, pageSize)
	switch {
	case err != nil:
		done.SetResultCode(codeFor(err))
		done.SetDiagnosticMessage(diag(err))
	case paging != nil:
		cookie := ""
		if more {
			cookie = last
		}
		done.SetControls(&gldap.ControlPaging{Cookie: []byte(cookie)})
		if p.sizeLimit > 0 && sent >= p.sizeLimit && more && sent < pageSize {
			done.SetResultCode(codeSizeLimit)
		}
	case more:
		done.SetResultCode(codeSizeLimit)
	}
	_ = w.Write(done)
}

// validCookie accepts what stream hands out: an entry id.
func validCookie(c string) bool {
	if len(c) != 36 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !(isHex(c[i]) || c[i] == '-') {
			return false
		}
	}
	return true
}

// stream sends the matching entries in id order after the id after, at most
// limit (the smaller of the size limit and the page size, 0 for none). It
// reads in chunks, one read transaction each, and writes between them. more
// reports whether another entry would have followed; last is the id of the
// last entry sent.
func (s *LDAPServer) stream(connID int, w *gldap.ResponseWriter, r *gldap.Request, p searchParams,
	bound string, admin bool, after string, pageSize int) (sent int, more bool, last string, err error) {
	limit := p.sizeLimit
	if pageSize > 0 && (limit == 0 || pageSize < limit) {
		limit = pageSize
	}
	last = after
	boundN, _ := normDN(bound)
	for {
		var chunk []*record
		err = s.dir.db.View(func(tx *bolt.Tx) error {
			return s.dir.scan(context.Background(), tx, p.base, p.scope, p.filter, last, func(rec *record) bool {
				if limit > 0 && sent+len(chunk) >= limit {
					more = true
					return false
				}
				chunk = append(chunk, rec)
				return len(chunk) < s.opt.PageChunk
			})
		})
		if err != nil {
			return sent, false, last, err
		}
		for _, rec := range chunk {
			withPw := admin || rec.NDN == boundN
			e := r.NewSearchResponseEntry(rec.DN)
			attrs := rec.project(p.attrs, withPw)
			if slices.Contains(p.attrs, "1.1") && len(p.attrs) == 1 {
				attrs = nil
			}
			for _, name := range sortedAttrNames(attrs) {
				if p.typesOnly {
					e.AddAttribute(name, nil)
				} else {
					e.AddAttribute(name, attrs[name])
				}
			}
			if werr := w.Write(e); werr != nil {
				return sent, false, last, bridge.E("embedded.(*LDAPServer).stream", bridge.KindUnavailable, "", werr)
			}
			sent++
			last = rec.ID
		}
		if more || len(chunk) < s.opt.PageChunk {
			return sent, more, last, nil
		}
	}
}

func sortedAttrNames(m map[string][]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	// objectClass first, as slapd shows it, then alphabetical.
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "objectClass":
			return -1
		case b == "objectClass":
			return 1
		}
		return strings.Compare(strings.ToLower(a), strings.ToLower(b))
	})
	return names
}

// matchedDN is the deepest existing entry above d, for noSuchObject answers.
func (s *LDAPServer) matchedDN(d dn) string {
	out := ""
	_ = s.dir.db.View(func(tx *bolt.Tx) error {
		for i := 1; i < len(d); i++ {
			if r, err := getRecordByNDN(tx, d[i:].norm()); err == nil {
				out = r.DN
				return nil
			}
		}
		return nil
	})
	return out
}

func (s *LDAPServer) rootDSE(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage, done *gldap.SearchResponseDone) {
	f, err := parseLDAPFilter(m.Filter)
	if err != nil {
		done.SetResultCode(codeProtocolError)
		_ = w.Write(done)
		return
	}
	dse := &record{Attrs: map[string][]string{
		"objectClass": {"top", "OpenLDAProotDSE"},
	}}
	if evalFilter(f, dse) == triFalse {
		_ = w.Write(done)
		return
	}
	// Everything but objectClass is operational in the root DSE: returned
	// when named or asked for with "+", as slapd does.
	oper := map[string][]string{
		"namingContexts":       {s.dir.suffix.String()},
		"supportedControl":     {oidPaging, oidManageDsaIT},
		"supportedExtension":   {oidWhoAmI, oidPasswordModify},
		"supportedLDAPVersion": {"3"},
		"supportedFeatures":    {"1.3.6.1.4.1.4203.1.5.1", "1.3.6.1.1.14"},
		"vendorName":           {"dirbridge"},
	}
	e := r.NewSearchResponseEntry("")
	all := len(m.Attributes) == 0 || slices.Contains(m.Attributes, "*")
	plus := slices.Contains(m.Attributes, "+")
	if all || slices.ContainsFunc(m.Attributes, func(a string) bool { return strings.EqualFold(a, "objectClass") }) {
		e.AddAttribute("objectClass", dse.Attrs["objectClass"])
	}
	for _, name := range sortedAttrNames(oper) {
		if plus || slices.ContainsFunc(m.Attributes, func(a string) bool { return strings.EqualFold(a, name) }) {
			if m.TypesOnly {
				e.AddAttribute(name, nil)
			} else {
				e.AddAttribute(name, oper[name])
			}
		}
	}
	_ = w.Write(e)
	_ = w.Write(done)
}

// hello binds a gldap connection to the front's session for it; a wrong
// secret leaves the connection without a session, and such a connection may
// do nothing.
func (s *LDAPServer) hello(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage, done *gldap.SearchResponseDone) {
	var id uint64
	if _, err := fmt.Sscan(m.Attributes[2], &id); err != nil || m.Attributes[1] != s.secret {
		done.SetResultCode(codeUnwilling)
		_ = w.Write(done)
		return
	}
	s.mu.Lock()
	sess := s.sessions[id]
	if sess != nil {
		s.byConn[r.ConnectionID()] = sess
	}
	s.mu.Unlock()
	if sess == nil {
		done.SetResultCode(codeUnwilling)
	}
	_ = w.Write(done)
}

func (s *LDAPServer) handleAdd(w *gldap.ResponseWriter, r *gldap.Request) {
	const op = "embedded.(*LDAPServer).add"
	resp := r.NewResponse(gldap.WithApplicationCode(gldap.ApplicationAddResponse), gldap.WithResponseCode(codeSuccess))
	sess := s.sessionOf(r)
	m, err := r.GetAddMessage()
	if sess == nil || err != nil {
		resp.SetResultCode(codeUnwilling)
		_ = w.Write(resp)
		return
	}
	bound, admin := sess.get()
	if !admin {
		resp.SetResultCode(codeInsufficient)
		_ = w.Write(resp)
		return
	}
	attrs := map[string][]string{}
	for _, a := range m.Attributes {
		name := ldapAttr(a.Type)
		attrs[name] = append(attrs[name], a.Vals...)
	}
	rec, err := s.dir.add(op, m.DN, attrs, "", false, bound)
	if err != nil {
		resp.SetResultCode(codeFor(err))
		resp.SetDiagnosticMessage(diag(err))
		if d, perr := parseDN(m.DN); perr == nil && codeFor(err) == codeNoSuchObject {
			resp.SetMatchedDN(s.matchedDN(d))
		}
	} else {
		s.log.Info("ldap add", "dn", rec.DN, "id", rec.ID, "bound_dn", bound, "attrs", attrNames(rec.Attrs))
	}
	_ = w.Write(resp)
}

func (s *LDAPServer) handleDelete(w *gldap.ResponseWriter, r *gldap.Request) {
	const op = "embedded.(*LDAPServer).delete"
	resp := r.NewResponse(gldap.WithApplicationCode(gldap.ApplicationDelResponse), gldap.WithResponseCode(codeSuccess))
	sess := s.sessionOf(r)
	m, err := r.GetDeleteMessage()
	if sess == nil || err != nil {
		resp.SetResultCode(codeUnwilling)
		_ = w.Write(resp)
		return
	}
	bound, admin := sess.get()
	if !admin {
		resp.SetResultCode(codeInsufficient)
		_ = w.Write(resp)
		return
	}
	d, err := parseDN(m.DN)
	if err != nil {
		resp.SetResultCode(codeInvalidDN)
		_ = w.Write(resp)
		return
	}
	err = s.dir.delete(op, func(tx *bolt.Tx) (*record, error) {
		rec, err := getRecordByNDN(tx, d.norm())
		if errors.Is(err, errNotFound) {
			return nil, fail(op, bridge.KindNotFound, codeNoSuchObject, "")
		}
		return rec, err
	})
	if err != nil {
		resp.SetResultCode(codeFor(err))
		resp.SetDiagnosticMessage(diag(err))
	} else {
		s.log.Info("ldap delete", "dn", d.String(), "bound_dn", bound)
	}
	_ = w.Write(resp)
}

func (s *LDAPServer) handleModify(w *gldap.ResponseWriter, r *gldap.Request) {
	const op = "embedded.(*LDAPServer).modify"
	resp := r.NewModifyResponse(gldap.WithResponseCode(codeSuccess))
	sess := s.sessionOf(r)
	m, err := r.GetModifyMessage()
	if sess == nil || err != nil {
		resp.SetResultCode(codeUnwilling)
		_ = w.Write(resp)
		return
	}
	bound, admin := sess.get()
	d, err := parseDN(m.DN)
	if err != nil {
		resp.SetResultCode(codeInvalidDN)
		_ = w.Write(resp)
		return
	}
	spec := modSpec{strict: true}
	selfPasswordOnly := true
	for _, c := range m.Changes {
		// gldap hands over the raw BER of the value set, not the values.
		vals, err := decodeValueSet(c.Modification.Vals)
		if err != nil {
			resp.SetResultCode(codeProtocolError)
			_ = w.Write(resp)
			return
		}
		ch := bridge.Change{Attr: ldapAttr(c.Modification.Type), Values: vals}
		switch c.Operation {
		case gldap.AddAttribute:
			ch.Op = bridge.ChangeAdd
		case gldap.DeleteAttribute:
			ch.Op = bridge.ChangeDelete
		case gldap.ReplaceAttribute:
			ch.Op = bridge.ChangeReplace
		case gldap.IncrementAttribute:
			resp.SetResultCode(codeInappropriateMat)
			resp.SetDiagnosticMessage("no attribute of this directory can be incremented")
			_ = w.Write(resp)
			return
		default:
			resp.SetResultCode(codeProtocolError)
			_ = w.Write(resp)
			return
		}
		if !strings.EqualFold(canonicalAttrName(ch.Attr), "userPassword") {
			selfPasswordOnly = false
		}
		spec.changes = append(spec.changes, ch)
	}
	boundN, _ := normDN(bound)
	if !admin && !(bound != "" && boundN == d.norm() && selfPasswordOnly) {
		resp.SetResultCode(codeInsufficient)
		_ = w.Write(resp)
		return
	}
	rec, err := s.dir.modify(op, func(tx *bolt.Tx) (*record, error) {
		rec, err := getRecordByNDN(tx, d.norm())
		if errors.Is(err, errNotFound) {
			return nil, fail(op, bridge.KindNotFound, codeNoSuchObject, "")
		}
		return rec, err
	}, spec, bound)
	if err != nil {
		resp.SetResultCode(codeFor(err))
		resp.SetDiagnosticMessage(diag(err))
	} else {
		names := make([]string, 0, len(spec.changes))
		for _, c := range spec.changes {
			names = append(names, canonicalAttrName(c.Attr))
		}
		s.log.Info("ldap modify", "dn", rec.DN, "id", rec.ID, "bound_dn", bound, "attrs", names)
	}
	_ = w.Write(resp)
}

// decodeValueSet decodes what gldap leaves in PartialAttribute.Vals for a
// modify: the concatenated BER OCTET STRINGs of the value set.
func decodeValueSet(raw []string) ([]string, error) {
	var out []string
	for _, chunk := range raw {
		rd := strings.NewReader(chunk)
		for rd.Len() > 0 {
			p, err := ber.ReadPacket(rd)
			if err != nil {
				return nil, err
			}
			if p.ClassType != ber.ClassUniversal || p.Tag != ber.TagOctetString {
				return nil, fmt.Errorf("attribute value is not an octet string")
			}
			out = append(out, p.Data.String())
		}
	}
	return out, nil
}

// infoAsDebug hands gldap a logger whose info lines are debug lines: gldap
// announces its private loopback port as "listening", which an operator
// would take for a second service.
type infoAsDebug struct{ hclog.Logger }

func (l infoAsDebug) Info(msg string, args ...any) { l.Logger.Debug(msg, args...) }
