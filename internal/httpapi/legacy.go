package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/verify"
)

// LegacyWindow is what the server needs of a LegacyVerifier, beyond
// verifying tokens, for the HTTP side of the migration window (SPEC §8);
// *legacy.Verifier implements it. A LegacyVerifier that does not implement
// it gets neither deprecation headers nor login-path handling.
type LegacyWindow interface {
	// DeprecationHeaders sets Deprecation, Sunset and Link on h.
	DeprecationHeaders(h http.Header)
	// SunsetPassed reports whether the window has ended.
	SunsetPassed() bool
	// IsLoginPath reports whether a canonical path is one of the old login
	// and refresh endpoints.
	IsLoginPath(path string) bool
	// SampleUse reports whether a use of a legacy token by the local user
	// at now is recorded as a legacy_token_used security event, and how
	// many of the user's uses were not since the last one recorded.
	SampleUse(localUserID string, now time.Time) (record bool, skipped int)
}

// legacyUseKey keys the *legacyUse of a request that carries a legacy
// token.
type legacyUseKey struct{}

// legacyUse is what the verification of a request's legacy token found.
type legacyUse struct {
	mu     sync.Mutex
	userID string // the local user of a verified token
}

// notingLegacy is the LegacyVerifier the server uses: it notes the local
// user of every verified token in the request's legacyUse, so that the
// legacy window can record the use however the request was authenticated
// (the service's own endpoints, the proxy, forward-auth).
type notingLegacy struct{ LegacyVerifier }

// VerifyLegacy implements LegacyVerifier.
func (n notingLegacy) VerifyLegacy(ctx context.Context, token string) (string, error) {
	id, err := n.LegacyVerifier.VerifyLegacy(ctx, token)
	if use, ok := ctx.Value(legacyUseKey{}).(*legacyUse); ok && err == nil {
		use.mu.Lock()
		use.userID = id
		use.mu.Unlock()
	}
	return id, err
}

// legacyWindow wraps the service's handler for the migration window:
//
//   - the old login and refresh paths (legacy.login_paths) are answered
//     410 legacy_token_sunset after the sunset, in proxy mode and in
//     forward-auth calls about them alike; before it they go on (to the
//     upstream, in proxy mode) and their responses carry the deprecation
//     headers;
//   - every response to a request whose token is a legacy one carries
//     Deprecation, Sunset and Link, the 401 legacy_token_sunset of a
//     legacy token after the sunset included;
//   - a legacy token that was verified and whose request was not refused
//     with 401 (a deleted or banned user) is a use: a legacy_token_used
//     security event, sampled (LegacyWindow.SampleUse; without a
//     LegacyWindow every use is recorded).
func (s *server) legacyWindow(next http.Handler) http.Handler {
	if s.legacy == nil {
		return next
	}
	win := s.legacyWin()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if win != nil {
			if canon, ok := s.requestedPath(r); ok && win.IsLoginPath(canon) {
				win.DeprecationHeaders(w.Header())
				if win.SunsetPassed() {
					writeProblemStatus(w, r, clerkgate.CodeLegacyTokenSunset, http.StatusGone,
						"the old sign-in is gone: sign in with Clerk, and use POST /auth/token where you refreshed tokens (see the migration guide)")
					return
				}
				next.ServeHTTP(w, r)
				return
			}
		}
		tok, err := verify.TokenFromRequest(r)
		if err != nil || !s.legacy.IsLegacy(tok) {
			next.ServeHTTP(w, r)
			return
		}
		if win != nil {
			win.DeprecationHeaders(w.Header())
		}
		use := &legacyUse{}
		// The event is about the request next serves: the router and the
		// proxy set its Pattern (the route), not the one of r.
		inner := r.WithContext(context.WithValue(r.Context(), legacyUseKey{}, use))
		lw := &legacyWriter{ResponseWriter: w, started: func(status int) {
			use.mu.Lock()
			id := use.userID
			use.mu.Unlock()
			if id != "" && status != http.StatusUnauthorized {
				s.legacyUsed(inner, win, id)
			}
		}}
		next.ServeHTTP(lw, inner)
	})
}

// legacyWin is the LegacyWindow of the server's LegacyVerifier, or nil.
func (s *server) legacyWin() LegacyWindow {
	inner := s.legacy
	if n, ok := inner.(notingLegacy); ok {
		inner = n.LegacyVerifier
	}
	win, _ := inner.(LegacyWindow)
	return win
}

// legacyLoginRoute is the route of an old login or refresh path
// (legacy.login_paths, canonical) that no policy route matches, during the
// migration window: anonymous, so that the old sign-in goes to the upstream
// unchanged (SPEC §8) without a route of its own. After the sunset
// legacyWindow answers these paths itself. ok is false for any other path.
func (s *server) legacyLoginRoute(canon string) (route *policy.Route, ok bool) {
	win := s.legacyWin()
	if win == nil || !win.IsLoginPath(canon) || win.SunsetPassed() {
		return nil, false
	}
	return &policy.Route{Path: canon, Anonymous: true}, true
}

// requestedPath is the canonical path a request is about: its own, or,
// for a forward-auth call from a trusted proxy, the original request's.
func (s *server) requestedPath(r *http.Request) (string, bool) {
	p := r.URL.EscapedPath()
	if p == "/auth/verify" {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !s.policy().TrustedProxy(peer.Addr()) {
			return "", false
		}
		if p, err = forwarded(r.Header, "X-Forwarded-Uri", "X-Original-Uri"); err != nil {
			return "", false
		}
	}
	canon, err := policy.Canonicalize(p)
	return canon, err == nil
}

// legacyUsed records a use of a legacy token by the local user id as a
// legacy_token_used security event, if the sampler picks it.
func (s *server) legacyUsed(r *http.Request, win LegacyWindow, id string) {
	detail := map[string]any{"path_pattern": r.Pattern}
	if win != nil {
		record, skipped := win.SampleUse(id, s.now())
		if !record {
			return
		}
		detail["uses_not_recorded"] = skipped
	}
	ip := remoteIP(r)
	if r.URL.Path == "/auth/verify" {
		ip = forwardedClientIP(r)
	}
	s.security.Record(r.Context(), clerkgate.SecurityEvent{
		Kind: clerkgate.EventLegacyTokenUsed, IP: ip, UserID: id, RequestID: requestID(r),
	}, detail)
}

// legacyWriter tells started the status of the response once, when it
// starts. It unwraps, so that http.ResponseController (flushes, the
// proxy's upgrades) reaches the writer below.
type legacyWriter struct {
	http.ResponseWriter
	once    sync.Once
	started func(status int)
}

func (w *legacyWriter) WriteHeader(status int) {
	if status >= 200 || status == http.StatusSwitchingProtocols {
		w.once.Do(func() { w.started(status) })
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *legacyWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { w.started(http.StatusOK) })
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the writer below, for http.ResponseController.
func (w *legacyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// sessionBound are the service's endpoints that act on the caller's Clerk
// session: a legacy token, which has none, is refused there (403).
var sessionBound = map[string]bool{
	"POST /auth/logout":          true,
	"GET /auth/sessions":         true,
	"DELETE /auth/sessions/{id}": true,
	"POST /auth/token":           true,
}

// errLegacyNoSession refuses a legacy token on an endpoint that acts on a
// Clerk session.
var errLegacyNoSession = &clerkgate.Error{Code: clerkgate.CodeForbidden,
	Message: "this endpoint acts on a Clerk session, which a legacy token does not have: sign in with Clerk (see the migration guide)"}

// authenticateLegacy is authenticate for a request whose token is a legacy
// one: the token's local user, who must be neither deleted nor banned, with
// the stored role. Its identity has no Clerk session: Claims.Subject is the
// user's Clerk id ("" until linked), SessionID is empty.
func (s *server) authenticateLegacy(w http.ResponseWriter, r *http.Request, ip, tok string,
	next func(http.ResponseWriter, *http.Request, *identity.Identity)) {
	u, err := s.legacyUser(r.Context(), tok)
	if err != nil {
		s.observeAuth("legacy", "rejected", reasonOf(err))
		s.authFailed(r, ip, err)
		writeProblem(w, r, err)
		return
	}
	s.observeAuth("legacy", "ok", "")
	if sessionBound[r.Pattern] {
		writeProblem(w, r, errLegacyNoSession)
		return
	}
	pol := s.policy()
	role := u.Role
	if role == "" {
		role = pol.Roles.Default
	}
	id := &identity.Identity{
		User:        u,
		Claims:      &verify.Claims{Subject: u.ClerkUserID},
		Role:        role,
		Permissions: pol.PermissionsFor(role, nil),
	}
	next(w, r, id)
}
