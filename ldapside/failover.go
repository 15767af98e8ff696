package ldapside

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/go-ldap/ldap/v3"
)

// One server at a time.
//
// With several URLs (replicated providers, several domain controllers) every
// connection of the pool goes to one server: the active one, the first of
// cfg.URLs that answered. Spreading connections over servers would split one
// client's requests between replicas: a create acknowledged by one and the
// read that follows sent to another that has not received it yet (a 404
// after a 201), or two uniqueness checks made on different servers. So:
//
//   - a dial tries the active server first, then the others in the
//     configured order; when it lands on another one, that one becomes
//     active and the pool closes its connections to the old one (idle ones at
//     once, lent ones when they come back);
//   - while a less preferred server is active, a prober dials the preferred
//     ones every probeInterval and goes back to the first that has answered
//     for cfg.FailbackDelay and, where the directory says how far it has
//     replicated (OpenLDAP's contextCSN), holds everything the active server
//     holds: failing back to a provider that is still catching up would make
//     uniqueness checks and reads miss what was written during the outage;
//   - every gateway with the same URL order therefore converges on the same
//     server, which keeps uniqueness checks on one server across gateways.
//
// What the gateway itself wrote is also tracked (the entryCSN of every
// acknowledged add and modify, per server id): a lookup by id that finds
// nothing on a server that has not yet received one of those writes waits a
// little for replication and then answers "unavailable" (503), never "not
// found" (404). That covers the window a failover opens (a provider killed
// right after acknowledging a write it had not yet replicated).

// probeInterval is how often the prober tries the preferred servers, and
// rywWait bounds how long a lookup waits for its server to receive this
// gateway's writes before it answers unavailable. Open copies both (tests
// shorten them before Open; a prober left from another test never reads
// them).
var (
	probeInterval = time.Second
	rywWait       = 3 * time.Second
)

// activeURL is the URL every pooled connection must be to.
func (c *Conn) activeURL() string {
	return c.cfg.URLs[c.active.Load()]
}

// dialOrder is the active URL's index, then the others in configured order.
func (c *Conn) dialOrder() []int {
	cur := int(c.active.Load())
	order := make([]int, 0, len(c.cfg.URLs))
	order = append(order, cur)
	for i := range c.cfg.URLs {
		if i != cur {
			order = append(order, i)
		}
	}
	return order
}

// setActive makes index i the active server if from still is; the pool then
// drops the connections to other servers.
func (c *Conn) setActive(from, i int, why string) bool {
	if from == i || !c.active.CompareAndSwap(int32(from), int32(i)) {
		return false
	}
	c.failovers.Add(1)
	c.log.Warn("directory server switched", "from", c.cfg.URLs[from], "to", c.cfg.URLs[i], "reason", why)
	c.pool.dropUnusable()
	if i > 0 {
		c.startProber()
	}
	return true
}

// startProber runs the fail-back prober unless it runs already.
func (c *Conn) startProber() {
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	if c.probing {
		return
	}
	select {
	case <-c.closed:
		return
	default:
	}
	c.probing = true
	go c.probeLoop()
}

func (c *Conn) probeLoop() {
	t := time.NewTicker(c.probeEvery)
	defer t.Stop()
	since := make([]time.Time, len(c.cfg.URLs))     // since when each has answered, zero: not now
	prev := make([]map[int]string, len(c.cfg.URLs)) // the active server's state at the last probe of each
	for {
		select {
		case <-c.closed:
			c.probeMu.Lock()
			c.probing = false
			c.probeMu.Unlock()
			return
		case <-t.C:
		}
		cur := int(c.active.Load())
		if cur == 0 {
			c.probeMu.Lock()
			// Checked under the lock: a failover after this point starts
			// a new prober.
			if c.active.Load() == 0 {
				c.probing = false
				c.probeMu.Unlock()
				return
			}
			c.probeMu.Unlock()
			continue
		}
		for i := 0; i < cur; i++ {
			now := time.Now()
			want, err := c.probe(i, cur, prev[i])
			prev[i] = want
			if err != nil {
				if !since[i].IsZero() {
					c.log.Debug("preferred directory server not ready", "url", c.cfg.URLs[i], "error", err)
				}
				since[i] = time.Time{}
				continue
			}
			if since[i].IsZero() {
				since[i] = now
				c.log.Info("preferred directory server answers again", "url", c.cfg.URLs[i], "failback_after", c.cfg.FailbackDelay)
			}
			if now.Sub(since[i]) >= c.cfg.FailbackDelay && c.setActive(cur, i, "the preferred server is back and up to date") {
				clear(since)
				clear(prev)
				break
			}
		}
	}
}

// probe reports why server i cannot take over from server cur yet: it
// cannot be dialed or bound, or it has not received everything cur held at
// the previous probe (prev; at the first, what cur holds now). It returns
// cur's state now, for the next probe. The allowance of one probe
// interval is what lets a provider take the load back while the other is
// still written to: under a steady load it is always some milliseconds
// behind, and once the writes come to it the rest arrives.
func (c *Conn) probe(i, cur int, prev map[int]string) (map[int]string, error) {
	const op = "ldapside.(*Conn).probe"
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.DialTimeout)
	defer cancel()
	l, err := c.connectURL(ctx, c.cfg.URLs[i])
	if err != nil {
		return nil, bridge.E(op, bridge.KindUnavailable, "", err)
	}
	defer l.Close()
	if err := l.Bind(c.cfg.BindDN, c.cfg.BindPassword); err != nil {
		return nil, bridge.E(op, bridge.KindUnavailable, "", err)
	}
	// The active server's state first, the candidate's after, so that
	// "now" is not newer on the active side than on the candidate's.
	var want map[int]string
	err = c.with(ctx, nil, func(pc *pconn) error {
		if pc.url != c.cfg.URLs[cur] {
			return errors.New("the active server changed")
		}
		var err error
		want, err = contextCSNs(pc.l, c.cfg.BaseDN)
		return err
	})
	if err != nil {
		return nil, bridge.E(op, bridge.KindUnavailable, "", err)
	}
	have, err := contextCSNs(l, c.cfg.BaseDN)
	if err != nil {
		return want, bridge.E(op, bridge.KindUnavailable, "", err)
	}
	if have == nil && want == nil {
		return nil, nil // no replication state to compare (AD, or not replicated): the delay decides
	}
	target := prev
	if target == nil {
		target = want
	}
	if sid, ok := missing(have, target); ok {
		return want, bridge.Errorf(op, bridge.KindUnavailable, "has not yet received the changes of server id %d", sid)
	}
	return want, nil
}

// contextCSNs reads the contextCSN values of the naming context that holds
// base, by server id; nil when the server keeps none (AD, a directory that
// is not replicated).
func contextCSNs(l ldapConn, base string) (map[int]string, error) {
	root, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		filterAll, []string{"namingContexts"}, nil))
	if err != nil {
		return nil, err
	}
	bd, err := parseDN(base)
	if err != nil {
		return nil, err
	}
	suffix := ""
	if len(root.Entries) == 1 {
		for _, nc := range root.Entries[0].GetAttributeValues("namingContexts") {
			d, err := parseDN(nc)
			if err == nil && (d.EqualFold(bd) || d.AncestorOfFold(bd)) && len(nc) > len(suffix) {
				suffix = nc
			}
		}
	}
	if suffix == "" {
		return nil, nil
	}
	res, err := l.Search(ldap.NewSearchRequest(suffix, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		filterAll, []string{"contextCSN"}, nil))
	if err != nil {
		var le *ldap.Error
		if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultNoSuchObject {
			return nil, nil
		}
		return nil, err
	}
	if len(res.Entries) != 1 {
		return nil, nil
	}
	var out map[int]string
	for _, v := range res.Entries[0].GetEqualFoldAttributeValues("contextCSN") {
		if sid, ok := csnSID(v); ok {
			if out == nil {
				out = map[int]string{}
			}
			if v > out[sid] {
				out[sid] = v
			}
		}
	}
	return out, nil
}

// csnSID is the server id of an OpenLDAP CSN
// (20240102030405.123456Z#000000#001#000000): the third field, in hex.
func csnSID(csn string) (int, bool) {
	parts := strings.Split(csn, "#")
	if len(parts) != 4 || len(parts[0]) < 15 || !strings.HasSuffix(parts[0], "Z") {
		return 0, false
	}
	sid, err := strconv.ParseInt(parts[2], 16, 32)
	if err != nil {
		return 0, false
	}
	return int(sid), true
}

// missing reports a server id whose changes up to want's CSN are not yet
// all in have. CSNs of one server id order as strings.
func missing(have, want map[int]string) (int, bool) {
	for sid, csn := range want {
		if have[sid] < csn {
			return sid, true
		}
	}
	return 0, false
}

// writes is what this gateway had acknowledged: the newest entryCSN per
// server id, and per URL the contextCSN last seen there, to know without
// asking that a server holds them.
type writes struct {
	mu       sync.Mutex
	newest   map[int]string
	verified map[string]map[int]string
}

// noteWrite remembers the version of an entry this gateway wrote, when it is
// a CSN (OpenLDAP; AD's uSNChanged is not and is ignored).
func (c *Conn) noteWrite(e *bridge.Entry) {
	if e == nil {
		return
	}
	sid, ok := csnSID(e.Version)
	if !ok {
		return
	}
	w := &c.written
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.newest == nil {
		w.newest = map[int]string{}
	}
	if e.Version > w.newest[sid] {
		w.newest[sid] = e.Version
	}
}

// pendingWrites is what of this gateway's writes url is not known to hold.
func (c *Conn) pendingWrites(url string) map[int]string {
	w := &c.written
	w.mu.Lock()
	defer w.mu.Unlock()
	var out map[int]string
	for sid, csn := range w.newest {
		if w.verified[url][sid] < csn {
			if out == nil {
				out = map[int]string{}
			}
			out[sid] = csn
		}
	}
	return out
}

func (c *Conn) verified(url string, have map[int]string) {
	w := &c.written
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.verified == nil {
		w.verified = map[string]map[int]string{}
	}
	w.verified[url] = have
}

// awaitWrites is asked when a lookup on pc found nothing, with want, the
// writes of this gateway pc's server was not known to hold when the lookup
// was sent (pendingWrites, taken before it: another lookup may learn
// meanwhile that the server holds them, which says nothing of when they
// arrived). It reports whether the server holds them now (look again:
// they may have arrived after the lookup, even before the first look at
// the server's state), and fails with KindUnavailable when it does not get
// them within rywWait. Without pending writes it costs nothing.
func (c *Conn) awaitWrites(pc *pconn, want map[int]string) (again bool, err error) {
	const op = "ldapside.(*Conn).awaitWrites"
	if want == nil {
		return false, nil
	}
	deadline := time.Now().Add(min(c.rywWait, c.cfg.OpTimeout))
	for {
		have, err := contextCSNs(pc.l, c.cfg.BaseDN)
		if err != nil {
			return false, err
		}
		if have == nil {
			// Not replicated (no contextCSN): nothing to wait for, and
			// nothing to ask again for these writes.
			c.verified(pc.url, want)
			return false, nil
		}
		c.verified(pc.url, have)
		sid, ok := missing(have, want)
		if !ok {
			// Also when it held them at the first look: replication may
			// have delivered them between the lookup and that look (a
			// 404 right after a 201 across a fail-back, seen in
			// TestReplicationFailover).
			return true, nil
		}
		if time.Now().After(deadline) {
			c.log.Warn("directory server has not received this gateway's writes; answering unavailable rather than not found",
				"url", pc.url, "server_id", sid)
			return false, bridge.Errorf(op, bridge.KindUnavailable, "the directory server has not yet received a change made through another server")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
