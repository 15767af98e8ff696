package scimside

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

func bulkBody(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{bulkRequestURN}, "Operations": list}
}

func bulkOpOf(method, path, bulkID string, data any) map[string]any {
	o := map[string]any{"method": method, "path": path}
	if bulkID != "" {
		o["bulkId"] = bulkID
	}
	if data != nil {
		o["data"] = data
	}
	return o
}

func patchBody(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{patchOpURN}, "Operations": list}
}

// bulkResults checks the BulkResponse envelope and returns its operations.
func bulkResults(t *testing.T, r resp) []map[string]any {
	t.Helper()
	expectT(t, r, 200, "bulk")
	if lookup(r.json, "schemas.0") != bulkResponseURN {
		t.Fatalf("not a BulkResponse: %s", r.body)
	}
	raw, _ := r.json["Operations"].([]any)
	out := make([]map[string]any, len(raw))
	for i, x := range raw {
		out[i], _ = x.(map[string]any)
	}
	return out
}

func opStatus(o map[string]any) string { s, _ := o["status"].(string); return s }

func memberIDs(t *testing.T, g bridge.Resource) []string {
	t.Helper()
	var ids []string
	list, _ := g.Attrs["members"].([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		s, _ := mm["value"].(string)
		ids = append(ids, s)
	}
	return ids
}

// TestBulkJoinersMoversLeavers: a day of HR changes in one request. The
// operations run in order, bulkIds name what earlier POSTs created (in data
// and in paths), and each answer says what its request alone would have.
func TestBulkJoinersMoversLeavers(t *testing.T) {
	e := newEnv(t)
	e.expect(e.do("POST", "/v2/Users", oktaUser("taken@example.com")), 201, "existing user")
	r := e.do("POST", "/scim/v2/Bulk", bulkBody(
		bulkOpOf("POST", "/Users", "ann", oktaUser("ann@example.com")),
		bulkOpOf("POST", "/Users", "bob", oktaUser("bob@example.com")),
		bulkOpOf("POST", "/Groups", "team", map[string]any{
			"schemas": []string{bridge.GroupSchema}, "displayName": "Team",
			"members": []any{map[string]any{"value": "bulkId:ann"}, map[string]any{"value": "bulkId:bob"}},
		}),
		bulkOpOf("PATCH", "/Users/bulkId:ann", "", patchBody(map[string]any{"op": "replace", "path": "title", "value": "Lead"})),
		bulkOpOf("DELETE", "/Users/bulkId:bob", "", nil),
		bulkOpOf("POST", "/Users", "dup", oktaUser("TAKEN@example.com")),
	))
	ops := bulkResults(t, r)
	if len(ops) != 6 {
		t.Fatalf("%d results, want 6: %s", len(ops), r.body)
	}
	want := []struct{ method, status string }{{"POST", "201"}, {"POST", "201"}, {"POST", "201"}, {"PATCH", "200"}, {"DELETE", "204"}, {"POST", "409"}}
	for i, w := range want {
		if ops[i]["method"] != w.method || opStatus(ops[i]) != w.status {
			t.Errorf("operation %d: %v %v, want %s %s", i+1, ops[i]["method"], ops[i]["status"], w.method, w.status)
		}
	}
	users := e.users.sortedIDs()
	if len(users) != 2 { // the existing user and ann; bob was deleted
		t.Fatalf("users %v", users)
	}
	ann, err := e.users.Get(t.Context(), "u-0002")
	if err != nil || ann.String("userName") != "ann@example.com" || ann.String("title") != "Lead" {
		t.Fatalf("ann: %v %v", ann.Attrs, err)
	}
	if ops[0]["bulkId"] != "ann" || ops[0]["location"] != e.ts.URL+"/scim/v2/Users/u-0002" || ops[0]["version"] != `W/"1"` {
		t.Errorf("POST entry: %v", ops[0])
	}
	if ops[3]["location"] != e.ts.URL+"/scim/v2/Users/u-0002" || ops[3]["version"] != `W/"2"` {
		t.Errorf("PATCH entry: %v", ops[3])
	}
	if ops[4]["location"] != e.ts.URL+"/scim/v2/Users/u-0003" || ops[4]["response"] != nil {
		t.Errorf("DELETE entry: %v", ops[4])
	}
	if _, err := e.users.Get(t.Context(), "u-0003"); bridge.KindOf(err) != bridge.KindNotFound {
		t.Errorf("bob not deleted: %v", err)
	}
	groups := e.groups.sortedIDs()
	if len(groups) != 1 {
		t.Fatalf("groups %v", groups)
	}
	g, _ := e.groups.Get(t.Context(), groups[0])
	if got := strings.Join(memberIDs(t, g), ","); got != "u-0002,u-0003" {
		t.Errorf("members %q, want the ids the POSTs created", got)
	}
	fail := ops[5]
	if fail["location"] != nil || fail["version"] != nil || lookup(fail, "response.scimType") != "uniqueness" ||
		lookup(fail, "response.status") != "409" || lookup(fail, "response.schemas.0") != errorURN {
		t.Errorf("failed POST entry: %v", fail)
	}
	// Each operation is told apart in the log by the bulk request's id and
	// its position.
	if id := r.header.Get("X-Request-Id"); !strings.Contains(e.logs.String(), `"request_id":"`+id+`.op6"`) {
		t.Errorf("no log line for operation 6 of %s:\n%s", id, e.logs.String())
	}
}

// TestBulkReferenceFailures: a bulkId that cannot be resolved fails its
// operation with 409 invalidValue before anything is written for it.
func TestBulkReferenceFailures(t *testing.T) {
	e := newEnv(t)
	group := func(name string, members ...string) map[string]any {
		var ms []any
		for _, m := range members {
			ms = append(ms, map[string]any{"value": m})
		}
		return map[string]any{"displayName": name, "members": ms}
	}
	manager := func(userName, ref string) map[string]any {
		u := oktaUser(userName)
		u[bridge.EnterpriseSchema] = map[string]any{"manager": map[string]any{"value": ref}}
		return u
	}
	r := e.do("POST", "/v2/Bulk", bulkBody(
		bulkOpOf("POST", "/Groups", "g1", group("Unknown", "bulkId:nobody")),
		bulkOpOf("POST", "/Groups", "g2", group("Forward", "bulkId:later")),
		bulkOpOf("POST", "/Users", "later", oktaUser("later@example.com")),
		bulkOpOf("POST", "/Users", "bad", map[string]any{"userName": ""}),
		bulkOpOf("POST", "/Groups", "g3", group("FromFailed", "bulkId:bad")),
		bulkOpOf("POST", "/Users", "a", manager("a@example.com", "bulkId:b")),
		bulkOpOf("POST", "/Users", "b", manager("b@example.com", "bulkId:a")),
		bulkOpOf("POST", "/Users", "self", manager("self@example.com", "bulkId:self")),
		bulkOpOf("PUT", "/Users/bulkId:g1", "", oktaUser("x@example.com")),
		bulkOpOf("POST", "/Groups", "g4", group("Good", "bulkId:later")),
	))
	ops := bulkResults(t, r)
	want := []struct{ status, detail string }{
		{"409", "not defined"}, {"409", "runs later"}, {"201", ""}, {"400", ""}, {"409", "operation 4 failed"},
		{"409", "circular"}, {"409", "circular"}, {"409", "circular"}, {"409", "operation 1 failed"}, {"201", ""},
	}
	if len(ops) != len(want) {
		t.Fatalf("%d results: %s", len(ops), r.body)
	}
	for i, w := range want {
		o := ops[i]
		if opStatus(o) != w.status {
			t.Errorf("operation %d: status %v, want %s (%v)", i+1, o["status"], w.status, o)
			continue
		}
		if w.status == "409" {
			d, _ := lookup(o, "response.detail").(string)
			if lookup(o, "response.scimType") != "invalidValue" || !strings.Contains(d, w.detail) {
				t.Errorf("operation %d: %v, want detail with %q", i+1, o["response"], w.detail)
			}
		}
	}
	// Only "later" and "Good" were created; nothing was sent for the others.
	if u, g := e.users.sortedIDs(), e.groups.sortedIDs(); len(u) != 1 || len(g) != 1 {
		t.Fatalf("users %v groups %v", u, g)
	}
	g, _ := e.groups.Get(t.Context(), "g-0001")
	if g.String("displayName") != "Good" || strings.Join(memberIDs(t, g), ",") != "u-0001" {
		t.Errorf("group: %v", g.Attrs)
	}
}

// TestBulkFailOnErrors: processing stops once failOnErrors operations have
// failed; the operations not run are not in the response and wrote nothing.
func TestBulkFailOnErrors(t *testing.T) {
	for _, c := range []struct {
		failOn   any
		results  int
		created  int
		statuses string
	}{
		{nil, 5, 3, "400,201,400,201,201"},
		{1, 1, 0, "400"},
		{2, 3, 1, "400,201,400"},
		{3, 5, 3, "400,201,400,201,201"},
	} {
		t.Run(fmt.Sprint(c.failOn), func(t *testing.T) {
			e := newEnv(t)
			body := bulkBody(
				bulkOpOf("POST", "/Users", "1", map[string]any{"userName": ""}),
				bulkOpOf("POST", "/Users", "2", oktaUser("two@example.com")),
				bulkOpOf("PATCH", "/Users/nope", "", map[string]any{"Operations": "x"}),
				bulkOpOf("POST", "/Users", "4", oktaUser("four@example.com")),
				bulkOpOf("POST", "/Users", "5", oktaUser("five@example.com")),
			)
			if c.failOn != nil {
				body["failOnErrors"] = c.failOn
			}
			ops := bulkResults(t, e.do("POST", "/v2/Bulk", body))
			var got []string
			for _, o := range ops {
				got = append(got, opStatus(o))
			}
			if strings.Join(got, ",") != c.statuses {
				t.Errorf("statuses %v, want %s", got, c.statuses)
			}
			if n := len(e.users.sortedIDs()); n != c.created {
				t.Errorf("%d users created, want %d", n, c.created)
			}
		})
	}
}

// TestBulkVersion: an operation's version is its If-Match.
func TestBulkVersion(t *testing.T) {
	e := newEnv(t)
	id := e.expect(e.do("POST", "/v2/Users", oktaUser("v@example.com")), 201, "create").str("id")
	title := func(v string) map[string]any {
		return patchBody(map[string]any{"op": "replace", "path": "title", "value": v})
	}
	withVersion := func(o map[string]any, v string) map[string]any { o["version"] = v; return o }
	ops := bulkResults(t, e.do("POST", "/v2/Bulk", bulkBody(
		withVersion(bulkOpOf("PATCH", "/Users/"+id, "", title("stale")), `W/"7"`),
		withVersion(bulkOpOf("PATCH", "/Users/"+id, "", title("fresh")), `W/"1"`),
		withVersion(bulkOpOf("PUT", "/Users/"+id, "", oktaUser("v@example.com")), `W/"1"`),
		withVersion(bulkOpOf("DELETE", "/Users/"+id, "", nil), `W/"2"`),
	)))
	var got []string
	for _, o := range ops {
		got = append(got, opStatus(o))
	}
	if strings.Join(got, ",") != "412,200,412,204" {
		t.Fatalf("statuses %v: %v", got, ops)
	}
	if lookup(ops[0], "response.status") != "412" || ops[0]["location"] != e.ts.URL+"/v2/Users/"+id {
		t.Errorf("stale PATCH: %v", ops[0])
	}
	if ops[1]["version"] != `W/"2"` {
		t.Errorf("PATCH version: %v", ops[1])
	}
	if _, err := e.users.Get(t.Context(), id); bridge.KindOf(err) != bridge.KindNotFound {
		t.Errorf("not deleted: %v", err)
	}
}

// TestBulkLimits: maxOperations and maxPayloadSize are enforced (413,
// nothing written) and advertised; an operation's data still has the limit
// of a request alone.
func TestBulkLimits(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Services) {
		c.BulkMaxOperations, c.BulkMaxPayloadBytes, c.MaxBodyBytes = 2, 8<<10, 2<<10
	})
	r := e.expect(e.do("GET", "/v2/ServiceProviderConfig", nil), 200, "SPC")
	if lookup(r.json, "bulk.supported") != true || lookup(r.json, "bulk.maxOperations") != 2.0 || lookup(r.json, "bulk.maxPayloadSize") != 8192.0 {
		t.Errorf("SPC bulk: %v", r.json["bulk"])
	}
	three := bulkBody(
		bulkOpOf("POST", "/Users", "1", oktaUser("1@example.com")),
		bulkOpOf("POST", "/Users", "2", oktaUser("2@example.com")),
		bulkOpOf("POST", "/Users", "3", oktaUser("3@example.com")),
	)
	r = e.expect(e.do("POST", "/v2/Bulk", three), 413, "too many operations")
	if !strings.Contains(r.str("detail"), "maxOperations is 2") {
		t.Errorf("detail: %s", r.body)
	}
	big := oktaUser("big@example.com")
	big["title"] = strings.Repeat("x", 9<<10)
	r = e.expect(e.do("POST", "/v2/Bulk", bulkBody(bulkOpOf("POST", "/Users", "1", oktaUser("1@example.com")), bulkOpOf("POST", "/Users", "big", big))), 413, "too large")
	if !strings.Contains(r.str("detail"), "maxPayloadSize (8192 bytes)") {
		t.Errorf("detail: %s", r.body)
	}
	if n := len(e.users.sortedIDs()); n != 0 {
		t.Fatalf("%d users written by refused requests", n)
	}
	// Larger than a request alone may be, within the bulk limit.
	big["title"] = strings.Repeat("x", 3<<10)
	ops := bulkResults(t, e.do("POST", "/v2/Bulk", bulkBody(bulkOpOf("POST", "/Users", "big", big), bulkOpOf("POST", "/Users", "1", oktaUser("1@example.com")))))
	if len(ops) != 2 || opStatus(ops[0]) != "413" || opStatus(ops[1]) != "201" {
		t.Errorf("operation over the body limit: %v", ops)
	}
}

// TestBulkMalformed: a request whose envelope is wrong is a 400 and
// nothing of it runs, not even its well-formed operations.
func TestBulkMalformed(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *Services) { c.MaxBodyBytes = 64 << 10 })
	good := `{"method":"POST","path":"/Users","bulkId":"ok","data":{"userName":"ok@example.com"}}`
	env := func(ops string) string {
		return `{"schemas":["` + bulkRequestURN + `"],"Operations":[` + good + `,` + ops + `]}`
	}
	cases := []struct{ name, body, scimType, detail string }{
		{"no schemas", `{"Operations":[` + good + `]}`, "invalidSyntax", "schemas"},
		{"wrong schema", `{"schemas":["` + patchOpURN + `"],"Operations":[` + good + `]}`, "invalidSyntax", "schemas"},
		{"extra schema", `{"schemas":["` + bulkRequestURN + `","urn:evil"],"Operations":[` + good + `]}`, "invalidSyntax", "schemas"},
		{"schemas not a list", `{"schemas":"` + bulkRequestURN + `","Operations":[` + good + `]}`, "invalidSyntax", "schemas"},
		{"no Operations", `{"schemas":["` + bulkRequestURN + `"]}`, "invalidSyntax", "Operations"},
		{"Operations not a list", `{"schemas":["` + bulkRequestURN + `"],"Operations":` + good + `}`, "invalidSyntax", "Operations"},
		{"Operations empty", `{"schemas":["` + bulkRequestURN + `"],"Operations":[]}`, "invalidSyntax", "Operations"},
		{"Operations twice", `{"schemas":["` + bulkRequestURN + `"],"Operations":[` + good + `],"operations":[]}`, "invalidSyntax", ""},
		{"Operations twice exactly", `{"schemas":["` + bulkRequestURN + `"],"Operations":[` + good + `],"Operations":[` + good + `]}`, "invalidSyntax", "twice"},
		{"method twice", env(`{"method":"DELETE","METHOD":"DELETE","path":"/Users/x"}`), "invalidSyntax", "operation 2 has the member"},
		{"path twice", env(`{"method":"DELETE","path":"/Users/x","path":"/Users/y"}`), "invalidSyntax", "twice"},
		{"not JSON", `{"schemas":`, "invalidSyntax", ""},
		{"operation not an object", env(`"x"`), "invalidSyntax", "operation 2"},
		{"no method", env(`{"path":"/Users/x"}`), "invalidSyntax", "method"},
		{"method GET", env(`{"method":"GET","path":"/Users/x"}`), "invalidValue", "method"},
		{"method not a string", env(`{"method":1,"path":"/Users/x"}`), "invalidSyntax", "method"},
		{"no path", env(`{"method":"DELETE"}`), "invalidSyntax", "path"},
		{"path Schemas", env(`{"method":"DELETE","path":"/Schemas/x"}`), "invalidValue", "path"},
		{"path Bulk", env(`{"method":"POST","path":"/Bulk","bulkId":"b","data":{}}`), "invalidValue", "path"},
		{"path search", env(`{"method":"POST","path":"/Users/.search","bulkId":"b","data":{}}`), "invalidValue", "path"},
		{"path without slash", env(`{"method":"DELETE","path":"Users/x"}`), "invalidValue", "path"},
		{"path with query", env(`{"method":"DELETE","path":"/Users/x?attributes=id"}`), "invalidValue", "path"},
		{"path too deep", env(`{"method":"DELETE","path":"/Users/x/y"}`), "invalidValue", "path"},
		{"POST to an item", env(`{"method":"POST","path":"/Users/x","bulkId":"b","data":{}}`), "invalidValue", "path"},
		{"PUT to the collection", env(`{"method":"PUT","path":"/Users","data":{}}`), "invalidValue", "path"},
		{"POST without bulkId", env(`{"method":"POST","path":"/Users","data":{"userName":"n"}}`), "invalidSyntax", "bulkId"},
		{"empty bulkId", env(`{"method":"POST","path":"/Users","bulkId":"","data":{"userName":"n"}}`), "invalidValue", "bulkId"},
		{"duplicate bulkId", env(`{"method":"POST","path":"/Users","bulkId":"ok","data":{"userName":"n"}}`), "invalidValue", "already used by operation 1"},
		{"no data", env(`{"method":"PATCH","path":"/Users/x"}`), "invalidSyntax", "data"},
		{"failOnErrors zero", `{"schemas":["` + bulkRequestURN + `"],"failOnErrors":0,"Operations":[` + good + `]}`, "invalidValue", "failOnErrors"},
		{"failOnErrors fraction", `{"schemas":["` + bulkRequestURN + `"],"failOnErrors":1.5,"Operations":[` + good + `]}`, "invalidValue", "failOnErrors"},
		{"failOnErrors string", `{"schemas":["` + bulkRequestURN + `"],"failOnErrors":"1","Operations":[` + good + `]}`, "invalidValue", "failOnErrors"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := expectT(t, e.do("POST", "/v2/Bulk", c.body), 400, c.name)
			if r.str("scimType") != c.scimType || !strings.Contains(r.str("detail"), c.detail) {
				t.Errorf("scimType %q detail %q, want %q with %q", r.str("scimType"), r.str("detail"), c.scimType, c.detail)
			}
		})
	}
	for _, call := range append(e.users.calls, e.groups.calls...) {
		if call != "get" && call != "list" {
			t.Fatalf("a malformed bulk request wrote: %v %v", e.users.calls, e.groups.calls)
		}
	}
	e.expect(e.do("GET", "/v2/Bulk", nil), 405, "GET /Bulk")
	e.expect(e.do("POST", "/v2/Bulk", env(`{}`), "Content-Type", "text/plain"), 415, "bulk as text")
}

// TestBulkSameAsAlone: an operation's answer is the answer its request gets
// alone, whatever the body: the data reaches the endpoint as sent.
func TestBulkSameAsAlone(t *testing.T) {
	alone, bulk := newEnv(t), newEnv(t)
	bodies := []string{
		`{"userName":"a@example.com"}`,
		`{"userName":"a@example.com"}`,
		`{"userName":""}`,
		`"not an object"`,
		`{"userName":"b@example.com","active":"yes"}`,
		`{"userName":"c\ud800@example.com"}`,
		`{"userName":"d@example.com","title":"tab\tnul\u0000"}`,
		`{"schemas":["urn:evil:schema"],"userName":"e@example.com"}`,
		`{"userName":"f@example.com","userName":"g@example.com"}`,
		`{"userName":"h@example.com","USERNAME":"i@example.com"}`,
		`{"userName":"j@example.com","x":` + strings.Repeat(`[`, 40) + strings.Repeat(`]`, 40) + `}`,
	}
	for i, b := range bodies {
		a := alone.do("POST", "/v2/Users", b)
		ops := bulkResults(t, bulk.do("POST", "/v2/Bulk", `{"schemas":["`+bulkRequestURN+`"],"Operations":[{"method":"POST","path":"/Users","bulkId":"x","data":`+b+`}]}`))
		if len(ops) != 1 {
			t.Fatalf("body %d: %d results", i, len(ops))
		}
		o := ops[0]
		if opStatus(o) != fmt.Sprint(a.status) || lookup(o, "response.scimType") != lookup(a.json, "scimType") {
			t.Errorf("body %d %s: bulk %v %v, alone %d %v", i, b, o["status"], lookup(o, "response.scimType"), a.status, lookup(a.json, "scimType"))
		}
	}
}

// TestBulkRewriteRefs: only string values that are exactly a reference are
// replaced; keys, longer strings and every other byte stay as sent.
func TestBulkRewriteRefs(t *testing.T) {
	ops := map[string]*bulkOp{"a": {ran: true, created: "id-\"a\""}, "b": {ran: true, created: "id-b"}}
	self := &bulkOp{n: 9}
	in := `{ "bulkId:a" : "bulkId:a", "x":[1, "bulkId\u003ab" ,{"y":"see bulkId:a"}], "n":1e3 ,"z":{"bulkId:b":true}}`
	out, err := rewriteBulkRefs(self, []byte(in), ops)
	if err != nil {
		t.Fatal(err)
	}
	want := `{ "bulkId:a" : "id-\"a\"", "x":[1, "id-b" ,{"y":"see bulkId:a"}], "n":1e3 ,"z":{"bulkId:b":true}}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	if _, err := rewriteBulkRefs(self, []byte(`["bulkId:c"]`), ops); err == nil || !strings.Contains(bridge.SafeMessage(err), `"c" is not defined`) {
		t.Errorf("unknown reference: %v", err)
	}
}

// TestBulkOnlyInSCIM2: 1.1 has no bulk; the 2.0 answer to a well-formed
// request is 200 even when every operation failed.
func TestBulkOnlyInSCIM2(t *testing.T) {
	e := newEnv(t)
	body := bulkBody(bulkOpOf("DELETE", "/Users/nope", "", nil))
	e.expect(e.do("POST", "/v1/Bulk", body), 501, "1.1 bulk")
	e.expect(e.do("POST", "/Bulk", body), 501, "1.1 bulk at the root")
	ops := bulkResults(t, e.do("POST", "/v2/Bulk", body))
	if len(ops) != 1 || opStatus(ops[0]) != "404" || lookup(ops[0], "response.status") != "404" {
		t.Errorf("%v", ops)
	}
	r := e.expect(e.do("POST", "/v2/.search", `{"filter":"userName eq \"x\""}`), 501, "root search")
	if !strings.Contains(r.str("detail"), "/Users/.search") {
		t.Errorf("root search detail: %s", r.body)
	}
	if r := e.do("GET", "/v2/.search", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /.search: %d", r.status)
	}
}
