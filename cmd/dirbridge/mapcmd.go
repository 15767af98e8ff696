package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/conf"
	"github.com/dirbridge/dirbridge/mapping"
)

// mapCmd shows what a SCIM resource becomes in the directory, as LDIF,
// without connecting to anything: the way to try a mapping table.
func mapCmd(_ context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("map", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file (its mapping tables are used)")
	resource := fs.String("resource", "User", "resource type of the input: User or Group")
	file := fs.String("file", "-", "JSON resource to map; - reads standard input")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" {
		return usageError{errors.New("map needs --config FILE")}
	}
	cfg, err := conf.LoadTables(*configPath, nil)
	if err != nil {
		return err
	}
	var table string
	switch strings.ToLower(*resource) {
	case "user", "users":
		table = cfg.Mapping.Users
	case "group", "groups":
		table = cfg.Mapping.Groups
		if table == "" {
			return errors.New("the configuration has no mapping.groups")
		}
	default:
		return usageError{fmt.Errorf("--resource %q: want User or Group", *resource)}
	}
	t, err := mapping.Load(table, tableOptions(cfg))
	if err != nil {
		return err
	}
	in := stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	var attrs map[string]any
	if err := json.NewDecoder(in).Decode(&attrs); err != nil {
		return fmt.Errorf("the input is not a JSON object: %w", err)
	}
	ldif, err := t.Preview(bridge.Resource{Attrs: attrs})
	if err != nil {
		return fmt.Errorf("%s", bridge.SafeMessage(err))
	}
	_, err = io.WriteString(stdout, ldif)
	return err
}
