package middleware

import (
	"errors"
	"fmt"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// The authorization failures of the wrappers, all with the code forbidden
// (403). Authentication failures are the *verify.Error values of the
// Verifier. Compare with errors.Is; do not change them.
var (
	// ErrImpersonated: the session is impersonated (act claim) and the route
	// does not allow impersonation.
	ErrImpersonated = &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "impersonated sessions may not use this route"}
	// ErrRoleNotAllowed: the caller's application role is none of the roles
	// the route allows.
	ErrRoleNotAllowed = &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "your role does not allow this"}
	// ErrPermissionMissing: the caller lacks a permission the route needs.
	ErrPermissionMissing = &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "you lack a permission this needs"}
	// ErrNoActiveOrganization: the route needs an organization role and the
	// session has no active organization.
	ErrNoActiveOrganization = &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "this needs an active organization: choose one first"}
	// ErrOrgRoleNotAllowed: the caller's role in the active organization is
	// none of the roles the route allows.
	ErrOrgRoleNotAllowed = &clerkgate.Error{Code: clerkgate.CodeForbidden, Message: "your role in the active organization does not allow this"}
)

// ReverificationError is the refusal of a session whose factor was not
// verified recently enough (403 reverification_required). WriteError adds
// Clerk's reverification hint for it to the problem document.
type ReverificationError struct {
	// Required is what the route asked for.
	Required Reverification
}

// Error implements error.
func (e *ReverificationError) Error() string {
	return fmt.Sprintf("middleware: %s: %s within %s", clerkgate.CodeReverificationRequired, e.Required.level(), e.Required.MaxAge)
}

// ErrorCode implements clerkgate.Coder.
func (e *ReverificationError) ErrorCode() clerkgate.Code { return clerkgate.CodeReverificationRequired }

// reasons are the fixed words of the authorization failures, for logs.
var reasons = map[*clerkgate.Error]string{
	ErrImpersonated:         "impersonated",
	ErrRoleNotAllowed:       "role",
	ErrPermissionMissing:    "permission",
	ErrNoActiveOrganization: "no_organization",
	ErrOrgRoleNotAllowed:    "org_role",
}

// reasonOf is the short reason of a refusal, for logs: the Verifier's
// reason or the name of an authorization failure.
func reasonOf(err error) string {
	if r := verify.Reason(err); r != "" {
		return r
	}
	var ce *clerkgate.Error
	if errors.As(err, &ce) {
		if r, ok := reasons[ce]; ok {
			return r
		}
	}
	var re *ReverificationError
	if errors.As(err, &re) {
		return re.Required.level()
	}
	return ""
}
