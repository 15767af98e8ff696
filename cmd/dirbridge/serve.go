package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/conf"
	"github.com/dirbridge/dirbridge/journal"
	"github.com/dirbridge/dirbridge/ldapside"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/preflight"
	"github.com/dirbridge/dirbridge/scimside"
	"github.com/hashicorp/go-hclog"
)

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file; without it, the embedded default")
	scimListen := fs.String("scim-listen", "127.0.0.1:8080", "embedded mode: SCIM address (loopback only)")
	ldapListen := fs.String("ldap-listen", "127.0.0.1:1389", "embedded mode: LDAP address (loopback only)")
	dataDir := fs.String("data", "./var", "embedded mode: data folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		return serveEmbedded(ctx, embeddedFlags{scimListen: *scimListen, ldapListen: *ldapListen, dataDir: *dataDir}, stdout, stderr)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range []string{"scim-listen", "ldap-listen", "data"} {
		if set[name] {
			return usageError{fmt.Errorf("--%s is for the embedded default; with --config, set it in the file or the environment", name)}
		}
	}
	cfg, err := conf.Load(*configPath, nil)
	if err != nil {
		return err
	}
	if err := startPprof(ctx, os.Getenv(pprofEnv), stderr); err != nil {
		return err
	}
	return serveConfig(ctx, cfg, stderr)
}

// tableOptions are how the configuration's tables are compiled: against its
// base DN and variables, and RFC 7643's definitions from the SCIM edge.
func tableOptions(cfg *conf.Config) mapping.Options {
	return mapping.Options{BaseDN: cfg.LDAP.BaseDN, Vars: cfg.Mapping.Vars, Standard: scimside.StandardSchemas()}
}

// serveConfig runs the gateway against the directory the configuration names.
func serveConfig(ctx context.Context, cfg *conf.Config, stderr io.Writer) error {
	logger := newLogger(cfg.Log.Level, cfg.Log.Format, stderr)
	for _, w := range cfg.Warnings() {
		logger.Warn("unsafe configuration", "warning", w)
	}
	// The checks of `dirbridge check`: a broken table or configuration is
	// refused here, before anything listens.
	tables, rep := preflight.Config(cfg, tableOptions(cfg))
	if err := refuse(rep); err != nil {
		return err
	}
	users := tables.Users
	var groups bridge.Mapper
	if tables.Groups != nil {
		groups = tables.Groups
	}
	lookup, err := groupsLookup(cfg.Mapping.Users, cfg.LDAP.Dialect, users, groups)
	if err != nil {
		return err
	}
	jr, err := openJournal(cfg.State.Dir, cfg.State.RecoveryInterval.Duration, logger)
	if err != nil {
		return err
	}
	defer jr.Close()
	lc := ldapConfig(cfg, cfg.LDAP.PoolSize)
	lc.Journal, lc.Lifecycle, lc.Groups = jr, tables.Lifecycle, lookup
	conn, err := ldapside.Open(lc, logger.Named("ldap"))
	if err != nil {
		return err
	}
	defer conn.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	dirRep, unreachable := preflight.Directory(pctx, conn, tables, preflightOptions(cfg, tables, false))
	cancel()
	if unreachable {
		// Not fatal: the directory may come up after the gateway; /readyz
		// says when it is usable, and requests until then get 503. Its
		// checks are made, and logged, once it answers.
		logger.Warn("the directory is not reachable yet; it is checked when it answers", "urls", cfg.LDAP.URLs)
		go checkWhenReachable(ctx, conn, tables, preflightOptions(cfg, tables, false), logger)
	}
	rep.Merge(dirRep)
	logFindings(logger, rep, false)
	if err := refuse(dirRep); err != nil {
		return err
	}
	if users, err = withForestUPNSuffixes(ctx, cfg, conn, users, logger); err != nil {
		return err
	}
	ready := preflight.NewReadiness(conn.Ping, func(ctx context.Context, dn string) error {
		_, err := conn.ReadEntry(ctx, dn, []string{"1.1"})
		return err
	}, tables, readinessTTL, time.Now)
	scimCfg := scimside.Config{
		Listen:         cfg.SCIM.Listen,
		TLSCertFile:    cfg.SCIM.TLSCertFile,
		TLSKeyFile:     cfg.SCIM.TLSKeyFile,
		AllowPlainHTTP: cfg.SCIM.AllowPlainHTTP,
		MaxBodyBytes:   cfg.SCIM.MaxBodyBytes,
		PublicURL:      cfg.SCIM.PublicURL,
		TrustedProxies: cfg.SCIM.TrustedProxies,
		// Okta's agent is offered password pushes only when they are kept.
		DisablePasswordSync: !cfg.SCIM.PasswordSyncOn(),
		// The limits of a /Bulk request.
		BulkMaxOperations:   cfg.SCIM.BulkMaxOperations,
		BulkMaxPayloadBytes: cfg.SCIM.BulkMaxPayloadBytes,
		Auth: scimside.AuthConfig{
			BasicUser:      cfg.SCIM.Auth.BasicUser,
			BasicPassword:  cfg.SCIM.Auth.BasicPassword,
			HeaderName:     cfg.SCIM.Auth.HeaderName,
			HeaderValue:    cfg.SCIM.Auth.HeaderValue,
			AllowAnonymous: cfg.SCIM.Auth.None,
			BasicLabel:     cfg.SCIM.Auth.BasicLabel,
			HeaderLabel:    cfg.SCIM.Auth.HeaderLabel,
		},
		ShutdownTimeout: cfg.SCIM.ShutdownTimeout.Duration,
	}
	svcCfg := bridge.ServiceConfig{
		Lifecycle:       true,
		HardDelete:      cfg.Users.HardDelete,
		LeaversDN:       cfg.Users.LeaversDN,
		DefaultPageSize: cfg.Users.DefaultPageSize,
		MaxPageSize:     cfg.Users.MaxPageSize,
		Memberships:     memberships(cfg.Users.StripGroups, cfg.Users.StripGroupsOnDisable, groups),
		Journal:         jr,
	}
	if cfg.LDAP.Dialect == "openldap" {
		// A PUT or PATCH planned on the entry the gateway last saw, sent
		// as one modify that slapd applies only to exactly that entry
		// (Assertion control). Samba AD has no Assertion control: there
		// every PUT and PATCH reads the entry first (docs/performance.md).
		svcCfg.EntryCache = cfg.Users.EntryCacheSize()
		svcCfg.DNIndex = cfg.Users.DNIndexSize()
	}
	return runGateway(ctx, logger, conn, users, groups, tables.Entitlements, svcCfg, scimCfg, ready, cfg.Metrics.Listen, nil)
}

// logFindings logs the preflight's errors and warnings, one line each;
// fatal ones too when withFatal (serve has started anyway), else they are
// in the error serve stops with.
func logFindings(logger hclog.Logger, rep preflight.Report, withFatal bool) {
	for _, f := range rep.Sorted() {
		switch {
		case f.Fatal && !withFatal:
		case f.Fatal:
			logger.Error("preflight: "+f.Msg+" (every request of this kind fails until it is fixed)", "section", f.Section, "where", f.Where)
		case f.Level == preflight.Error:
			logger.Error("preflight: "+f.Msg, "section", f.Section, "where", f.Where)
		case f.Level == preflight.Warn:
			logger.Warn("preflight: "+f.Msg, "section", f.Section, "where", f.Where)
		}
	}
}

// recheckInterval is how often a gateway that started without its
// directory tries the directory's checks again.
const recheckInterval = 10 * time.Second

// checkWhenReachable runs the directory's checks once it first answers
// and logs what they find: a gateway started before its directory would
// otherwise learn of a broken table only from failing requests. The
// gateway is already serving, so nothing is refused.
func checkWhenReachable(ctx context.Context, conn *ldapside.Conn, tables preflight.Tables, opts preflight.Options, logger hclog.Logger) {
	t := time.NewTicker(recheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		rep, unreachable := preflight.Directory(cctx, conn, tables, opts)
		cancel()
		if unreachable {
			continue
		}
		logger.Info("the directory answers; its checks ran", "errors", rep.Count(preflight.Error), "warnings", rep.Count(preflight.Warn))
		logFindings(logger, rep, true)
		return
	}
}

// readinessTTL is how long /readyz trusts its last look at the containers:
// one created by hand makes the gateway ready within it.
const readinessTTL = 3 * time.Second

// refuse is the error serve stops with when rep has fatal findings: what
// would make every request fail. It lists every one.
func refuse(rep preflight.Report) error {
	fatal := rep.Fatal()
	if len(fatal) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "refusing to start: %d problems would make every request fail (dirbridge check lists them too):", len(fatal))
	for _, f := range fatal {
		b.WriteString("\n  ")
		if f.Where != "" {
			b.WriteString(f.Where + ": ")
		}
		b.WriteString(f.Msg)
	}
	return errors.New(b.String())
}

// withForestUPNSuffixes recompiles the users table so that it decides by
// the UPN suffixes the AD forest lists, when it decides by them
// (upn_fallback): a userName in one of them is written as the UPN. Pinned
// suffixes ([mapping.vars] upn_suffixes) are used as they are. The table
// reads the forest's suffixes now and again whenever a userName's suffix
// is not among them (mapping.Options.UPNSource), so that a DC that cannot
// be read at the start, or a suffix added later, never makes it derive a
// UPN for a userName the forest accepts.
func withForestUPNSuffixes(ctx context.Context, cfg *conf.Config, conn *ldapside.Conn, users *mapping.Table, logger hclog.Logger) (*mapping.Table, error) {
	if !users.UsesUPNSuffixes() || cfg.LDAP.Dialect != "ad" {
		return users, nil
	}
	if cfg.Mapping.Vars[mapping.UPNSuffixesVar] != "" {
		logger.Info("UPN suffixes pinned in the configuration", "upn_suffixes", users.UPNSuffixes())
		return users, nil
	}
	opts := tableOptions(cfg)
	opts.UPNSource = func(ctx context.Context) ([]string, error) {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return conn.UPNSuffixes(rctx)
	}
	t, err := mapping.Load(cfg.Mapping.Users, opts)
	if err != nil {
		return nil, err
	}
	suffixes, err := t.ReadUPNSuffixes(ctx)
	if err != nil {
		logger.Warn("the forest's UPN suffixes could not be read at the start; they are read again when a userName in a suffix not listed needs them (while the directory is away such a request is answered 503), else only userNames in the base DN's domain become UPNs as sent (set upn_suffixes in [mapping.vars] to pin them)",
			"upn_suffixes", t.UPNSuffixes(), "error", err)
		return t, nil
	}
	logger.Info("UPN suffixes read from the forest", "upn_suffixes", suffixes)
	return t, nil
}

// memberships is where deprovisioning finds the groups a user leaves:
// scope "all" (every group below the base DN whose member attribute names
// the user), "managed" (the groups table's) or "none" (nil). The member
// attribute and the placeholder are the groups table's; without one,
// member and none.
func memberships(scope string, onDisable bool, groups bridge.Mapper) *bridge.Memberships {
	if scope == "none" {
		return nil
	}
	m := &bridge.Memberships{Attr: "member", All: scope != "managed", OnDisable: onDisable}
	if groups != nil {
		m.Container, m.Filter = groups.Container(), groups.ObjectFilter()
		if mm, ok := groups.(bridge.MemberMapper); ok {
			if attr, ph := mm.MemberPlaceholder(); attr != "" {
				m.Attr, m.Placeholder = attr, ph
			}
		}
	}
	if !m.All && m.Container == "" {
		return nil // conf refuses "managed" without a groups table
	}
	return m
}

// groupsLookup says how the LDAP side finds a user's groups when the users
// table reads them from an attribute (memberOf) the directory may not keep:
// groups_from "memberof" reads the attribute as stored, "search" searches
// the groups table's container for the user's DN, "auto" (the default)
// searches when the directory's schema lacks the attribute. AD always keeps
// memberOf (a back-link), so "auto" there costs no schema read.
func groupsLookup(usersFile, dialect string, users *mapping.Table, groups bridge.Mapper) (*ldapside.GroupsLookup, error) {
	attr, from := users.GroupsAttr(), users.GroupsFrom()
	if attr == "" || from == mapping.GroupsFromMemberOf || from == mapping.GroupsFromAuto && dialect == "ad" {
		return nil, nil
	}
	if groups == nil {
		if from == mapping.GroupsFromSearch {
			return nil, fmt.Errorf("%s: groups_from = \"search\" needs a groups table (mapping.groups): it names the container and member attribute to search", usersFile)
		}
		return nil, nil // nothing to search: memberOf as stored
	}
	g := &ldapside.GroupsLookup{Attr: attr, Base: groups.Container(), Filter: groups.ObjectFilter(), Auto: from != mapping.GroupsFromSearch}
	if mm, ok := groups.(bridge.MemberMapper); ok {
		g.MemberAttr, _ = mm.MemberPlaceholder()
	}
	return g, nil
}

// openJournal opens the journal of multi-step writes in dir (made if
// missing, private to the gateway's user).
func openJournal(dir string, interval time.Duration, logger hclog.Logger) (*journal.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state.dir %q cannot be made (set [state] dir, or DIRBRIDGE_STATE_DIR, to a folder this user may write): %w", dir, err)
	}
	jr, err := journal.Open(filepath.Join(dir, "journal.db"), logger.Named("journal"), time.Now, interval)
	if err != nil {
		return nil, fmt.Errorf("%w (is another dirbridge using state.dir %q? every gateway needs its own)", err, dir)
	}
	return jr, nil
}

// runGateway wires the services over dir and serves SCIM until ctx ends,
// then drains requests in flight within scimCfg.ShutdownTimeout. With
// metricsListen set, /metrics (and health) are served there instead of on
// the SCIM port. SIGHUP (unix) reloads the TLS certificate. started, when
// set, is called with the SCIM address once it listens.
func runGateway(ctx context.Context, logger hclog.Logger, dir bridge.Directory, users, groups bridge.Mapper, ents *mapping.Entitlements,
	svcCfg bridge.ServiceConfig, scimCfg scimside.Config, ready *preflight.Readiness, metricsListen string, started func(addr string)) error {
	memLimit := applyMemoryLimit(svcCfg.EntryCache, svcCfg.DNIndex)
	m := newMetrics()
	m.watchPool(dir)
	m.watchDirectoryUp(dir)
	// Pages fetched ahead are used within 10 s; 8 of them are at most
	// 8 × max_page_size resources in memory.
	ra := bridge.NewReadAhead(10*time.Second, 8, time.Now)
	m.watchReadAhead(ra)
	svcCfg.ReadAhead = ra
	audited := auditDirectory{Directory: meteredDirectory{Directory: dir, m: m}, log: logger.Named("audit"), afterWrite: crashAfterWrites(logger)}
	if x, ok := users.(interface {
		ExplainUPN(map[string][]string) (string, bool)
	}); ok {
		audited.explainUPN = x.ExplainUPN
	}
	svcCfg.OnGroupsLeft = audited.groupsLeft
	resolver := bridge.NewResolver(audited, 0)
	resolver.Register(users)
	services := scimside.Services{Users: bridge.NewService(audited, users, resolver, svcCfg), Ready: dir.Ping}
	if metricsListen == "" {
		services.Metrics = m.handler()
	}
	if ready != nil {
		services.Ready, services.Detail = ready.Ready, ready.Detail
	}
	if groups != nil {
		resolver.Register(groups)
		// Groups are not accounts: no lifecycle, and DELETE removes them.
		services.Groups = bridge.NewService(audited, groups, resolver, bridge.ServiceConfig{
			DefaultPageSize: svcCfg.DefaultPageSize, MaxPageSize: svcCfg.MaxPageSize, ReadAhead: ra,
		})
	}
	services.Entitlements = entitlementServices(ents, audited, resolver, svcCfg)
	if jr, ok := svcCfg.Journal.(*journal.Store); ok && jr != nil {
		services.Journal = jr
		m.watchJournal(jr)
		reason := services.Detail
		services.Detail = func() []string {
			var out []string
			if reason != nil {
				out = reason()
			}
			p, err := jr.Pending()
			if err != nil {
				return append(out, "pending_recoveries unknown")
			}
			return append(out, fmt.Sprintf("pending_recoveries %d", len(p)))
		}
		// Pending writes are settled at once and then every interval while
		// the gateway runs: the directory may come back at any time.
		go jr.Run(ctx)
	}
	srv, err := scimside.New(scimCfg, services, logger, scimside.WithObserver(m.observe))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", scimCfg.Listen)
	if err != nil {
		return fmt.Errorf("scim listen: %w", err)
	}
	if metricsListen != "" {
		mln, err := net.Listen("tcp", metricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics.listen %s: %w (free the port or choose another)", metricsListen, err)
		}
		ms := &http.Server{Handler: srv.OpsHandler(m.handler()), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ms.Serve(mln) }()
		defer ms.Close()
		logger.Info("metrics listening", "metrics_addr", mln.Addr().String(), "paths", "/metrics /healthz /readyz")
	}
	addr := ln.Addr().String()
	logger.Info("scim listening", "scim_addr", addr, "tls", scimCfg.TLSCertFile != "", "memory_limit_mib", memLimit>>20)
	if started != nil {
		started(addr)
	}
	if scimCfg.TLSCertFile != "" {
		stopReload := onReload(func() {
			notAfter, err := srv.ReloadTLS()
			if err != nil {
				logger.Error("TLS certificate not reloaded; the previous one stays in use (fix the files and send SIGHUP again)",
					"tls_cert_file", scimCfg.TLSCertFile, "tls_key_file", scimCfg.TLSKeyFile, "error", err)
				return
			}
			logger.Info("TLS certificate reloaded", "tls_cert_file", scimCfg.TLSCertFile, "not_after", notAfter.UTC().Format(time.RFC3339))
		})
		defer stopReload()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	bound := scimCfg.ShutdownTimeout
	if bound <= 0 {
		bound = 15 * time.Second
	}
	logger.Info("shutting down", "in_flight", srv.InFlight(), "shutdown_timeout", bound.String())
	sctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return err
		}
		// The bound passed: what is still running is cut.
		logger.Warn("stopped", "requests_cut", srv.InFlight())
		return nil
	}
	logger.Info("stopped", "requests_cut", 0)
	return <-errc
}
