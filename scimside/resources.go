package scimside

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/hashicorp/go-hclog"
)

// endpoint serves one resource type (/Users, /Groups) over its service. It
// knows nothing of protocol versions: bodies, filters and renderings go
// through the call's codec.
type endpoint struct {
	name string // "Users", as in the URL
	svc  ResourceService
	rt   *bridge.ResourceType
	// patchNoContent answers a successful PATCH with 204 unless the client
	// asked for attributes. Groups do (Entra expects 204 and a group's
	// member list can be huge); users answer 200 with the resource, which
	// Okta reads.
	patchNoContent bool
	// groups, on the users endpoint, is the Groups service through which a
	// SCIM 1.1 user body's groups are written; nil when groups are off.
	groups ResourceService
	// journal, when set, records a 1.1 body's membership changes before
	// they are made, so that a request cut short finishes them later
	// (memberships.go).
	journal bridge.Journal
	// noPasswords drops passwords from bodies: password sync is off.
	noPasswords bool
	log         hclog.Logger
	// readOnly: the endpoint serves an entitlement type's values, which
	// the directory owns; v2only: SCIM 1.1 does not serve it.
	readOnly, v2only bool
	// ents, on the users endpoint, are the entitlement types its SCIM 2.0
	// bodies carry (entitlements.go); rt2 is rt with their attributes.
	ents []*entType
	rt2  *bridge.ResourceType
}

// rtFor is the resource type as the call's codec sees it: SCIM 2.0 users
// have the entitlement attributes, SCIM 1.1 users do not.
func (ep *endpoint) rtFor(c *call) *bridge.ResourceType {
	if ep.rt2 != nil {
		if _, ok := c.codec.(v2codec); ok {
			return ep.rt2
		}
	}
	return ep.rt
}

var (
	collectionMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost}
	searchMethods     = []string{http.MethodPost}
	itemMethods       = []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete}
)

// route picks the handler for /Users, /Users/.search and /Users/{id}.
func (ep *endpoint) route(segs []string) route {
	if ep.readOnly {
		return ep.valueRoute(segs)
	}
	switch {
	case len(segs) == 1:
		return route{methods: collectionMethods, handle: func(w http.ResponseWriter, r *http.Request, c *call, _ []string) error {
			if r.Method == http.MethodPost {
				return ep.create(w, r, c)
			}
			return ep.list(w, r, c)
		}}
	case segs[1] == ".search":
		return route{methods: searchMethods, maxSegs: 1, handle: func(w http.ResponseWriter, r *http.Request, c *call, _ []string) error {
			return ep.search(w, r, c)
		}}
	}
	return route{methods: itemMethods, maxSegs: 1, handle: func(w http.ResponseWriter, r *http.Request, c *call, segs []string) error {
		id := segs[0]
		switch r.Method {
		case http.MethodPut:
			return ep.replace(w, r, c, id)
		case http.MethodPatch:
			return ep.patch(w, r, c, id)
		case http.MethodDelete:
			return ep.delete(w, r, c, id)
		}
		return ep.get(w, r, c, id)
	}}
}

func (ep *endpoint) location(c *call, id string) string {
	return c.baseURL + "/" + ep.name + "/" + url.PathEscape(id)
}

// selectionFromQuery reads attributes/excludedAttributes from the query
// string, for single-resource answers. A malformed query string only loses
// the projection here; it is never a reason to fail a write that happened.
func (ep *endpoint) selectionFromQuery(r *http.Request, c *call) selection {
	lp, err := listParamsFromQuery(r.URL.RawQuery)
	if err != nil {
		return selection{}
	}
	return c.codec.parseSelection(ep.rtFor(c), lp.attributes, lp.excluded)
}

func (ep *endpoint) list(w http.ResponseWriter, r *http.Request, c *call) error {
	lp, err := listParamsFromQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	return ep.runList(w, r, c, lp)
}

// search serves POST /Users/.search (RFC 7644 §3.4.3).
func (ep *endpoint) search(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readJSONObject(w, r, maxBody(r))
	if err != nil {
		return err
	}
	lp, err := c.codec.decodeSearch(body)
	if err != nil {
		return err
	}
	return ep.runList(w, r, c, lp)
}

func (ep *endpoint) runList(w http.ResponseWriter, r *http.Request, c *call, lp listParams) error {
	q := bridge.Query{StartIndex: lp.startIndex, Count: lp.count, Attributes: lp.attributes, ExcludedAttributes: lp.excluded}
	// An empty filter= is an error, not "everyone": a client that sent a
	// filter meant to narrow the list.
	if lp.hasFilter {
		x, err := c.codec.parseFilter(ep.rtFor(c), lp.filter)
		if err != nil {
			return err
		}
		q.Filter = x
	}
	rt := ep.rtFor(c)
	sel := c.codec.parseSelection(rt, lp.attributes, lp.excluded)
	page, err := ep.svc.List(r.Context(), q)
	if err != nil {
		return err
	}
	items := make([]any, 0, len(page.Resources))
	for _, res := range page.Resources {
		if err := ep.addEntitlements(r.Context(), c, &res, sel); err != nil {
			return err
		}
		items = append(items, c.codec.encodeResource(rt, res, ep.location(c, res.ID), sel))
	}
	start := page.StartIndex
	if start < 1 {
		start = lp.startIndex
	}
	return respond(w, http.StatusOK, c.codec.encodeList(items, page.TotalResults, start))
}

func (ep *endpoint) get(w http.ResponseWriter, r *http.Request, c *call, id string) error {
	res, err := ep.svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return ep.respondResource(w, r, c, http.StatusOK, res)
}

func (ep *endpoint) create(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readJSONObject(w, r, maxBody(r))
	if err != nil {
		return err
	}
	in, err := ep.decode(c, body)
	if err != nil {
		return err
	}
	want, err := ep.bodyValues(c, &in)
	if err != nil {
		return err
	}
	groups, err := ep.bodyGroups(r.Context(), c, body)
	if err != nil {
		return err
	}
	var changes []membershipChange
	if groups != nil {
		for _, g := range groups.ids {
			changes = append(changes, membershipChange{group: g, add: true})
		}
	}
	if len(want) > 0 {
		// Checked before the user exists: a refused value creates nothing.
		plan, err := ep.planValues(r.Context(), nil, want)
		if err != nil {
			return err
		}
		changes = append(changes, plan.changes...)
	}
	var res bridge.Resource
	if len(changes) > 0 {
		res, err = ep.createWithMemberships(r.Context(), in, changes)
	} else {
		res, err = ep.svc.Create(r.Context(), in)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", ep.location(c, res.ID))
	return ep.respondResource(w, r, c, http.StatusCreated, res)
}

func (ep *endpoint) replace(w http.ResponseWriter, r *http.Request, c *call, id string) error {
	body, err := readJSONObject(w, r, maxBody(r))
	if err != nil {
		return err
	}
	in, err := ep.decode(c, body)
	if err != nil {
		return err
	}
	want, err := ep.bodyValues(c, &in)
	if err != nil {
		return err
	}
	groups, err := ep.bodyGroups(r.Context(), c, body)
	if err != nil {
		return err
	}
	if err := ep.checkIfMatch(r, id); err != nil {
		return err
	}
	if len(want) > 0 {
		res, err := ep.replaceWithValues(r.Context(), id, in, want)
		if err != nil {
			return err
		}
		return ep.respondResource(w, r, c, http.StatusOK, res)
	}
	if groups != nil {
		res, err := ep.replaceWithGroups(r.Context(), id, in, groups.ids)
		if err != nil {
			return err
		}
		return ep.respondResource(w, r, c, http.StatusOK, res)
	}
	res, err := ep.svc.Replace(r.Context(), id, in)
	if err != nil {
		return err
	}
	return ep.respondResource(w, r, c, http.StatusOK, res)
}

func (ep *endpoint) patch(w http.ResponseWriter, r *http.Request, c *call, id string) error {
	body, err := readJSONObject(w, r, maxBody(r))
	if err != nil {
		return err
	}
	ops, err := c.codec.decodePatch(ep.rtFor(c), body)
	if err != nil {
		return err
	}
	if ep.noPasswords {
		ops = dropPasswordOps(ops)
	}
	if err := ep.checkIfMatch(r, id); err != nil {
		return err
	}
	if ep.entitlementsFor(c) {
		userOps, entOps, err := ep.takePatchOps(ops)
		if err != nil {
			return err
		}
		if len(entOps) > 0 {
			res, err := ep.patchWithValues(r.Context(), c, id, userOps, entOps)
			if err != nil {
				return err
			}
			return ep.respondResource(w, r, c, http.StatusOK, res)
		}
	}
	if ep.patchNoContent {
		q := r.URL.Query()
		if q.Get("attributes") == "" && q.Get("excludedAttributes") == "" {
			// Nothing is shown, so nothing need be read back: a membership
			// change to a large group stays a single directory write.
			if qp, ok := ep.svc.(quietPatcher); ok {
				if err := qp.PatchQuiet(r.Context(), id, ops); err != nil {
					return err
				}
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
			res, err := ep.svc.Patch(r.Context(), id, ops)
			if err != nil {
				return err
			}
			setETag(w, res.Meta.Version)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	res, err := ep.svc.Patch(r.Context(), id, ops)
	if err != nil {
		return err
	}
	return ep.respondResource(w, r, c, http.StatusOK, res)
}

// decode turns a POST or PUT body into a resource through the codec, and
// drops the password when password sync is off.
func (ep *endpoint) decode(c *call, body map[string]any) (bridge.Resource, error) {
	in, err := c.codec.decodeResource(ep.rtFor(c), body)
	if err != nil {
		return in, err
	}
	if ep.noPasswords {
		for k := range in.Attrs {
			if strings.EqualFold(k, "password") {
				delete(in.Attrs, k)
			}
		}
	}
	return in, nil
}

// dropPasswordOps removes what a PATCH says about the password.
func dropPasswordOps(ops []bridge.PatchOp) []bridge.PatchOp {
	out := ops[:0:0]
	for _, o := range ops {
		if o.Path != nil && o.Path.Attr.URN == "" && strings.EqualFold(o.Path.Attr.Attr, "password") {
			continue
		}
		if m, ok := o.Value.(map[string]any); ok && o.Path == nil {
			clean := make(map[string]any, len(m))
			for k, v := range m {
				if !strings.EqualFold(k, "password") {
					clean[k] = v
				}
			}
			o.Value = clean
		}
		out = append(out, o)
	}
	return out
}

// quietPatcher is implemented by services that can apply a PATCH without
// reading the result back (*bridge.Service does).
type quietPatcher interface {
	PatchQuiet(ctx context.Context, id string, ops []bridge.PatchOp) error
}

func (ep *endpoint) delete(w http.ResponseWriter, r *http.Request, c *call, id string) error {
	if err := ep.checkIfMatch(r, id); err != nil {
		return err
	}
	if err := ep.svc.Delete(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (ep *endpoint) respondResource(w http.ResponseWriter, r *http.Request, c *call, status int, res bridge.Resource) error {
	sel := ep.selectionFromQuery(r, c)
	if err := ep.addEntitlements(r.Context(), c, &res, sel); err != nil {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return err
		}
		// The write happened: an answer without the values beats a 5xx
		// that would have the client retry it.
		ep.log.Warn("could not read a user's entitlement values for the answer", "request_id", bridge.RequestID(r.Context()), "user", res.ID, "error", err.Error())
	}
	setETag(w, res.Meta.Version)
	return respond(w, status, c.codec.encodeResource(ep.rtFor(c), res, ep.location(c, res.ID), sel))
}

func setETag(w http.ResponseWriter, version string) {
	if version != "" {
		w.Header().Set("ETag", version)
	}
}

// checkIfMatch honours If-Match (RFC 7644 §3.14) by reading the resource's
// current version first. Between that read and the write another client can
// still slip in: this protects against stale clients, not against races,
// which the directory's own ordering settles.
func (ep *endpoint) checkIfMatch(r *http.Request, id string) error {
	const op = "scimside.(*endpoint).checkIfMatch"
	im := strings.TrimSpace(r.Header.Get("If-Match"))
	if im == "" {
		return nil
	}
	cur, err := ep.svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if !etagMatches(im, cur.Meta.Version) {
		return bridge.Errorf(op, bridge.KindPrecondition, "the %s has changed since it was read (If-Match does not match its version)", strings.ToLower(ep.rt.Name))
	}
	return nil
}

// etagMatches compares an If-Match list with a version. Weak and strong
// forms compare equal: SCIM versions are weak ETags, and clients echo them
// as they got them or stripped.
func etagMatches(header, version string) bool {
	if header == "*" {
		return true
	}
	strip := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) >= 2 && (s[:2] == "W/" || s[:2] == "w/") {
			s = s[2:]
		}
		return strings.Trim(s, `"`)
	}
	v := strip(version)
	if v == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		if strip(t) == v {
			return true
		}
	}
	return false
}

// maxBody returns the body limit the server put in the request's context.
func maxBody(r *http.Request) int64 {
	if ri, ok := r.Context().Value(ctxKey{}).(*requestInfo); ok && ri.maxBody > 0 {
		return ri.maxBody
	}
	return defaultMaxBodyBytes
}
