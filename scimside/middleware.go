package scimside

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

type ctxKey struct{}

// requestInfo travels in the request's context.
type requestInfo struct {
	id      string
	maxBody int64
	client  string // the credential's label, set once authenticated
}

// RequestID returns the id scimside gave the request ctx belongs to, or "".
// It is the same id as the X-Request-Id response header and the request_id
// of log lines; bridge.RequestID(ctx) returns it too, for audit lines below.
func RequestID(ctx context.Context) string {
	if ri, ok := ctx.Value(ctxKey{}).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// statusWriter remembers the status written, for logs and for knowing
// whether a panic can still be answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware gives every request an id, recovers panics (500 without the
// stack; the stack goes to the log) and writes the access line: one per
// request at info, with the route pattern (ids only in the debug line's
// path) and the client's label, never a credential or a raw query.
// Failures get their own line too, where the error is handled (writeError).
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		id := s.newID()
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		ri := &requestInfo{id: id, maxBody: s.cfg.MaxBodyBytes}
		remote := s.urls.clientAddr(r)
		ctx := context.WithValue(r.Context(), ctxKey{}, ri)
		r = r.WithContext(bridge.WithRemote(bridge.WithRequest(ctx, id, ""), remote))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic while handling request", "request_id", id, "method", r.Method,
					"path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, newSCIMError(http.StatusInternalServerError, "",
						"internal error (request id "+id+")"))
				}
			}
			elapsed := s.now().Sub(start)
			route := routeLabel(r.URL.Path)
			// Checked first: the arguments alone (boxed into a slice) cost
			// a lookup more than its filter parse when the line is dropped.
			if s.log.IsInfo() {
				client := ri.client
				if client == "" {
					client = "-" // not authenticated (health, metrics, a 401)
				}
				s.log.Info("access", "request_id", id, "remote_addr", remote, "client", client,
					"method", sanitizeMethod(r.Method), "route", route, "status", sw.status,
					"duration_ms", float64(elapsed.Microseconds())/1000, "bytes", sw.bytes)
			}
			if s.log.IsDebug() {
				s.log.Debug("request detail", "request_id", id, "path", r.URL.Path, "query", RedactQuery(r.URL.RawQuery),
					"peer", r.RemoteAddr, "duration", elapsed.Round(time.Microsecond).String())
			}
			if s.observe != nil {
				s.observe(RequestStats{Method: r.Method, Route: route, Status: sw.status, Duration: elapsed})
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// authenticator checks a request's credentials in constant time. Secrets
// are kept as SHA-256 digests so that comparisons take the same time
// whatever the length of what the client sent.
type authenticator struct {
	anonymous bool

	basic    bool
	userSum  [32]byte
	passSum  [32]byte
	header   string // canonical header name; "" when not configured
	scheme   string // "Bearer" when header is Authorization with a scheme
	tokenSum [32]byte

	challenge string // WWW-Authenticate value for 401s

	basicLabel  string // "" names the client by its Basic user
	headerLabel string
}

func newAuthenticator(a AuthConfig) *authenticator {
	au := &authenticator{anonymous: a.AllowAnonymous, basicLabel: a.BasicLabel, headerLabel: a.HeaderLabel}
	var challenges []string
	if a.basic() {
		au.basic = true
		au.userSum = sha256.Sum256([]byte(a.BasicUser))
		au.passSum = sha256.Sum256([]byte(a.BasicPassword))
		challenges = append(challenges, `Basic realm="dirbridge", charset="UTF-8"`)
	}
	if a.header() {
		au.header = http.CanonicalHeaderKey(a.HeaderName)
		value := a.HeaderValue
		if au.header == "Authorization" {
			if scheme, token, ok := strings.Cut(value, " "); ok {
				au.scheme, value = scheme, strings.TrimSpace(token)
			}
		}
		au.tokenSum = sha256.Sum256([]byte(value))
		switch {
		case strings.EqualFold(au.scheme, "Bearer"):
			challenges = append(challenges, `Bearer realm="dirbridge"`)
		case au.scheme != "":
			challenges = append(challenges, au.scheme+` realm="dirbridge"`)
		default:
			// A custom header has no registered scheme; the name of the
			// header is not revealed (some deployments treat it as secret).
			challenges = append(challenges, `Header realm="dirbridge"`)
		}
	}
	au.challenge = strings.Join(challenges, ", ")
	return au
}

// check reports whether r carries valid credentials and names the client
// for access and audit lines (the configured label of the credential, by
// default the Basic user, "bearer-token" or "header"; or "anonymous");
// if not, it says why, for the log: "missing" or "wrong", never what was
// sent.
func (a *authenticator) check(r *http.Request) (client string, ok bool, reason string) {
	if a.anonymous {
		return "anonymous", true, ""
	}
	presented := false
	if a.basic {
		if user, pass, has := r.BasicAuth(); has {
			presented = true
			u := sha256.Sum256([]byte(user))
			p := sha256.Sum256([]byte(pass))
			// Both comparisons always run: no early exit on a wrong user.
			if subtle.ConstantTimeCompare(u[:], a.userSum[:])&subtle.ConstantTimeCompare(p[:], a.passSum[:]) == 1 {
				if a.basicLabel != "" {
					return a.basicLabel, true, ""
				}
				return user, true, ""
			}
		}
	}
	if a.header != "" {
		for _, v := range r.Header.Values(a.header) {
			presented = true
			if a.scheme != "" {
				scheme, token, found := strings.Cut(strings.TrimSpace(v), " ")
				if !found || !strings.EqualFold(scheme, a.scheme) {
					continue
				}
				v = strings.TrimSpace(token)
			}
			sum := sha256.Sum256([]byte(v))
			if subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1 {
				if a.headerLabel != "" {
					return a.headerLabel, true, ""
				}
				if strings.EqualFold(a.scheme, "Bearer") {
					return "bearer-token", true, ""
				}
				return "header", true, ""
			}
		}
	}
	if !presented {
		return "", false, "missing"
	}
	return "", false, "wrong"
}

// knownRoutes are the endpoint names a route label may carry; anything else
// is "other", so that a scanner's random paths cannot grow the metrics.
var knownRoutes = map[string]string{
	"users": "Users", "groups": "Groups", "serviceproviderconfig": "ServiceProviderConfig",
	"serviceproviderconfigs": "ServiceProviderConfigs", "resourcetypes": "ResourceTypes",
	"schemas": "Schemas", "me": "Me", "bulk": "Bulk", ".search": ".search",
}

// routeLabel names the endpoint of path with bounded cardinality: the SCIM
// version, the resource, and "/{id}" when an id follows.
func routeLabel(path string) string {
	p := strings.Trim(path, "/")
	switch strings.ToLower(p) {
	case "healthz", "readyz", "metrics":
		return strings.ToLower(p)
	}
	segs := strings.Split(p, "/")
	version := "v1"
	switch {
	case len(segs) > 0 && strings.EqualFold(segs[0], "v2"):
		version, segs = "v2", segs[1:]
	case len(segs) > 1 && strings.EqualFold(segs[0], "scim") && strings.EqualFold(segs[1], "v2"):
		version, segs = "v2", segs[2:]
	case len(segs) > 0 && strings.EqualFold(segs[0], "v1"):
		segs = segs[1:]
	}
	if len(segs) == 0 || segs[0] == "" {
		return "other"
	}
	name, ok := knownRoutes[strings.ToLower(segs[0])]
	if !ok {
		return "other"
	}
	if len(segs) > 1 {
		name += "/{id}"
	}
	return version + " " + name
}
