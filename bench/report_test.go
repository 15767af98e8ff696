package main

import (
	"strings"
	"testing"
)

// TestCombineMedian: the table's ratio is the median of the runs', "met?"
// follows the median (not the best or the last run), and a run with
// errors makes the row "no" whatever its numbers.
func TestCombineMedian(t *testing.T) {
	one := func(scim, raw float64, failed bool) []row {
		r := scim / raw
		return []row{{Workload: "put", SCIM: "x", Raw: "y", Ratio: &r, judge: atLeast(0.8), scimV: scim, rawV: raw, unit: "ops/s", failed: failed}}
	}
	// Ratios 0.9, 0.7, 0.75: the best run meets 0.8, the median does not.
	got := combine([][]row{one(900, 1000, false), one(700, 1000, false), one(750, 1000, false)})
	if len(got) != 1 {
		t.Fatalf("%d rows", len(got))
	}
	x := got[0]
	if x.Ratio == nil || *x.Ratio != 0.75 {
		t.Errorf("ratio %v, want the median 0.75", x.Ratio)
	}
	if x.Met == nil || *x.Met {
		t.Errorf("met %v, want no (median 0.75 < 0.8)", x.Met)
	}
	if x.Spread != "0.70–0.90" || x.Runs != 3 {
		t.Errorf("spread %q over %d runs", x.Spread, x.Runs)
	}
	if !strings.HasPrefix(x.SCIM, "750 ops/s (700–900)") {
		t.Errorf("SCIM cell %q", x.SCIM)
	}
	got = combine([][]row{one(900, 1000, false), one(950, 1000, true), one(990, 1000, false)})
	if got[0].Met == nil || *got[0].Met {
		t.Errorf("met %v with errors in one run, want no", got[0].Met)
	}
	got = combine([][]row{one(900, 1000, false), one(950, 1000, false), one(700, 1000, false)})
	if got[0].Met == nil || !*got[0].Met {
		t.Errorf("met %v, want yes (median 0.9)", got[0].Met)
	}
}

func TestMedianEven(t *testing.T) {
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median %v, want 2.5", m)
	}
}

// TestReportRSSRows: over three runs at N = 100,000 the growth row prints
// the median growth factor and its spread (it printed "1 × (1–1)" for
// 1.26), and the 10,000-user row, one measurement repeated in every run,
// says so instead of a min–max of equal numbers.
func TestReportRSSRows(t *testing.T) {
	cfg := defaultConfig()
	small := &importStats{PeakRSSBytes: 40 << 20}
	var runs [][]row
	for _, peak := range []int64{44 << 20, 50 << 20, 52 << 20} {
		m := &measured{ImportV2: importStats{Complete: true, PeakRSSBytes: peak}}
		runs = append(runs, buildRows(cfg, small, m))
	}
	res := &results{Config: cfg, Rows: combine(runs), Runs: make([]measured, 3)}
	md := res.markdown()
	cells := func(prefix string) []string {
		for _, line := range strings.Split(md, "\n") {
			if strings.HasPrefix(line, "| "+prefix) {
				return strings.Split(line, " | ")
			}
		}
		t.Fatalf("no row %q in\n%s", prefix, md)
		return nil
	}
	g := cells("peak RSS growth")
	if g[1] != "1.25× (1.10–1.30)" || g[3] != "1.25 (1.10–1.30)" || g[5] != "yes |" {
		t.Errorf("growth row %q", g)
	}
	s := cells("gateway peak RSS, full import at 10000")
	if s[1] != "40.00 MB (one measurement)" || s[3] != "40.00" {
		t.Errorf("10,000-user row %q", s)
	}
	b := cells("gateway peak RSS, full import at 100000")
	if b[1] != "50.00 MB (44.00–52.00)" || b[3] != "50.00 (44.00–52.00)" {
		t.Errorf("100,000-user row %q", b)
	}
}

// TestReportPairRows: the rows that show two numbers per side (first and
// last page, big and small group) keep both medians over the runs, with
// the spread of the second, instead of the second alone.
func TestReportPairRows(t *testing.T) {
	cfg := defaultConfig()
	var runs [][]row
	for _, f := range []float64{1, 3, 2} {
		m := &measured{
			ImportV2:  importStats{Complete: true, FirstPageMs: 400 + f, LastPageMs: 380 + f},
			ImportRaw: importStats{WalkFirstMs: 5 + f, WalkLastMs: 6 + f},
			Group: &groupStats{BigMembers: 50000, SCIMBig: opStats{P50ms: 20 + f}, SCIMSmall: opStats{P50ms: 3 + f},
				RawBig: opStats{P50ms: 10 + f}, RawSmall: opStats{P50ms: 1 + f}},
		}
		runs = append(runs, buildRows(cfg, nil, m))
	}
	res := &results{Config: cfg, Rows: combine(runs), Runs: make([]measured, 3)}
	md := res.markdown()
	for _, want := range []string{
		"| /v2/Users page latency, last vs first (p50) | first 402.00 / last 382.00 ms (last 381.00–383.00) | walk: first 7.00 / last 8.00 ms (last 7.00–9.00) |",
		"| PATCH add 1 member: 50000-member vs 1-member group, p50 (information) | big 22.00 / small 5.00 ms (small 4.00–6.00) | big 12.00 / small 3.00 ms (small 2.00–4.00) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("no line %q in\n%s", want, md)
		}
	}
}
