package preflight

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// Readiness is /readyz: the directory answers and the service bind works
// (Ping), and every required container (the users and groups containers)
// exists. The container check is cached for ttl: /readyz is polled, and a
// container created by hand makes the gateway ready within ttl, without a
// restart.
type Readiness struct {
	ping       func(ctx context.Context) error
	exists     func(ctx context.Context, dn string) error
	containers []named
	ttl        time.Duration
	now        func() time.Time

	mu      sync.Mutex
	checked time.Time
	last    error
	reason  string // what Detail shows: why the last Ready failed
}

type named struct{ role, dn string }

// NewReadiness returns the check of /readyz for the tables' containers.
// exists reports a missing entry as a bridge.Error of KindNotFound.
func NewReadiness(ping func(ctx context.Context) error, exists func(ctx context.Context, dn string) error,
	t Tables, ttl time.Duration, now func() time.Time) *Readiness {
	r := &Readiness{ping: ping, exists: exists, ttl: ttl, now: now}
	if t.Users != nil {
		r.containers = append(r.containers, named{"users", t.Users.Container()})
	}
	if t.Groups != nil && !strings.EqualFold(t.Groups.Container(), t.Users.Container()) {
		r.containers = append(r.containers, named{"groups", t.Groups.Container()})
	}
	return r
}

// Ready implements scimside.Services.Ready. Its error's safe message is
// the reason /readyz gives.
func (r *Readiness) Ready(ctx context.Context) error {
	err := r.ready(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reason = ""
	var nr *notReady
	switch {
	case errors.As(err, &nr):
		r.reason = nr.reason
	case err != nil:
		r.reason = "the directory does not answer, or refuses the service account"
	}
	return err
}

// notReady carries, beside the logged error that names the DN, the
// reason /readyz shows to anyone who can reach it: the container's role,
// not its DN.
type notReady struct {
	reason string
	err    error
}

func (e *notReady) Error() string { return e.err.Error() }
func (e *notReady) Unwrap() error { return e.err }

// Detail is the reason the last Ready failed, for /readyz's body. The
// endpoint needs no credentials, so it says which container, not where:
// the log line of the same request has the DN.
func (r *Readiness) Detail() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reason == "" {
		return nil
	}
	return []string{"reason: " + r.reason}
}

func (r *Readiness) ready(ctx context.Context) error {
	const op = "preflight.(*Readiness).Ready"
	if err := r.ping(ctx); err != nil {
		return bridge.Wrap(op, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.checked.IsZero() && r.now().Sub(r.checked) < r.ttl {
		return r.last
	}
	for _, c := range r.containers {
		err := r.exists(ctx, c.dn)
		if err == nil {
			continue
		}
		if bridge.KindOf(err) != bridge.KindNotFound {
			// Not an answer about the container (the directory went away,
			// the account lost read access): not cached.
			return bridge.E(op, bridge.KindUnavailable, "the "+c.role+" container "+c.dn+" cannot be read",
				&notReady{reason: "the " + c.role + " container cannot be read (the log names it)", err: err})
		}
		r.checked, r.last = r.now(), bridge.E(op, bridge.KindUnavailable, "the "+c.role+" container "+c.dn+" does not exist",
			&notReady{reason: "the " + c.role + " container does not exist (the log names it)", err: err})
		return r.last
	}
	r.checked, r.last = r.now(), nil
	return nil
}
