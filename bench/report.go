package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// row is one line of the table: a workload, both sides, their ratio and
// the target for it. Ratio and Met are nil where the row is
// informational.
type row struct {
	Workload string   `json:"workload"`
	SCIM     string   `json:"scim"`
	Raw      string   `json:"raw_ldap"`
	Ratio    *float64 `json:"ratio,omitempty"`
	Target   string   `json:"target"`
	Met      *bool    `json:"met,omitempty"`
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

func buildRows(cfg config, r *results) []row {
	var rows []row
	add := func(x row) { rows = append(rows, x) }
	raw := r.ImportRaw
	ir := ratio(r.ImportV2.EntriesPerS, raw.EntriesPerS)
	add(row{Workload: fmt.Sprintf("full import GET /v2/Users, pages of %d", cfg.PageSize), SCIM: importCell(r.ImportV2),
		Raw: importCell(raw) + " (paged search)", Ratio: ir, Target: "≥ 0.5× raw", Met: met(ir, atLeast(0.5))})
	rawPages := fmt.Sprintf("walk: first %.1f / last %.1f ms", raw.WalkFirstMs, raw.WalkLastMs)
	pl := ratio(r.ImportV2.LastPageMs, r.ImportV2.FirstPageMs)
	add(row{Workload: "/v2/Users page latency, last vs first (p50)", SCIM: fmt.Sprintf("first %.1f / last %.1f ms", r.ImportV2.FirstPageMs, r.ImportV2.LastPageMs),
		Raw: rawPages, Ratio: pl, Target: "last ≤ 2× first", Met: met(pl, atMost(2))})
	if v1 := r.ImportV1; v1 != nil {
		r1 := ratio(v1.EntriesPerS, raw.EntriesPerS)
		add(row{Workload: fmt.Sprintf("full import SCIM 1.1 GET /Users, pages of %d", cfg.PageSize), SCIM: importCell(*v1),
			Raw: importCell(raw), Ratio: r1, Target: "≥ 0.5× raw", Met: met(r1, atLeast(0.5))})
		p1 := ratio(v1.LastPageMs, v1.FirstPageMs)
		add(row{Workload: "SCIM 1.1 /Users page latency, last vs first (p50)", SCIM: fmt.Sprintf("first %.1f / last %.1f ms", v1.FirstPageMs, v1.LastPageMs),
			Raw: rawPages, Ratio: p1, Target: "last ≤ 2× first", Met: met(p1, atMost(2))})
	} else {
		add(row{Workload: "full import SCIM 1.1 GET /Users", SCIM: "n/a (SCIM 1.1 not available)", Raw: importCell(raw), Target: "≥ 0.5× raw"})
	}
	lr := ratio(r.Lookup.SCIM.P50ms, r.Lookup.Raw.P50ms)
	add(row{Workload: `lookup filter=userName eq "…" vs (uid=…), p50`, SCIM: fmt.Sprintf("%.2f ms", r.Lookup.SCIM.P50ms),
		Raw: fmt.Sprintf("%.2f ms", r.Lookup.Raw.P50ms), Ratio: lr, Target: "≤ 1.5× raw", Met: met(lr, atMost(1.5))})
	add(row{Workload: "HTTP floor: GET /v2/ServiceProviderConfig (static), p50", SCIM: fmt.Sprintf("%.2f ms", r.Lookup.Floor.P50ms), Raw: "—", Target: "—"})
	add(row{Workload: "lookup, p99", SCIM: fmt.Sprintf("%.2f ms", r.Lookup.SCIM.P99ms), Raw: fmt.Sprintf("%.2f ms", r.Lookup.Raw.P99ms),
		Ratio: ratio(r.Lookup.SCIM.P99ms, r.Lookup.Raw.P99ms), Target: "—"})
	top := 0
	for _, c := range cfg.Levels {
		top = max(top, c)
	}
	names := map[string]string{"create": "create POST /v2/Users vs add", "put": "PUT /v2/Users/{id} vs modify",
		"patch-deactivate": "PATCH active=false vs modify"}
	for _, w := range r.Writes {
		x := row{Workload: fmt.Sprintf("%s, concurrency %d", names[w.Workload], w.Concurrency), SCIM: opsCell(w.SCIM), Raw: opsCell(w.Raw),
			Ratio: ratio(w.SCIM.OpsPerSec, w.Raw.OpsPerSec), Target: "—"}
		if w.Concurrency == top {
			x.Target = "≥ 0.7× raw ops/s"
			x.Met = met(x.Ratio, atLeast(0.7))
			if w.SCIM.Errors > 0 {
				f := false
				x.Met = &f
			}
		}
		add(x)
	}
	if s := r.ImportSmall; s != nil {
		v := mb(s.PeakRSSBytes)
		add(row{Workload: fmt.Sprintf("gateway peak RSS, full import at %d users", min(cfg.N, rssStep)), SCIM: fmt.Sprintf("%.1f MB", v),
			Raw: "—", Target: "≤ 100 MB", Met: met(&v, atMost(100))})
	}
	if cfg.N > rssStep {
		v := mb(r.ImportV2.PeakRSSBytes)
		add(row{Workload: fmt.Sprintf("gateway peak RSS, full import at %d users", cfg.N), SCIM: fmt.Sprintf("%.1f MB", v),
			Raw: "—", Target: "≤ 100 MB", Met: met(&v, atMost(100))})
		g := ratio(float64(r.ImportV2.PeakRSSBytes), float64(r.ImportSmall.PeakRSSBytes))
		add(row{Workload: fmt.Sprintf("peak RSS growth, %d → %d users", rssStep, cfg.N), SCIM: fmt.Sprintf("%.2f×", deref(g)), Raw: "—",
			Ratio: g, Target: "not growing with N (≤ 1.25×)", Met: met(g, atMost(1.25))})
	}
	if gs := r.Group; gs != nil {
		gr := ratio(gs.SCIMBig.P50ms, gs.SCIMSmall.P50ms)
		x := row{Workload: fmt.Sprintf("PATCH add 1 member: %d-member vs 1-member group, p50", gs.BigMembers),
			SCIM:  fmt.Sprintf("big %.1f / small %.1f ms", gs.SCIMBig.P50ms, gs.SCIMSmall.P50ms),
			Raw:   fmt.Sprintf("big %.1f / small %.1f ms", gs.RawBig.P50ms, gs.RawSmall.P50ms),
			Ratio: gr, Target: "big ≤ 2× small", Met: met(gr, atMost(2))}
		if gs.SCIMBig.Errors+gs.SCIMSmall.Errors > 0 {
			f := false
			x.Met = &f
			x.SCIM += fmt.Sprintf(", %d errors", gs.SCIMBig.Errors+gs.SCIMSmall.Errors)
		}
		add(x)
	}
	return rows
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func (r *results) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nN = %d users; %s, %d cores, %s; %s; %s\n\n", r.Config.N, r.Machine.CPU, r.Machine.Cores, r.Machine.Memory, r.Machine.Go, r.Date)
	b.WriteString("| workload | SCIM (dirbridge) | raw LDAP (go-ldap) | ratio | target | met? |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, x := range r.Rows {
		rs, ms := "—", "—"
		if x.Ratio != nil {
			rs = fmt.Sprintf("%.2f", *x.Ratio)
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
// per operation (per page for the imports) in each process.
func (r *results) cpuTable() string {
	var b strings.Builder
	line := func(what string, u *cpuUse) {
		if u == nil {
			return
		}
		if b.Len() == 0 {
			b.WriteString("\nProcessor time per operation (per page of the imports), ms:\n\n")
			b.WriteString("| workload | gateway | slapd | client |\n|---|---|---|---|\n")
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
	for _, c := range r.Config.Levels {
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
