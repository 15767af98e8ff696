package bridge

import (
	"context"
	"time"
)

// Journal is a durable record of the writes in flight that take more than
// one directory operation (a rename and a modify, an AD account's add and
// its password, a leaver's group removals and its move). The package that
// runs the steps records its intent before the first step and each step as
// it is done; when a step fails for a transient reason or the process dies,
// the intent stays pending and a recovery handler for its Kind finishes or
// reverses it once the directory is back, so that a request takes full
// effect or none, also under faults.
type Journal interface {
	// Begin records it durably (synced to disk) and returns its token.
	Begin(ctx context.Context, it Intent) (string, error)
	// Step records, durably, that step of token's intent is done.
	Step(token, step string) error
	// End forgets the intent: it is done or undone.
	End(token string) error
	// Release hands a pending intent to recovery: its request has given up
	// on it (the directory went away). Until End or Release, an intent is
	// its request's, and recovery leaves it alone.
	Release(token string)
	// Handle registers the recovery of kind: h finishes or reverses a
	// pending intent and returns nil once it is settled, or an error to be
	// tried again later (the directory is still away).
	Handle(kind string, h func(ctx context.Context, it Intent) error)
}

// Intent is one multi-step write as its owner recorded it.
type Intent struct {
	Token   string
	Kind    string    // which recovery handler owns it: "ldapside.rename"
	ID      string    // the resource it writes, for operators
	Data    []byte    // the owner's own record; never a password
	Steps   []string  // the steps done, in order
	Started time.Time // when Begin recorded it
}

// Done reports whether step was recorded.
func (it Intent) Done(step string) bool {
	for _, s := range it.Steps {
		if s == step {
			return true
		}
	}
	return false
}
