package bridge

import (
	"errors"
	"fmt"
)

// Kind classifies an Error. scimside maps each kind to one HTTP status and
// scimType; nothing else decides how a failure is shown to a client.
type Kind int

const (
	KindInternal         Kind = iota // a defect or an unexpected directory answer
	KindNotFound                     // no such resource (in scope)
	KindConflict                     // uniqueness violated
	KindInvalidValue                 // a value the client sent is not acceptable
	KindInvalidFilter                // a filter that cannot be parsed or mapped
	KindInvalidSyntax                // a request body that is not what the protocol says
	KindInvalidPath                  // a PATCH path that cannot be resolved
	KindNoTarget                     // a PATCH path that matched nothing where it must
	KindMutability                   // an attempt to change an immutable attribute
	KindUnavailable                  // the directory cannot be reached now; retry later
	KindUnauthorized                 // missing or wrong credentials
	KindForbidden                    // the directory refused the service account
	KindTooMany                      // the request asks for more than is allowed
	KindPrecondition                 // an If-Match version did not match
	KindNotImplemented               // a feature this deployment does not offer
	KindPayloadTooLarge              // the request body is over the limit
	KindMethodNotAllowed             // the endpoint exists but not with this method
	// KindMisconfigured: the directory refused what the gateway's own setup
	// asked of it (a mapping table naming an attribute the schema lacks,
	// object classes that do not allow a mapped attribute, a missing
	// container, a service account without rights). The client can do
	// nothing about it, so it is a 500; Fix tells the operator what to change.
	KindMisconfigured
)

var kindNames = map[Kind]string{
	KindInternal:         "internal",
	KindNotFound:         "not_found",
	KindConflict:         "conflict",
	KindInvalidValue:     "invalid_value",
	KindInvalidFilter:    "invalid_filter",
	KindInvalidSyntax:    "invalid_syntax",
	KindInvalidPath:      "invalid_path",
	KindNoTarget:         "no_target",
	KindMutability:       "mutability",
	KindUnavailable:      "unavailable",
	KindUnauthorized:     "unauthorized",
	KindForbidden:        "forbidden",
	KindTooMany:          "too_many",
	KindPrecondition:     "precondition",
	KindNotImplemented:   "not_implemented",
	KindPayloadTooLarge:  "payload_too_large",
	KindMethodNotAllowed: "method_not_allowed",
	KindMisconfigured:    "misconfigured",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is the one error type that crosses package boundaries. Msg is safe to
// show to a SCIM client: it never carries LDAP text, a DN or a secret. Err is the
// underlying cause, for the log only.
type Error struct {
	Op   string // the operation that failed, "pkg.(*Type).Method"
	Kind Kind
	Msg  string // client-safe; empty means "use the kind's generic text"
	Err  error  // the cause, for logs
	// Attr is the directory attribute the failure is about, when the
	// directory named it: the service turns it into the SCIM attribute for
	// the client's message, and the log shows it.
	Attr string
	// Fix says, for the operator's log only, what to change in the
	// configuration, the mapping table or the directory so that the
	// failure stops. Never shown to a client.
	Fix string
	// Log holds key/value pairs for the log line of the request that failed
	// (a result code, the directory's diagnostic, a DN). Never shown to a
	// client and never a secret.
	Log []any
}

// E builds an *Error. If err is already an *Error and kind is KindInternal and
// msg is empty, the inner kind and message are kept so that wrapping in an
// outer operation does not lose the classification.
func E(op string, kind Kind, msg string, err error) error {
	if kind == KindInternal && msg == "" {
		var inner *Error
		if errors.As(err, &inner) {
			kind, msg = inner.Kind, inner.Msg
		}
	}
	return &Error{Op: op, Kind: kind, Msg: msg, Err: err}
}

// Wrap adds op to err keeping its kind and message. A nil err stays nil.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return E(op, KindInternal, "", err)
}

// Errorf builds an *Error whose client message is formatted; it has no cause.
func Errorf(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Kind.String()
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the outermost *Error in err's chain, or
// KindInternal when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// SafeMessage returns the client-safe message of err, or a generic text for
// its kind. It never returns the text of a foreign error.
func SafeMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		for cur := e; cur != nil; {
			if cur.Msg != "" {
				return cur.Msg
			}
			var next *Error
			if !errors.As(cur.Err, &next) {
				break
			}
			cur = next
		}
		return genericMessage(e.Kind)
	}
	return genericMessage(KindInternal)
}

// FixOf returns the first operator hint (Error.Fix) in err's chain, or "".
func FixOf(err error) string {
	for e := range chain(err) {
		if e.Fix != "" {
			return e.Fix
		}
	}
	return ""
}

// AttrOf returns the first directory attribute (Error.Attr) named in err's
// chain, or "".
func AttrOf(err error) string {
	for e := range chain(err) {
		if e.Attr != "" {
			return e.Attr
		}
	}
	return ""
}

// LogOf returns the log key/value pairs of every *Error in err's chain,
// outermost first, and the op of the innermost one (where the failure was
// met), for the one log line of a failed request.
func LogOf(err error) (origin string, kvs []any) {
	for e := range chain(err) {
		origin = e.Op
		kvs = append(kvs, e.Log...)
	}
	return origin, kvs
}

// chain yields the *Error values in err's chain, outermost first.
func chain(err error) func(yield func(*Error) bool) {
	return func(yield func(*Error) bool) {
		for err != nil {
			var e *Error
			if !errors.As(err, &e) {
				return
			}
			if !yield(e) {
				return
			}
			err = e.Err
		}
	}
}

func genericMessage(k Kind) string {
	switch k {
	case KindNotFound:
		return "resource not found"
	case KindConflict:
		return "a resource with these values already exists"
	case KindInvalidValue:
		return "a value in the request is not valid"
	case KindInvalidFilter:
		return "the filter is not valid"
	case KindInvalidSyntax:
		return "the request is not valid SCIM"
	case KindInvalidPath:
		return "the path is not valid"
	case KindNoTarget:
		return "the path matched no value"
	case KindMutability:
		return "the attribute cannot be changed"
	case KindUnavailable:
		return "the directory is not reachable; try again later"
	case KindUnauthorized:
		return "authentication is required"
	case KindForbidden:
		return "the directory refused the operation"
	case KindTooMany:
		return "the request asks for too many results"
	case KindPrecondition:
		return "the resource has changed since it was read"
	case KindNotImplemented:
		return "this operation is not supported"
	case KindPayloadTooLarge:
		return "the request body is too large"
	case KindMethodNotAllowed:
		return "the method is not allowed on this endpoint"
	case KindMisconfigured:
		return "the gateway is misconfigured"
	}
	return "internal error"
}
