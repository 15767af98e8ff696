package ldapside

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv"
)

// poolURLs lists the servers of the pool's idle connections.
func poolURLs(c *Conn) []string {
	c.pool.mu.Lock()
	defer c.pool.mu.Unlock()
	var out []string
	for _, pc := range c.pool.idle {
		out = append(out, pc.url)
	}
	return out
}

// fillPool makes n concurrent lookups so that the pool holds n connections.
func fillPool(t *testing.T, c *Conn, n int) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_ = c.with(tctx(t), nil, func(pc *pconn) error {
				time.Sleep(20 * time.Millisecond) // hold it, so that the others dial
				return nil
			})
		}()
	}
	close(start)
	wg.Wait()
}

// waitFor polls cond until it holds or the (generous) deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > d {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(t0)
}

func allOn(urls []string, want string) bool {
	for _, u := range urls {
		if u != want {
			return false
		}
	}
	return len(urls) > 0
}

// TestOneServerAtATime: with two replicated providers, every connection
// goes to the first; when it is killed, all go to the second; when it is
// back and caught up, all come back to the first, none is left behind.
func TestOneServerAtATime(t *testing.T) {
	r, err := testenv.StartReplicatedOpenLDAP(t, 2, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := r.Providers[0], r.Providers[1]
	oldProbe := probeInterval
	probeInterval = 100 * time.Millisecond
	t.Cleanup(func() { probeInterval = oldProbe })
	c, err := Open(Config{URLs: []string{p1.URL, p2.URL}, BindDN: p1.AdminDN, BindPassword: p1.AdminPassword,
		BaseDN: p1.BaseDN, PoolSize: 4, FailbackDelay: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	fillPool(t, c, 4)
	if got := poolURLs(c); len(got) != 4 || !allOn(got, p1.URL) {
		t.Fatalf("pool on %q, want 4 connections to %s", got, p1.URL)
	}
	before := addPerson(t, c, p1.PeopleDN, "before.kill", "", false)

	if err := p1.Kill(); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "failover", 30*time.Second, func() bool { return c.Ping(tctx(t)) == nil })
	t.Logf("failover after the kill: %v", took)
	fillPool(t, c, 4)
	if got := poolURLs(c); !allOn(got, p2.URL) || c.PoolStats().Server != 1 {
		t.Fatalf("after the kill the pool is on %q (server %d), want only %s", got, c.PoolStats().Server, p2.URL)
	}
	during := addPerson(t, c, p2.PeopleDN, "during.outage", "", false)

	if err := p1.Restart(); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, "fail-back", 60*time.Second, func() bool { return c.PoolStats().Server == 0 })
	t.Logf("fail-back after the restart: %v", took)
	fillPool(t, c, 4)
	if got := poolURLs(c); !allOn(got, p1.URL) {
		t.Fatalf("after fail-back the pool is on %q, want only %s", got, p1.URL)
	}
	// Failing back waited for the provider to catch up: what was written
	// during the outage is there.
	for _, e := range []*bridge.Entry{before, during} {
		if _, err := c.Get(tctx(t), "", e.ID, nil); err != nil {
			t.Errorf("Get(%s) after fail-back: %v", e.DN, err)
		}
	}
	if n := c.PoolStats().Switches; n != 2 {
		t.Errorf("%d server switches, want 2 (failover, fail-back)", n)
	}
}

// TestNoNotFoundFromALaggingReplica: an entry acknowledged by one provider
// that the other has not received is never "not found" through the
// gateway: the lookup says unavailable (503) until the entry has arrived.
func TestNoNotFoundFromALaggingReplica(t *testing.T) {
	r, err := testenv.StartReplicatedOpenLDAP(t, 2, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := r.Providers[0], r.Providers[1]
	oldWait := rywWait
	rywWait = 500 * time.Millisecond
	t.Cleanup(func() { rywWait = oldWait })
	c, err := Open(Config{URLs: []string{p1.URL, p2.URL}, BindDN: p1.AdminDN, BindPassword: p1.AdminPassword,
		BaseDN: p1.BaseDN, PoolSize: 2, FailbackDelay: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// p2 down while p1 acknowledges the add: p2 cannot have it.
	if err := p2.Kill(); err != nil {
		t.Fatal(err)
	}
	e := addPerson(t, c, p1.PeopleDN, "only.on.p1", "", false)
	if err := p1.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p2.Restart(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(tctx(t), "", e.ID, nil)
	if bridge.KindOf(err) != bridge.KindUnavailable {
		t.Fatalf("Get on the replica that lacks the entry: %v, want KindUnavailable (never not found)", err)
	}
	if c.PoolStats().Server != 1 {
		t.Fatalf("the gateway is not on p2")
	}
	// What the replica holds is still read from it, and an id that no
	// server ever had stays not found once the replica has everything.
	if _, err := c.Get(tctx(t), "", "00000000-0000-4000-8000-000000000000", nil); bridge.KindOf(err) != bridge.KindUnavailable {
		t.Errorf("unknown id while the replica lags: %v, want KindUnavailable", err)
	}
	if err := p1.Restart(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.WaitInSync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(tctx(t), "", e.ID, nil); err != nil {
		t.Errorf("Get after replication caught up: %v", err)
	}
	if _, err := c.Get(tctx(t), "", "00000000-0000-4000-8000-000000000000", nil); bridge.KindOf(err) != bridge.KindNotFound {
		t.Errorf("unknown id once in sync: %v, want KindNotFound", err)
	}
}
