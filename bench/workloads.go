package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// latencies is a set of measured durations.
type latencies []time.Duration

func (l latencies) pct(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(q*float64(len(s)-1) + 0.5)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// opStats is what a fixed number of operations at one concurrency gave.
type opStats struct {
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	CPUPerOp   *cpuUse `json:"cpu_per_op,omitempty"`
}

// runOps runs fn(i) for i in [0, n) on conc workers and times each call.
func runOps(ctx context.Context, m *cpuMeter, conc, n int, fn func(worker, i int) error) opStats {
	lat := make(latencies, n)
	before := m.snap()
	var next atomic.Int64
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				err := fn(w, i)
				lat[i] = time.Since(t)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	st := opStats{Ops: n, Errors: int(errs.Load()), Seconds: el.Seconds(), OpsPerSec: float64(n) / el.Seconds(),
		P50ms: ms(lat.pct(0.5)), P99ms: ms(lat.pct(0.99))}
	if s, ok := firstErr.Load().(string); ok {
		st.FirstError = s
	}
	if u := m.since(before); u != nil {
		per := u.perOp(n)
		st.CPUPerOp = &per
	}
	return st
}

// scimClient talks to the gateway.
type scimClient struct {
	base, auth string
	hc         *http.Client
}

func newSCIMClient(g *gateway) *scimClient { return newHTTPClient(g.base, g.auth) }

// newHTTPClient keeps a connection per worker, as an identity provider
// does, for the gateway and the relay alike.
func newHTTPClient(base, auth string) *scimClient {
	tr := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute}
	return &scimClient{base: base, auth: auth, hc: &http.Client{Transport: tr, Timeout: 5 * time.Minute}}
}

// do sends one request and returns the status and body.
func (c *scimClient) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", c.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// expect fails unless the request answered want.
func (c *scimClient) expect(ctx context.Context, want int, method, path string, body any) ([]byte, error) {
	st, b, err := c.do(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if st != want {
		if len(b) > 300 {
			b = b[:300]
		}
		return nil, fmt.Errorf("%s %s: status %d, want %d: %s", method, path, st, want, b)
	}
	return b, nil
}

type listResponse struct {
	TotalResults int               `json:"totalResults"`
	Resources    []json.RawMessage `json:"Resources"`
}

// importStats is one walk over all users in pages.
type importStats struct {
	Pages        int     `json:"pages"`
	Entries      int     `json:"entries"`
	Total        int     `json:"total"`
	Complete     bool    `json:"complete"`
	Seconds      float64 `json:"seconds"`
	EntriesPerS  float64 `json:"entries_per_sec"`
	WalkFirstMs  float64 `json:"walk_first_pages_p50_ms"` // p50 of the walk's first 5 pages
	WalkLastMs   float64 `json:"walk_last_pages_p50_ms"`  // p50 of the walk's last 5 pages
	FirstPageMs  float64 `json:"first_page_p50_ms,omitempty"`
	LastPageMs   float64 `json:"last_page_p50_ms,omitempty"`
	CPUPerPage   *cpuUse `json:"cpu_per_page,omitempty"`
	PeakRSSBytes int64   `json:"peak_rss_bytes,omitempty"` // VmHWM of the gateway
	MaxRSSBytes  int64   `json:"max_sampled_rss_bytes,omitempty"`
}

func (s *importStats) finish(el time.Duration, pages latencies) {
	s.Seconds = el.Seconds()
	s.EntriesPerS = float64(s.Entries) / el.Seconds()
	k := min(5, len(pages))
	s.WalkFirstMs = ms(pages[:k].pct(0.5))
	s.WalkLastMs = ms(pages[len(pages)-k:].pct(0.5))
}

// scimImport walks path ("/v2/Users") with startIndex and count, as Okta's
// import does, until every entry was read or budget ran out.
func (c *scimClient) scimImport(ctx context.Context, path string, pageSize int, budget time.Duration) (importStats, error) {
	var s importStats
	var pages latencies
	start := time.Now()
	for {
		t := time.Now()
		b, err := c.expect(ctx, http.StatusOK, http.MethodGet, fmt.Sprintf("%s?startIndex=%d&count=%d", path, s.Entries+1, pageSize), nil)
		if err != nil {
			return s, err
		}
		var lr listResponse
		if err := json.Unmarshal(b, &lr); err != nil {
			return s, fmt.Errorf("page %d: %w", s.Pages+1, err)
		}
		pages = append(pages, time.Since(t))
		s.Pages++
		s.Entries += len(lr.Resources)
		s.Total = lr.TotalResults
		if len(lr.Resources) == 0 || s.Entries >= lr.TotalResults {
			s.Complete = s.Entries == lr.TotalResults
			break
		}
		if time.Since(start) > budget {
			break
		}
	}
	s.finish(time.Since(start), pages)
	return s, nil
}

// firstLast measures the first and the last page of path, alternately, reps
// times each: the offset-independence the README promises.
func (c *scimClient) firstLast(ctx context.Context, path string, total, pageSize, reps int) (first, last latencies, err error) {
	lastStart := max(1, total-pageSize+1)
	for range reps {
		for _, si := range []int{1, lastStart} {
			t := time.Now()
			b, err := c.expect(ctx, http.StatusOK, http.MethodGet, fmt.Sprintf("%s?startIndex=%d&count=%d", path, si, pageSize), nil)
			if err != nil {
				return nil, nil, err
			}
			d := time.Since(t)
			var lr listResponse
			if err := json.Unmarshal(b, &lr); err != nil {
				return nil, nil, err
			}
			if len(lr.Resources) == 0 {
				return nil, nil, fmt.Errorf("%s: empty page at startIndex %d", path, si)
			}
			if si == 1 {
				first = append(first, d)
			} else {
				last = append(last, d)
			}
		}
	}
	return first, last, nil
}

// userAttrs is what the gateway asks the directory for on a user list: the
// users table's attributes and the operational ones of the OpenLDAP
// dialect. The raw side asks for all user attributes and those.
var userAttrs = []string{"*", "entryUUID", "createTimestamp", "modifyTimestamp", "entryCSN", "pwdAccountLockedTime"}

const userFilter = "(&(objectClass=person)(objectClass=organizationalPerson)(objectClass=inetOrgPerson))"

// rawImport reads the same entries with a Simple Paged Results search of
// the same page size: what a program reading the directory directly does.
func rawImport(ctx context.Context, l *ldap.Conn, d benchDir, pageSize int) (importStats, error) {
	var s importStats
	var pages latencies
	req := ldap.NewSearchRequest(d.people(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, d.userFilter(), d.userAttrs(), nil)
	paging := ldap.NewControlPaging(uint32(pageSize))
	start := time.Now()
	for ctx.Err() == nil {
		req.Controls = []ldap.Control{paging}
		t := time.Now()
		res, err := l.Search(req)
		if err != nil {
			return s, err
		}
		pages = append(pages, time.Since(t))
		s.Pages++
		s.Entries += len(res.Entries)
		pr, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(pr.Cookie) == 0 {
			break
		}
		paging.SetCookie(pr.Cookie)
	}
	s.Total, s.Complete = s.Entries, ctx.Err() == nil
	s.finish(time.Since(start), pages)
	return s, ctx.Err()
}

// lookupStats compares single-user lookups.
type lookupStats struct {
	SCIM opStats `json:"scim"`
	Raw  opStats `json:"raw"`
	// Floor is GET /v2/ServiceProviderConfig, a static answer through the
	// same server, authentication and encoding: the part of a lookup's
	// latency that is HTTP and not the directory or the mapping.
	Floor opStats `json:"http_floor"`
}

func lookups(ctx context.Context, m *cpuMeter, c *scimClient, p *rawPool, d benchDir, n, count int) lookupStats {
	r := rand.New(rand.NewPCG(1, 2))
	uids := make([]string, count)
	for i := range uids {
		uids[i] = seedUID(r.IntN(n))
	}
	warm := min(20, count)
	scimOne := func(_, i int) error {
		q := url.Values{"filter": {fmt.Sprintf("userName eq %q", d.userName(uids[i]))}}
		b, err := c.expect(ctx, http.StatusOK, http.MethodGet, "/v2/Users?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		var lr listResponse
		if err := json.Unmarshal(b, &lr); err != nil {
			return err
		}
		if lr.TotalResults != 1 {
			return fmt.Errorf("%s: %d results", uids[i], lr.TotalResults)
		}
		return nil
	}
	l := p.get()
	defer p.put(l)
	rawOne := func(_, i int) error {
		res, err := l.Search(ldap.NewSearchRequest(d.people(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			d.lookupFilter(uids[i]), d.userAttrs(), nil))
		if err == nil && len(res.Entries) != 1 {
			err = fmt.Errorf("%s: %d entries", uids[i], len(res.Entries))
		}
		return err
	}
	runOps(ctx, nil, 1, warm, scimOne)
	runOps(ctx, nil, 1, warm, rawOne)
	floorOne := func(_, _ int) error {
		_, err := c.expect(ctx, http.StatusOK, http.MethodGet, "/v2/ServiceProviderConfig", nil)
		return err
	}
	runOps(ctx, nil, 1, warm, floorOne)
	return lookupStats{SCIM: runOps(ctx, m, 1, count, scimOne), Raw: runOps(ctx, m, 1, count, rawOne), Floor: runOps(ctx, m, 1, count, floorOne)}
}

// writeStats is one write workload at one concurrency.
type writeStats struct {
	Workload    string  `json:"workload"`
	Concurrency int     `json:"concurrency"`
	SCIM        opStats `json:"scim"`
	Raw         opStats `json:"raw"`
	// Relay is the same modify as Raw sent through bench/relay (PATCH
	// only): what an HTTP hop alone costs on this machine.
	Relay *opStats `json:"relay,omitempty"`
}

// writeSets is how many sets of distinct users each concurrency level of
// each run writes: PUT and PATCH for SCIM and for raw, and the relay's.
const writeSets = 5

const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	patchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

func userBody(d benchDir, uid string, i int, title string) map[string]any {
	b := map[string]any{
		"schemas":  []string{userSchema},
		"userName": d.userName(uid),
		"name":     map[string]any{"givenName": fmt.Sprintf("Given%d", i), "familyName": fmt.Sprintf("Family%d", i)},
		"emails":   []any{map[string]any{"value": uid + "@example.com", "type": "work", "primary": true}},
		"active":   true,
	}
	if title != "" {
		b["title"] = title
	}
	return b
}
