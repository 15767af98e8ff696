package bridge

import "context"

type ctxKey int

const (
	requestIDKey ctxKey = iota
	clientKey
	remoteKey
)

// WithRequest returns ctx carrying the request id and the authenticated
// client's name, so that audit lines written deep in a directory call can
// name the SCIM request that caused them.
func WithRequest(ctx context.Context, requestID, client string) context.Context {
	ctx = context.WithValue(ctx, requestIDKey, requestID)
	return context.WithValue(ctx, clientKey, client)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// Client returns the client name carried by ctx, or "".
func Client(ctx context.Context) string {
	s, _ := ctx.Value(clientKey).(string)
	return s
}

// WithRemote returns ctx carrying the client's network address (as the
// SCIM edge resolved it behind trusted proxies), for audit lines.
func WithRemote(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteKey, addr)
}

// Remote returns the client address carried by ctx, or "".
func Remote(ctx context.Context) string {
	s, _ := ctx.Value(remoteKey).(string)
	return s
}
