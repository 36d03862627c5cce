package clerkemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is a Clerk API error. The HTTP API answers it as
// {"errors":[{"code","message","long_message","meta"}],"clerk_trace_id"};
// the Go helpers return it as a *Error, so callers can use errors.As and
// look at Status and Code.
type Error struct {
	// Status is the HTTP status the Backend API answers with.
	Status int
	// Code is Clerk's error code, e.g. "resource_not_found".
	Code string
	// Message is Clerk's short message.
	Message string
	// LongMessage is Clerk's explanatory message.
	LongMessage string
	// Param names the request parameter at fault (meta.param_name), if any.
	Param string
}

// Error returns the code and the long message.
func (e *Error) Error() string {
	return fmt.Sprintf("clerkemu: %s (%d): %s", e.Code, e.Status, e.LongMessage)
}

// Error codes the emulator answers with, as Clerk spells them.
const (
	CodeAuthHeaderInvalid  = "authorization_header_format_invalid"
	CodeKeyInvalid         = "clerk_key_invalid"
	CodeNotFound           = "resource_not_found"
	CodeBodyInvalid        = "request_body_invalid"
	CodeBodyTooLarge       = "request_body_too_large"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeParamFormatInvalid = "form_param_format_invalid"
	CodeParamValueInvalid  = "form_param_value_invalid"
	CodeParamMissing       = "form_param_missing"
	CodeParamUnknown       = "form_param_unknown"
	CodeIdentifierExists   = "form_identifier_exists"
	CodePasswordTooShort   = "form_password_length_too_short"
	CodeAlreadyMember      = "already_a_member_in_organization"
	CodeUserBanned         = "user_banned"
	CodeUserLocked         = "user_locked"
	CodeInternal           = "internal_clerk_error"
)

func errAuthHeader() *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeAuthHeaderInvalid,
		Message:     "Invalid Authorization header format",
		LongMessage: "Invalid Authorization header format. Must be 'Bearer <YOUR_API_KEY>'"}
}

func errKeyInvalid() *Error {
	const m = "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct."
	return &Error{Status: http.StatusUnauthorized, Code: CodeKeyInvalid, Message: m, LongMessage: m}
}

func errNotFound(long string) *Error {
	if long == "" {
		long = "Resource not found"
	}
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "not found", LongMessage: long}
}

func errBody() *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBodyInvalid,
		Message: "Request body invalid", LongMessage: "Request body invalid"}
}

func errBodyTooLarge() *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge,
		Message: "Request body too large", LongMessage: fmt.Sprintf("The request body exceeds %d bytes.", maxBodyBytes)}
}

func errMethod(method string) *Error {
	return &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
		Message: "method not allowed", LongMessage: "The method " + method + " is not allowed on this resource."}
}

func errFormat(param string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeParamFormatInvalid, Param: param,
		Message: "is invalid", LongMessage: param + " is invalid"}
}

func errValue(param, long string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeParamValueInvalid, Param: param,
		Message: "is invalid", LongMessage: long}
}

func errMissing(param string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeParamMissing, Param: param,
		Message: "missing data", LongMessage: param + " must be included."}
}

func errUnknownParam(param string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeParamUnknown, Param: param,
		Message: "is unknown", LongMessage: param + " is not a valid parameter for this request."}
}

func errExists(param, long string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeIdentifierExists, Param: param,
		Message: "already exists", LongMessage: long}
}

// wireError is the JSON shape of Clerk's error answers.
type wireError struct {
	Errors  []wireErrorItem `json:"errors"`
	TraceID string          `json:"clerk_trace_id"`
}

type wireErrorItem struct {
	Code        string         `json:"code"`
	Message     string         `json:"message"`
	LongMessage string         `json:"long_message"`
	Meta        map[string]any `json:"meta"`
}

// writeError answers err in Clerk's error shape.
func writeError(w http.ResponseWriter, traceID string, err *Error) {
	meta := map[string]any{}
	if err.Param != "" {
		meta["param_name"] = err.Param
	}
	writeJSON(w, traceID, err.Status, wireError{
		Errors:  []wireErrorItem{{Code: err.Code, Message: err.Message, LongMessage: err.LongMessage, Meta: meta}},
		TraceID: traceID,
	})
}

// writeJSON answers v as JSON with exactly "Content-Type: application/json"
// (no charset: @clerk/backend compares the header verbatim).
func writeJSON(w http.ResponseWriter, traceID string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(wireError{
			Errors: []wireErrorItem{{Code: CodeInternal, Message: "internal error",
				LongMessage: "The emulator failed to encode its answer.", Meta: map[string]any{}}},
			TraceID: traceID,
		})
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Clerk-Trace-Id"] = []string{traceID}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newTraceID returns 32 lowercase hex digits, the form of Clerk's trace ids.
func newTraceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
