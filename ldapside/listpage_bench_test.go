package ldapside

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/scimside"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
)

// listBenchUsers is the directory of the list benchmarks: enough for ten
// pages of 100, shaped as make bench seeds its users (bench/seed.go).
const listBenchUsers = 1000

// listBenchEnv is a slapd with listBenchUsers users and a Conn to it.
func listBenchEnv(b *testing.B) (*testenv.OpenLDAP, *Conn) {
	b.Helper()
	o, err := testenv.StartOpenLDAP(b, testenv.OpenLDAPOptions{})
	if err != nil {
		b.Fatal(err)
	}
	l, err := ldap.DialURL(o.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(o.AdminDN, o.AdminPassword); err != nil {
		b.Fatal(err)
	}
	for i := range listBenchUsers {
		uid := fmt.Sprintf("lb%05d", i)
		given, family := "Given"+strconv.Itoa(i), "Family"+strconv.Itoa(i)
		ar := ldap.NewAddRequest("uid="+uid+","+o.PeopleDN, nil)
		ar.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "inetOrgPerson"})
		ar.Attribute("uid", []string{uid})
		ar.Attribute("cn", []string{given + " " + family})
		ar.Attribute("sn", []string{family})
		ar.Attribute("givenName", []string{given})
		ar.Attribute("mail", []string{uid + "@example.com"})
		if err := l.Add(ar); err != nil {
			b.Fatal(err)
		}
	}
	c, err := Open(Config{URLs: []string{o.URL}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN,
		PoolSize: 8, OpTimeout: 30 * time.Second}, hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return o, c
}

// cpuTime is the processor time this process has used so far: the
// benchmark's figure that the machine's other load does not move much.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopCPU runs op(n) for the n-th iteration of b's loop, timed from here,
// and reports this process's processor time per iteration in unit.
func loopCPU(b *testing.B, unit string, op func(n int)) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime(b)
	n := 0
	for b.Loop() {
		op(n)
		n++
	}
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(max(n, 1)), unit)
}

// gatewayGC is the collector setting of cmd/dirbridge with its default
// budget (applyMemoryLimit: GOGC off, a 42.5 MiB soft limit), for the
// benchmark's duration: allocations cost what they cost in the gateway.
func gatewayGC(b *testing.B) {
	oldLimit := debug.SetMemoryLimit(42<<20 + 1<<19)
	old := debug.SetGCPercent(-1)
	b.Cleanup(func() { debug.SetGCPercent(old); debug.SetMemoryLimit(oldLimit) })
}

// BenchmarkListPage is one page of 100 users of a walk over the whole
// gateway in process: GET /v2/Users?startIndex=…&count=100 through the
// scimside handler, bridge.Service with the gateway's default read-ahead
// and caches (benchGateway), the shipped openldap-users.toml and ldapside
// against a real slapd. An op is
// one page; cpu-ms/page is this process's processor time per page (what
// make bench's "gateway" column shows, without the HTTP socket).
func BenchmarkListPage(b *testing.B) {
	o, c := listBenchEnv(b)
	gatewayGC(b)
	h, token := benchGateway(b, o, c)
	page := func(start int) {
		req := httptest.NewRequest(http.MethodGet, "/v2/Users?startIndex="+strconv.Itoa(start)+"&count=100", nil)
		req.Header.Set("Authorization", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"totalResults":`+strconv.Itoa(listBenchUsers)) {
			b.Fatalf("page at %d: %d %.300s", start, rec.Code, rec.Body)
		}
	}
	for start := 1; start <= listBenchUsers; start += 100 {
		page(start) // a first walk: slapd's caches warm, as in make bench's later runs
	}
	loopCPU(b, "cpu-ms/page", func(n int) { page(1 + 100*(n%(listBenchUsers/100))) })
}

// benchGateway is the gateway's SCIM handler in process with its default
// caches over c, as make bench's gateway serves it.
func benchGateway(b *testing.B, o *testenv.OpenLDAP, c *Conn) (http.Handler, string) {
	users, err := mapping.Load("../conf/examples/openldap-users.toml",
		mapping.Options{BaseDN: o.BaseDN, Container: o.PeopleDN, Standard: scimside.StandardSchemas()})
	if err != nil {
		b.Fatal(err)
	}
	res := bridge.NewResolver(c, 0)
	res.Register(users)
	svc := bridge.NewService(c, users, res, bridge.ServiceConfig{Lifecycle: true, EntryCache: bridge.DefaultEntryCache,
		DNIndex: bridge.DefaultDNIndex, ReadAhead: bridge.NewReadAhead(10*time.Second, 8, time.Now)})
	const token = "Bearer gateway-bench"
	srv, err := scimside.New(scimside.Config{Auth: scimside.AuthConfig{HeaderName: "Authorization", HeaderValue: token}},
		scimside.Services{Users: svc}, hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Warn}))
	if err != nil {
		b.Fatal(err)
	}
	return srv.Handler(), token
}

// BenchmarkLookupUserName is make bench's lookup in one process:
// GET /v2/Users?filter=userName eq "…" through the scimside handler,
// bridge.Service and ldapside against a real slapd, so that the gateway's
// own share of "lookup overhead" can be profiled without the HTTP socket.
func BenchmarkLookupUserName(b *testing.B) {
	o, c := listBenchEnv(b)
	gatewayGC(b)
	h, token := benchGateway(b, o, c)
	lookup := func(i int) {
		uid := fmt.Sprintf("lb%05d", i%listBenchUsers)
		req := httptest.NewRequest(http.MethodGet, "/v2/Users?filter=userName%20eq%20%22"+uid+"%22", nil)
		req.Header.Set("Authorization", token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"totalResults":1`) {
			b.Fatalf("lookup %s: %d %.300s", uid, rec.Code, rec.Body)
		}
	}
	for i := range listBenchUsers {
		lookup(i) // slapd's caches warm, as in make bench
	}
	loopCPU(b, "cpu-ms/op", lookup)
}

// BenchmarkWrite is make bench's PATCH active=false and PUT (a new title)
// in one process, on users the gateway knows only from an import walk (as
// there: their DNs in the DN index, their entries not remembered), so
// that the gateway's own processor time per write can be profiled.
func BenchmarkWrite(b *testing.B) {
	o, c := listBenchEnv(b)
	gatewayGC(b)
	h, token := benchGateway(b, o, c)
	do := func(method, path, body string, want int) string {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", token)
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("%s %s: %d %.300s", method, path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	ids := map[string]string{}
	for start := 1; start <= listBenchUsers; start += 100 {
		body := do(http.MethodGet, "/v2/Users?startIndex="+strconv.Itoa(start)+"&count=100", "", http.StatusOK)
		var lr struct {
			Resources []struct{ ID, UserName string }
		}
		if err := json.Unmarshal([]byte(body), &lr); err != nil {
			b.Fatal(err)
		}
		for _, r := range lr.Resources {
			ids[r.UserName] = r.ID
		}
	}
	if len(ids) != listBenchUsers {
		b.Fatalf("the walk found %d users, want %d", len(ids), listBenchUsers)
	}
	user := func(i int) (string, string) {
		uid := fmt.Sprintf("lb%05d", i%listBenchUsers)
		return uid, ids[uid]
	}
	// write runs op(n) for the n-th write as one benchmark.
	write := func(name string, op func(n int)) {
		b.Run(name, func(b *testing.B) { loopCPU(b, "cpu-ms/op", op) })
	}
	write("patch-active", func(n int) {
		_, id := user(n)
		do(http.MethodPatch, "/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":`+strconv.FormatBool(n/listBenchUsers%2 == 1)+`}]}`, http.StatusOK)
	})
	write("put-title", func(n int) {
		uid, id := user(n)
		i, _ := strconv.Atoi(uid[2:])
		given, family := "Given"+strconv.Itoa(i), "Family"+strconv.Itoa(i)
		do(http.MethodPut, "/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+uid+`","name":{"givenName":"`+given+`","familyName":"`+family+`"},"emails":[{"value":"`+uid+`@example.com","type":"work","primary":true}],"title":"Title `+strconv.Itoa(n)+`","active":true}`, http.StatusOK)
	})
}
