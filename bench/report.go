package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
)

// row is one line of the table: a workload, both sides, their ratio and
// the target for it. Ratio and Met are nil where the row is
// informational. A row of one run carries its numbers in the unexported
// fields too, so that combine can take the median over the runs.
type row struct {
	Workload string   `json:"workload"`
	SCIM     string   `json:"scim"`
	Raw      string   `json:"raw_ldap"`
	Ratio    *float64 `json:"ratio,omitempty"`
	Spread   string   `json:"ratio_spread,omitempty"` // min–max of the ratio over the runs
	Target   string   `json:"target"`
	Met      *bool    `json:"met,omitempty"`
	Runs     int      `json:"runs,omitempty"`

	scimV, rawV float64 // the headline number of each side (0: none)
	unit        string  // of scimV and rawV: "ops/s", "ms", "entries/s", "MB"
	judge       func(float64) bool
	failed      bool // errors in the run: not met, whatever the numbers
	// once: the row repeats one measurement in every run (the fresh
	// gateway's RSS at rssStep users), so a min–max over the runs would
	// only repeat it too.
	once bool
	// pair: the cells show two numbers of each side, "first … / last …"
	// or "big … / small …"; scimV and rawV are the second, scimA and rawA
	// the first, so that the combined cells keep both medians.
	pair        *[2]string
	scimA, rawA float64
	rawPrefix   string // "walk: " before the raw side's pair
}

type machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Memory string `json:"memory"`
	OS     string `json:"os"`
	Go     string `json:"go"`
}

func describeMachine() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if kb, ok := procMeminfo(); ok {
		m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		m.OS += ", Debian " + strings.TrimSpace(string(b))
	}
	return m
}

func procMeminfo() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	var kb int64
	for _, line := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return kb, true
		}
	}
	return 0, false
}

func gitRevision(dir string) string {
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func ratio(a, b float64) *float64 {
	if b == 0 {
		return nil
	}
	r := a / b
	return &r
}

func met(r *float64, ok func(float64) bool) *bool {
	if r == nil {
		return nil
	}
	v := ok(*r)
	return &v
}

func atLeast(t float64) func(float64) bool { return func(r float64) bool { return r >= t } }
func atMost(t float64) func(float64) bool  { return func(r float64) bool { return r <= t } }

func importCell(s importStats) string {
	out := fmt.Sprintf("%.0f entries/s (%d in %.1fs)", s.EntriesPerS, s.Entries, s.Seconds)
	if !s.Complete {
		out += fmt.Sprintf(", partial: %d of %d", s.Entries, s.Total)
	}
	return out
}

func opsCell(s opStats) string {
	out := fmt.Sprintf("%.0f ops/s (p50 %.1f, p99 %.1f ms)", s.OpsPerSec, s.P50ms, s.P99ms)
	if s.Errors > 0 {
		out += fmt.Sprintf(", %d errors", s.Errors)
	}
	return out
}

// buildRows turns one run's measurements into its rows; combine then takes
// the median over the runs.
func buildRows(cfg config, small *importStats, r *measured) []row {
	var rows []row
	add := func(x row) { rows = append(rows, x) }
	raw := r.ImportRaw
	ir := ratio(r.ImportV2.EntriesPerS, raw.EntriesPerS)
	add(row{Workload: fmt.Sprintf("full import GET /v2/Users, pages of %d", cfg.PageSize), SCIM: importCell(r.ImportV2),
		Raw: importCell(raw) + " (paged search)", Ratio: ir, Target: "≥ 0.6× raw", judge: atLeast(0.6),
		scimV: r.ImportV2.EntriesPerS, rawV: raw.EntriesPerS, unit: "entries/s", failed: !r.ImportV2.Complete})
	rawPages := fmt.Sprintf("walk: first %.1f / last %.1f ms", raw.WalkFirstMs, raw.WalkLastMs)
	pl := ratio(r.ImportV2.LastPageMs, r.ImportV2.FirstPageMs)
	add(row{Workload: "/v2/Users page latency, last vs first (p50)", SCIM: fmt.Sprintf("first %.1f / last %.1f ms", r.ImportV2.FirstPageMs, r.ImportV2.LastPageMs),
		Raw: rawPages, Ratio: pl, Target: "last ≤ 2× first", judge: atMost(2), scimV: r.ImportV2.LastPageMs, rawV: raw.WalkLastMs, unit: "ms",
		pair: &firstLast, scimA: r.ImportV2.FirstPageMs, rawA: raw.WalkFirstMs, rawPrefix: "walk: "})
	if v1 := r.ImportV1; v1 != nil {
		r1 := ratio(v1.EntriesPerS, raw.EntriesPerS)
		add(row{Workload: fmt.Sprintf("full import SCIM 1.1 GET /Users, pages of %d", cfg.PageSize), SCIM: importCell(*v1),
			Raw: importCell(raw), Ratio: r1, Target: "≥ 0.6× raw", judge: atLeast(0.6),
			scimV: v1.EntriesPerS, rawV: raw.EntriesPerS, unit: "entries/s", failed: !v1.Complete})
		p1 := ratio(v1.LastPageMs, v1.FirstPageMs)
		add(row{Workload: "SCIM 1.1 /Users page latency, last vs first (p50)", SCIM: fmt.Sprintf("first %.1f / last %.1f ms", v1.FirstPageMs, v1.LastPageMs),
			Raw: rawPages, Ratio: p1, Target: "last ≤ 2× first", judge: atMost(2), scimV: v1.LastPageMs, rawV: raw.WalkLastMs, unit: "ms",
			pair: &firstLast, scimA: v1.FirstPageMs, rawA: raw.WalkFirstMs, rawPrefix: "walk: "})
	} else {
		add(row{Workload: "full import SCIM 1.1 GET /Users", SCIM: "n/a (SCIM 1.1 not available)", Raw: importCell(raw), Target: "≥ 0.6× raw",
			rawV: raw.EntriesPerS, unit: "entries/s"})
	}
	lk := r.Lookup
	lr := ratio(lk.SCIM.P50ms, lk.Raw.P50ms)
	rawKey := "(uid=…)"
	if cfg.Dir == "ad" {
		rawKey = "(userPrincipalName=…)"
	}
	add(row{Workload: `lookup filter=userName eq "…" vs ` + rawKey + `, p50`, SCIM: fmt.Sprintf("%.3f ms", lk.SCIM.P50ms),
		Raw: fmt.Sprintf("%.3f ms", lk.Raw.P50ms), Ratio: lr, Target: "—", scimV: lk.SCIM.P50ms, rawV: lk.Raw.P50ms, unit: "ms",
		failed: lk.SCIM.Errors > 0})
	add(row{Workload: "HTTP floor: GET /v2/ServiceProviderConfig (static), p50", SCIM: fmt.Sprintf("%.3f ms", lk.Floor.P50ms), Raw: "—", Target: "—",
		scimV: lk.Floor.P50ms, unit: "ms"})
	// The gateway's own work on a lookup: what is left of the SCIM lookup
	// after one HTTP exchange and the directory's search. Its "ratio" is
	// that difference in ms, judged against the 0.05 ms.
	over := lk.SCIM.P50ms - (lk.Floor.P50ms + lk.Raw.P50ms)
	add(row{Workload: "lookup overhead = SCIM lookup − (HTTP floor + raw lookup), p50", SCIM: fmt.Sprintf("%.3f ms", over), Raw: "—",
		Ratio: &over, Target: "≤ 0.05 ms", judge: atMost(0.05), scimV: over, unit: "ms", failed: lk.SCIM.Errors > 0})
	add(row{Workload: "lookup, p99", SCIM: fmt.Sprintf("%.3f ms", lk.SCIM.P99ms), Raw: fmt.Sprintf("%.3f ms", lk.Raw.P99ms),
		Ratio: ratio(lk.SCIM.P99ms, lk.Raw.P99ms), Target: "—", scimV: lk.SCIM.P99ms, rawV: lk.Raw.P99ms, unit: "ms"})
	names := map[string]string{"create": "create POST /v2/Users vs add", "put": "PUT /v2/Users/{id} vs modify",
		"patch-deactivate": "PATCH active=false vs modify"}
	for _, w := range r.Writes {
		x := row{Workload: fmt.Sprintf("%s, concurrency %d", names[w.Workload], w.Concurrency), SCIM: opsCell(w.SCIM), Raw: opsCell(w.Raw),
			Ratio: ratio(w.SCIM.OpsPerSec, w.Raw.OpsPerSec), Target: "—", scimV: w.SCIM.OpsPerSec, rawV: w.Raw.OpsPerSec, unit: "ops/s",
			failed: w.SCIM.Errors > 0}
		// The targets: PUT and PATCH at every concurrency; a
		// create is an add and a memberOf update in slapd either way.
		if w.Workload != "create" {
			x.Target, x.judge = "≥ 0.8× raw ops/s", atLeast(0.8)
		}
		add(x)
		if rl := w.Relay; rl != nil {
			// Information: what the machine allows any HTTP gateway.
			cell := opsCell(*rl)
			if rl.Errors > 0 {
				cell += " (errors: not a bound)"
			}
			add(row{Workload: fmt.Sprintf("bound: bench/relay (HTTP + one go-ldap modify, nothing else) vs the same modify, concurrency %d", w.Concurrency),
				SCIM: cell, Raw: opsCell(w.Raw), Ratio: ratio(rl.OpsPerSec, w.Raw.OpsPerSec), Target: "—",
				scimV: rl.OpsPerSec, rawV: w.Raw.OpsPerSec, unit: "ops/s"})
		}
	}
	if small != nil {
		v := mb(small.PeakRSSBytes)
		add(row{Workload: fmt.Sprintf("gateway peak RSS, full import at %d users", min(cfg.N, rssStep)), SCIM: fmt.Sprintf("%.1f MB", v),
			Raw: "—", Ratio: &v, Target: "≤ 64 MB", judge: atMost(64), scimV: v, unit: "MB", once: true})
	}
	if cfg.N > rssStep && small != nil {
		v := mb(r.ImportV2.PeakRSSBytes)
		add(row{Workload: fmt.Sprintf("gateway peak RSS, full import at %d users", cfg.N), SCIM: fmt.Sprintf("%.1f MB", v),
			Raw: "—", Ratio: &v, Target: "≤ 64 MB", judge: atMost(64), scimV: v, unit: "MB"})
		g := ratio(float64(r.ImportV2.PeakRSSBytes), float64(small.PeakRSSBytes))
		add(row{Workload: fmt.Sprintf("peak RSS growth, %d → %d users", rssStep, cfg.N), SCIM: fmt.Sprintf("%.2f×", deref(g)), Raw: "—",
			Ratio: g, Target: "not growing with N (≤ 1.25×)", judge: atMost(1.25), scimV: deref(g), unit: "×"})
	}
	if gs := r.Group; gs != nil {
		errs := gs.SCIMBig.Errors + gs.SCIMSmall.Errors
		br := ratio(gs.SCIMBig.P50ms, gs.RawBig.P50ms)
		x := row{Workload: fmt.Sprintf("PATCH add 1 member to a %d-member group vs raw add, p50", gs.BigMembers),
			SCIM: fmt.Sprintf("%.2f ms", gs.SCIMBig.P50ms), Raw: fmt.Sprintf("%.2f ms", gs.RawBig.P50ms),
			Ratio: br, Target: "≤ 1.2× raw", judge: atMost(1.2), scimV: gs.SCIMBig.P50ms, rawV: gs.RawBig.P50ms, unit: "ms", failed: errs > 0}
		if errs > 0 {
			x.SCIM += fmt.Sprintf(", %d errors", errs)
		}
		add(x)
		gr := ratio(gs.SCIMBig.P50ms, gs.SCIMSmall.P50ms)
		add(row{Workload: fmt.Sprintf("PATCH add 1 member: %d-member vs 1-member group, p50 (information)", gs.BigMembers),
			SCIM:  fmt.Sprintf("big %.2f / small %.2f ms", gs.SCIMBig.P50ms, gs.SCIMSmall.P50ms),
			Raw:   fmt.Sprintf("big %.2f / small %.2f ms", gs.RawBig.P50ms, gs.RawSmall.P50ms),
			Ratio: gr, Target: "—", scimV: gs.SCIMSmall.P50ms, rawV: gs.RawSmall.P50ms, unit: "ms",
			pair: &bigSmall, scimA: gs.SCIMBig.P50ms, rawA: gs.RawBig.P50ms})
	}
	for i := range rows {
		rows[i].Runs = 1
		if rows[i].judge != nil {
			rows[i].Met = met(rows[i].Ratio, rows[i].judge)
			if rows[i].failed && rows[i].Met != nil {
				f := false
				rows[i].Met = &f
			}
		}
	}
	return rows
}

// combine is the table of several runs: per row the median of each side's
// headline number and of the ratio, with the ratio's min–max; "met?" is
// judged on the median ratio, and a run with errors makes it "no".
func combine(runs [][]row) []row {
	if len(runs) == 0 {
		return nil
	}
	var out []row
	for i, first := range runs[0] {
		var scim, raw, rat, scimA, rawA []float64
		failed := false
		for _, rs := range runs {
			if i >= len(rs) || rs[i].Workload != first.Workload {
				continue // a run that ended early
			}
			x := rs[i]
			scim, raw = append(scim, x.scimV), append(raw, x.rawV)
			scimA, rawA = append(scimA, x.scimA), append(rawA, x.rawA)
			if x.Ratio != nil {
				rat = append(rat, *x.Ratio)
			}
			failed = failed || x.failed
		}
		x := first
		x.Runs = len(scim)
		if x.Runs > 1 {
			switch {
			case first.pair != nil:
				x.SCIM = pairCell(*first.pair, scimA, scim, "")
			case first.once:
				x.SCIM = fmt.Sprintf("%s (one measurement)", number(scim[0], first.unit))
			case first.unit != "" && first.SCIM != "—" && !strings.HasPrefix(first.SCIM, "n/a"):
				x.SCIM = spreadCell(scim, first.unit)
			}
			switch {
			case first.Raw == "—":
			case first.pair != nil:
				x.Raw = pairCell(*first.pair, rawA, raw, first.rawPrefix)
			default:
				x.Raw = spreadCell(raw, first.unit)
			}
		}
		x.Ratio, x.Spread = nil, ""
		if len(rat) > 0 {
			m := median(rat)
			x.Ratio = &m
			if len(rat) > 1 && !first.once {
				x.Spread = fmt.Sprintf("%.2f–%.2f", slices.Min(rat), slices.Max(rat))
			}
		}
		if x.judge != nil {
			x.Met = met(x.Ratio, x.judge)
			if failed && x.Met != nil {
				f := false
				x.Met = &f
			}
		}
		out = append(out, x)
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var firstLast, bigSmall = [2]string{"first", "last"}, [2]string{"big", "small"}

// pairCell is "first 4.40 / last 4.52 ms (last 4.10–5.00)": both medians,
// and the spread of the second number, which the ratio's row is about.
func pairCell(names [2]string, a, b []float64, prefix string) string {
	return fmt.Sprintf("%s%s %.2f / %s %.2f ms (%s %.2f–%.2f)", prefix, names[0], median(a), names[1], median(b), names[1], slices.Min(b), slices.Max(b))
}

// spreadCell is "median unit (min–max)".
func spreadCell(v []float64, unit string) string {
	f := valueFormat(unit)
	return fmt.Sprintf("%s ("+f+"–"+f+")", number(median(v), unit), slices.Min(v), slices.Max(v))
}

// number is v in unit: rates as integers, times, sizes and factors with two
// decimals (a growth of 1.26 printed as "1" says nothing), "×" without a
// space as in the single-run cell.
func number(v float64, unit string) string {
	if unit == "×" {
		return fmt.Sprintf(valueFormat(unit)+"×", v)
	}
	return fmt.Sprintf(valueFormat(unit)+" %s", v, unit)
}

func valueFormat(unit string) string {
	if strings.HasPrefix(unit, "ms") || unit == "MB" || unit == "×" {
		return "%.2f"
	}
	return "%.0f"
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nN = %d users; %s, %d cores, %s; %s; %s\n", r.Config.N, r.Machine.CPU, r.Machine.Cores, r.Machine.Memory, r.Machine.Go, r.Date)
	fmt.Fprintf(&b, "%d run(s) of each workload: median (min–max); \"met?\" is judged on the median\n\n", len(r.Runs))
	b.WriteString("| workload | SCIM (dirbridge) | raw LDAP (go-ldap) | ratio (min–max) | target | met? |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, x := range r.Rows {
		rs, ms := "—", "—"
		if x.Ratio != nil {
			rs = fmt.Sprintf("%.2f", *x.Ratio)
			if x.Spread != "" {
				rs += " (" + x.Spread + ")"
			}
		}
		if x.Met != nil {
			ms = map[bool]string{true: "yes", false: "**no**"}[*x.Met]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", x.Workload, x.SCIM, x.Raw, rs, x.Target, ms)
	}
	if t := r.cpuTable(); t != "" {
		b.WriteString(t)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	return b.String()
}

// cpuTable shows where each workload's time went: processor milliseconds
// per operation (per page for the imports) in each process, from the last
// run (the warmest; the others are in the JSON).
func (res *results) cpuTable() string {
	if len(res.Runs) == 0 {
		return ""
	}
	r := &res.Runs[len(res.Runs)-1]
	var b strings.Builder
	line := func(what string, u *cpuUse) {
		if u == nil {
			return
		}
		if b.Len() == 0 {
			fmt.Fprintf(&b, "\nProcessor time per operation (per page of the imports), ms, run %d of %d:\n\n", len(res.Runs), len(res.Runs))
			dir := "slapd"
			if res.Config.Dir == "ad" {
				dir = "samba (not measured)"
			}
			b.WriteString("| workload | gateway | " + dir + " | client |\n|---|---|---|---|\n")
		}
		fmt.Fprintf(&b, "| %s | %.3f | %.3f | %.3f |\n", what, u.GatewayMs, u.SlapdMs, u.ClientMs)
	}
	line("import /v2/Users (SCIM)", r.ImportV2.CPUPerPage)
	if r.ImportV1 != nil {
		line("import /Users SCIM 1.1", r.ImportV1.CPUPerPage)
	}
	line("import, raw paged search", r.ImportRaw.CPUPerPage)
	line("lookup (SCIM)", r.Lookup.SCIM.CPUPerOp)
	line("lookup (raw)", r.Lookup.Raw.CPUPerOp)
	top := 0
	for _, c := range res.Config.Levels {
		top = max(top, c)
	}
	for _, w := range r.Writes {
		if w.Concurrency != top {
			continue
		}
		line(fmt.Sprintf("%s c=%d (SCIM)", w.Workload, w.Concurrency), w.SCIM.CPUPerOp)
		line(fmt.Sprintf("%s c=%d (raw)", w.Workload, w.Concurrency), w.Raw.CPUPerOp)
	}
	if g := r.Group; g != nil {
		line("group PATCH, big (SCIM)", g.SCIMBig.CPUPerOp)
		line("group PATCH, small (SCIM)", g.SCIMSmall.CPUPerOp)
		line("group add, big (raw)", g.RawBig.CPUPerOp)
		line("group add, small (raw)", g.RawSmall.CPUPerOp)
	}
	return b.String()
}

func (r *results) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
