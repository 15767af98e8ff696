package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/conf"
	"github.com/dirbridge/dirbridge/ldapside"
	"github.com/dirbridge/dirbridge/preflight"
)

// checkCmd is the preflight: everything serve would trip over, every
// problem in one run (see the preflight package). Exit 0 ready (warnings
// allowed), 1 not ready, 2 a usage error.
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file")
	writeProbe := fs.Bool("write-probe", false, "OpenLDAP: add and delete a probe entry in each container to test the service account's write rights")
	format := fs.String("format", "text", "output: text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		return usageError{errors.New("check needs --config FILE")}
	}
	if *format != "text" && *format != "json" {
		return usageError{fmt.Errorf("--format %q: text or json", *format)}
	}
	rep := runPreflight(ctx, *configPath, *writeProbe, stderr)
	if err := rep.Write(stdout, *format); err != nil {
		return err
	}
	if !rep.Ready() {
		return fmt.Errorf("check found %d errors (listed above)", rep.Count(preflight.Error))
	}
	return nil
}

func runPreflight(ctx context.Context, path string, writeProbe bool, stderr io.Writer) preflight.Report {
	var rep preflight.Report
	cfg, problems := conf.LoadAll(path, nil)
	caBad := false
	for _, p := range problems {
		rep.Merge(preflight.Fatal(preflight.SectionConfig, "", p.String()))
		caBad = caBad || strings.HasPrefix(p.Key, "ldap.ca_file")
	}
	if cfg == nil {
		return rep
	}
	if caBad {
		// Said above; the directory is still checked, with the system's
		// CAs, so that one run names every problem.
		cfg.LDAP.CAFile = ""
	}
	rep.Merge(preflight.Warnings(cfg.Warnings()))
	tables, r := preflight.Config(cfg, tableOptions(cfg))
	rep.Merge(r)
	if tables.Users == nil {
		return rep
	}
	lc := ldapConfig(cfg, 1)
	conn, err := ldapside.Open(lc, newLogger("off", cfg.Log.Format, stderr))
	if err != nil && lc.CAFile != "" {
		// Said, and the rest checked with the system's CAs: one run
		// names every problem.
		rep.Merge(openError(cfg, err))
		lc.CAFile = ""
		conn, err = ldapside.Open(lc, newLogger("off", cfg.Log.Format, stderr))
	}
	if err != nil {
		rep.Merge(openError(cfg, err))
		return rep
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	opts := preflightOptions(cfg, tables, writeProbe)
	opts.CAFile = lc.CAFile // "" when the configured one was unusable
	r, _ = preflight.Directory(cctx, conn, tables, opts)
	rep.Merge(r)
	return rep
}

// preflightOptions are what the preflight checks, from the configuration.
func preflightOptions(cfg *conf.Config, tables preflight.Tables, writeProbe bool) preflight.Options {
	lc := tables.Lifecycle
	if lc.Disable == "" {
		lc = preflight.DefaultLifecycle(cfg.LDAP.Dialect)
	}
	return preflight.Options{
		URLs: cfg.LDAP.URLs, Dialect: cfg.LDAP.Dialect, CAFile: cfg.LDAP.CAFile, LeaversDN: cfg.Users.LeaversDN,
		Lifecycle: lc, WriteProbe: writeProbe,
	}
}

// ldapConfig is the directory connection the configuration describes.
func ldapConfig(cfg *conf.Config, poolSize int) ldapside.Config {
	return ldapside.Config{
		URLs: cfg.LDAP.URLs, BindDN: cfg.LDAP.BindDN, BindPassword: cfg.LDAP.BindPassword, BaseDN: cfg.LDAP.BaseDN,
		CAFile: cfg.LDAP.CAFile, StartTLS: cfg.LDAP.StartTLS, PasswordStateAttr: cfg.LDAP.PasswordStateAttr,
		InsecureSkipVerify: cfg.LDAP.InsecureSkipVerify, Dialect: cfg.LDAP.Dialect, PoolSize: poolSize,
		DialTimeout: cfg.LDAP.DialTimeout.Duration, OpTimeout: cfg.LDAP.OpTimeout.Duration,
		FailbackDelay: cfg.LDAP.FailbackDelay.Duration,
	}
}

// openError is ldapside.Open's refusal as a finding naming the key.
func openError(cfg *conf.Config, err error) preflight.Report {
	if cfg.LDAP.CAFile != "" && strings.Contains(err.Error(), "CA file") {
		return preflight.Fatal(preflight.SectionConfig, fmt.Sprintf("ldap.ca_file %q", cfg.LDAP.CAFile),
			bridge.SafeMessage(err)+": give the PEM bundle of the CA that signs the directory's certificate")
	}
	return preflight.Fatal(preflight.SectionConfig, "ldap", bridge.SafeMessage(err))
}
