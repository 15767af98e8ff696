// Package preflight finds what the gateway would trip over before it
// serves: the configuration and tables, each configured server, the
// directory's schema, the controls and the lifecycle the tables rely on,
// the containers, the service account's rights and, on AD, the indexes.
// `dirbridge check` prints its findings; serve runs the same checks at
// start, refuses to start on the fatal ones, and keeps /readyz at 503
// while a required container is missing (Readiness).
package preflight

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Level is how serious a finding is.
type Level int

const (
	OK    Level = iota // checked and fine
	Warn               // works, but costs or risks something; check exits 0
	Error              // something will fail; check exits 1
)

func (l Level) String() string {
	switch l {
	case Warn:
		return "WARN"
	case Error:
		return "ERROR"
	}
	return "ok"
}

// Sections, in the order they are printed.
const (
	SectionConfig     = "config"
	SectionServers    = "servers"
	SectionControls   = "controls"
	SectionSchema     = "schema"
	SectionLifecycle  = "lifecycle"
	SectionContainers = "containers"
	SectionRights     = "rights"
	SectionIndexes    = "indexes"
)

var sectionOrder = map[string]int{
	SectionConfig: 0, SectionServers: 1, SectionControls: 2, SectionSchema: 3, SectionLifecycle: 4,
	SectionContainers: 5, SectionRights: 6, SectionIndexes: 7,
}

// Finding is one thing the preflight checked.
type Finding struct {
	Section string `json:"section"`
	Level   Level  `json:"-"`
	// Where names the place: "file:line" of a table, a config key, a URL,
	// a DN.
	Where string `json:"where,omitempty"`
	// Msg says what is wrong and what to do.
	Msg string `json:"message"`
	// Fatal: every request would fail; serve refuses to start.
	Fatal bool `json:"fatal,omitempty"`
}

// MarshalJSON writes the level as its name.
func (f Finding) MarshalJSON() ([]byte, error) {
	type plain Finding
	return json.Marshal(struct {
		Level string `json:"level"`
		plain
	}{f.Level.String(), plain(f)})
}

func (f Finding) String() string {
	w := ""
	if f.Where != "" {
		w = f.Where + ": "
	}
	return fmt.Sprintf("%-5s %-10s %s%s", f.Level, f.Section, w, f.Msg)
}

// Report is every finding of a run.
type Report struct {
	Findings []Finding
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }

func (r *Report) ok(section, where, format string, args ...any) {
	r.add(Finding{Section: section, Level: OK, Where: where, Msg: fmt.Sprintf(format, args...)})
}

func (r *Report) warn(section, where, format string, args ...any) {
	r.add(Finding{Section: section, Level: Warn, Where: where, Msg: fmt.Sprintf(format, args...)})
}

func (r *Report) err(section, where, format string, args ...any) {
	r.add(Finding{Section: section, Level: Error, Where: where, Msg: fmt.Sprintf(format, args...)})
}

func (r *Report) fatal(section, where, format string, args ...any) {
	r.add(Finding{Section: section, Level: Error, Where: where, Msg: fmt.Sprintf(format, args...), Fatal: true})
}

// Merge appends other's findings.
func (r *Report) Merge(other Report) { r.Findings = append(r.Findings, other.Findings...) }

// Count returns the number of findings at level l.
func (r Report) Count(l Level) int {
	n := 0
	for _, f := range r.Findings {
		if f.Level == l {
			n++
		}
	}
	return n
}

// Ready says no finding is an error (warnings alone are ready).
func (r Report) Ready() bool { return r.Count(Error) == 0 }

// Fatal returns the findings that make serve refuse to start.
func (r Report) Fatal() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Fatal {
			out = append(out, f)
		}
	}
	return out
}

// Sorted returns the findings by section, in the order they were found
// within one.
func (r Report) Sorted() []Finding {
	out := append([]Finding(nil), r.Findings...)
	sort.SliceStable(out, func(i, j int) bool { return sectionOrder[out[i].Section] < sectionOrder[out[j].Section] })
	return out
}

// Summary is the report's last line.
func (r Report) Summary() string {
	state := "ready"
	if !r.Ready() {
		state = "not ready"
	}
	return fmt.Sprintf("%s: %d errors, %d warnings, %d checks passed", state, r.Count(Error), r.Count(Warn), r.Count(OK))
}

// Write prints the report as text (one line per finding, then the summary)
// or, with format "json", as one JSON object.
func (r Report) Write(w io.Writer, format string) error {
	if strings.EqualFold(format, "json") {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Ready    bool      `json:"ready"`
			Errors   int       `json:"errors"`
			Warnings int       `json:"warnings"`
			Findings []Finding `json:"findings"`
		}{r.Ready(), r.Count(Error), r.Count(Warn), r.Sorted()})
	}
	for _, f := range r.Sorted() {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}
