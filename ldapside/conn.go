package ldapside

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
)

// Conn is a bridge.Directory over LDAP. It is safe for concurrent use; every
// method borrows a connection from a bounded pool for the length of the call.
type Conn struct {
	cfg    Config
	log    hclog.Logger
	d      dialect
	roots  *x509.CertPool // nil: the system pool
	pool   *pool
	baseDN *ldap.DN
	noVLV  bool // tests force the Simple Paged Results path with it
	// goLDAPPool, set by tests, pools go-ldap connections as on Windows
	// (wireTransport), so that this path runs the conformance suite too.
	goLDAPPool bool
	// rangeStep, when set by tests, asks for member and memberOf in
	// explicit ranges of this many values, so that Samba (which returns
	// every value at once) answers in steps as AD does past MaxValRange.
	rangeStep int
	dialHook  func(url string) // tests observe dials with it
	// entriesRead counts the entries searches received from the server:
	// the cost of paging, for tests and metrics.
	entriesRead atomic.Int64
	// busyRetries counts sorted searches the server refused as busy, for
	// tests: the gateway's own sort contexts must never cause one.
	busyRetries atomic.Int64
	// continueRetries counts next pages of a kept sort context that were
	// refused as busy and sent again on the same connection
	// (searchPage), for tests.
	continueRetries atomic.Int64
	// vlvContextRefusedAt: when (unix ns) an AD DC last would not continue
	// a walk's VLV sort context; 0: never. Walks sort every page for
	// vlvRefusalPause after it (keepsVLVContext).
	vlvContextRefusedAt atomic.Int64
	// valuesMatched counts the values Modify read with Matched Values
	// instead of whole attributes, for tests.
	valuesMatched atomic.Int64
	// onCurrent and postRead count modifies planned on the caller's read
	// (ModifyRequest.Current) and entries returned by Post-Read: tests
	// prove with them that a write skipped its reads.
	onCurrent, postRead atomic.Int64
	// singleReads counts reads of one entry (findOne), for tests.
	singleReads atomic.Int64
	// walkKeys counts the walk keys searches built (query.key), for
	// tests: a lookup builds none.
	walkKeys atomic.Int64

	// active is the index in cfg.URLs of the server every pooled
	// connection goes to (see failover.go); failovers counts its changes.
	active    atomic.Int32
	failovers atomic.Int64
	// up holds, per URL, whether the last connection attempt there got a
	// bound connection (metrics: dirbridge_directory_up).
	up                  sync.Map
	probeMu             sync.Mutex
	probing             bool          // the fail-back prober runs
	probeEvery, rywWait time.Duration // probeInterval and rywWait at Open
	closed              chan struct{} // closed by Close: stops the prober
	closeOnce           sync.Once
	// groupsMode is whether a user's groups are searched (groupsof.go),
	// once the schema told.
	groupsMode atomic.Int32
	// groupSearches counts the searches fillGroups made, for tests: one
	// per page, not one per user.
	groupSearches atomic.Int64
	// written is what this gateway had acknowledged, to never answer
	// "not found" from a replica that has not received it.
	written writes
}

var (
	_ bridge.Directory     = (*Conn)(nil)
	_ bridge.Authenticator = (*Conn)(nil)
)

// caps is what the root DSE of a server says it supports.
type caps struct {
	vlv, sort, paged, permissive, matchedValues, assertion, postRead bool
}

// Open validates cfg and returns a Conn. It does not dial: connections are
// made when first needed, so that the gateway can start while the directory
// is down (Ping tells whether it is up).
func Open(cfg Config, logger hclog.Logger) (*Conn, error) {
	const op = "ldapside.Open"
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, bridge.E(op, bridge.KindInvalidValue, "the LDAP configuration is not valid: "+err.Error(), err)
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	c := &Conn{cfg: cfg, log: logger.Named("ldap"), d: dialects[strings.ToLower(cfg.Dialect)], closed: make(chan struct{}),
		probeEvery: probeInterval, rywWait: rywWait}
	if ad, ok := c.d.(activeDirectory); ok {
		ad.stateAttr = cfg.PasswordStateAttr
		if strings.EqualFold(ad.stateAttr, "none") {
			ad.stateAttr = ""
		}
		ad.key = fingerprintKey(cfg.BindPassword)
		c.d = ad
	}
	if ol, ok := c.d.(openLDAP); ok && cfg.Lifecycle.Disable == bridge.LifecycleAttribute {
		ol.lockAttr, ol.lockValue, ol.unlockValue = cfg.Lifecycle.Attribute, cfg.Lifecycle.DisabledValue, cfg.Lifecycle.EnabledValue
		c.d = ol
	}
	c.baseDN, _ = parseDN(cfg.BaseDN)
	if cfg.Journal != nil {
		cfg.Journal.Handle(kindRename, c.recoverRename)
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, bridge.E(op, bridge.KindInvalidValue, "the LDAP CA file cannot be read", err)
		}
		c.roots = x509.NewCertPool()
		if !c.roots.AppendCertsFromPEM(pem) {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "the LDAP CA file holds no PEM certificate")
		}
	}
	if cfg.InsecureSkipVerify {
		c.log.Warn("certificate verification of the directory is turned off", "urls", cfg.URLs)
	}
	c.pool = newPool(cfg.PoolSize, c.dial)
	// A connection to a server other than the active one is not reused:
	// one server at a time (failover.go).
	c.pool.usable = func(pc *pconn) bool { return pc.url == c.activeURL() }
	c.log.Debug("opened", "urls", cfg.URLs, "bind_dn", cfg.BindDN, "base_dn", cfg.BaseDN, "pool_size", cfg.PoolSize, "dialect", cfg.Dialect)
	c.startStandbyChecks()
	return c, nil
}

// Close closes the pool's connections. Calls in flight finish (or fail) and
// close theirs; later calls fail with KindUnavailable.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	c.pool.close()
	return nil
}

// tlsConfig returns the TLS configuration for u: verification on, with the
// server name taken from the URL.
func (c *Conn) tlsConfig(u *url.URL) *tls.Config {
	return &tls.Config{
		ServerName:         u.Hostname(),
		RootCAs:            c.roots,
		InsecureSkipVerify: c.cfg.InsecureSkipVerify, //nolint:gosec // an explicit, logged opt-in
		MinVersion:         tls.VersionTLS12,
	}
}

// connect dials the active server, or when it does not answer the others
// in configured order (failover), and secures the connection; it does not
// bind. Landing on another server makes it the active one.
func (c *Conn) connect(ctx context.Context) (*ldap.Conn, string, error) {
	return connectFirst(c, ctx, c.connectURL)
}

// pooledConn is what a pooled connection is dialed as.
type pooledConn interface {
	ldapConn
	Bind(dn, password string) error
	SetTimeout(time.Duration)
}

var (
	_ pooledConn = (*wireConn)(nil)
	_ pooledConn = (*ldap.Conn)(nil)
)

// connectPooled is connect for a pooled connection: a wireConn, or where
// it cannot tell that a server closed an idle connection (wireTransport)
// go-ldap's Conn.
func (c *Conn) connectPooled(ctx context.Context) (pooledConn, string, error) {
	if !wireTransport || c.goLDAPPool {
		return connectFirst(c, ctx, func(ctx context.Context, raw string) (pooledConn, error) { return c.connectURL(ctx, raw) })
	}
	return connectFirst(c, ctx, func(ctx context.Context, raw string) (pooledConn, error) { return c.connectURLWire(ctx, raw) })
}

// connectFirst dials the servers in failover order with dial until one
// answers, and makes that one the active server.
func connectFirst[T any](c *Conn, ctx context.Context, dial func(context.Context, string) (T, error)) (T, string, error) {
	var zero T
	var errs []error
	order := c.dialOrder()
	for _, i := range order {
		if err := ctx.Err(); err != nil {
			return zero, "", err
		}
		raw := c.cfg.URLs[i]
		l, err := dial(ctx, raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.setActive(order[0], i, "the active server does not answer")
		return l, raw, nil
	}
	return zero, "", errors.Join(errs...)
}

// dialer returns the dialer for one connection attempt: DialTimeout, or
// less when the request's context ends first.
func (c *Conn) dialer(ctx context.Context) *net.Dialer {
	dialer := &net.Dialer{Timeout: c.cfg.DialTimeout}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < c.cfg.DialTimeout {
		dialer.Timeout = time.Until(dl)
	}
	return dialer
}

// connectURL dials raw with go-ldap and secures the connection: for the
// connections that are not pooled (probes, preflight, Authenticate).
func (c *Conn) connectURL(ctx context.Context, raw string) (*ldap.Conn, error) {
	if c.dialHook != nil {
		c.dialHook(raw)
	}
	l, what, err := c.dialGoLDAP(ctx, raw)
	if err != nil && what != "" {
		return nil, c.dialFailed(raw, what, err)
	}
	return l, err
}

// dialGoLDAP is connectURL without the hook and the logging: what names
// the step that failed ("" when raw is no URL).
func (c *Conn) dialGoLDAP(ctx context.Context, raw string) (l *ldap.Conn, what string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", err
	}
	l, err = ldap.DialURL(raw, ldap.DialWithDialer(c.dialer(ctx)), ldap.DialWithTLSConfig(c.tlsConfig(u)))
	if err != nil {
		return nil, "cannot reach directory server", err
	}
	l.SetTimeout(c.cfg.DialTimeout)
	if c.cfg.StartTLS && u.Scheme == "ldap" {
		if err := l.StartTLS(c.tlsConfig(u)); err != nil {
			_ = l.Close()
			return nil, "StartTLS failed", err
		}
	}
	return l, "", nil
}

// dialFailed records that raw could not be connected to (metrics:
// dirbridge_directory_up) and says so, once, where it happens.
func (c *Conn) dialFailed(raw, what string, err error) error {
	c.up.Store(raw, false)
	c.log.Warn(what, "url", raw, "error", err)
	return err
}

// connectURLWire is connectURL for a pooled connection.
func (c *Conn) connectURLWire(ctx context.Context, raw string) (*wireConn, error) {
	if c.dialHook != nil {
		c.dialHook(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	w, err := dialWire(ctx, u, c.dialer(ctx), c.tlsConfig(u))
	if err != nil {
		return nil, c.dialFailed(raw, "cannot reach directory server", err)
	}
	w.SetTimeout(c.cfg.DialTimeout)
	if c.cfg.StartTLS && u.Scheme == "ldap" {
		if err := w.startTLS(ctx, c.tlsConfig(u)); err != nil {
			_ = w.Close()
			return nil, c.dialFailed(raw, "StartTLS failed", err)
		}
	}
	return w, nil
}

// dial makes a new pooled connection: connect, service bind, read the root
// DSE for the server's capabilities.
func (c *Conn) dial(ctx context.Context) (*pconn, error) {
	const op = "ldapside.(*Conn).dial"
	l, u, err := c.connectPooled(ctx)
	if err != nil {
		return nil, bridge.E(op, bridge.KindUnavailable, "", err)
	}
	if err := l.Bind(c.cfg.BindDN, c.cfg.BindPassword); err != nil {
		_ = l.Close()
		// The service account's credentials are the gateway's problem,
		// not the client's: Unauthorized would ask the SCIM client for
		// other credentials.
		kind := bridge.KindOf(translate(op, err))
		if kind == bridge.KindUnauthorized || kind == bridge.KindForbidden || kind == bridge.KindMisconfigured {
			c.up.Store(u, false)
			c.log.Error("service bind refused", "url", u, "bind_dn", c.cfg.BindDN, "error", err)
			return nil, &bridge.Error{Op: op, Kind: bridge.KindUnavailable, Msg: "the directory refused the gateway's service account", Err: err,
				Fix: "the directory refused the service bind: check ldap.bind_dn and its password (bind_password_file or DIRBRIDGE_LDAP_BIND_PASSWORD), and that the account is enabled",
				Log: []any{"url", u, "bind_dn", c.cfg.BindDN}}
		}
		return nil, dialFailure(op, err)
	}
	cp, err := readCaps(l)
	if err != nil {
		_ = l.Close()
		return nil, dialFailure(op, err)
	}
	l.SetTimeout(c.cfg.OpTimeout)
	c.up.Store(u, true)
	c.log.Debug("connected", "url", u, "vlv", cp.vlv, "sort", cp.sort, "paged", cp.paged, "permissive_modify", cp.permissive)
	pu, _ := url.Parse(u)
	secure := pu != nil && (pu.Scheme == "ldaps" || c.cfg.StartTLS)
	return &pconn{l: l, url: u, caps: cp, secure: secure}, nil
}

// dialFailure classifies an error on a connection that has just been made:
// what is not a directory's answer is the connection failing (a server
// restarting resets it mid-bind), which a later request may not meet.
func dialFailure(op string, err error) error {
	t := translate(op, err)
	if bridge.KindOf(t) == bridge.KindInternal {
		return bridge.E(op, bridge.KindUnavailable, "", err)
	}
	return t
}

func readCaps(l ldapConn) (caps, error) {
	res, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		filterAll, []string{"supportedControl"}, nil))
	if err != nil {
		return caps{}, err
	}
	var cp caps
	if len(res.Entries) == 1 {
		for _, oid := range res.Entries[0].GetAttributeValues("supportedControl") {
			switch oid {
			case oidVLVRequest:
				cp.vlv = true
			case oidSortRequest:
				cp.sort = true
			case oidPagedResults:
				cp.paged = true
			case oidPermissiveModify:
				cp.permissive = true
			case oidMatchedValues:
				cp.matchedValues = true
			case oidAssertion:
				cp.assertion = true
			case oidPostRead:
				cp.postRead = true
			}
		}
	}
	return cp, nil
}

// with runs fn on a pooled connection. The request's context can end the
// operation at any time: the LDAP calls take no context, so cancellation
// closes the connection under the call, which then fails and is discarded.
func (c *Conn) with(ctx context.Context, prefer func(*pconn) bool, fn func(pc *pconn) error) error {
	var score func(*pconn) int
	if prefer != nil {
		score = func(pc *pconn) int {
			if prefer(pc) {
				return 1
			}
			return 0
		}
	}
	return c.withScored(ctx, score, fn)
}

// withScored is with, taking the idle connection that score ranks highest.
func (c *Conn) withScored(ctx context.Context, score func(*pconn) int, fn func(pc *pconn) error) error {
	pc, err := c.pool.getScored(ctx, score)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.l.Close() })
	err = fn(pc)
	if err != nil && pc.l.IsClosing() && bridge.KindOf(translate("", err)) == bridge.KindInternal {
		// go-ldap (the pool's client on Windows) reports a connection
		// that broke under a request as a plain error ("unable to read
		// LDAP response packet: EOF"): the closed connection is what
		// tells it apart.
		err = bridge.E("ldapside.(*Conn).with", bridge.KindUnavailable, "", err)
	}
	if !stop() {
		pc.retire = true
		if err != nil || ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
	}
	c.pool.put(pc, err)
	return err
}

// Ping checks that a pooled connection can be had (dialed and bound if need
// be) and that the server answers on it.
func (c *Conn) Ping(ctx context.Context) error {
	const op = "ldapside.(*Conn).Ping"
	err := c.with(ctx, nil, func(pc *pconn) error {
		_, err := pc.l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			filterAll, []string{"1.1"}, nil))
		return err
	})
	return translate(op, err)
}

// Authenticate binds as dn with password on a fresh connection that is not
// pooled, the way an application logs in. A wrong password, a locked or
// disabled account and an unknown dn are all KindUnauthorized.
func (c *Conn) Authenticate(ctx context.Context, dn, password string) error {
	const op = "ldapside.(*Conn).Authenticate"
	if password == "" || dn == "" {
		// An empty password is an unauthenticated bind, which succeeds.
		return bridge.Errorf(op, bridge.KindUnauthorized, "")
	}
	if _, err := parseDN(dn); err != nil {
		return bridge.Errorf(op, bridge.KindUnauthorized, "")
	}
	l, _, err := c.connect(ctx)
	if err != nil {
		return bridge.E(op, bridge.KindUnavailable, "", err)
	}
	defer l.Close()
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	if err := l.Bind(dn, password); err != nil {
		var le *ldap.Error
		if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultInvalidCredentials {
			return bridge.E(op, bridge.KindUnauthorized, "", err)
		}
		return translate(op, err)
	}
	return nil
}

// parseDN parses a DN, refusing the empty one.
func parseDN(s string) (*ldap.DN, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty DN")
	}
	d, err := ldap.ParseDN(s)
	if err != nil {
		return nil, err
	}
	if len(d.RDNs) == 0 {
		return nil, fmt.Errorf("empty DN")
	}
	return d, nil
}
