//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// startSlowPost sends the headers and the first bytes of a POST /v2/Users
// and waits until the gateway handles it (its access line is not written
// yet, but the request counts as in flight); it returns the connection and
// the rest of the body to send.
func startSlowPost(t *testing.T, g *gateway, userName string) (net.Conn, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName, "name": map[string]any{"givenName": "Slow", "familyName": "Client"}})
	c, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /v2/Users HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/scim+json\r\nContent-Length: %d\r\n\r\n",
		strings.TrimPrefix(g.base, "http://"), g.auth, len(body))
	if _, err := c.Write(body[:10]); err != nil {
		t.Fatal(err)
	}
	// The handler runs once the headers are in: give it the time to start.
	time.Sleep(300 * time.Millisecond)
	return c, body[10:]
}

// waitFor waits until the gateway's output holds s.
func waitFor(t *testing.T, g *gateway, s string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(g.output.String(), s); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output:\n%s", s, g.output)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SIGTERM lets a request in flight finish (the client is slow: its body
// arrives after the signal), answers it, then stops with nothing cut.
func TestSIGTERMDrainsRequestsInFlight(t *testing.T) {
	s := startWithOpenLDAP(t, "DIRBRIDGE_SCIM_SHUTDOWN_TIMEOUT=10s")
	g := s.gw
	userName := "drain." + randHex(4) + "@example.com"
	c, rest := startSlowPost(t, g, userName)
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, g, "shutting down: in_flight=1")
	if _, err := c.Write(rest); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to the request in flight: %v\n%s", err, g.output)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("request in flight at SIGTERM: %d", res.StatusCode)
	}
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the gateway did not stop after draining:\n%s", g.output)
	}
	if code := g.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after a drained stop", code)
	}
	waitFor(t, g, "stopped: requests_cut=0")
	if n := len(s.search(t, s.PeopleDN, "(uid="+ldap.EscapeFilter(userName)+")", "uid")); n != 1 {
		t.Errorf("the drained create left %d entries, want 1", n)
	}
}

// A request that does not finish within scim.shutdown_timeout is cut: the
// gateway stops anyway and says how many it cut.
func TestSIGTERMBoundsTheDrain(t *testing.T) {
	s := startWithOpenLDAP(t, "DIRBRIDGE_SCIM_SHUTDOWN_TIMEOUT=1s")
	g := s.gw
	startSlowPost(t, g, "stuck."+randHex(4)+"@example.com") // never finished
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the gateway did not stop within its shutdown bound:\n%s", g.output)
	}
	waitFor(t, g, "stopped: requests_cut=1")
}
