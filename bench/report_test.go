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
