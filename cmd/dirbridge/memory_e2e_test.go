package main

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"testing"
)

var memLimitRE = regexp.MustCompile(`(?m)^go_gc_gomemlimit_bytes (\S+)$`)

// TestMemoryLimit: the gateway sets a soft memory limit that follows
// users.entry_cache (so that RSS stays flat in N without starving a large
// cache), and GOMEMLIMIT in the environment decides over it. Read from the
// runtime itself, through /metrics.
func TestMemoryLimit(t *testing.T) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		t.Skip("GOMEMLIMIT is set in the test's environment")
	}
	for _, tc := range []struct {
		name string
		env  []string
		want int64
	}{
		{"defaults", nil, 32<<20 + 5000*2048 + 250000*64},
		{"entry cache off", []string{"DIRBRIDGE_USERS_ENTRY_CACHE=0"}, 32<<20 + 250000*64},
		{"both off", []string{"DIRBRIDGE_USERS_ENTRY_CACHE=0", "DIRBRIDGE_USERS_DN_INDEX=0"}, 32 << 20},
		{"large entry cache", []string{"DIRBRIDGE_USERS_ENTRY_CACHE=100000", "DIRBRIDGE_USERS_DN_INDEX=0"}, 32<<20 + 100000*2048},
		{"GOMEMLIMIT", []string{"GOMEMLIMIT=300MiB"}, 300 << 20},
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
			m := memLimitRE.FindStringSubmatch(string(body))
			if m == nil {
				t.Fatalf("no go_gc_gomemlimit_bytes in /metrics")
			}
			got, err := strconv.ParseFloat(m[1], 64)
			if err != nil || int64(got) != tc.want {
				t.Errorf("memory limit %s, want %d", m[1], tc.want)
			}
		})
	}
}
