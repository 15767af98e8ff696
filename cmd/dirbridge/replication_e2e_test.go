package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
)

// try is do for worker goroutines: it returns transport errors instead of
// failing the test from a goroutine.
func (g *gateway) try(method, path string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.base+path, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Authorization", g.auth)
	req.Header.Set("Accept", "application/scim+json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r, nil
}

var serverIndexRE = regexp.MustCompile(`(?m)^dirbridge_ldap_server_index (\d+)`)

// serverIndex is the position in ldap.urls of the server the gateway uses,
// from its /metrics; -1 when it cannot be read.
func (g *gateway) serverIndex() int {
	resp, err := client.Get(g.base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := serverIndexRE.FindSubmatch(b)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// startReplicatedGateway runs the binary on the shipped OpenLDAP example
// with both providers in ldap.urls, in the same order for every gateway.
func startReplicatedGateway(t *testing.T, r *testenv.Replicated, token string) *gateway {
	t.Helper()
	p := r.Providers[0]
	gw := startGateway(t, []string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_NAME=Authorization",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=" + token,
		"DIRBRIDGE_LDAP_URLS=" + r.URLs(),
		"DIRBRIDGE_LDAP_BIND_DN=" + p.AdminDN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + p.AdminPassword,
		"DIRBRIDGE_LDAP_BASE_DN=" + p.BaseDN,
		// Short, so that the fail-back is seen within the test.
		"DIRBRIDGE_LDAP_FAILBACK_DELAY=2s",
	}, "serve", "--config", "../../conf/examples/openldap.toml")
	gw.auth = token
	return gw
}

// TestReplicationFailover: two gateways in front of two OpenLDAP providers
// in multi-provider replication, both listing the providers in the same
// order. Uniqueness holds across gateways; killing the first provider
// (-9) under a create-then-read load makes both fail over with only 503s
// for what was in flight, a read right after a 201 is never a 404; after
// the provider returns and replication catches up every acknowledged user
// is on both providers with the id the client was given, and both gateways
// are back on the first provider.
func TestReplicationFailover(t *testing.T) {
	r, err := testenv.StartReplicatedOpenLDAP(t, 2, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := r.Providers[0], r.Providers[1]
	token := "Bearer " + randHex(16)
	gws := []*gateway{startReplicatedGateway(t, r, token), startReplicatedGateway(t, r, token)}

	// 1. The same userNames from both gateways at once: one 201 each.
	tag := randHex(3)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := map[string]int{}
	for i := 0; i < 12; i++ {
		un := fmt.Sprintf("race.%s.%d", tag, i)
		for k := 0; k < 4; k++ {
			wg.Add(1)
			go func(g *gateway) {
				defer wg.Done()
				res, err := g.try("POST", "/v2/Users", oktaUser(un, "R", "Ace", "Pw-"+randHex(4)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("race %s: %v", un, err)
				case res.Status == 201:
					wins[un]++
				case res.Status != 409:
					t.Errorf("race %s: status %d: %s", un, res.Status, res.Raw)
				}
			}(gws[k%2])
		}
	}
	wg.Wait()
	for i := 0; i < 12; i++ {
		if un := fmt.Sprintf("race.%s.%d", tag, i); wins[un] != 1 {
			t.Errorf("%s: %d creates succeeded across two gateways, want exactly 1", un, wins[un])
		}
	}

	// 2. Create-then-read through both gateways while provider 1 is killed
	// and restarted.
	type acked struct{ userName, id string }
	var (
		ackedUsers []acked
		okAfter    [2]atomic.Int64 // 201s per gateway after the kill
		firstOK    [2]atomic.Int64 // ns from the kill to a gateway's first 201 after it
		killedAt   atomic.Int64    // unix ns, 0 before the kill
		statuses   sync.Map        // "POST 503" -> *atomic.Int64
		stop       = make(chan struct{})
	)
	count := func(k string) {
		v, _ := statuses.LoadOrStore(k, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	check503 := func(what string, res response) {
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", what)
		}
	}
	// Bounded (at most 8,000 creates), and large enough that the phases
	// below end it: at 2,000 the load ran out before the fail-back once
	// the gateway got faster (stop 23, under -race).
	const workers, perWorker = 8, 1000
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			gi := w % 2
			g := gws[gi]
			for i := 0; i < perWorker; i++ {
				select {
				case <-stop:
					return
				default:
				}
				un := fmt.Sprintf("load.%s.%d.%d", tag, w, i)
				res, err := g.try("POST", "/v2/Users", oktaUser(un, "L", "Oad", "Pw-"+randHex(6)))
				if err != nil {
					t.Errorf("POST %s: %v", un, err)
					return
				}
				count(fmt.Sprintf("POST %d", res.Status))
				switch res.Status {
				case 201:
				case 503:
					check503("POST", res)
					continue
				default:
					t.Errorf("POST %s: status %d: %s", un, res.Status, res.Raw)
					continue
				}
				id := res.str("id")
				mu.Lock()
				ackedUsers = append(ackedUsers, acked{un, id})
				mu.Unlock()
				if k := killedAt.Load(); k != 0 {
					if okAfter[gi].Add(1) == 1 {
						firstOK[gi].Store(time.Now().UnixNano() - k)
					}
				}
				// Okta reads what it created at once.
				got, err := g.try("GET", "/v2/Users/"+id, nil)
				if err != nil {
					t.Errorf("GET %s: %v", un, err)
					return
				}
				count(fmt.Sprintf("GET %d", got.Status))
				switch got.Status {
				case 200:
					if got.str("userName") != un {
						t.Errorf("GET %s after 201: userName %q", un, got.str("userName"))
					}
				case 503:
					check503("GET", got)
				default:
					t.Errorf("GET %s right after its 201: status %d (a read went to a replica without the write?): %s", un, got.Status, got.Raw)
				}
			}
		}(w)
	}
	acks := func() int { mu.Lock(); defer mu.Unlock(); return len(ackedUsers) }
	// Paced by progress, not by sleeps: the kill once the load runs, the
	// restart once both gateways have served creates on provider 2.
	waitUntil := func(what string, d time.Duration, cond func() bool) bool {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Errorf("%s: not within %v", what, d)
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}
	waitUntil("load started", 30*time.Second, func() bool { return acks() >= 40 })
	t0 := time.Now()
	if err := p1.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt.Store(t0.UnixNano())
	waitUntil("both gateways failed over", 30*time.Second, func() bool { return okAfter[0].Load() >= 5 && okAfter[1].Load() >= 5 })
	for gi := range gws {
		t.Logf("gateway %d: first 201 %v after provider 1 was killed; on server %d", gi, time.Duration(firstOK[gi].Load()), gws[gi].serverIndex())
	}
	if err := p1.Restart(); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	back := waitUntil("both gateways back on provider 1", 45*time.Second, func() bool {
		return gws[0].serverIndex() == 0 && gws[1].serverIndex() == 0
	})
	if back {
		t.Logf("both gateways back on provider 1 %v after its restart", time.Since(t1))
	}
	n := acks()
	waitUntil("creates after the fail-back", 30*time.Second, func() bool { return acks() >= n+20 })
	close(stop)
	wg.Wait()
	statuses.Range(func(k, v any) bool { t.Logf("%s: %d", k, v.(*atomic.Int64).Load()); return true })
	t.Logf("load: %d acknowledged creates in %v", acks(), time.Since(t0))

	// 3. Nothing acknowledged is lost: once the providers are in sync,
	// every acknowledged user is on both, with the id its client got.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*testenv.OpenLDAP{p1, p2} {
		ids := map[string]string{}
		for _, e := range ldapSearch(t, p.URL, p.AdminDN, p.AdminPassword, p.PeopleDN, "(uid=load."+tag+".*)", "uid", "entryUUID") {
			ids[e.first("uid")] = e.first("entryUUID")
		}
		lost := 0
		for _, a := range ackedUsers {
			if ids[a.userName] != a.id {
				lost++
				if lost <= 5 {
					t.Errorf("%s: acknowledged user %s (id %s) holds id %q", p.URL, a.userName, a.id, ids[a.userName])
				}
			}
		}
		if lost > 0 {
			t.Errorf("%s: %d of %d acknowledged users missing or changed", p.URL, lost, len(ackedUsers))
		}
	}
}
