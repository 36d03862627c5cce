package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/verify"
)

// authenticate verifies the request's session token under p, resolves the
// caller, and calls next; every failure is answered here with its problem
// document (401 with a challenge, 400 for ambiguous credentials, 503 when
// keys or the store are unavailable). During a migration window a legacy
// token stands for its local user (authenticateLegacy).
func (s *server) authenticate(p verify.Policy, next func(http.ResponseWriter, *http.Request, *identity.Identity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := remoteIP(r)
		if wait := s.limiter.blocked(ip, s.now); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			s.observeAuth("none", "rejected", "rate_limited")
			writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeRateLimited, Message: "too many failed authentications from this address; retry later"})
			return
		}
		tok, err := verify.TokenFromRequest(r)
		if err == nil && s.legacy != nil && s.legacy.IsLegacy(tok) {
			s.authenticateLegacy(w, r, ip, tok, next)
			return
		}
		var id *identity.Identity
		if err == nil {
			var into *identity.Identity // the request state's room, when there is one
			if st := stateOf(w); st != nil {
				into = &st.identity
			}
			id, err = s.verifySession(r, tok, p, into)
		}
		if err != nil {
			method := "session"
			if clerkgate.ErrorCode(err) == clerkgate.CodeUnauthenticated {
				method = "none"
			}
			s.observeAuth(method, "rejected", reasonOf(err))
			s.authFailed(r, ip, err)
			writeProblem(w, r, err)
			return
		}
		s.observeAuth("session", "ok", "")
		next(w, r, id)
	})
}

// authFailed records a failed authentication and counts it against the
// client's address. Requests without credentials, ambiguous ones and the
// service's own unavailability are not attempts to guess a credential and
// do not count.
func (s *server) authFailed(r *http.Request, ip string, err error) {
	switch clerkgate.ErrorCode(err) {
	case clerkgate.CodeUnauthenticated, clerkgate.CodeInvalidRequest, clerkgate.CodeUnavailable,
		clerkgate.CodeLegacyTokenSunset: // a client still on its old tokens, not a guess
		return
	}
	ev := clerkgate.SecurityEvent{Kind: clerkgate.EventAuthFailed, IP: ip, RequestID: requestID(r)}
	reason := reasonOf(err)
	s.security.Record(r.Context(), ev, map[string]any{"reason": reason, "code": string(clerkgate.ErrorCode(err))})
	switch {
	case clerkgate.ErrorCode(err) == clerkgate.CodeSessionRevoked:
		// A valid signature on a session that ended, or of a user banned
		// or deleted since: the token outlived its revocation.
		replay := ev
		replay.Kind = clerkgate.EventTokenReplayAfterRevoke
		s.security.Record(r.Context(), replay, map[string]any{"reason": reason})
	case reason == "unknown_kid":
		if n, ok := s.kidFlood.add(s.now()); ok {
			flood := ev
			flood.Kind = clerkgate.EventUnknownKidFlood
			s.security.Record(r.Context(), flood, map[string]any{"tokens": n, "window": kidFloodWindow.String()})
		}
	}
	if s.limiter.fail(ip, s.now()) {
		ev.Kind = clerkgate.EventBruteForceSuspected
		s.security.Record(r.Context(), ev, map[string]any{"limit": s.limiter.limit, "window": s.limiter.window.String()})
	}
}

func (s *server) observeAuth(method, result, reason string) {
	if s.metrics != nil {
		s.metrics.ObserveAuth(method, result, reason)
	}
}

// Tokens whose key id the key set does not have are refused without a
// signature check; kidFloodLimit of them within kidFloodWindow, from any
// addresses, are an unknown_kid_flood (SPEC §11), recorded once a window.
const (
	kidFloodLimit  = 20
	kidFloodWindow = time.Minute
)

// floodCounter counts events in fixed windows.
type floodCounter struct {
	mu       sync.Mutex
	start    time.Time
	n        int
	reported bool
}

// add counts one event at now and reports the count when it reaches
// kidFloodLimit, once per window.
func (c *floodCounter) add(now time.Time) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.start) >= kidFloodWindow || now.Before(c.start) {
		c.start, c.n, c.reported = now, 0, false
	}
	c.n++
	if c.n >= kidFloodLimit && !c.reported {
		c.reported = true
		return c.n, true
	}
	return c.n, false
}
