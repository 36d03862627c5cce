package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/clerkgate/clerkgate"
)

type ctxKey int

// stateKey is the context key of the request's *reqState.
const stateKey ctxKey = 0

// reqState is what the service keeps of one request, in one allocation:
// the writer that records the answer's status and size, and the request id.
type reqState struct {
	statusWriter
	id       string
	idHeader [1]string // X-Request-Id's value slice in the response header
}

func requestIDFrom(ctx context.Context) string {
	if st, ok := ctx.Value(stateKey).(*reqState); ok {
		return st.id
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
		st.id = clerkgate.RequestIDOrNew(r.Header.Get("X-Request-Id"))
		st.idHeader[0] = st.id
		w.Header()["X-Request-Id"] = st.idHeader[:] // canonical key; saves Set's allocation
		r = r.WithContext(context.WithValue(r.Context(), stateKey, st))
		sw := &st.statusWriter
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.LogAttrs(r.Context(), slog.LevelError, "panic", slog.String("request_id", st.id),
					slog.Any("panic", p))
				if sw.status == 0 {
					writeProblem(sw, r, &clerkgate.Error{Code: clerkgate.CodeInternal})
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			end := time.Now()
			d := end.Sub(start)
			if s.metrics != nil {
				s.metrics.ObserveHTTP(route, sw.status, d)
			}
			s.logAccess(r.Context(), end, &accessEntry{
				requestID: st.id, method: r.Method, route: route, path: r.URL.Path,
				status: sw.status, bytes: sw.bytes, duration: d, remoteIP: remoteIP(r),
			})
		}()
		next.ServeHTTP(sw, r)
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
