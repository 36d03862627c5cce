package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
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
	id := r.Header.Get(RequestIDHeader)
	if !saneRequestID(id) {
		id = newRequestID()
	}
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

// saneRequestID reports whether a client-sent X-Request-Id may be echoed:
// 1 to 128 characters of letters, digits and ._:- (as the service).
func saneRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// newRequestID returns 24 random hex digits.
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
