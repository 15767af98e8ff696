package scimside

// Bulk operations (RFC 7644 §3.7), SCIM 2.0 only.
//
// A BulkRequest is a list of ordinary requests in one envelope. Each
// operation is dispatched, in the order sent, through the same endpoint
// handler that would serve it alone (resources.go), with a request made for
// it and a recorder for the answer: it has exactly the semantics, limits and
// atomicity of the same request sent alone, and nothing here knows how a
// resource is created, replaced or patched. There is no atomicity across
// operations: what has run stays written when a later one fails.
//
// What belongs to the envelope is checked before anything runs, and a bad
// envelope is a 400 with nothing written: the schemas, Operations, each
// operation's method, path, bulkId and the presence of its data. The data
// itself is the inner request's body and is judged by its endpoint, as it
// would be alone; its bytes are handed on as sent, apart from bulkId
// references, so that every check of a body sees what the client wrote.
//
// bulkId references: a JSON string value that is exactly "bulkId:<id>"
// anywhere in an operation's data, or a path "/Users/bulkId:<id>", is
// replaced by the id the POST with that bulkId created. Operations are not
// reordered: a reference to a bulkId that no POST of the request defines, to
// one whose POST comes later (a forward reference, which includes every
// circular one), or to one whose POST failed, fails that operation with 409
// and scimType invalidValue, before anything is sent to its endpoint.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/bridge"
)

const (
	bulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	bulkRefPrefix   = "bulkId:"
	// maxBulkIDLen bounds a bulkId: it is echoed in responses and messages.
	maxBulkIDLen = 256
)

// rootSearchUnsupported answers POST /.search at a version base (RFC 7644
// §3.4.3 makes it optional): one filter over users and groups together,
// paged as one list, is not offered.
const rootSearchUnsupported = "searching across resource types (POST /.search) is not supported; use POST /Users/.search or POST /Groups/.search"

// bulk returns the /Bulk handler, or a 501 when there is none.
func (c v2codec) bulk() func(http.ResponseWriter, *http.Request, *call, []string) error {
	if c.info == nil || c.info.bulk == nil {
		return notImplemented("bulk operations are not supported")
	}
	return c.info.bulk
}

// bulkRequest is a parsed BulkRequest.
type bulkRequest struct {
	failOnErrors int // 0: no limit
	ops          []*bulkOp
}

// bulkOp is one operation of a bulk request, and then its outcome.
type bulkOp struct {
	n       int    // 1-based position, for messages and logs
	method  string // upper case
	ep      *endpoint
	id      string // the resource id of PUT/PATCH/DELETE, maybe "bulkId:…"
	bulkID  string
	version string
	data    json.RawMessage // nil for DELETE
	refs    []string        // bulkIds referenced by the path and the data
	cycle   int             // > 0: the circle of references it is part of

	ran     bool
	created string // the id a successful POST created
}

// serveBulk serves POST /Bulk.
func (rt *router) serveBulk(w http.ResponseWriter, r *http.Request, c *call, _ []string) error {
	const op = "scimside.(*router).serveBulk"
	limit := rt.s.cfg.BulkMaxPayloadBytes
	body, err := readBody(w, r, limit)
	if err != nil {
		if bridge.KindOf(err) == bridge.KindPayloadTooLarge {
			return bridge.E(op, bridge.KindPayloadTooLarge, fmt.Sprintf("the bulk request is larger than maxPayloadSize (%d bytes)", limit), err)
		}
		return err
	}
	req, err := rt.parseBulk(body)
	if err != nil {
		return err
	}
	byBulkID := map[string]*bulkOp{}
	for _, o := range req.ops {
		if o.method == http.MethodPost {
			byBulkID[o.bulkID] = o
		}
	}
	results := make([]any, 0, len(req.ops))
	failures := 0
	for _, o := range req.ops {
		if err := r.Context().Err(); err != nil {
			// The client went away: nobody reads the answer, and the rest
			// of the request is not sent alone either.
			return bridge.E(op, bridge.KindUnavailable, "the request was abandoned", err)
		}
		res, ok, err := rt.runBulkOp(r, c, o, byBulkID)
		if err != nil {
			return bridge.Wrap(op, err)
		}
		results = append(results, res)
		if !ok {
			failures++
			if req.failOnErrors > 0 && failures >= req.failOnErrors {
				break
			}
		}
	}
	rt.s.log.Debug("bulk request done", "request_id", c.id, "operations", len(req.ops), "ran", len(results), "failed", failures)
	return respond(w, http.StatusOK, orderedObject{{"schemas", []string{bulkResponseURN}}, {"Operations", results}})
}

// parseBulk checks and reads the envelope of a bulk request.
func (rt *router) parseBulk(body []byte) (*bulkRequest, error) {
	const op = "scimside.(*router).parseBulk"
	// Only the envelope is decoded here. Each operation's data is kept as
	// sent and decoded by its endpoint, with every check a body alone gets
	// (depth, duplicate names, characters, …): a bad one fails only its
	// operation, as it would fail only its request.
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "the request body is empty")
	}
	if !utf8.Valid(body) {
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "the request body is not valid UTF-8")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, bridge.E(op, bridge.KindInvalidSyntax, "the request body is not a JSON object", err)
	}
	if err := uniqueMembers(body, "the bulk request"); err != nil {
		return nil, err
	}
	bad := func(kind bridge.Kind, format string, args ...any) error {
		return bridge.Errorf(op, kind, format, args...)
	}

	raw, ok, err := rawFold(top, "schemas")
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	var schemas []string
	if !ok || json.Unmarshal(raw, &schemas) != nil || len(schemas) == 0 {
		return nil, bad(bridge.KindInvalidSyntax, "a bulk request needs schemas: [%q]", bulkRequestURN)
	}
	for _, s := range schemas {
		if !strings.EqualFold(s, bulkRequestURN) {
			return nil, bad(bridge.KindInvalidSyntax, "a bulk request's schemas must be [%q]", bulkRequestURN)
		}
	}

	req := &bulkRequest{}
	if raw, ok, err := rawFold(top, "failOnErrors"); err != nil {
		return nil, bridge.Wrap(op, err)
	} else if ok && !isNull(raw) {
		var f float64
		if json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) || f < 1 {
			return nil, bad(bridge.KindInvalidValue, "failOnErrors must be a positive integer")
		}
		req.failOnErrors = int(min(f, maxIndex))
	}

	raw, ok, err = rawFold(top, "Operations")
	if err != nil {
		return nil, bridge.Wrap(op, err)
	}
	if !ok {
		return nil, bad(bridge.KindInvalidSyntax, "a bulk request needs Operations")
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
		return nil, bad(bridge.KindInvalidSyntax, "Operations must be a non-empty array")
	}
	if limit := rt.s.cfg.BulkMaxOperations; len(list) > limit {
		return nil, bad(bridge.KindPayloadTooLarge, "the bulk request has %d operations; maxOperations is %d", len(list), limit)
	}
	seen := map[string]int{}
	for i, item := range list {
		o, err := rt.parseBulkOp(i+1, item)
		if err != nil {
			return nil, err
		}
		if o.bulkID != "" {
			if first, dup := seen[o.bulkID]; dup {
				return nil, bad(bridge.KindInvalidValue, "operation %d: bulkId %q is already used by operation %d", o.n, o.bulkID, first)
			}
			seen[o.bulkID] = o.n
		}
		req.ops = append(req.ops, o)
	}
	markCycles(req.ops)
	return req, nil
}

// parseBulkOp reads one operation: method, path, bulkId, version, data.
func (rt *router) parseBulkOp(n int, item json.RawMessage) (*bulkOp, error) {
	const op = "scimside.(*router).parseBulkOp"
	bad := func(kind bridge.Kind, format string, args ...any) error {
		return bridge.Errorf(op, kind, "operation %d: %s", n, fmt.Sprintf(format, args...))
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(item, &m) != nil || m == nil {
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "operation %d must be an object", n)
	}
	if err := uniqueMembers(item, "operation "+strconv.Itoa(n)); err != nil {
		return nil, err
	}
	str := func(name string) (string, bool, error) {
		raw, ok, err := rawFold(m, name)
		if err != nil || !ok || isNull(raw) {
			return "", false, err
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false, bad(bridge.KindInvalidSyntax, "%s must be a string", name)
		}
		return s, true, nil
	}
	o := &bulkOp{n: n}
	method, ok, err := str("method")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, bad(bridge.KindInvalidSyntax, "method is required")
	}
	o.method = strings.ToUpper(strings.TrimSpace(method))
	switch o.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil, bad(bridge.KindInvalidValue, "method must be POST, PUT, PATCH or DELETE")
	}
	if o.bulkID, ok, err = str("bulkId"); err != nil {
		return nil, err
	}
	switch {
	case ok && (o.bulkID == "" || len(o.bulkID) > maxBulkIDLen):
		return nil, bad(bridge.KindInvalidValue, "bulkId must be a non-empty string of at most %d bytes", maxBulkIDLen)
	case o.method == http.MethodPost && !ok:
		return nil, bad(bridge.KindInvalidSyntax, "a POST needs a bulkId")
	}
	if o.version, _, err = str("version"); err != nil {
		return nil, err
	}

	path, ok, err := str("path")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, bad(bridge.KindInvalidSyntax, "path is required")
	}
	if err := rt.bulkPath(o, path); err != nil {
		return nil, bad(bridge.KindInvalidValue, "%s", bridge.SafeMessage(err))
	}
	if strings.HasPrefix(o.id, bulkRefPrefix) {
		o.refs = append(o.refs, o.id[len(bulkRefPrefix):])
	}

	if o.method != http.MethodDelete {
		raw, ok, err := rawFold(m, "data")
		if err != nil {
			return nil, err
		}
		if !ok || isNull(raw) {
			return nil, bad(bridge.KindInvalidSyntax, "%s needs data", o.method)
		}
		o.data = raw
		err = walkStrings(raw, func(_, _ int, s string) error {
			if strings.HasPrefix(s, bulkRefPrefix) {
				o.refs = append(o.refs, s[len(bulkRefPrefix):])
			}
			return nil
		})
		if err != nil {
			return nil, bridge.E(op, bridge.KindInvalidSyntax, fmt.Sprintf("operation %d: data is not valid JSON", n), err)
		}
	}
	return o, nil
}

// bulkPath checks an operation's path: a resource endpoint for POST
// ("/Users"), a resource of one for the others ("/Users/{id}").
func (rt *router) bulkPath(o *bulkOp, path string) error {
	const op = "scimside.(*router).bulkPath"
	var names []string
	for _, ep := range rt.endpoints {
		if !ep.readOnly { // entitlement values: nothing to write
			names = append(names, "/"+ep.name)
		}
	}
	sort.Strings(names)
	want := "a resource of " + strings.Join(names, " or ") + ", as in " + names[0] + "/{id}"
	if o.method == http.MethodPost {
		want = strings.Join(names, " or ")
	}
	fail := func() error { return bridge.Errorf(op, bridge.KindInvalidValue, "path must name %s", want) }
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#") {
		return fail()
	}
	segs, err := splitSegments(path)
	if err != nil || len(segs) == 0 {
		return fail()
	}
	ep, ok := rt.endpoints[strings.ToLower(segs[0])]
	if !ok || ep.readOnly {
		return fail()
	}
	o.ep = ep
	switch {
	case o.method == http.MethodPost && len(segs) == 1:
		return nil
	case o.method != http.MethodPost && len(segs) == 2 && segs[1] != ".search":
		o.id = segs[1]
		return nil
	}
	return fail()
}

// markCycles marks the POSTs that are part of a circle of bulkId
// references (a POST that needs its own id, or A needs B needs A), so that
// the error says so: such a request cannot run in any order. Tarjan's
// strongly connected components, over edges from an operation to the POSTs
// whose bulkIds it references.
func markCycles(ops []*bulkOp) {
	byID := map[string]int{}
	for i, o := range ops {
		if o.method == http.MethodPost {
			byID[o.bulkID] = i
		}
	}
	edges := make([][]int, len(ops))
	for i, o := range ops {
		for _, ref := range o.refs {
			if j, ok := byID[ref]; ok {
				edges[i] = append(edges[i], j)
			}
		}
	}
	index := make([]int, len(ops)) // 0: not visited; else visit order + 1
	low := make([]int, len(ops))
	onStack := make([]bool, len(ops))
	var stack []int
	next := 1
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if index[w] == 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
			if w == v {
				ops[v].cycle = v + 1
			}
		}
		if low[v] != index[v] {
			return
		}
		var comp []int
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		if len(comp) > 1 {
			for _, w := range comp {
				ops[w].cycle = v + 1
			}
		}
	}
	for v := range ops {
		if index[v] == 0 {
			visit(v)
		}
	}
}

// runBulkOp runs one operation through its endpoint and renders its entry
// of the BulkResponse; ok is false when it failed. An error means the
// request as a whole cannot go on (the client went away).
func (rt *router) runBulkOp(r *http.Request, c *call, o *bulkOp, byBulkID map[string]*bulkOp) (orderedObject, bool, error) {
	const op = "scimside.(*router).runBulkOp"
	o.ran = true
	ic := &call{codec: c.codec, baseURL: c.baseURL, id: c.id + ".op" + strconv.Itoa(o.n)}
	res := orderedObject{}
	entry := func(location, version string, status int, response any) orderedObject {
		if location != "" {
			res = append(res, kv{"location", location})
		}
		res = append(res, kv{"method", o.method})
		if o.bulkID != "" {
			res = append(res, kv{"bulkId", o.bulkID})
		}
		if version != "" {
			res = append(res, kv{"version", version})
		}
		// A string, as in the RFC's examples and the error schema.
		res = append(res, kv{"status", strconv.Itoa(status)})
		if response != nil {
			res = append(res, kv{"response", response})
		}
		return res
	}

	id, err := resolveBulkRef(o, o.id, byBulkID)
	if err == nil && o.data != nil && len(o.refs) > 0 {
		o.data, err = rewriteBulkRefs(o, o.data, byBulkID)
	}
	if err != nil {
		detail := bridge.SafeMessage(err)
		rt.s.log.Info("bulk operation failed", "request_id", ic.id, "bulk_operation", o.n, "method", o.method,
			"status", http.StatusConflict, "error", err.Error())
		location := ""
		if o.method != http.MethodPost && !strings.HasPrefix(id, bulkRefPrefix) {
			location = o.ep.location(c, id)
		}
		return entry(location, "", http.StatusConflict, newSCIMError(http.StatusConflict, "invalidValue", detail)), false, nil
	}

	target := c.baseURL + "/" + o.ep.name
	if o.method != http.MethodPost {
		target += "/" + url.PathEscape(id)
	}
	var body io.Reader = http.NoBody
	if o.data != nil {
		body = bytes.NewReader(o.data)
	}
	// The request carries the bulk request's context (its client for audit
	// lines, its body limit for the operation's data) under an id of its
	// own, which the audit and error lines of its writes show.
	ctx := bridge.WithRequest(r.Context(), ic.id, bridge.Client(r.Context()))
	ir, err := http.NewRequestWithContext(ctx, o.method, target, body)
	if err != nil {
		return nil, false, bridge.E(op, bridge.KindInternal, "", err)
	}
	ir.Host, ir.RemoteAddr, ir.TLS = r.Host, r.RemoteAddr, r.TLS
	if o.data != nil {
		ir.Header.Set("Content-Type", "application/scim+json")
	}
	if o.version != "" {
		ir.Header.Set("If-Match", o.version)
	}
	segs := []string{o.ep.name}
	if o.method != http.MethodPost {
		segs = append(segs, id)
	}
	rec := &bulkRecorder{header: http.Header{}}
	if err := o.ep.route(segs).handle(rec, ir, ic, segs[1:]); err != nil {
		rt.writeError(rec, ir, ic, err, "bulk_request_id", c.id, "bulk_operation", o.n)
	}
	if rec.status == 0 {
		if err := r.Context().Err(); err != nil {
			return nil, false, bridge.E(op, bridge.KindUnavailable, "the request was abandoned", err)
		}
		rec.status = http.StatusInternalServerError
	}
	if rec.status >= 400 {
		var errBody any
		if json.Unmarshal(rec.body.Bytes(), &errBody) != nil {
			errBody = newSCIMError(rec.status, "", "internal error (request id "+ic.id+")")
		}
		location := ""
		if o.method != http.MethodPost {
			location = o.ep.location(c, id)
		}
		return entry(location, "", rec.status, errBody), false, nil
	}
	location := rec.header.Get("Location")
	if o.method == http.MethodPost {
		var created struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &created)
		o.created = created.ID
		if o.created == "" {
			// Not a SCIM 2.0 resource body; the id is the Location's last
			// segment.
			if i := strings.LastIndexByte(location, '/'); i >= 0 {
				o.created, _ = url.PathUnescape(location[i+1:])
			}
		}
	} else {
		location = o.ep.location(c, id)
	}
	return entry(location, rec.header.Get("ETag"), rec.status, nil), true, nil
}

// resolveBulkRef returns the resource id that s names: s itself, or the id
// created by the POST whose bulkId s references as "bulkId:…".
func resolveBulkRef(o *bulkOp, s string, byBulkID map[string]*bulkOp) (string, error) {
	const op = "scimside.resolveBulkRef"
	if !strings.HasPrefix(s, bulkRefPrefix) {
		return s, nil
	}
	ref := s[len(bulkRefPrefix):]
	p, ok := byBulkID[ref]
	switch {
	case !ok:
		return s, bridge.Errorf(op, bridge.KindConflict, "bulkId %q is not defined by any POST of this request", ref)
	case p.cycle != 0 && p.cycle == o.cycle:
		return s, bridge.Errorf(op, bridge.KindConflict, "circular bulkId reference: %q (operation %d) cannot be created before the operation that needs it", ref, p.n)
	case p == o || !p.ran:
		return s, bridge.Errorf(op, bridge.KindConflict, "bulkId %q is created by operation %d, which runs later: operations run in the order sent", ref, p.n)
	case p.created == "":
		return s, bridge.Errorf(op, bridge.KindConflict, "bulkId %q was not created: operation %d failed", ref, p.n)
	}
	return p.created, nil
}

// rewriteBulkRefs replaces every string value of data that is a bulkId
// reference with the id it names, leaving every other byte as sent.
func rewriteBulkRefs(o *bulkOp, data []byte, byBulkID map[string]*bulkOp) ([]byte, error) {
	var out []byte
	last := 0
	err := walkStrings(data, func(start, end int, s string) error {
		if !strings.HasPrefix(s, bulkRefPrefix) {
			return nil
		}
		id, err := resolveBulkRef(o, s, byBulkID)
		if err != nil {
			return err
		}
		q, _ := json.Marshal(id)
		out = append(append(out, data[last:start]...), q...)
		last = end
		return nil
	})
	if err != nil {
		return data, err
	}
	if out == nil {
		return data, nil
	}
	return append(out, data[last:]...), nil
}

// walkStrings calls visit with the byte range and the value of every string
// value (not object keys) of the JSON text raw.
func walkStrings(raw []byte, visit func(start, end int, s string) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct{ object, wantKey bool }
	var stack []frame
	for {
		before := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{object: true, wantKey: true})
				continue
			case '[':
				stack = append(stack, frame{})
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				stack[n-1].wantKey = false
				continue
			}
			// Between the previous token and this one there are only
			// blanks, ':' and ','; the string starts at the first quote.
			end := int(dec.InputOffset())
			start := before + bytes.IndexByte(raw[before:end], '"')
			if err := visit(start, end, t); err != nil {
				return err
			}
		}
		// A value is complete: in an object, a key comes next.
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
}

// rawFold finds key in m case-insensitively. The same name twice, in any
// case, is an error: which one was meant cannot be told.
func rawFold(m map[string]json.RawMessage, key string) (json.RawMessage, bool, error) {
	var (
		v     json.RawMessage
		found bool
	)
	for k, x := range m {
		if strings.EqualFold(k, key) {
			if found {
				return nil, false, bridge.Errorf("scimside.rawFold", bridge.KindInvalidSyntax, "%s is given twice", key)
			}
			v, found = x, true
		}
	}
	return v, found, nil
}

// uniqueMembers refuses an object (the envelope, an operation) that has a
// member twice, in any case: a decoded map keeps only one of them. The
// members' values are not looked into: data is its endpoint's to judge.
func uniqueMembers(raw []byte, what string) error {
	const op = "scimside.uniqueMembers"
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil // not an object: the caller says so
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		k, _ := t.(string)
		if seen[strings.ToLower(k)] {
			if len(k) > 64 {
				k = k[:64]
			}
			return bridge.Errorf(op, bridge.KindInvalidSyntax, "%s has the member %s twice (names are case-insensitive)", what, strconv.QuoteToASCII(k))
		}
		seen[strings.ToLower(k)] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// bulkRecorder is the http.ResponseWriter an operation's handler answers
// into.
type bulkRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bulkRecorder) Header() http.Header { return b.header }

func (b *bulkRecorder) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bulkRecorder) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
