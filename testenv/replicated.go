//go:build unix

package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Replicated is a set of OpenLDAP providers in multi-provider replication
// (syncrepl refreshAndPersist between every pair, syncprov on each), the
// way customers scale OpenLDAP: same suffix, schema, ACLs and overlays as
// the single instance StartOpenLDAP starts, each provider on its own
// loopback ports and in its own temporary directory.
type Replicated struct {
	Providers []*OpenLDAP
}

// slapcatBin exports a database; a second provider is loaded from the
// first's export so that both start with the same entryUUIDs and CSNs.
const slapcatBin = "/usr/sbin/slapcat"

// replication is what makes one instance a provider among peers.
type replication struct {
	serverID int      // olcServerID, also the sid of the CSNs it makes
	peers    []string // ldap:// URLs of the other providers, in order
	seed     string   // LDIF the database is loaded from ("": the base entries)
}

// replicationLDIF holds the parts of cn=config that replication adds.
type replicationLDIF struct {
	global, modules, database, overlays string
	seed                                string
}

func (r *replication) ldif(o *OpenLDAP) replicationLDIF {
	out := replicationLDIF{
		global:  fmt.Sprintf("olcServerID: %d\n", r.serverID),
		modules: "olcModuleLoad: syncprov\n",
		seed:    r.seed,
	}
	if out.seed == "" {
		out.seed = filepath.Join(o.Dir, "base.ldif")
	}
	var b strings.Builder
	b.WriteString("olcDbIndex: entryCSN eq\n")
	// No fsync per transaction: a kill -9 loses nothing that reached the
	// OS (only a power cut would), and on a small test machine the syncs
	// made the restarted provider replicate slower than it was written to.
	b.WriteString("olcDbNoSync: TRUE\n")
	for i, peer := range r.peers {
		// retry "1 +": a provider that was down is asked again every
		// second, so that catching up after a restart starts at once.
		// The rid is the peer's position, unique per consumer.
		fmt.Fprintf(&b, "olcSyncrepl: {%d}rid=%03d provider=%s binddn=\"%s\" bindmethod=simple credentials=\"%s\" searchbase=\"%s\" type=refreshAndPersist retry=\"1 +\" timeout=5 network-timeout=3\n",
			i, i+1, peer, o.AdminDN, o.AdminPassword, o.BaseDN)
	}
	b.WriteString("olcMultiProvider: TRUE\n")
	out.database = b.String()
	// olcSpCheckpoint 1 1: the contextCSN is written to the database after
	// every write. slapd 2.5 otherwise keeps it in memory until a
	// checkpoint or a clean shutdown; after a kill -9 it starts again with
	// an older one, and the writes it acknowledged since are not sent to
	// the other providers (their cookie equals its contextCSN) until its
	// next write: acknowledged writes missing from the replicas. Seen here.
	out.overlays = `
dn: olcOverlay={4}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {4}syncprov
olcSpCheckpoint: 1 1
olcSpSessionlog: 1000
`
	return out
}

// StartReplicatedOpenLDAP starts n (at least 2) providers that replicate
// each other and returns once they hold the same contextCSN. With tb, they
// are stopped when the test ends, and a missing slapd skips the test except
// under CI, where it fails (as StartOpenLDAP).
func StartReplicatedOpenLDAP(tb testing.TB, n int, opts OpenLDAPOptions) (*Replicated, error) {
	if tb != nil {
		tb.Helper()
	}
	if n < 2 {
		return nil, errors.New("testenv: replication needs at least 2 providers")
	}
	return startSlapd(tb, func() (*Replicated, error) { return launchReplicated(n, opts) })
}

func launchReplicated(n int, opts OpenLDAPOptions) (r *Replicated, err error) {
	r = &Replicated{}
	defer func() {
		if err != nil {
			_ = r.Stop()
		}
	}()
	for range n {
		o, err := newOpenLDAP(opts)
		if err != nil {
			return r, err
		}
		r.Providers = append(r.Providers, o)
	}
	for i, o := range r.Providers {
		o.repl = &replication{serverID: i + 1}
		for j, p := range r.Providers {
			if j != i {
				o.repl.peers = append(o.repl.peers, p.URL)
			}
		}
	}
	first := r.Providers[0]
	if err := first.writeConfig(); err != nil {
		return r, err
	}
	export := filepath.Join(first.Dir, "export.ldif")
	if out, err := exec.Command(slapcatBin, "-n1", "-F", filepath.Join(first.Dir, "slapd.d"), "-l", export).CombinedOutput(); err != nil {
		return r, fmt.Errorf("testenv: slapcat: %v: %s", err, out)
	}
	for _, o := range r.Providers[1:] {
		o.repl.seed = export
		if err := o.writeConfig(); err != nil {
			return r, err
		}
	}
	for _, o := range r.Providers {
		if err := o.start(); err != nil {
			return r, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.WaitInSync(ctx); err != nil {
		return r, err
	}
	return r, nil
}

// Stop stops every provider and removes their directories.
func (r *Replicated) Stop() error {
	var errs []error
	for _, o := range r.Providers {
		errs = append(errs, o.Stop())
	}
	return errors.Join(errs...)
}

// URLs are the providers' ldap:// URLs in order, comma-separated, as
// DIRBRIDGE_LDAP_URLS takes them.
func (r *Replicated) URLs() string {
	urls := make([]string, len(r.Providers))
	for i, o := range r.Providers {
		urls[i] = o.URL
	}
	return strings.Join(urls, ",")
}

// WaitInSync polls until every provider answers and all hold the same
// contextCSN values on the suffix: then each has every change any of them
// accepted before the call. It gives up when ctx ends.
func (r *Replicated) WaitInSync(ctx context.Context) error {
	var last []string
	var lastErr error
	for {
		same := true
		last = last[:0]
		var want []string
		for i, o := range r.Providers {
			csns, err := o.ContextCSN()
			if err != nil {
				lastErr, same = err, false
				break
			}
			last = append(last, fmt.Sprintf("%s=%v", o.URL, csns))
			if i == 0 {
				want = csns
			} else if !slices.Equal(want, csns) {
				same = false
			}
		}
		if same {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: providers not in sync: %v (last error: %v)", last, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ContextCSN reads the suffix's contextCSN values (one per server id that
// made changes), sorted. The provider must be running.
func (o *OpenLDAP) ContextCSN() ([]string, error) {
	l, err := ldap.DialURL(o.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}))
	if err != nil {
		return nil, err
	}
	defer l.Close()
	l.SetTimeout(5 * time.Second)
	if err := l.Bind(o.AdminDN, o.AdminPassword); err != nil {
		return nil, err
	}
	res, err := l.Search(ldap.NewSearchRequest(o.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"contextCSN"}, nil))
	if err != nil {
		return nil, err
	}
	if len(res.Entries) != 1 {
		return nil, errors.New("testenv: no suffix entry")
	}
	csns := res.Entries[0].GetAttributeValues("contextCSN")
	slices.Sort(csns)
	return csns, nil
}

// Kill ends slapd with SIGKILL, as a crash or a power cut would: no
// shutdown, connections reset. The data stays; Restart starts it again.
func (o *OpenLDAP) Kill() error {
	o.mu.Lock()
	cmd, exited := o.cmd, o.exited
	o.stopped = true
	o.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if err := cmd.Process.Kill(); err != nil {
		return err
	}
	<-exited
	return nil
}
