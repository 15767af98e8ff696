package scimside

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

const scimContentType = "application/scim+json; charset=utf-8"

// mount is one protocol version at one base path.
type mount struct {
	base  string // "/v2", "" for the root
	codec codec
}

// call is one SCIM request after routing.
type call struct {
	codec   codec
	baseURL string // absolute URL of the version base the request came in on
	id      string // request id
}

// route is an endpoint below a version base: which methods it takes, how
// many path segments may follow its name, and its handler.
type route struct {
	methods []string
	maxSegs int
	handle  func(w http.ResponseWriter, r *http.Request, c *call, segs []string) error
}

// router sends each request by path to health checks, or by version base to
// a codec and then to a resource endpoint or a discovery endpoint.
type router struct {
	s         *Server
	ready     func(context.Context) error
	detail    func() []string
	mounts    []mount
	endpoints map[string]*endpoint // by lower-case endpoint name: "users"
}

func newRouter(s *Server, svcs Services) (*router, error) {
	const op = "scimside.newRouter"
	rt := &router{s: s, ready: svcs.Ready, detail: svcs.Detail, endpoints: map[string]*endpoint{}}
	info := &discoveryInfo{auth: s.cfg.Auth, maxBody: s.cfg.MaxBodyBytes, passwordSync: !s.cfg.DisablePasswordSync, groups: svcs.Groups != nil}
	for _, svc := range []ResourceService{svcs.Users, svcs.Groups} {
		if svc == nil {
			continue
		}
		t := svc.ResourceType()
		if t == nil || t.Name == "" || strings.Trim(t.Endpoint, "/") == "" {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "a service has no resource type or endpoint")
		}
		name := strings.Trim(t.Endpoint, "/")
		if _, dup := rt.endpoints[strings.ToLower(name)]; dup {
			return nil, bridge.Errorf(op, bridge.KindInvalidValue, "two services share endpoint %q", t.Endpoint)
		}
		ep := &endpoint{name: name, svc: svc, rt: t, patchNoContent: t.Name == "Group", noPasswords: s.cfg.DisablePasswordSync, log: s.log}
		rt.endpoints[strings.ToLower(name)] = ep
		info.types = append(info.types, t)
		maxResults := 1000
		if pl, ok := svc.(pageLimiter); ok && pl.Config().MaxPageSize > 0 {
			maxResults = pl.Config().MaxPageSize
		}
		info.maxResults = max(info.maxResults, maxResults)
	}
	users := rt.endpoints[strings.ToLower(strings.Trim(svcs.Users.ResourceType().Endpoint, "/"))]
	// SCIM 2.0 only: each entitlement type's values at an endpoint of
	// their own, and the users' attributes that carry them.
	info.typesV2 = append([]*bridge.ResourceType(nil), info.types...)
	if len(svcs.Entitlements) > 0 {
		rt2, ents, err := withEntitlements(users.rt, svcs.Entitlements)
		if err != nil {
			return nil, bridge.Wrap(op, err)
		}
		users.rt2, users.ents = rt2, ents
		info.typesV2[0] = rt2
		for _, e := range svcs.Entitlements {
			t := e.Values.ResourceType()
			name := strings.Trim(t.Endpoint, "/")
			if name == "" || strings.Contains(name, "/") {
				return nil, bridge.Errorf(op, bridge.KindMisconfigured, "entitlement type %s has no endpoint of one path segment", t.Name)
			}
			if _, dup := rt.endpoints[strings.ToLower(name)]; dup || c2Reserved(name) {
				return nil, bridge.Errorf(op, bridge.KindMisconfigured, "entitlement type %s: endpoint %q is taken", t.Name, t.Endpoint)
			}
			for _, x := range info.typesV2 {
				if strings.EqualFold(x.Name, t.Name) {
					return nil, bridge.Errorf(op, bridge.KindMisconfigured, "entitlement type %s: two resource types have that name", t.Name)
				}
			}
			rt.endpoints[strings.ToLower(name)] = &endpoint{name: name, svc: e.Values, rt: t, readOnly: true, v2only: true, log: s.log}
			info.typesV2 = append(info.typesV2, t)
		}
	}
	// A user body's groups (SCIM 1.1) and entitlement values (SCIM 2.0)
	// are written through the groups and the values.
	if svcs.Groups != nil {
		users.groups = svcs.Groups
	}
	if svcs.Journal != nil && (svcs.Groups != nil || len(users.ents) > 0) {
		users.journal = svcs.Journal
		svcs.Journal.Handle(kindMemberships, users.recoverMemberships)
	}
	// Bulk operations are dispatched through these same endpoints.
	info.bulk, info.bulkMaxOps, info.bulkMaxPayload = rt.serveBulk, s.cfg.BulkMaxOperations, s.cfg.BulkMaxPayloadBytes
	v2 := v2codec{info: info}
	for _, b := range s.cfg.V2BasePaths {
		rt.mounts = append(rt.mounts, mount{base: b, codec: v2})
	}
	v1 := v1codec{info: info}
	for _, b := range s.cfg.V1BasePaths {
		rt.mounts = append(rt.mounts, mount{base: b, codec: v1})
	}
	// Longest base first, so that "/scim/v2" wins over "" and "/v2" over "".
	sort.SliceStable(rt.mounts, func(i, j int) bool { return len(rt.mounts[i].base) > len(rt.mounts[j].base) })
	return rt, nil
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	switch path {
	case "/healthz":
		rt.healthz(w, r)
		return
	case "/readyz":
		rt.readyz(w, r)
		return
	case "/metrics":
		if rt.s.metrics != nil {
			rt.s.metrics.ServeHTTP(w, r)
			return
		}
	}
	m, rest, ok := rt.match(path)
	c := &call{codec: v2codec{}, id: RequestID(r.Context())}
	if ok && m.codec != nil {
		c.codec = m.codec
	}
	if ok {
		c.baseURL = rt.s.urls.baseURL(r, m.base)
	}
	client, good, reason := rt.s.auth.check(r)
	if !good {
		w.Header().Set("WWW-Authenticate", rt.s.auth.challenge)
		rt.writeError(w, r, c, bridge.Errorf("scimside.authenticate", bridge.KindUnauthorized, "authentication failed"), "reason", reason)
		return
	}
	if ri, ok := r.Context().Value(ctxKey{}).(*requestInfo); ok {
		ri.client = client
	}
	r = r.WithContext(bridge.WithRequest(r.Context(), c.id, client))
	if !ok || m.codec == nil {
		rt.writeError(w, r, c, bridge.Errorf("scimside.route", bridge.KindNotFound, "no such endpoint"))
		return
	}
	segs, err := splitSegments(rest)
	if err != nil || len(segs) == 0 {
		rt.writeError(w, r, c, bridge.Errorf("scimside.route", bridge.KindNotFound, "no such endpoint"))
		return
	}
	route, ok := rt.lookup(c.codec, segs)
	if !ok || len(segs)-1 > route.maxSegs {
		rt.writeError(w, r, c, bridge.Errorf("scimside.route", bridge.KindNotFound, "no such endpoint"))
		return
	}
	if !allowed(route.methods, r.Method) {
		w.Header().Set("Allow", strings.Join(route.methods, ", "))
		rt.writeError(w, r, c, bridge.Errorf("scimside.route", bridge.KindMethodNotAllowed, "%s is not allowed here", sanitizeMethod(r.Method)))
		return
	}
	if err := route.handle(w, r, c, segs[1:]); err != nil {
		rt.writeError(w, r, c, err)
	}
}

// match finds the mount whose base is a prefix of path (case-insensitively)
// and returns the rest of the path.
func (rt *router) match(path string) (mount, string, bool) {
	for _, m := range rt.mounts {
		if m.base == "" {
			return m, path, true
		}
		if len(path) >= len(m.base) && strings.EqualFold(path[:len(m.base)], m.base) &&
			(len(path) == len(m.base) || path[len(m.base)] == '/') {
			return m, path[len(m.base):], true
		}
	}
	return mount{}, "", false
}

// lookup finds the route for the first segment: a resource endpoint or one
// of the codec's discovery endpoints. Names match case-insensitively.
func (rt *router) lookup(c codec, segs []string) (route, bool) {
	name := strings.ToLower(segs[0])
	if ep, ok := rt.endpoints[name]; ok {
		if _, v2 := c.(v2codec); v2 || !ep.v2only {
			return ep.route(segs), true
		}
	}
	r, ok := c.discovery()[name]
	return r, ok
}

// splitSegments splits an escaped path into unescaped segments; ids are
// unescaped one segment at a time so that "%2F" stays inside its segment.
func splitSegments(rest string) ([]string, error) {
	var segs []string
	for _, s := range strings.Split(strings.Trim(rest, "/"), "/") {
		if s == "" {
			continue
		}
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		segs = append(segs, u)
	}
	return segs, nil
}

// c2Reserved reports whether name is one of SCIM 2.0's own endpoints, which
// an entitlement type may not take.
func c2Reserved(name string) bool {
	_, ok := v2codec{}.discovery()[strings.ToLower(name)]
	return ok
}

func allowed(methods []string, m string) bool {
	for _, x := range methods {
		if x == m {
			return true
		}
	}
	return false
}

// sanitizeMethod keeps a client's method out of messages unless it is a
// plain token of reasonable length.
func sanitizeMethod(m string) string {
	if len(m) > 16 || !validHeaderName(m) {
		return "this method"
	}
	return m
}

func (rt *router) healthz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 503 when the directory is not reachable. The reason goes to
// the log, not to the (unauthenticated) caller.
func (rt *router) readyz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if rt.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := rt.ready(ctx); err != nil {
			rt.s.log.Warn("not ready", "request_id", RequestID(r.Context()), "error", err.Error())
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			rt.writeDetail(w)
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
	rt.writeDetail(w)
}

func (rt *router) writeDetail(w http.ResponseWriter) {
	if rt.detail == nil {
		return
	}
	for _, l := range rt.detail() {
		_, _ = w.Write([]byte(l + "\n"))
	}
}

// writeError answers a failed request and logs it: the one place where a
// failure is both shown (the safe message, through the error table) and
// logged (the full error, with the request id). kvs add log context.
func (rt *router) writeError(w http.ResponseWriter, r *http.Request, c *call, err error, kvs ...any) {
	var ume *unsupportedMediaType
	st := statusOf(err)
	detail := detailOf(err, st, c.id)
	if errors.As(err, &ume) {
		st, detail = errorStatus{Status: http.StatusUnsupportedMediaType}, "the request body must be application/scim+json"
	}
	if r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// The client went away; nobody reads the answer.
		rt.s.log.Debug("request abandoned by client", "request_id", c.id, "method", r.Method, "path", r.URL.Path, "error", err.Error())
		return
	}
	switch st.Status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	case http.StatusUnauthorized:
		if w.Header().Get("WWW-Authenticate") == "" && rt.s.auth.challenge != "" {
			w.Header().Set("WWW-Authenticate", rt.s.auth.challenge)
		}
	}
	args := append([]any{"request_id", c.id, "method", sanitizeMethod(r.Method), "path", r.URL.Path,
		"query", RedactQuery(r.URL.RawQuery), "status", st.Status, "error", err.Error()}, logFields(err)...)
	args = append(args, kvs...)
	switch {
	case st.Status >= 500 && st.Status != http.StatusNotImplemented:
		rt.s.log.Error("request failed", args...)
	case st.Status == http.StatusUnauthorized:
		rt.s.log.Warn("request failed", args...)
	default:
		rt.s.log.Info("request failed", args...)
	}
	writeJSON(w, st.Status, c.codec.errorBody(st.Status, st.SCIMType, detail))
}

// writeJSON renders v as the whole response; for bodies that cannot fail to
// encode (errors, discovery).
func writeJSON(w http.ResponseWriter, status int, v any) {
	if respond(w, status, v) != nil {
		_ = respond(w, http.StatusInternalServerError, newSCIMError(http.StatusInternalServerError, "", "internal error"))
	}
}

// respond encodes v and, only if that worked, writes it: an encoding
// failure comes back as an error for writeError, never as a 2xx with half a
// body.
func respond(w http.ResponseWriter, status int, v any) error {
	bp := bodyBufs.Get().(*[]byte)
	b, err := encodeJSON((*bp)[:0], v)
	if err != nil {
		putBodyBuf(bp, b)
		return bridge.E("scimside.respond", bridge.KindInternal, "", err)
	}
	writeBody(w, status, b)
	// Write has returned, and an io.Writer may not keep b: it is free.
	putBodyBuf(bp, b)
	return nil
}

// bodyBufs keeps response buffers between requests. Growing a fresh buffer
// to the size of a page of users (~130 KB for 100, ~500 KB allocated on the
// way) took a third or more of the time of encoding the page and all of its
// allocations; with a reused one the encoder allocates nothing.
var bodyBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody: a buffer grown beyond it (a group with tens of thousands
// of members) is left to the garbage collector rather than kept for
// answers that are almost all far smaller.
const maxPooledBody = 4 << 20

func putBodyBuf(bp *[]byte, b []byte) {
	if cap(b) > maxPooledBody {
		return
	}
	*bp = b[:0]
	bodyBufs.Put(bp)
}

// encodeJSON appends v to dst as json.Encoder.Encode with
// SetEscapeHTML(false) wrote it, newline included: bodies have always ended
// with one, and a byte less would change every Content-Length.
func encodeJSON(dst []byte, v any) ([]byte, error) {
	b, err := appendJSON(dst, v)
	if err != nil {
		return dst, err
	}
	return append(b, '\n'), nil
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", scimContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
