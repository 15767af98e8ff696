package scimside

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/bridge"
)

// maxJSONDepth bounds the nesting of request bodies. SCIM resources are at
// most four levels deep (extension → complex → list → complex); the bound
// keeps recursive processing downstream (Normalize, Clone) cheap.
const maxJSONDepth = 32

// maxPatchOps bounds the operations of one PATCH request. Entra sends up to
// a few hundred member changes in one request.
const maxPatchOps = 10000

// readJSONObject reads a request body as one JSON object. It enforces the
// body limit (413), the content type (415; a missing Content-Type is
// accepted, some of Okta's requests have none, and so is curl's default form
// type), UTF-8 and JSON syntax (400).
func readJSONObject(w http.ResponseWriter, r *http.Request, limit int64) (map[string]any, error) {
	data, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	return decodeJSONObject(data)
}

// readBody reads a request body with readJSONObject's checks of content type
// and size, without decoding it.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	const op = "scimside.readBody"
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		// curl -d labels its body as a form unless told otherwise; no SCIM
		// client sends forms, so such a body is read as the JSON it is.
		if err != nil || !(mt == "application/scim+json" || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
			mt == "application/x-www-form-urlencoded") {
			return nil, &unsupportedMediaType{}
		}
	}
	if r.ContentLength > limit {
		return nil, bridge.Errorf(op, bridge.KindPayloadTooLarge, "the request body is larger than %d bytes", limit)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, bridge.Errorf(op, bridge.KindPayloadTooLarge, "the request body is larger than %d bytes", limit)
		}
		return nil, bridge.E(op, bridge.KindInvalidSyntax, "the request body could not be read", err)
	}
	return data, nil
}

// decodeJSONObject decodes data as exactly one JSON object, refusing what
// JSON or SCIM forbid even where encoding/json would let it through.
func decodeJSONObject(data []byte) (map[string]any, error) {
	const op = "scimside.decodeJSONObject"
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "the request body is empty")
	}
	if !utf8.Valid(data) {
		// encoding/json would silently replace bad bytes with U+FFFD and we
		// would write that into the directory.
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var v any
	if err := dec.Decode(&v); err != nil {
		msg := "the request body is not valid JSON"
		var se *json.SyntaxError
		if errors.As(err, &se) {
			msg += " (at byte " + strconv.FormatInt(se.Offset, 10) + ")"
		}
		return nil, bridge.E(op, bridge.KindInvalidSyntax, msg, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "the request body has data after the JSON value")
	}
	if depth(v, 0) > maxJSONDepth {
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "the request body is nested more than %d levels deep", maxJSONDepth)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, bridge.Errorf(op, bridge.KindInvalidSyntax, "the request body must be a JSON object")
	}
	// What decoding hid: members twice over, control characters in names,
	// unpaired surrogates (see strict.go).
	if err := scanJSON(data); err != nil {
		return nil, err
	}
	return m, nil
}

// depth returns the nesting depth of a decoded JSON value, stopping early
// once it passes maxJSONDepth.
func depth(v any, d int) int {
	if d > maxJSONDepth {
		return d
	}
	max := d
	switch t := v.(type) {
	case map[string]any:
		for _, x := range t {
			if n := depth(x, d+1); n > max {
				max = n
			}
		}
	case []any:
		for _, x := range t {
			if n := depth(x, d+1); n > max {
				max = n
			}
		}
	}
	return max
}

// unsupportedMediaType is the one failure that has no bridge.Kind: 415 is
// HTTP's business, not the provisioning core's.
type unsupportedMediaType struct{}

func (*unsupportedMediaType) Error() string {
	return "scimside.readJSONObject: unsupported media type"
}

// lookupFold finds key in m case-insensitively (SCIM attribute and message
// names are case-insensitive: "Operations", "operations", "OP").
func lookupFold(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// listParams is a list request before parsing, from a query string or a
// SearchRequest body.
type listParams struct {
	filter     string
	hasFilter  bool
	startIndex int
	count      int // -1: the service's default
	attributes []string
	excluded   []string
}

// listParamsFromQuery reads filter, startIndex, count, attributes and
// excludedAttributes from a query string. Names are matched
// case-insensitively; a malformed query string is refused outright, since
// silently dropping a filter would turn a lookup into "list everyone".
func listParamsFromQuery(raw string) (listParams, error) {
	const op = "scimside.listParamsFromQuery"
	lp := listParams{startIndex: 1, count: -1}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return lp, bridge.E(op, bridge.KindInvalidSyntax, "the query string is malformed", err)
	}
	get := func(name string) (string, bool) {
		if v, ok := q[name]; ok && len(v) > 0 {
			return v[0], true
		}
		for k, v := range q {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0], true
			}
		}
		return "", false
	}
	if v, ok := get("filter"); ok {
		lp.filter, lp.hasFilter = v, true
	}
	if v, ok := get("startIndex"); ok {
		if lp.startIndex, err = parseIndex("startIndex", v); err != nil {
			return lp, err
		}
		if lp.startIndex < 1 {
			lp.startIndex = 1
		}
	}
	if v, ok := get("count"); ok {
		if lp.count, err = parseIndex("count", v); err != nil {
			return lp, err
		}
		if lp.count < 0 {
			lp.count = 0
		}
	}
	if v, ok := get("attributes"); ok {
		lp.attributes = splitNames(v)
	}
	if v, ok := get("excludedAttributes"); ok {
		lp.excluded = splitNames(v)
	}
	return lp, nil
}

// parseIndex parses startIndex or count. Numbers too large for an int are
// clamped (the service caps pages anyway); anything else is invalidValue.
func parseIndex(name, v string) (int, error) {
	v = strings.TrimSpace(v)
	n, err := strconv.Atoi(v)
	if err == nil {
		return clampIndex(n), nil
	}
	var ne *strconv.NumError
	if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
		if strings.HasPrefix(v, "-") {
			return -1, nil
		}
		return maxIndex, nil
	}
	return 0, bridge.Errorf("scimside.parseIndex", bridge.KindInvalidValue, "%s must be an integer", name)
}

// maxIndex keeps startIndex and count where arithmetic on them cannot
// overflow.
const maxIndex = 1 << 30

func clampIndex(n int) int {
	if n > maxIndex {
		return maxIndex
	}
	if n < -1 {
		return -1
	}
	return n
}

// splitNames splits a comma-separated attribute list.
func splitNames(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
