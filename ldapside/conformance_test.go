package ldapside

import (
	"context"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge/conformance"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
)

// startDirectory starts a private slapd and opens a Conn on it.
func startDirectory(t *testing.T, tune func(*Config)) (*testenv.OpenLDAP, *Conn) {
	t.Helper()
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{})
	if err != nil {
		t.Fatalf("StartOpenLDAP: %v", err)
	}
	cfg := Config{
		URLs:         []string{o.URL},
		BindDN:       o.AdminDN,
		BindPassword: o.AdminPassword,
		BaseDN:       o.BaseDN,
		PoolSize:     4,
		OpTimeout:    30 * time.Second,
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := Open(cfg, hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.EnsureContainer(ctx, "ou=leavers,"+o.BaseDN); err != nil {
		t.Fatalf("EnsureContainer(leavers): %v", err)
	}
	return o, c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func envOf(o *testenv.OpenLDAP, c *Conn) conformance.Env {
	return conformance.Env{Dir: c, Auth: c, BaseDN: o.BaseDN, People: o.PeopleDN, Leavers: "ou=leavers," + o.BaseDN}
}

// TestConformance runs the Directory suite against OpenLDAP with VLV.
func TestConformance(t *testing.T) {
	o, c := startDirectory(t, nil)
	conformance.Run(t, func(t *testing.T) conformance.Env { return envOf(o, c) })
}

// TestConformancePaged runs it again on the Simple Paged Results path that
// servers without VLV get.
// TestConformanceGoLDAPTransport runs it with go-ldap's connections in the
// pool, as the gateway does on Windows.
func TestConformanceGoLDAPTransport(t *testing.T) {
	o, c := startDirectory(t, nil)
	c.goLDAPPool = true
	c.pool.close()
	c.pool = newPool(c.cfg.PoolSize, c.dial)
	c.pool.usable = func(pc *pconn) bool { return pc.url == c.activeURL() }
	conformance.Run(t, func(t *testing.T) conformance.Env { return envOf(o, c) })
	err := c.with(tctx(t), nil, func(pc *pconn) error {
		if _, ok := pc.l.(*ldap.Conn); !ok {
			t.Errorf("the pool holds a %T, want go-ldap's *ldap.Conn", pc.l)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConformancePaged(t *testing.T) {
	o, c := startDirectory(t, nil)
	c.noVLV = true
	conformance.Run(t, func(t *testing.T) conformance.Env { return envOf(o, c) })
}
