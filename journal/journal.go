// Package journal owns the gateway's durable record of multi-step writes
// (bridge.Journal) in a bbolt file in the data directory, and the recovery
// loop that hands each pending intent to the handler of its kind at start-up
// and then in the background until none is left.
package journal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	bolt "go.etcd.io/bbolt"

	"github.com/dirbridge/dirbridge/bridge"
)

var bucket = []byte("intents")

// Store is a bridge.Journal in a bbolt file. Every Begin, Step and End is a
// committed bbolt transaction, which bbolt fsyncs before it returns.
type Store struct {
	db       *bolt.DB
	now      func() time.Time
	interval time.Duration // of Run's retries

	mu       sync.Mutex
	inFlight map[string]bool // begun here and still their request's
	handlers map[string]Handler
	stats    map[string]int // "kind|outcome" → count
	log      hclog.Logger
}

var _ bridge.Journal = (*Store)(nil)

// Handler finishes or reverses one pending intent. It returns nil when the
// intent is settled (done or undone) and an error when it must be tried
// again later (the directory is still away).
type Handler = func(ctx context.Context, it bridge.Intent) error

// Open opens (creating) the journal at path; Run retries pending intents
// every interval (default 5s).
func Open(path string, log hclog.Logger, now func() time.Time, interval time.Duration) (*Store, error) {
	const op = "journal.Open"
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, bridge.E(op, bridge.KindInternal, "", fmt.Errorf("the journal %s cannot be opened: %w", path, err))
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		db.Close()
		return nil, bridge.E(op, bridge.KindInternal, "", err)
	}
	if now == nil {
		now = time.Now
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	return &Store{db: db, now: now, interval: interval, inFlight: map[string]bool{}, handlers: map[string]Handler{}, stats: map[string]int{}, log: log}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Begin implements bridge.Journal.
func (s *Store) Begin(ctx context.Context, it bridge.Intent) (string, error) {
	const op = "journal.(*Store).Begin"
	if err := ctx.Err(); err != nil {
		return "", bridge.E(op, bridge.KindUnavailable, "", err)
	}
	b := make([]byte, 12)
	rand.Read(b)
	// Tokens sort by time, so that recovery takes intents in their order.
	it.Started = s.now().UTC()
	it.Token = it.Started.Format("20060102T150405.000000000") + "-" + hex.EncodeToString(b)
	it.Steps = nil
	s.mu.Lock()
	s.inFlight[it.Token] = true
	s.mu.Unlock()
	if err := s.put(it); err != nil {
		s.Release(it.Token)
		return "", bridge.E(op, bridge.KindInternal, "", err)
	}
	return it.Token, nil
}

// Release implements bridge.Journal.
func (s *Store) Release(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inFlight, token)
}

// Step implements bridge.Journal.
func (s *Store) Step(token, step string) error {
	const op = "journal.(*Store).Step"
	err := s.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		raw := bk.Get([]byte(token))
		if raw == nil {
			return fmt.Errorf("no intent %s", token)
		}
		var it bridge.Intent
		if err := json.Unmarshal(raw, &it); err != nil {
			return err
		}
		it.Steps = append(it.Steps, step)
		out, err := json.Marshal(it)
		if err != nil {
			return err
		}
		return bk.Put([]byte(token), out)
	})
	if err != nil {
		return bridge.E(op, bridge.KindInternal, "", err)
	}
	return nil
}

// End implements bridge.Journal.
func (s *Store) End(token string) error {
	const op = "journal.(*Store).End"
	defer s.Release(token)
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(token)) }); err != nil {
		return bridge.E(op, bridge.KindInternal, "", err)
	}
	return nil
}

func (s *Store) put(it bridge.Intent) error {
	out, err := json.Marshal(it)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(it.Token), out) })
}

// Pending lists the intents not ended, oldest first.
func (s *Store) Pending() ([]bridge.Intent, error) {
	var out []bridge.Intent
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			var it bridge.Intent
			if err := json.Unmarshal(v, &it); err != nil {
				return err
			}
			out = append(out, it)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Token < out[j].Token })
	return out, err
}

// Handle registers the recovery handler of kind.
func (s *Store) Handle(kind string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[kind] = h
}

// RecoverOnce hands every pending intent to its handler and returns how
// many are still pending.
func (s *Store) RecoverOnce(ctx context.Context) (int, error) {
	pending, err := s.Pending()
	if err != nil {
		return 0, err
	}
	left := 0
	for _, it := range pending {
		s.mu.Lock()
		h, busy := s.handlers[it.Kind], s.inFlight[it.Token]
		s.mu.Unlock()
		if busy {
			// Its request is still running (and may still finish it).
			left++
			continue
		}
		if h == nil {
			// A kind nobody handles (a journal from another version):
			// keep it, visible to the operator, rather than guess.
			left++
			continue
		}
		if err := h(ctx, it); err != nil {
			left++
			s.count(it.Kind, "retry")
			s.log.Warn("a write interrupted earlier is still not settled; will try again", "kind", it.Kind, "id", it.ID,
				"started", it.Started, "steps_done", it.Steps, "error", err)
			continue
		}
		if err := s.End(it.Token); err != nil {
			return left + 1, err
		}
		s.count(it.Kind, "settled")
		s.log.Info("recovered a write interrupted earlier", "kind", it.Kind, "id", it.ID, "started", it.Started, "steps_done", it.Steps)
	}
	return left, nil
}

// Run recovers at once and then every interval until ctx ends.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if _, err := s.RecoverOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("cannot read the journal", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Store) count(kind, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats[kind+"|"+outcome]++
}

// Stats are the recovery attempts by kind and outcome ("settled", "retry").
func (s *Store) Stats() map[[2]string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[[2]string]int, len(s.stats))
	for k, v := range s.stats {
		for i := 0; i < len(k); i++ {
			if k[i] == '|' {
				out[[2]string{k[:i], k[i+1:]}] = v
				break
			}
		}
	}
	return out
}
