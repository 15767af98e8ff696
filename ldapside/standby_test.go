package ldapside

import (
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/testenv"
)

// TestStandbyChecked: a standby the gateway never needs is still known to
// be up, and known to be down when it goes, while the preferred server
// serves throughout (dirbridge_directory_up).
func TestStandbyChecked(t *testing.T) {
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartFaultProxy(t, strings.TrimPrefix(o.URL, "ldap://"))
	if err != nil {
		t.Fatal(err)
	}
	old := standbyInterval
	standbyInterval = 100 * time.Millisecond
	c, err := Open(Config{URLs: []string{o.URL, p.URL()}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN,
		PoolSize: 2, DialTimeout: time.Second}, nil)
	standbyInterval = old
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wait := func(what string, want bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for c.DirectoryUp()[p.URL()] != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: directory_up of the standby is %v after 15s, want %v", what, !want, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("a standby never used", true)
	if err := c.Ping(tctx(t)); err != nil {
		t.Fatal(err)
	}
	p.CutFor(time.Hour)
	wait("the standby cut away", false)
	if !c.DirectoryUp()[o.URL] {
		t.Error("the preferred server is not up")
	}
	p.Restore()
	wait("the standby back", true)
	if a := c.active.Load(); a != 0 {
		t.Errorf("the active server is %d, want the preferred one", a)
	}
}
