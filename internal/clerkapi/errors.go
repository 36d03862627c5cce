package clerkapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clerk/clerk-sdk-go/v2"

	"github.com/clerkgate/clerkgate"
)

// ErrBreakerOpen is the cause of the errors of calls that the circuit
// breaker failed fast, without asking Clerk.
var ErrBreakerOpen = errors.New("circuit breaker open after repeated failures")

// messageKeyRejected is the client-safe message of a 401 or 403 from Clerk:
// the service's configuration is wrong, not the user's request.
const messageKeyRejected = "Clerk rejected the secret key"

// APIError is an error answer of the Backend API in Clerk's error shape
// ({"errors":[{"code","message",...}],"clerk_trace_id"}). It is the cause
// (Err) of the *clerkgate.Error a call returns, so errors.As finds it, and it
// carries no secrets and no user data.
type APIError struct {
	// Status is the HTTP status of the answer.
	Status int
	// Code is Clerk's code of the first error, e.g. "resource_not_found".
	Code string
	// TraceID is Clerk's trace id of the answer, for Clerk's support.
	TraceID string
	// RetryAfter is the wait a 429 answer asked for (its Retry-After
	// header); 0 when absent or unreadable.
	RetryAfter time.Duration
	// Operation is the call that failed, e.g. "get_user".
	Operation string
}

// Error describes the answer: operation, status, Clerk's code and trace id.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "clerk %s: HTTP %d", e.Operation, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	if e.TraceID != "" {
		b.WriteString(" (trace " + e.TraceID + ")")
	}
	return b.String()
}

var _ clerkgate.Coder = (*APIError)(nil)

// ErrorCode implements clerkgate.Coder: 404 is not_found; 400 and 422 are
// invalid_request; 409 is conflict; 429 is rate_limited; 401, 403, 5xx and
// every other status are unavailable (a 401 or 403 means the service's secret
// key is wrong, which is no fault of the user's).
func (e *APIError) ErrorCode() clerkgate.Code {
	switch e.Status {
	case http.StatusNotFound:
		return clerkgate.CodeNotFound
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return clerkgate.CodeInvalidRequest
	case http.StatusConflict:
		return clerkgate.CodeConflict
	case http.StatusTooManyRequests:
		return clerkgate.CodeRateLimited
	default:
		return clerkgate.CodeUnavailable
	}
}

// outcome is what a call tells the circuit breaker about Clerk's health.
type outcome int

const (
	outcomeAnswered outcome = iota // Clerk answered, even if with a 4xx
	outcomeFailed                  // no usable answer: Clerk may be down
	outcomeNeutral                 // the caller gave up: says nothing about Clerk
)

// unexpectedError is an answer that parsed but cannot be right (a user
// without an id, a token without a JWT).
type unexpectedError string

func errUnexpected(what string) error { return unexpectedError(what) }

func (e unexpectedError) Error() string { return "unexpected answer: " + string(e) }

// mapError is the one mapping of a failed call onto the contract codes. err
// is what the SDK returned, status the HTTP status seen (0 for none), and
// callerDone whether the caller's own context had ended. The result is a
// *clerkgate.Error whose message is safe for clients and whose cause names
// the operation but holds no key, token, body or user data.
func mapError(op operation, err error, status int, callerDone bool) (outcome, error) {
	var apiErr *clerk.APIErrorResponse
	if errors.As(err, &apiErr) {
		e := newAPIError(op, apiErr)
		out := outcomeAnswered
		if e.Status >= 500 {
			out = outcomeFailed
		}
		return out, &clerkgate.Error{Code: e.ErrorCode(), Message: apiMessage(op, e, apiErr), Err: e}
	}

	unavailable := func(msg string, cause error, out outcome) (outcome, error) {
		return out, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: msg, Err: cause}
	}
	switch {
	case callerDone:
		return unavailable("Clerk API call canceled",
			fmt.Errorf("clerk %s: canceled by the caller: %w", op.name, transportCause(err)), outcomeNeutral)
	case isTimeout(err):
		return unavailable("Clerk API timed out",
			fmt.Errorf("clerk %s: timed out: %w", op.name, transportCause(err)), outcomeFailed)
	case status >= 400:
		// The SDK returns a body that is not Clerk's error shape verbatim:
		// it is never copied into an error (it may come from a proxy and
		// echo anything).
		return unavailable("Clerk API unavailable",
			fmt.Errorf("clerk %s: HTTP %d with a body that is not a Clerk error", op.name, status), failedIf(status >= 500))
	case status == 0:
		return unavailable("Clerk API unreachable",
			fmt.Errorf("clerk %s: no answer: %w", op.name, transportCause(err)), outcomeFailed)
	default:
		return unavailable("Clerk API gave an unusable answer",
			fmt.Errorf("clerk %s: HTTP %d: %w", op.name, status, answerCause(err)), outcomeFailed)
	}
}

func failedIf(b bool) outcome {
	if b {
		return outcomeFailed
	}
	return outcomeAnswered
}

// newAPIError extracts the safe parts of Clerk's error answer.
func newAPIError(op operation, r *clerk.APIErrorResponse) *APIError {
	e := &APIError{Status: r.HTTPStatusCode, TraceID: r.TraceID, Operation: op.name}
	if len(r.Errors) > 0 {
		e.Code = clip(r.Errors[0].Code, 100)
	}
	if r.Response != nil {
		if e.Status == 0 {
			e.Status = r.Response.StatusCode
		}
		if e.TraceID == "" {
			e.TraceID = r.Response.TraceID
		}
		if e.Status == http.StatusTooManyRequests {
			e.RetryAfter = parseRetryAfter(r.Response.Header.Get("Retry-After"), time.Now())
		}
	}
	e.TraceID = clip(e.TraceID, 100)
	return e
}

// apiMessage is the client-safe message of an error answer. Only 400, 409
// and 422 pass Clerk's own message on (with the parameter it names): it
// describes the request, never secrets.
func apiMessage(op operation, e *APIError, r *clerk.APIErrorResponse) string {
	clerkMessage := func(fallback string) string {
		if len(r.Errors) == 0 || strings.TrimSpace(r.Errors[0].Message) == "" {
			return fallback
		}
		msg := clip(r.Errors[0].Message, 300)
		var meta struct {
			Param string `json:"param_name"`
		}
		if json.Unmarshal(r.Errors[0].Meta, &meta) == nil && meta.Param != "" {
			msg = clip(meta.Param, 100) + ": " + msg
		}
		return msg
	}
	switch e.Status {
	case http.StatusNotFound:
		return op.resource + " not found in Clerk"
	case http.StatusUnauthorized, http.StatusForbidden:
		return messageKeyRejected
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return clerkMessage("Clerk rejected the request")
	case http.StatusConflict:
		return clerkMessage("conflict in Clerk")
	case http.StatusTooManyRequests:
		return "Clerk API rate limit reached"
	default:
		return "Clerk API unavailable"
	}
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
// Anything else, or a date in the past, is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		const maxSeconds = int64(24 * time.Hour / time.Second)
		return time.Duration(min(n, maxSeconds)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour).Round(time.Second)
	}
	return 0
}

// isTimeout reports whether err is a deadline or a network timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// transportCause strips the request URL (which holds ids) from an HTTP
// client error and keeps the cause (connection refused, deadline ...).
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// answerCause describes why a 2xx answer was unusable without quoting it.
func answerCause(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		unexp  unexpectedError
	)
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at offset %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("JSON %s where %s was expected (field %q)", typ.Value, typ.Type, typ.Field)
	case errors.As(err, &unexp), errors.Is(err, errBodyTooLarge):
		return err
	default:
		return transportCause(err)
	}
}

// clip shortens s to at most n bytes, on a rune boundary, and drops control
// characters.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
