package verify

import (
	"errors"

	"github.com/clerkgate/clerkgate"
)

// Error is a verification failure. Code is one of the contract codes
// (token_invalid, token_expired, token_not_yet_valid, session_pending,
// session_revoked, unavailable, unauthenticated, invalid_request,
// webhook_signature_invalid); Reason is a short, fixed, machine-friendly word
// for logs and metrics, such as "bad_signature" or "unknown_kid". Neither
// ever contains the token or a secret.
type Error struct {
	Code   clerkgate.Code
	Reason string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Reason == "" {
		return "verify: " + string(e.Code)
	}
	return "verify: " + string(e.Code) + " (" + e.Reason + ")"
}

// ErrorCode implements clerkgate.Coder.
func (e *Error) ErrorCode() clerkgate.Code { return e.Code }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, verify.ErrTokenExpired) holds whatever the reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Reason == "" || t.Reason == e.Reason)
}

// The sentinel errors, one per code. Compare with errors.Is; the errors
// returned carry a Reason as well.
var (
	// ErrNoCredentials: the request carries no session token (401 unauthenticated).
	ErrNoCredentials = &Error{Code: clerkgate.CodeUnauthenticated}
	// ErrInvalidRequest: the credentials are ambiguous, such as two
	// Authorization headers or two __session cookies (400 invalid_request).
	ErrInvalidRequest = &Error{Code: clerkgate.CodeInvalidRequest}
	// ErrTokenInvalid: any verification failure without a more precise code.
	ErrTokenInvalid = &Error{Code: clerkgate.CodeTokenInvalid}
	// ErrTokenExpired: exp has passed by more than the leeway.
	ErrTokenExpired = &Error{Code: clerkgate.CodeTokenExpired}
	// ErrTokenNotYetValid: nbf or iat lies ahead by more than the leeway.
	ErrTokenNotYetValid = &Error{Code: clerkgate.CodeTokenNotYetValid}
	// ErrSessionPending: the token's session status is pending and the
	// caller did not allow pending sessions.
	ErrSessionPending = &Error{Code: clerkgate.CodeSessionPending}
	// ErrSessionRevoked: the session or its user is on the deny list.
	ErrSessionRevoked = &Error{Code: clerkgate.CodeSessionRevoked}
	// ErrUnavailable: no verification key can be had (never fetched, or past
	// the stale limit): the service is broken, not the user.
	ErrUnavailable = &Error{Code: clerkgate.CodeUnavailable}
)

func invalid(reason string) error { return &Error{Code: clerkgate.CodeTokenInvalid, Reason: reason} }

// Reason returns the Reason of the first *Error in err's chain, or "".
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
