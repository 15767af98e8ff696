package scimside

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// TestErrorTable drives every kind through a real request and checks the
// status, scimType, headers, that the client sees only the safe message and
// that the log has the full error exactly once.
func TestErrorTable(t *testing.T) {
	const leak = "LDAP Result Code 50 \"Insufficient Access Rights\": cn=svc,ou=Service,dc=corp,dc=example"
	cases := []struct {
		kind     bridge.Kind
		status   int
		scimType string
		level    string
	}{
		{bridge.KindNotFound, 404, "", "info"},
		{bridge.KindConflict, 409, "uniqueness", "info"},
		{bridge.KindInvalidValue, 400, "invalidValue", "info"},
		{bridge.KindInvalidFilter, 400, "invalidFilter", "info"},
		{bridge.KindInvalidSyntax, 400, "invalidSyntax", "info"},
		{bridge.KindInvalidPath, 400, "invalidPath", "info"},
		{bridge.KindNoTarget, 400, "noTarget", "info"},
		{bridge.KindMutability, 400, "mutability", "info"},
		{bridge.KindTooMany, 400, "tooMany", "info"},
		{bridge.KindUnauthorized, 401, "", "warn"},
		{bridge.KindForbidden, 500, "", "error"},
		{bridge.KindMisconfigured, 500, "", "error"},
		{bridge.KindPrecondition, 412, "", "info"},
		{bridge.KindNotImplemented, 501, "", "info"},
		{bridge.KindPayloadTooLarge, 413, "", "info"},
		{bridge.KindMethodNotAllowed, 405, "", "info"},
		{bridge.KindUnavailable, 503, "", "error"},
		{bridge.KindInternal, 500, "", "error"},
	}
	if len(cases) != len(errorTable) {
		t.Fatalf("the table has %d kinds, the test %d", len(errorTable), len(cases))
	}
	for _, c := range cases {
		t.Run(c.kind.String(), func(t *testing.T) {
			e := newEnv(t)
			safe := "safe message for " + c.kind.String()
			e.users.fail = bridge.E("ldapside.(*Dir).Get", c.kind, safe, errors.New(leak))
			r := e.expect(e.do("GET", "/v2/Users/u-1", nil), c.status, c.kind.String())
			if r.str("scimType") != c.scimType {
				t.Errorf("scimType %q, want %q", r.str("scimType"), c.scimType)
			}
			detail := r.str("detail")
			if strings.Contains(string(r.body), "LDAP") || strings.Contains(string(r.body), "dc=example") || strings.Contains(string(r.body), "ldapside") {
				t.Errorf("the body leaks internals: %s", r.body)
			}
			switch {
			case c.kind == bridge.KindInternal:
				if detail != "internal error (request id req-1)" {
					t.Errorf("detail %q", detail)
				}
			case c.kind == bridge.KindForbidden || c.kind == bridge.KindMisconfigured:
				if detail != "the gateway is misconfigured; the administrator can find what to fix in its log under request id req-1" {
					t.Errorf("detail %q", detail)
				}
			case c.kind == bridge.KindUnavailable:
				if detail != safe+" (request id req-1)" {
					t.Errorf("detail %q, want the safe message and the request id", detail)
				}
			default:
				if detail != safe {
					t.Errorf("detail %q, want the safe message", detail)
				}
			}
			if got := r.header.Get("Retry-After"); (c.status == 503) != (got == "5") {
				t.Errorf("Retry-After %q", got)
			}
			logs := e.logs.String()
			if n := strings.Count(logs, `"request failed"`); n != 1 {
				t.Errorf("logged %d times: %s", n, logs)
			}
			if !strings.Contains(logs, `"@level":"`+c.level+`"`) || !strings.Contains(logs, "Insufficient Access Rights") ||
				!strings.Contains(logs, `"request_id":"req-1"`) {
				t.Errorf("log line lacks level %s, the full error or the request id: %s", c.level, logs)
			}
		})
	}
}

func TestForeignErrorIs500(t *testing.T) {
	e := newEnv(t)
	e.users.fail = fmt.Errorf("dial tcp 10.0.0.1:636: connection refused")
	r := e.expect(e.do("GET", "/v2/Users?filter=userName+eq+%22x%22", nil), 500, "foreign error")
	if strings.Contains(string(r.body), "10.0.0.1") {
		t.Errorf("leak: %s", r.body)
	}
}

// Failed writes never answer 2xx.
func TestFailedWritesAreNot2xx(t *testing.T) {
	e := newEnv(t)
	r := e.expect(e.do("POST", "/v2/Users", oktaUser("w@example.com")), 201, "create")
	id := r.str("id")
	e.users.fail = bridge.Errorf("x", bridge.KindUnavailable, "")
	for _, m := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v2/Users", oktaUser("w2@example.com")},
		{"PUT", "/v2/Users/" + id, oktaUser("w@example.com")},
		{"PATCH", "/v2/Users/" + id, map[string]any{"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}}}},
		{"DELETE", "/v2/Users/" + id, nil},
	} {
		if r := e.do(m.method, m.path, m.body); r.status != 503 {
			t.Errorf("%s %s: %d", m.method, m.path, r.status)
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t)
	e.users.panics = true
	r := e.expect(e.do("GET", "/v2/Users/u-1", nil), 500, "panic")
	if strings.Contains(string(r.body), "boom") || strings.Contains(string(r.body), "goroutine") {
		t.Errorf("panic leaked: %s", r.body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "boom: secret internal state") || !strings.Contains(logs, "stack") || !strings.Contains(logs, "fake_test.go") {
		t.Errorf("panic not logged with stack: %s", logs)
	}
	// The server keeps serving.
	e.users.panics = false
	e.expect(e.do("GET", "/v2/Users", nil), 200, "after panic")
}

// TestMisconfiguredLogLine: the one log line of a request the gateway's own
// setup made fail says where it failed, what the directory answered and
// what to fix; the client sees none of it.
func TestMisconfiguredLogLine(t *testing.T) {
	e := newEnv(t)
	cause := errors.New(`LDAP Result Code 17 "Undefined Attribute Type": dispalyName: attribute type undefined`)
	inner := &bridge.Error{Op: "ldapside.(*Conn).Add", Kind: bridge.KindMisconfigured, Err: cause, Attr: "dispalyName",
		Fix: "attribute dispalyName is not in the directory schema: fix the mapping table row", Log: []any{"ldap_result_code", 17, "dn", "uid=x,ou=people,dc=example,dc=com"}}
	e.users.fail = bridge.Wrap("bridge.(*Service).Create", inner)
	r := e.expect(e.do("POST", "/v2/Users", oktaUser("m@example.com")), 500, "misconfigured")
	if r.str("scimType") != "" || strings.Contains(string(r.body), "dispalyName") || strings.Contains(string(r.body), "dc=example") {
		t.Errorf("the body says more than it may: %s", r.body)
	}
	if !strings.Contains(r.str("detail"), "request id req-1") {
		t.Errorf("detail %q lacks the request id", r.str("detail"))
	}
	logs := e.logs.String()
	for _, want := range []string{`"op":"ldapside.(*Conn).Add"`, `"ldap_result_code":17`, `"dn":"uid=x,ou=people,dc=example,dc=com"`,
		`"fix":"attribute dispalyName is not in the directory schema: fix the mapping table row"`, `"@level":"error"`, `"request_id":"req-1"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log line lacks %s: %s", want, logs)
		}
	}
}
