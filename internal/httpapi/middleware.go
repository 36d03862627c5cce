package httpapi

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/identity"
)

// reqState is what the service keeps of one request, in one allocation:
// the writer that records the answer's status and size (handlers get the
// *reqState itself as their ResponseWriter), the request id's header
// values, and room for the caller's identity.
type reqState struct {
	statusWriter
	reqID    [1]string // X-Request-Id's value slice in the request header
	respID   [1]string // and in the response header
	identity identity.Identity
}

// stateOf is the request's state when w is the writer observe handed down,
// else nil (a handler called on its own, as in some tests).
func stateOf(w http.ResponseWriter) *reqState {
	st, _ := w.(*reqState)
	return st
}

// requestID is the request's id. observe puts the id it settled on (the
// client's when sane, else a new one) into the request's own X-Request-Id
// header, as proxies such as Envoy do, so the id travels with the request
// to every handler and to the upstream without a copy of the request; the
// check keeps a client's raw value out when observe did not run.
func requestID(r *http.Request) string {
	if v := r.Header["X-Request-Id"]; len(v) > 0 && clerkgate.SaneRequestID(v[0]) {
		return v[0]
	}
	return ""
}

// statusWriter records what a handler wrote, for the access log and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	// Informational answers (100 Continue, 103 Early Hints) come before the
	// real one; only a switch of protocols (101) is final.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
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

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe wraps the whole server: request id, panic recovery, one access log
// line and the HTTP metrics per request. Route labels are mux patterns,
// never raw paths.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &reqState{statusWriter: statusWriter{ResponseWriter: w}}
		id := clerkgate.RequestIDOrNew(r.Header.Get("X-Request-Id"))
		st.reqID[0], st.respID[0] = id, id
		// Canonical keys assigned directly: saves Set's allocation.
		if r.Header == nil { // a request built by hand, not by net/http
			r.Header = http.Header{}
		}
		r.Header["X-Request-Id"] = st.reqID[:]
		w.Header()["X-Request-Id"] = st.respID[:]
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "panic", slog.String("request_id", id),
					slog.Any("panic", p))
				if st.status == 0 {
					writeProblem(st, r, &clerkgate.Error{Code: clerkgate.CodeInternal})
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			// One monotonic reading (time.Since) instead of a second
			// time.Now: the end is the start plus the duration.
			d := time.Since(start)
			if s.metrics != nil {
				s.metrics.ObserveHTTP(route, st.status, d)
			}
			s.logAccess(r.Context(), start.Add(d), &accessEntry{
				requestID: id, method: r.Method, route: route, path: r.URL.Path,
				status: st.status, bytes: st.bytes, duration: d, remoteIP: remoteIP(r),
			})
		}()
		next.ServeHTTP(st, r)
	})
}

// remoteIP is the peer address of the connection (X-Forwarded-For is not
// believed here).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limitBody bounds request bodies.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, n)
		}
		next.ServeHTTP(w, r)
	})
}
