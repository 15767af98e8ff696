package ldapside

import (
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
)

// csnServer answers contextCSNs' two searches: the root DSE's naming
// context and that context's contextCSN values.
type csnServer struct {
	ldapConn
	csns []string
}

func (s *csnServer) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	if req.BaseDN == "" {
		return &ldap.SearchResult{Entries: []*ldap.Entry{ldap.NewEntry("", map[string][]string{"namingContexts": {"dc=example,dc=com"}})}}, nil
	}
	return &ldap.SearchResult{Entries: []*ldap.Entry{ldap.NewEntry(req.BaseDN, map[string][]string{"contextCSN": s.csns})}}, nil
}

// TestAwaitWritesLooksAgainWhenAlreadyThere: a lookup by id found nothing
// on a server not known to hold this gateway's last write; when that
// server's contextCSN shows the write at the first look, replication
// delivered it after the lookup, so the lookup must be made again (it
// answered 404 right after a 201 in TestReplicationFailover). A server
// still without the write gets rywWait and then means unavailable.
func TestAwaitWritesLooksAgainWhenAlreadyThere(t *testing.T) {
	const w = "20261203133609.106000Z#000000#002#000000"
	c := &Conn{cfg: Config{URLs: []string{"ldap://a", "ldap://b"}, BaseDN: "ou=people,dc=example,dc=com", OpTimeout: time.Second},
		rywWait: 200 * time.Millisecond, log: hclog.NewNullLogger()}
	c.noteWriteCSN(t, w)
	pc := &pconn{url: "ldap://a", l: &csnServer{csns: []string{"20261203133600.000000Z#000000#001#000000", w}}}
	again, err := c.awaitWrites(pc, c.pendingWrites(pc.url))
	if err != nil || !again {
		t.Fatalf("the server holds the write at the first look: again %v, err %v; want a second lookup", again, err)
	}
	// A lookup sent while it was pending looks again when another lookup
	// learnt meanwhile that the server holds the write.
	before := c.pendingWrites("ldap://b")
	c.verified("ldap://b", map[int]string{2: w})
	if again, err := c.awaitWrites(&pconn{url: "ldap://b", l: &csnServer{csns: []string{w}}}, before); err != nil || !again {
		t.Errorf("pending when sent, verified since: again %v, err %v; want a second lookup", again, err)
	}
	c.verified("ldap://b", nil)
	// Known to hold it: no look at the server's state at all.
	pc.l = &csnServer{}
	if again, err := c.awaitWrites(pc, c.pendingWrites(pc.url)); err != nil || again {
		t.Errorf("nothing pending: again %v, err %v; want neither", again, err)
	}
	// A server that has not received it.
	late := &pconn{url: "ldap://b", l: &csnServer{csns: []string{"20261203133500.000000Z#000000#002#000000"}}}
	start := time.Now()
	if again, err := c.awaitWrites(late, c.pendingWrites(late.url)); err == nil || again {
		t.Errorf("the write never arrives: again %v, err %v; want unavailable", again, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("gave up after %v, before rywWait", d)
	}
}

func (c *Conn) noteWriteCSN(t *testing.T, csn string) {
	t.Helper()
	sid, ok := csnSID(csn)
	if !ok {
		t.Fatalf("bad CSN %q", csn)
	}
	c.written.newest = map[int]string{sid: csn}
}
