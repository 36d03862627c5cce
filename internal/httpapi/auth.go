package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/verify"
)

// authenticate verifies the request's session token under p, resolves the
// caller, and calls next; every failure is answered here with its problem
// document (401 with a challenge, 400 for ambiguous credentials, 503 when
// keys or the store are unavailable).
func (s *server) authenticate(p verify.Policy, next func(http.ResponseWriter, *http.Request, *identity.Identity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		claims, err := s.verifier.VerifyRequest(r, p)
		if s.metrics != nil {
			s.metrics.AuthVerifyDuration.Observe(time.Since(start).Seconds())
		}
		var id *identity.Identity
		if err == nil {
			id, err = s.identity.Resolve(r.Context(), claims)
		}
		if err != nil {
			method := "session"
			if clerkgate.ErrorCode(err) == clerkgate.CodeUnauthenticated {
				method = "none"
			}
			s.observeAuth(method, "rejected", reasonOf(err))
			writeProblem(w, r, err)
			return
		}
		s.observeAuth("session", "ok", "")
		next(w, r.WithContext(context.WithValue(r.Context(), identityKey, id)), id)
	})
}

func (s *server) observeAuth(method, result, reason string) {
	if s.metrics != nil {
		s.metrics.ObserveAuth(method, result, reason)
	}
}
