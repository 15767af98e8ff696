package testenv

import (
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The proxy counts what passes and cuts the directory away right after the
// response it was armed for: the client sees that response, then a closed
// connection, and reconnects only after the outage.
func TestFaultProxyCountsAndCuts(t *testing.T) {
	o, err := StartOpenLDAP(t, OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartFaultProxy(t, strings.TrimPrefix(o.URL, "ldap://"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := ldap.DialURL(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(o.AdminDN, o.AdminPassword); err != nil {
		t.Fatal(err)
	}
	p.Arm(2, 2*time.Second)
	if _, err := l.Search(ldap.NewSearchRequest(o.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil)); err != nil {
		t.Fatal(err)
	}
	m := ldap.NewModifyRequest(o.PeopleDN, nil)
	m.Replace("description", []string{"first"})
	if err := l.Modify(m); err != nil {
		t.Fatalf("the armed response must reach the client: %v", err)
	}
	if got := p.Requests(); got["search"] != 1 || got["modify"] != 1 {
		t.Errorf("requests %v", got)
	}
	if p.Cuts() != 1 || !p.Down() {
		t.Fatalf("not cut after the 2nd response: cuts %d", p.Cuts())
	}
	m.Replace("description", []string{"second"})
	if err := l.Modify(m); err == nil {
		t.Fatal("a modify after the cut went through")
	}
	if c, err := ldap.DialURL(p.URL()); err == nil {
		if c.Bind(o.AdminDN, o.AdminPassword) == nil {
			t.Fatal("a new connection during the outage works")
		}
		c.Close()
	}
	// The second modify never reached the directory.
	direct, err := ldap.DialURL(o.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if err := direct.Bind(o.AdminDN, o.AdminPassword); err != nil {
		t.Fatal(err)
	}
	res, err := direct.Search(ldap.NewSearchRequest(o.PeopleDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"description"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("description") != "first" {
		t.Fatalf("directory after the cut: %v %v", res, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Down() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	c, err := ldap.DialURL(p.URL())
	if err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	defer c.Close()
	if err := c.Bind(o.AdminDN, o.AdminPassword); err != nil {
		t.Fatalf("bind after the outage: %v", err)
	}
}
