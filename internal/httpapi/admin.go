package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/middleware"
	"github.com/clerkgate/clerkgate/verify"
)

// require authenticates the request and then checks that the caller has
// permission; authentication failures are answered first, so a bad token
// gets its 401 even where the caller could never be allowed.
func (s *server) require(permission string, next func(http.ResponseWriter, *http.Request, *identity.Identity)) http.Handler {
	return s.authenticate(verify.Policy{}, func(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
		if id.Claims.Actor != nil {
			writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "an impersonated session may not use the admin API"})
			return
		}
		if !policy.Allowed(id.Permissions, permission) {
			writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "this needs the permission " + permission})
			return
		}
		next(w, r, id)
	})
}

// adminReverifyAge is how recent the second factor must be for the
// sensitive admin actions when the policy sets admin_reverify.
const adminReverifyAge = 10 * time.Minute

// requireSensitive is require for the admin actions that change users
// (role, ban, delete): with the policy's admin_reverify, the caller's
// second factor must also be verified within 10 minutes, else 403
// reverification_required with Clerk's hint so its frontend can prompt.
func (s *server) requireSensitive(permission string, next func(http.ResponseWriter, *http.Request, *identity.Identity)) http.Handler {
	return s.require(permission, func(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
		if s.policy().AdminReverify {
			rv := middleware.Reverification{MaxAge: adminReverifyAge, Factor: middleware.SecondFactor}
			if !rv.Fresh(id.Claims, s.now()) {
				middleware.WriteError(w, r, &middleware.ReverificationError{Required: rv})
				return
			}
		}
		next(w, r, id)
	})
}

// writeError answers err, keeping the status of a statusError.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var se *statusError
	if errors.As(err, &se) {
		writeProblemStatus(w, r, clerkgate.CodeInvalidRequest, se.status, se.msg)
		return
	}
	writeProblem(w, r, err)
}

func (s *server) handleStartSync(w http.ResponseWriter, r *http.Request, id *identity.Identity) {
	if s.runs == nil {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "reconcile needs CLERK_SECRET_KEY"})
		return
	}
	var req struct {
		DryRun bool `json:"dry_run"`
	}
	if err := decode(r, &req, true); err != nil {
		writeError(w, r, err)
		return
	}
	run, err := s.runs.Start(req.DryRun)
	if err != nil {
		writeProblem(w, r, err)
		return
	}
	s.security.Record(r.Context(), clerkgate.SecurityEvent{Kind: clerkgate.EventAdminAction, UserID: id.User.ID,
		IP: remoteIP(r), RequestID: requestID(r)}, map[string]any{"action": "sync", "run": run.ID, "dry_run": req.DryRun})
	w.Header().Set("Location", "/admin/sync/"+run.ID)
	writeJSON(w, http.StatusAccepted, run)
}

func (s *server) handleGetSync(w http.ResponseWriter, r *http.Request, _ *identity.Identity) {
	if s.runs == nil {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeNotFound, Message: "no such reconcile run"})
		return
	}
	run, ok := s.runs.Get(r.PathValue("id"))
	if !ok {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeNotFound, Message: "no such reconcile run"})
		return
	}
	writeJSON(w, http.StatusOK, run)
}
