package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func providerConn(t *testing.T, o *OpenLDAP) *ldap.Conn {
	t.Helper()
	l, err := ldap.DialURL(o.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.Bind(o.AdminDN, o.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return l
}

func addPerson(t *testing.T, o *OpenLDAP, uid string) {
	t.Helper()
	l := providerConn(t, o)
	ar := ldap.NewAddRequest(fmt.Sprintf("uid=%s,%s", uid, o.PeopleDN), nil)
	ar.Attribute("objectClass", []string{"inetOrgPerson"})
	ar.Attribute("uid", []string{uid})
	ar.Attribute("cn", []string{uid})
	ar.Attribute("sn", []string{uid})
	if err := l.Add(ar); err != nil {
		t.Fatalf("add %s on %s: %v", uid, o.URL, err)
	}
}

// entryUUIDOf reads uid's entryUUID on o, "" when o does not hold it.
func entryUUIDOf(t *testing.T, o *OpenLDAP, uid string) string {
	t.Helper()
	l := providerConn(t, o)
	res, err := l.Search(ldap.NewSearchRequest(o.PeopleDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(uid="+ldap.EscapeFilter(uid)+")", []string{"entryUUID"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) == 0 {
		return ""
	}
	return res.Entries[0].GetAttributeValue("entryUUID")
}

func syncCtx(t *testing.T) context.Context {
	// Generous: two slapds catching up on a loaded 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestReplicatedOpenLDAP: what either provider accepts reaches the other,
// also what one accepted while the other was killed, once it is back; the
// providers share entryUUIDs (the SCIM id), so an id is the same on both.
func TestReplicatedOpenLDAP(t *testing.T) {
	r, err := StartReplicatedOpenLDAP(t, 2, OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := r.Providers[0], r.Providers[1]
	for _, o := range r.Providers {
		if id := entryUUIDOf(t, o, "nobody"); id != "" {
			t.Fatalf("unexpected entry on %s", o.URL)
		}
	}
	// The base entries were loaded once: the same entryUUID on both.
	base := func(o *OpenLDAP) string {
		res, err := providerConn(t, o).Search(ldap.NewSearchRequest(o.PeopleDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"entryUUID"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		return res.Entries[0].GetAttributeValue("entryUUID")
	}
	if a, b := base(p1), base(p2); a == "" || a != b {
		t.Fatalf("ou=people has entryUUID %q on p1 and %q on p2", a, b)
	}

	addPerson(t, p1, "from.p1")
	addPerson(t, p2, "from.p2")
	if err := r.WaitInSync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"from.p1", "from.p2"} {
		a, b := entryUUIDOf(t, p1, uid), entryUUIDOf(t, p2, uid)
		if a == "" || a != b {
			t.Errorf("%s: entryUUID %q on p1, %q on p2", uid, a, b)
		}
	}
	csns, err := p1.ContextCSN()
	if err != nil || len(csns) != 2 {
		t.Errorf("contextCSN on p1: %v, %v (want one per server id)", csns, err)
	}

	// Killed, written to while down, restarted: it catches up.
	if err := p1.Kill(); err != nil {
		t.Fatal(err)
	}
	if p1.PID() != 0 {
		t.Error("PID after Kill")
	}
	addPerson(t, p2, "while.p1.down")
	if err := p1.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitInSync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	if a, b := entryUUIDOf(t, p1, "while.p1.down"), entryUUIDOf(t, p2, "while.p1.down"); a == "" || a != b {
		t.Errorf("after restart: entryUUID %q on p1, %q on p2", a, b)
	}
	// A provider killed right after acknowledging a write its peer could
	// not receive (the peer was down) sends it once both are back.
	if err := p2.Kill(); err != nil {
		t.Fatal(err)
	}
	addPerson(t, p1, "just.before.crash")
	if err := p1.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p2.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := p1.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitInSync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	if entryUUIDOf(t, p2, "just.before.crash") == "" {
		t.Error("a write acknowledged just before a kill -9 never reached the other provider")
	}
	// And it replicates again the other way.
	addPerson(t, p1, "after.restart")
	if err := r.WaitInSync(syncCtx(t)); err != nil {
		t.Fatal(err)
	}
	if entryUUIDOf(t, p2, "after.restart") == "" {
		t.Error("a write on the restarted provider did not reach the other")
	}
}
