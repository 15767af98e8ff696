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
// in each of two runs and produced its rows; it asserts nothing about timings.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts slapd and the gateway")
	}
	cfg := defaultConfig()
	cfg.N, cfg.Lookups, cfg.WriteOps, cfg.GroupOps, cfg.FirstLastRep, cfg.Runs = 200, 20, 16, 3, 2, 2
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
	if len(res.Runs) != cfg.Runs {
		t.Fatalf("%d runs, want %d", len(res.Runs), cfg.Runs)
	}
	// The second run works on users of its own: errors there would mean
	// it found the first run's work done (or its creates taken).
	for _, m := range res.Runs {
		// Later runs also see the users the earlier ones created.
		want := cfg.N
		if m.Run > 1 {
			want = m.ImportRaw.Entries
			if want <= cfg.N {
				t.Errorf("run %d: raw import read %d entries, want more than the %d seeded (run 1 created users)", m.Run, want, cfg.N)
			}
		} else if m.ImportRaw.Entries != cfg.N {
			t.Errorf("run %d: raw import read %d of %d entries", m.Run, m.ImportRaw.Entries, cfg.N)
		}
		if !m.ImportV2.Complete || m.ImportV2.Entries != want {
			t.Errorf("run %d: v2 import read %d of %d entries (complete %v)", m.Run, m.ImportV2.Entries, want, m.ImportV2.Complete)
		}
		if m.ImportV1 != nil && m.ImportV1.Entries != want {
			t.Errorf("run %d: SCIM 1.1 import read %d of %d entries", m.Run, m.ImportV1.Entries, want)
		}
		all := []opStats{m.Lookup.SCIM, m.Lookup.Raw, m.Lookup.Floor}
		for _, w := range m.Writes {
			all = append(all, w.SCIM, w.Raw)
			all = appendRelay(t, all, w)
		}
		if len(m.Writes) != 3*len(cfg.Levels) {
			t.Errorf("run %d: %d write results, want %d", m.Run, len(m.Writes), 3*len(cfg.Levels))
		}
		if m.Group == nil {
			t.Fatalf("run %d: no group results", m.Run)
		}
		all = append(all, m.Group.SCIMBig, m.Group.SCIMSmall, m.Group.RawBig, m.Group.RawSmall)
		for i, s := range all {
			if s.Errors > 0 || s.Ops == 0 {
				t.Errorf("run %d, workload %d: %d ops, %d errors, first: %s", m.Run, i, s.Ops, s.Errors, s.FirstError)
			}
		}
		if len(m.Rows) != len(res.Rows) {
			t.Errorf("run %d: %d rows, the table %d", m.Run, len(m.Rows), len(res.Rows))
		}
	}
	if len(res.Rows) == 0 || res.markdown() == "" {
		t.Error("no table")
	}
	if err := res.writeJSON(cfg.Out); err != nil {
		t.Error(err)
	}
}

// TestSmokeAD is TestSmoke on the AD tier's Samba DC (make bench DIR=ad):
// one run of every workload on 100 users, without errors, with its rows.
func TestSmokeAD(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Samba AD and the gateway")
	}
	cfg := defaultConfig()
	cfg.Dir = "ad"
	cfg.N, cfg.Lookups, cfg.WriteOps, cfg.GroupOps, cfg.FirstLastRep, cfg.Runs, cfg.BigGroup = 100, 10, 4, 2, 1, 1, 20
	cfg.ImportBudget = time.Minute
	dir := t.TempDir()
	cfg.Bin = filepath.Join(dir, "dirbridge")
	cfg.Out = filepath.Join(dir, "bench.json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := run(ctx, cfg)
	if errors.Is(err, testenv.ErrNoSamba) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v; CI must run every directory test", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(res.Runs))
	}
	m := res.Runs[0]
	if m.ImportRaw.Entries != cfg.N || m.ImportV2.Entries != cfg.N || !m.ImportV2.Complete {
		t.Errorf("imports read raw %d, SCIM %d (complete %t) of %d users", m.ImportRaw.Entries, m.ImportV2.Entries, m.ImportV2.Complete, cfg.N)
	}
	all := []opStats{m.Lookup.SCIM, m.Lookup.Raw}
	for _, w := range m.Writes {
		all = append(all, w.SCIM, w.Raw)
		all = appendRelay(t, all, w)
	}
	if m.Group == nil {
		t.Fatal("no group workload")
	}
	all = append(all, m.Group.SCIMBig, m.Group.SCIMSmall, m.Group.RawBig, m.Group.RawSmall)
	for i, s := range all {
		if s.Errors > 0 || s.Ops == 0 {
			t.Errorf("workload %d: %d ops, %d errors, first: %s", i, s.Ops, s.Errors, s.FirstError)
		}
	}
	if len(m.Writes) != 3*len(cfg.Levels) || len(res.Rows) == 0 {
		t.Errorf("%d write results, %d rows", len(m.Writes), len(res.Rows))
	}
}

// appendRelay adds the relay's measurement of a PATCH workload, which
// every PATCH must have.
func appendRelay(t *testing.T, all []opStats, w writeStats) []opStats {
	t.Helper()
	if w.Workload != "patch-deactivate" {
		return all
	}
	if w.Relay == nil {
		t.Errorf("%s c=%d: no relay measurement", w.Workload, w.Concurrency)
		return all
	}
	return append(all, *w.Relay)
}
