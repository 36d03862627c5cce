package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/policy"
)

// The reverse proxy (SPEC §7). With an upstream configured, a request for a
// path the service does not own goes through these steps, each of which may
// answer it instead:
//
//  1. client-sent X-Clerkgate-* headers (any case, "_" for "-") are noted
//     as one header_spoofing security event; they never reach the upstream;
//  2. the raw (escaped) path is canonicalized (policy.Canonicalize): an
//     ambiguous path is 400 invalid_request, and so is a path whose
//     canonical form is one of the service's own endpoints (those are
//     never proxied, whatever their spelling);
//  3. the policy's first route for the real method and the canonical path
//     is taken (headers such as X-HTTP-Method-Override or X-Original-URL
//     play no part); none is 403 forbidden, except for the old login and
//     refresh paths of a legacy window, which are anonymous then;
//  4. the caller is authenticated and authorized for that route
//     (authenticateRoute): 401, 403 or 429 problem documents;
//  5. the request goes upstream with the canonical path and the original
//     query, the identity headers set last (so that no client header, not
//     even one named in Connection, can remove or replace them), the
//     routing and method-override headers removed, and Authorization and
//     the __session cookie removed when the route says strip_credentials.
//
// The upstream's answer streams back as it comes (SSE and unknown-length
// bodies are flushed at once, others every 100 ms); upgrades (websockets)
// are passed through; bodies are not size-limited or buffered. An upstream
// that cannot be reached, resets, or sends no response headers within the
// timeout is 502 unavailable, with no detail of the upstream.

// proxyKey is the context key of a request's proxyState.
type proxyKey struct{}

// proxyState is what the proxy decided about a request, for Rewrite.
type proxyState struct {
	target    *url.URL
	path      string // canonical
	route     *policy.Route
	principal *Principal // nil on an anonymous route without a session
	requestID string
}

// proxy is the reverse proxy of the service.
type proxy struct {
	s  *server
	rp *httputil.ReverseProxy
	// owns reports whether the service itself answers a path.
	owns func(path string) bool
}

// defaultUpstreamTimeout bounds the wait for the upstream's response
// headers when Deps.UpstreamTimeout is 0.
const defaultUpstreamTimeout = 60 * time.Second

func newProxy(s *server, timeout time.Duration) *proxy {
	if timeout <= 0 {
		timeout = defaultUpstreamTimeout
	}
	tr := &http.Transport{
		Proxy: nil, // the upstream is reached directly, whatever HTTP_PROXY says
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies as the upstream sent them
	}
	p := &proxy{s: s}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &timedTransport{next: tr, s: s},
		FlushInterval:  100 * time.Millisecond,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamError,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BufferPool:     bufferPool{},
	}
	return p
}

// upstreamURL is the API to protect: CLERKGATE_UPSTREAM, else the policy's
// upstream, else nil.
func (s *server) upstreamURL() *url.URL {
	if s.upstream != nil {
		return s.upstream
	}
	if s.policy == nil {
		return nil
	}
	return s.policy().Upstream
}

// proxying reports whether unknown paths go to an upstream.
func (s *server) proxying() bool { return s.upstreamURL() != nil }

// handleUnrouted answers every path the service does not own: the proxy
// when an upstream is configured, else 404.
func (s *server) handleUnrouted(w http.ResponseWriter, r *http.Request) {
	target := s.upstreamURL()
	if target == nil || s.proxy == nil {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeNotFound, Message: "no such endpoint"})
		return
	}
	s.proxy.serve(w, r, target)
}

func (p *proxy) serve(w http.ResponseWriter, r *http.Request, target *url.URL) {
	s := p.s
	r.Pattern = "" // "unmatched" in metrics until a policy route matches
	if names := gatewayHeaders(r.Header); len(names) > 0 {
		s.recordSpoofing(r, names)
	}
	canon, err := policy.Canonicalize(r.URL.EscapedPath())
	if err != nil || r.URL.Opaque != "" {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeInvalidRequest,
			Message: "the request path is ambiguous (encoded / or \\, ;, double encoding, a control character, .. above the root): it is refused rather than guessed at"})
		return
	}
	if p.owns != nil && p.owns(canon) {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeInvalidRequest,
			Message: "the request path names an endpoint of clerkgate itself: request " + canon + " as it is"})
		return
	}
	route, ok := s.policy().Match(r.Method, canon)
	if !ok {
		route, ok = s.legacyLoginRoute(canon)
	}
	if !ok {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "no route of the policy allows this request"})
		return
	}
	r.Pattern = route.Path // the metrics label: the route, never the raw path
	principal, err := s.authenticateRoute(r, route, remoteIP(r))
	if err != nil {
		writeRouteError(w, r, err)
		return
	}
	// The server's read timeout is for its own small requests; a proxied
	// body or websocket lasts as long as the upstream lets it.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	st := &proxyState{target: target, path: canon, route: route, principal: principal, requestID: requestID(r)}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), proxyKey{}, st)))
}

// rewrite builds the upstream request. ReverseProxy has already removed
// the hop-by-hop headers, those named in Connection included, and the
// client's Forwarded and X-Forwarded-* headers; what is set here comes
// after that and stays.
func (p *proxy) rewrite(pr *httputil.ProxyRequest) {
	st := pr.In.Context().Value(proxyKey{}).(*proxyState)
	pr.Out.URL.Path, pr.Out.URL.RawPath = st.path, ""
	// The query exactly as sent: ReverseProxy drops the parameters it cannot
	// parse (";" included), but clerkgate decides nothing on the query and
	// the upstream reads it as it always did.
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	pr.SetURL(st.target) // target's scheme and host, its path before ours; Host is the target's
	h := pr.Out.Header
	removeGatewayHeaders(h)
	removeGatewayHeaders(pr.Out.Trailer)
	removeRoutingHeaders(h)
	pr.SetXForwarded() // X-Forwarded-For is the direct peer alone
	if st.route.StripCredentials {
		h.Del("Authorization")
		removeSessionCookie(h)
	}
	if st.requestID != "" {
		h.Set("X-Request-Id", st.requestID)
	}
	setIdentityHeaders(h, st.principal)
}

// modifyResponse keeps the service's own X-Request-Id the only one.
func (p *proxy) modifyResponse(res *http.Response) error {
	res.Header.Del("X-Request-Id")
	return nil
}

// upstreamError answers a request the upstream did not answer: 502
// unavailable, without the cause, which is logged.
func (p *proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	level := slog.LevelWarn
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		level = slog.LevelDebug // the client went away
	}
	var route string
	if st, ok := r.Context().Value(proxyKey{}).(*proxyState); ok {
		route = st.route.Path
	}
	p.s.log.LogAttrs(r.Context(), level, "upstream request failed",
		slog.String("request_id", requestID(r)),
		slog.String("route", route),
		slog.String("error", err.Error()))
	writeProblemStatus(w, r, clerkgate.CodeUnavailable, http.StatusBadGateway,
		"the protected API did not answer; retry later")
}

// timedTransport observes clerkgate_proxy_upstream_duration_seconds.
type timedTransport struct {
	next http.RoundTripper
	s    *server
}

func (t *timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.next.RoundTrip(req)
	if m := t.s.metrics; m != nil {
		route := "unmatched"
		if st, ok := req.Context().Value(proxyKey{}).(*proxyState); ok {
			route = st.route.Path
		}
		m.ObserveProxyUpstream(route, time.Since(start))
	}
	return res, err
}

// bufferPool reuses the 32 KiB copy buffers of proxied bodies.
type bufferPool struct{}

var proxyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(proxyBuffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { proxyBuffers.Put(&b) }
