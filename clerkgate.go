// Package clerkgate holds the domain types of clerkgate: the closed set of
// error codes every component answers with, and the one table that maps a
// code onto an HTTP status. It imports only the standard library, so every
// other package of the project can depend on it.
//
// The public packages a Go application imports are verify (session tokens
// and webhook signatures), middleware and clerkemu (the Clerk emulator).
package clerkgate

import (
	"errors"
	"net/http"
)

// Code is one of the closed set of error codes of the clerkgate contract.
// Clients see it as the "code" member of a problem document.
type Code string

// The error codes of the contract. Anything not listed here is CodeInternal.
const (
	CodeUnauthenticated         Code = "unauthenticated"
	CodeTokenExpired            Code = "token_expired"
	CodeTokenInvalid            Code = "token_invalid"
	CodeTokenNotYetValid        Code = "token_not_yet_valid"
	CodeSessionRevoked          Code = "session_revoked"
	CodeSessionPending          Code = "session_pending"
	CodeLegacyTokenSunset       Code = "legacy_token_sunset"
	CodeForbidden               Code = "forbidden"
	CodeNotFound                Code = "not_found"
	CodeInvalidRequest          Code = "invalid_request"
	CodeConflict                Code = "conflict"
	CodeRateLimited             Code = "rate_limited"
	CodeReverificationRequired  Code = "reverification_required"
	CodeWebhookSignatureInvalid Code = "webhook_signature_invalid"
	CodeWebhookNotConfigured    Code = "webhook_not_configured"
	CodeUnavailable             Code = "unavailable"
	CodeInternal                Code = "internal"
)

// codeStatus is the one code→HTTP status table of the project.
var codeStatus = map[Code]int{
	CodeUnauthenticated:         http.StatusUnauthorized,
	CodeTokenExpired:            http.StatusUnauthorized,
	CodeTokenInvalid:            http.StatusUnauthorized,
	CodeTokenNotYetValid:        http.StatusUnauthorized,
	CodeSessionRevoked:          http.StatusUnauthorized,
	CodeSessionPending:          http.StatusUnauthorized,
	CodeLegacyTokenSunset:       http.StatusUnauthorized,
	CodeForbidden:               http.StatusForbidden,
	CodeNotFound:                http.StatusNotFound,
	CodeInvalidRequest:          http.StatusBadRequest,
	CodeConflict:                http.StatusConflict,
	CodeRateLimited:             http.StatusTooManyRequests,
	CodeReverificationRequired:  http.StatusForbidden,
	CodeWebhookSignatureInvalid: http.StatusBadRequest,
	CodeWebhookNotConfigured:    http.StatusServiceUnavailable,
	CodeUnavailable:             http.StatusServiceUnavailable,
	CodeInternal:                http.StatusInternalServerError,
}

// Codes returns every code of the contract, in no particular order.
func Codes() []Code {
	out := make([]Code, 0, len(codeStatus))
	for c := range codeStatus {
		out = append(out, c)
	}
	return out
}

// Valid reports whether c is one of the codes of the contract.
func (c Code) Valid() bool {
	_, ok := codeStatus[c]
	return ok
}

// Status returns the HTTP status that answers c. An unknown code answers 500.
func (c Code) Status() int {
	if s, ok := codeStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Coder is implemented by errors that carry a contract code. Packages with
// their own error types (verify.Error, for one) implement it so that
// ErrorCode finds their code through any wrapping.
type Coder interface {
	ErrorCode() Code
}

// Error is the project's general error: a code, a message that is safe to
// show to a client, and an optional wrapped cause that is not.
type Error struct {
	Code    Code
	Message string // safe for clients: no tokens, secrets, SQL or personal data
	Err     error  // the cause, for logs; never shown to a client
}

// Errorf returns an *Error with code and a message; the message must be safe
// for clients.
func Errorf(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Error implements error.
func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode implements Coder.
func (e *Error) ErrorCode() Code { return e.Code }

// ErrorCode returns the contract code of err: the code of the first error in
// its chain that implements Coder, or CodeInternal. A nil error has no code.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var c Coder
	if errors.As(err, &c) {
		if code := c.ErrorCode(); code.Valid() {
			return code
		}
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err: the message of an
// *Error in its chain, or a generic text for its code.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	if ErrorCode(err) == CodeInternal {
		return "internal error"
	}
	return string(ErrorCode(err))
}
