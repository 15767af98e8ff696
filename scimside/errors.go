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
// KindForbidden is 500, not 403: it means the directory refused dirbridge's
// own service account, which the SCIM client can do nothing about; the
// operator learns why from the log.
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
// be free of internals there.
func detailOf(err error, st errorStatus, requestID string) string {
	if st.Status >= 500 && st.Status != http.StatusNotImplemented && st.Status != http.StatusServiceUnavailable {
		msg := "internal error"
		if bridge.KindOf(err) == bridge.KindForbidden {
			msg = "the directory refused the operation; the server's log says why"
		}
		if requestID != "" {
			msg += " (request id " + requestID + ")"
		}
		return msg
	}
	return bridge.SafeMessage(err)
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
