package middleware

import (
	"context"
	"net/http"

	"github.com/clerkgate/clerkgate"
)

// RequestIDHeader is the header that carries the request id.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestID returns the request id a Middleware assigned to the request of
// ctx, or "" when none did.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID gives r a request id (the client's when sane, otherwise a
// new one), sets it on the response and puts it in the context, unless
// disabled or already done by an outer wrapper.
func (m *Middleware) withRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
	if m.noRequestID || RequestID(r.Context()) != "" {
		return r
	}
	id := clerkgate.RequestIDOrNew(r.Header.Get(RequestIDHeader))
	w.Header().Set(RequestIDHeader, id)
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
}

// requestIDOf is the id a problem document reports: the Middleware's, else
// the one the application has set on the response.
func requestIDOf(w http.ResponseWriter, r *http.Request) string {
	if id := RequestID(r.Context()); id != "" {
		return id
	}
	return w.Header().Get(RequestIDHeader)
}
