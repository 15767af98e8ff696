package main

import (
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"testing"
)

var (
	memLimitRE = regexp.MustCompile(`(?m)^go_gc_gomemlimit_bytes (\S+)$`)
	gogcRE     = regexp.MustCompile(`(?m)^go_gc_gogc_percent (\S+)$`)
)

// TestMemoryLimit: the gateway runs in a memory budget that follows
// users.entry_cache and users.dn_index (so that RSS stays flat in N without
// starving a large cache) and collects only at it (GOGC off); GOMEMLIMIT
// and GOGC in the environment decide over each half, and without any limit
// (GOMEMLIMIT=off) the collector keeps a target of its own. Read from the
// runtime itself, through /metrics.
func TestMemoryLimit(t *testing.T) {
	for _, v := range []string{"GOMEMLIMIT", "GOGC"} {
		if _, set := os.LookupEnv(v); set {
			t.Skipf("%s is set in the test's environment", v)
		}
	}
	const noLimit = math.MaxInt64
	for _, tc := range []struct {
		name      string
		env       []string
		wantLimit int64
		wantGOGC  int64
	}{
		{"defaults", nil, 24<<20 + 5000*1280 + 250000*52, -1},
		{"entry cache off", []string{"DIRBRIDGE_USERS_ENTRY_CACHE=0"}, 24<<20 + 250000*52, -1},
		{"both off", []string{"DIRBRIDGE_USERS_ENTRY_CACHE=0", "DIRBRIDGE_USERS_DN_INDEX=0"}, 24 << 20, -1},
		{"large entry cache", []string{"DIRBRIDGE_USERS_ENTRY_CACHE=100000", "DIRBRIDGE_USERS_DN_INDEX=0"}, 24<<20 + 100000*1280, -1},
		{"GOMEMLIMIT", []string{"GOMEMLIMIT=300MiB"}, 300 << 20, -1},
		{"GOMEMLIMIT off", []string{"GOMEMLIMIT=off"}, noLimit, gcPercent},
		{"GOGC", []string{"GOGC=150"}, 24<<20 + 5000*1280 + 250000*52, 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startWithOpenLDAP(t, tc.env...).gw
			req, _ := http.NewRequest("GET", g.base+"/metrics", nil)
			req.Header.Set("Authorization", g.auth)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			for _, m := range []struct {
				re   *regexp.Regexp
				want int64
			}{{memLimitRE, tc.wantLimit}, {gogcRE, tc.wantGOGC}} {
				sub := m.re.FindStringSubmatch(string(body))
				if sub == nil {
					t.Fatalf("no %s in /metrics", m.re)
				}
				got, err := strconv.ParseFloat(sub[1], 64)
				want := float64(m.want)
				if m.want == -1 {
					want = math.MaxUint64 // runtime/metrics' /gc/gogc:percent when off
				}
				if err != nil || got != want {
					t.Errorf("%s: %s, want %d", m.re, sub[1], m.want)
				}
			}
		})
	}
}
