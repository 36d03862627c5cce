package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/policy"
)

// handleVerify is GET /auth/verify, the forward-auth decision (SPEC §7) for
// nginx auth_request, Traefik ForwardAuth and Envoy ext_authz (HTTP). It
// makes the proxy's decision about the request a trusted proxy describes:
//
//   - the direct peer (the connection's address, never X-Forwarded-For,
//     X-Real-IP or Forwarded) must be in the policy's trusted_proxies
//     (default loopback): anyone else is 403 forbidden, whatever it sends;
//   - the original method is X-Forwarded-Method or X-Original-Method, and
//     the original request target X-Forwarded-Uri or X-Original-URI; none,
//     a header given twice, or both names with different values is 400
//     invalid_request (a method is required too: a proxy that forgot it
//     must not have every request judged as a GET);
//   - the target is canonicalized (ambiguous: 400), matched (no route: 403),
//     and the caller authenticated and authorized from this request's own
//     Authorization header or __session cookie, which the proxy passes on;
//   - allowed: 200 with no body and the identity headers, which the proxy
//     copies upstream (nginx: auth_request_set $x $upstream_http_x_clerkgate_user_id);
//     refused: the 401, 403 or 429 problem document of the proxy.
//
// The client's address, for the per-address failure limit and security
// events, is the last X-Forwarded-For entry, which the trusted proxy
// appends (nginx: $proxy_add_x_forwarded_for), else the proxy's address.
func (s *server) handleVerify(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	pol := s.policy()
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !pol.TrustedProxy(peer.Addr()) {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeForbidden,
			Message: "forward-auth answers only the proxies listed in the policy's trusted_proxies"})
		return
	}
	method, err := forwarded(r.Header, "X-Forwarded-Method", "X-Original-Method")
	if err == nil && !validMethod(method) {
		err = errBadForward("the original method is not an HTTP method")
	}
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	uri, err := forwarded(r.Header, "X-Forwarded-Uri", "X-Original-Uri")
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	if names := gatewayHeaders(r.Header); len(names) > 0 {
		s.recordSpoofing(r, names)
	}
	canon, err := policy.Canonicalize(uri)
	if err != nil {
		writeProblem(w, r, errBadForward("the original path is ambiguous (encoded / or \\, ;, double encoding, a control character, .. above the root): it is refused rather than guessed at"))
		return
	}
	route, ok := pol.Match(method, canon)
	if !ok {
		route, ok = s.legacyLoginRoute(canon)
	}
	if !ok {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "no route of the policy allows this request"})
		return
	}
	principal, err := s.authenticateRoute(r, route, forwardedClientIP(r))
	if err != nil {
		writeRouteError(w, r, err)
		return
	}
	setIdentityHeaders(w.Header(), principal)
	w.WriteHeader(http.StatusOK)
}

func errBadForward(msg string) error {
	return &clerkgate.Error{Code: clerkgate.CodeInvalidRequest, Message: msg}
}

// forwarded reads one original request attribute that a proxy may send
// under either of two names: exactly one value in all, or the same value
// under both names.
func forwarded(h http.Header, name, alt string) (string, error) {
	a, b := h.Values(name), h.Values(alt)
	switch {
	case len(a) > 1 || len(b) > 1:
		return "", errBadForward(name + " and " + alt + " may be sent once each")
	case len(a) == 0 && len(b) == 0:
		return "", errBadForward("forward-auth needs the original request in " + name + " or " + alt)
	case len(a) == 1 && len(b) == 1 && a[0] != b[0]:
		return "", errBadForward(name + " and " + alt + " disagree")
	case len(a) == 1:
		return a[0], nil
	}
	return b[0], nil
}

// validMethod reports whether m is an HTTP method token (RFC 9110).
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// forwardedClientIP is the client of a trusted proxy: the last
// X-Forwarded-For entry when it is an address, else the proxy itself.
func forwardedClientIP(r *http.Request) string {
	vals := r.Header.Values("X-Forwarded-For")
	if len(vals) == 0 {
		return remoteIP(r)
	}
	last := vals[len(vals)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	last = strings.TrimSpace(last)
	if host, _, err := net.SplitHostPort(last); err == nil {
		last = host
	}
	if a, err := netip.ParseAddr(last); err == nil {
		return a.Unmap().String()
	}
	return remoteIP(r)
}
