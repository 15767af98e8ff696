package scimside

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/dirbridge/dirbridge/bridge"
)

// errorStatus is how one bridge.Kind is shown to a SCIM client.
type errorStatus struct {
	Status   int
	SCIMType string // RFC 7644 §3.12 scimType; "" when the RFC defines none
}

// retryAfterSeconds is sent with 503: the directory is down or failing over,
// and SCIM clients (Okta, Entra) retry on their own schedule anyway.
const retryAfterSeconds = 5

// errorTable is the ONE place where a failure's kind becomes an HTTP status
// and a scimType. Every SCIM error response goes through statusOf.
//
// KindMisconfigured and KindForbidden are 500, not 400 or 403: the directory
// refused what the gateway's own setup asked (a table's attribute, a missing
// container, the service account's rights), which the SCIM client can do
// nothing about; a 4xx would tell Okta or Entra to fix its request or its
// URL. The operator learns what to fix from the log line.
var errorTable = map[bridge.Kind]errorStatus{
	bridge.KindNotFound:         {http.StatusNotFound, ""},
	bridge.KindConflict:         {http.StatusConflict, "uniqueness"},
	bridge.KindInvalidValue:     {http.StatusBadRequest, "invalidValue"},
	bridge.KindInvalidFilter:    {http.StatusBadRequest, "invalidFilter"},
	bridge.KindInvalidSyntax:    {http.StatusBadRequest, "invalidSyntax"},
	bridge.KindInvalidPath:      {http.StatusBadRequest, "invalidPath"},
	bridge.KindNoTarget:         {http.StatusBadRequest, "noTarget"},
	bridge.KindMutability:       {http.StatusBadRequest, "mutability"},
	bridge.KindTooMany:          {http.StatusBadRequest, "tooMany"},
	bridge.KindUnauthorized:     {http.StatusUnauthorized, ""},
	bridge.KindForbidden:        {http.StatusInternalServerError, ""},
	bridge.KindMisconfigured:    {http.StatusInternalServerError, ""},
	bridge.KindPrecondition:     {http.StatusPreconditionFailed, ""},
	bridge.KindNotImplemented:   {http.StatusNotImplemented, ""},
	bridge.KindPayloadTooLarge:  {http.StatusRequestEntityTooLarge, ""},
	bridge.KindMethodNotAllowed: {http.StatusMethodNotAllowed, ""},
	bridge.KindUnavailable:      {http.StatusServiceUnavailable, ""},
	bridge.KindInternal:         {http.StatusInternalServerError, ""},
}

// statusOf returns the status and scimType for err. Errors that are not a
// *bridge.Error are defects: 500.
func statusOf(err error) errorStatus {
	var be *bridge.Error
	if !errors.As(err, &be) {
		return errorTable[bridge.KindInternal]
	}
	if s, ok := errorTable[be.Kind]; ok {
		return s
	}
	return errorTable[bridge.KindInternal]
}

// detailOf returns the client-safe detail text for err. For 500s it is a
// fixed text with the request id, so that the client can quote it and the
// operator can find the log line; the kind's own message is not trusted to
// be free of internals there. A 503 keeps its (safe) message and gets the
// request id too.
func detailOf(err error, st errorStatus, requestID string) string {
	withID := func(msg string) string {
		if requestID == "" {
			return msg
		}
		return msg + " (request id " + requestID + ")"
	}
	switch {
	case st.Status == http.StatusServiceUnavailable:
		return withID(bridge.SafeMessage(err))
	case st.Status >= 500 && st.Status != http.StatusNotImplemented:
		switch bridge.KindOf(err) {
		case bridge.KindMisconfigured, bridge.KindForbidden:
			if requestID == "" {
				return "the gateway is misconfigured; the administrator can find what to fix in its log"
			}
			return "the gateway is misconfigured; the administrator can find what to fix in its log under request id " + requestID
		}
		return withID("internal error")
	}
	return bridge.SafeMessage(err)
}

// logFields are what the log line of a failed request adds to the full
// error: where the failure was met, what the directory said (result code,
// diagnostic, DN) and, for the operator's mistakes, what to fix.
func logFields(err error) []any {
	origin, kvs := bridge.LogOf(err)
	out := []any{}
	if origin != "" {
		out = append(out, "op", origin)
	}
	out = append(out, kvs...)
	if fix := bridge.FixOf(err); fix != "" {
		out = append(out, "fix", fix)
	}
	return out
}

// scimError is a SCIM 2.0 error response body (RFC 7644 §3.12). Status is a
// string, as the RFC's schema says and Okta's spec test checks.
type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	SCIMType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

func newSCIMError(status int, scimType, detail string) scimError {
	return scimError{Schemas: []string{errorURN}, Status: strconv.Itoa(status), SCIMType: scimType, Detail: detail}
}
