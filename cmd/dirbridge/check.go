package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/conf"
	"github.com/dirbridge/dirbridge/ldapside"
	"github.com/dirbridge/dirbridge/mapping"
)

// checkCmd validates the configuration and the mapping tables, binds to the
// directory and looks for the containers the tables name. It prints every
// problem it finds, not just the first.
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		return usageError{errors.New("check needs --config FILE")}
	}
	cfg, err := conf.Load(*configPath, nil)
	if err != nil {
		return err
	}
	var problems []error
	users, err := mapping.Load(cfg.Mapping.Users, tableOptions(cfg))
	if err != nil {
		problems = append(problems, err)
	}
	logger := newLogger("error", cfg.Log.Format, stderr)
	conn, err := ldapside.Open(ldapside.Config{
		URLs: cfg.LDAP.URLs, BindDN: cfg.LDAP.BindDN, BindPassword: cfg.LDAP.BindPassword, BaseDN: cfg.LDAP.BaseDN,
		CAFile: cfg.LDAP.CAFile, StartTLS: cfg.LDAP.StartTLS, PasswordStateAttr: cfg.LDAP.PasswordStateAttr, InsecureSkipVerify: cfg.LDAP.InsecureSkipVerify,
		Dialect: cfg.LDAP.Dialect, PoolSize: 1, DialTimeout: cfg.LDAP.DialTimeout.Duration, OpTimeout: cfg.LDAP.OpTimeout.Duration,
	}, logger)
	if err != nil {
		problems = append(problems, err)
	} else {
		defer conn.Close()
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := conn.Ping(cctx); err != nil {
			problems = append(problems, fmt.Errorf("directory: %w", err))
		} else if users != nil {
			if _, err := conn.GetByDN(cctx, users.Container(), []string{"objectClass"}); err != nil {
				problems = append(problems, fmt.Errorf("users container %q: %s", users.Container(), bridge.SafeMessage(err)))
			}
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	fmt.Fprintf(stdout, "ok: configuration, mapping tables and directory %v\n", cfg.LDAP.URLs)
	return nil
}
