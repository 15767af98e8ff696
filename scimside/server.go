package scimside

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/hashicorp/go-hclog"
)

// ResourceService is what scimside needs of one resource type's provisioning
// service. *bridge.Service satisfies it; tests use an in-memory fake.
type ResourceService interface {
	ResourceType() *bridge.ResourceType
	Get(ctx context.Context, id string) (bridge.Resource, error)
	List(ctx context.Context, q bridge.Query) (bridge.Page, error)
	Create(ctx context.Context, r bridge.Resource) (bridge.Resource, error)
	Replace(ctx context.Context, id string, r bridge.Resource) (bridge.Resource, error)
	Patch(ctx context.Context, id string, ops []bridge.PatchOp) (bridge.Resource, error)
	Delete(ctx context.Context, id string) error
}

// pageLimiter is implemented by services that know their largest page
// (*bridge.Service does); /ServiceProviderConfig advertises it.
type pageLimiter interface {
	Config() bridge.ServiceConfig
}

// *bridge.Service is what cmd wires in; keep it satisfying the interfaces.
var (
	_ ResourceService = (*bridge.Service)(nil)
	_ pageLimiter     = (*bridge.Service)(nil)
)

// Services are the provisioning services the server exposes.
type Services struct {
	Users  ResourceService // required
	Groups ResourceService // optional: nil serves no /Groups
	// Metrics, when set, is served at /metrics without authentication
	// (Prometheus scrapes it; it carries counts, not data).
	Metrics http.Handler
	// Ready reports whether the directory is reachable and bound, for
	// /readyz. nil means always ready.
	Ready func(ctx context.Context) error
	// Journal, when set, records the membership changes of a SCIM 1.1 user
	// body before they are made (see memberships.go); its recovery loop is
	// the caller's to run.
	Journal bridge.Journal
	// Detail, when set, adds lines to /readyz's answer (counts only: the
	// endpoint needs no credentials), e.g. the writes awaiting recovery.
	Detail func() []string
	// Entitlements are the entitlement types (roles, licences, …) served
	// over SCIM 2.0 only: each type's values at its own read-only endpoint,
	// and on users the attribute that carries them (entitlements.go).
	Entitlements []Entitlement
}

// Entitlement is one entitlement type: its values are directory entries
// (groups) a user holds by being a member, served read-only through Values
// and assigned through the users' Attr.
type Entitlement struct {
	// Attr is the user attribute that carries the type's values: "roles",
	// "entitlements" (RFC 7643 §4.1.2) or an extension attribute
	// "urn:…:User:name".
	Attr string
	// Values serves the values, read-only; its ResourceType gives the
	// type's name, endpoint and schema. A *bridge.Service in production:
	// its PatchQuiet with a "members" add or remove of a user's id is the
	// value-level assignment.
	Values ResourceService
	// MultiValued: false means a user holds at most one value.
	MultiValued bool
	// Required is advertised in the discovery documents (Okta asks that a
	// user hold one); writes do not enforce it: the directory may hold
	// users with none, and refusing them would lock them out of every
	// other change.
	Required bool
}

// Option customises a Server.
type Option func(*Server)

// WithRequestIDs sets the request id generator (default: 16 random bytes in
// hex). Tests pass a deterministic one.
func WithRequestIDs(next func() string) Option { return func(s *Server) { s.newID = next } }

// RequestStats describes one finished request for an observer: Route is a
// low-cardinality name of the endpoint ("v2 Users/{id}", "v1 Groups",
// "healthz", "other"), never the raw path.
type RequestStats struct {
	Method   string
	Route    string
	Status   int
	Duration time.Duration
}

// WithObserver has every finished request reported to observe (metrics).
func WithObserver(observe func(RequestStats)) Option {
	return func(s *Server) { s.observe = observe }
}

// WithClock sets the clock used for request durations (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// Server is the SCIM HTTP server.
type Server struct {
	cfg     Config
	log     hclog.Logger
	newID   func() string
	now     func() time.Time
	observe func(RequestStats)
	metrics http.Handler
	auth    *authenticator
	cert    *tls.Certificate
	// certs is the certificate handshakes use: ReloadTLS swaps it, so a
	// renewed certificate needs no restart and open connections stay.
	certs    atomic.Pointer[tls.Certificate]
	inflight atomic.Int64
	urls     *urlPolicy
	rt       *router
	handler  http.Handler

	mu   sync.Mutex
	srv  *http.Server
	addr net.Addr
}

// New validates cfg and returns a Server. logger gets a sub-logger named
// "scim"; a nil logger discards.
func New(cfg Config, services Services, logger hclog.Logger, opts ...Option) (*Server, error) {
	const op = "scimside.New"
	cfg = cfg.withDefaults()
	cert, err := cfg.validate()
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	if services.Users == nil {
		return nil, bridge.Errorf(op, bridge.KindInvalidValue, "a Users service is required")
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	s := &Server{
		cfg:     cfg,
		log:     logger.Named("scim"),
		newID:   randomID,
		now:     time.Now,
		auth:    newAuthenticator(cfg.Auth),
		cert:    cert,
		urls:    newURLPolicy(cfg, cert),
		metrics: services.Metrics,
	}
	if cert != nil {
		s.certs.Store(cert)
	}
	for _, o := range opts {
		o(s)
	}
	r, err := newRouter(s, services)
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	s.rt = r
	s.handler = s.middleware(r)
	return s, nil
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// Handler returns the server's HTTP handler: routing, authentication,
// request ids, panic recovery and logging. It does not check TLS: that is
// the listener's job (Serve).
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the address the server listens on, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ListenAndServe listens on cfg.Listen and serves until ctx ends, then shuts
// down gracefully within cfg.ShutdownTimeout. It returns nil after a clean
// shutdown.
func (s *Server) ListenAndServe(ctx context.Context) error {
	const op = "scimside.(*Server).ListenAndServe"
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return bridge.E(op, bridge.KindInternal, "", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	serr := s.Shutdown(sctx)
	if err := <-errc; err != nil {
		return err
	}
	return serr
}

// Serve serves on ln until Shutdown (the caller announces the address: one
// "scim listening" line per gateway). It wraps ln in TLS when a certificate is
// configured, and refuses a plain listener on a non-loopback address unless
// the config allows plain HTTP.
func (s *Server) Serve(ln net.Listener) error {
	const op = "scimside.(*Server).Serve"
	if s.cert == nil && !s.cfg.AllowPlainHTTP {
		if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
			ln.Close()
			return bridge.Errorf(op, bridge.KindInvalidValue, "plain HTTP on non-loopback address %s; configure TLS or allow plain HTTP", ln.Addr())
		}
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	if s.cert != nil {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.certs.Load(), nil }}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	s.mu.Lock()
	if s.srv != nil {
		s.mu.Unlock()
		ln.Close()
		return bridge.Errorf(op, bridge.KindInternal, "the server is already serving")
	}
	s.srv, s.addr = srv, ln.Addr()
	s.mu.Unlock()
	s.log.Debug("serving", "addr", ln.Addr().String(), "tls", s.cert != nil)
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return bridge.E(op, bridge.KindInternal, "", err)
}

// OpsHandler serves /healthz, /readyz (the same answers as on the SCIM
// port) and, when metrics is set, /metrics, for a listener of its own
// (metrics.listen): monitoring then needs no route to the SCIM port. It
// writes no access lines: scrapes every few seconds would drown them.
func (s *Server) OpsHandler(metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimRight(r.URL.Path, "/") {
		case "/healthz":
			s.rt.healthz(w, r)
		case "/readyz":
			s.rt.readyz(w, r)
		case "/metrics":
			if metrics != nil {
				metrics.ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// ReloadTLS reads the certificate and key files again and uses them for
// new connections; connections already open keep theirs. On an error
// (files missing, unreadable, not a pair) the certificate in use stays.
// It returns the new certificate's expiry.
func (s *Server) ReloadTLS() (time.Time, error) {
	const op = "scimside.(*Server).ReloadTLS"
	if s.cert == nil {
		return time.Time{}, bridge.Errorf(op, bridge.KindInvalidValue, "no TLS certificate is configured")
	}
	kp, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
	if err != nil {
		return time.Time{}, bridge.E(op, bridge.KindInvalidValue, "", err)
	}
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		return time.Time{}, bridge.E(op, bridge.KindInvalidValue, "", err)
	}
	kp.Leaf = leaf
	s.certs.Store(&kp)
	return leaf.NotAfter, nil
}

// InFlight is the number of requests being handled now.
func (s *Server) InFlight() int64 { return s.inflight.Load() }

// Shutdown stops accepting requests and waits for those in flight until ctx
// ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}
