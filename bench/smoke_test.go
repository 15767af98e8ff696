package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
)

// TestSmoke runs the whole benchmark on 200 users with a handful of
// operations per workload, so that `make bench` cannot rot between the runs
// that fill the README. It checks that every workload ran without errors
// and produced its rows; it asserts nothing about timings.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts slapd and the gateway")
	}
	cfg := defaultConfig()
	cfg.N, cfg.Lookups, cfg.WriteOps, cfg.GroupOps, cfg.FirstLastRep = 200, 20, 16, 3, 2
	cfg.ImportBudget = time.Minute
	dir := t.TempDir()
	cfg.Bin = filepath.Join(dir, "dirbridge")
	cfg.Out = filepath.Join(dir, "bench.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := run(ctx, cfg)
	if errors.Is(err, testenv.ErrNoSlapd) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v; CI must run every directory test", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !res.ImportV2.Complete || res.ImportV2.Entries != cfg.N {
		t.Errorf("v2 import read %d of %d entries (complete %v)", res.ImportV2.Entries, cfg.N, res.ImportV2.Complete)
	}
	if res.ImportRaw.Entries != cfg.N {
		t.Errorf("raw import read %d of %d entries", res.ImportRaw.Entries, cfg.N)
	}
	if res.ImportV1 != nil && res.ImportV1.Entries != cfg.N {
		t.Errorf("SCIM 1.1 import read %d of %d entries", res.ImportV1.Entries, cfg.N)
	}
	all := []opStats{res.Lookup.SCIM, res.Lookup.Raw}
	for _, w := range res.Writes {
		all = append(all, w.SCIM, w.Raw)
	}
	if len(res.Writes) != 3*len(cfg.Levels) {
		t.Errorf("%d write results, want %d", len(res.Writes), 3*len(cfg.Levels))
	}
	if res.Group == nil {
		t.Fatal("no group results")
	}
	all = append(all, res.Group.SCIMBig, res.Group.SCIMSmall, res.Group.RawBig, res.Group.RawSmall)
	for i, s := range all {
		if s.Errors > 0 || s.Ops == 0 {
			t.Errorf("workload %d: %d ops, %d errors, first: %s", i, s.Ops, s.Errors, s.FirstError)
		}
	}
	if len(res.Rows) == 0 || res.markdown() == "" {
		t.Error("no table")
	}
	if err := res.writeJSON(cfg.Out); err != nil {
		t.Error(err)
	}
}
