package middleware

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// ProblemTypeBase prefixes a code to form the type URI of a problem
// document, as the clerkgate service does.
const ProblemTypeBase = "https://clerkgate.dev/problems/"

const defaultRealm = "clerkgate"

// problem is an RFC 9457 problem document, plus Clerk's hint on a
// reverification_required answer.
type problem struct {
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Status     int         `json:"status"`
	Detail     string      `json:"detail"`
	Code       string      `json:"code"`
	RequestID  string      `json:"request_id"`
	ClerkError *clerkError `json:"clerk_error,omitempty"`
}

// clerkError is the reverification hint of Clerk's SDKs (clerk-sdk-go's
// NewSessionReverificationErrorPayload, @clerk/shared's
// reverificationError): {"type":"forbidden","reason":"reverification-error",
// "metadata":{"reverification":{"level":...,"afterMinutes":...}}}. The
// members of the policy are spelled as Clerk's frontend reads them.
type clerkError struct {
	Type     string        `json:"type"`
	Reason   string        `json:"reason"`
	Metadata clerkMetadata `json:"metadata"`
}

type clerkMetadata struct {
	Reverification reverificationHint `json:"reverification"`
}

type reverificationHint struct {
	Level        string `json:"level"`
	AfterMinutes int64  `json:"afterMinutes"`
}

// details are the client-facing texts of codes whose cause is not shown
// (verification failures, anything internal), as the service words them.
var details = map[clerkgate.Code]string{
	clerkgate.CodeUnauthenticated:        "sign in: send a Clerk session token as Authorization: Bearer or in the __session cookie",
	clerkgate.CodeTokenExpired:           "the session token has expired: get a fresh one from Clerk",
	clerkgate.CodeTokenInvalid:           "the session token is not valid",
	clerkgate.CodeTokenNotYetValid:       "the session token is not valid yet: check the clock",
	clerkgate.CodeSessionRevoked:         "the session has ended",
	clerkgate.CodeSessionPending:         "the session is pending: finish signing in (choose an organization) first",
	clerkgate.CodeReverificationRequired: "verify your identity again to continue",
	clerkgate.CodeUnavailable:            "the service cannot verify credentials right now; retry later",
	clerkgate.CodeInternal:               "internal error",
}

// reasonDetails word the verification failures whose reason helps the
// client fix its request.
var reasonDetails = map[string]string{
	"multiple_authorization":   "send the session token once: the request has more than one Authorization header",
	"multiple_session_cookies": "send the session token once: the request has more than one __session cookie",
}

// WriteError answers err as an RFC 9457 problem document
// (application/problem+json) with the status of its clerkgate code
// (clerkgate.ErrorCode; anything without a code is a 500 whose cause is not
// shown). A 401 carries a WWW-Authenticate challenge of realm "clerkgate".
// The document's request_id is the one a Middleware assigned, else the
// X-Request-Id already set on the response.
//
// A Middleware uses it unless Options.ErrorHandler is set; applications may
// use it for their own errors, such as
// WriteError(w, r, clerkgate.Errorf(clerkgate.CodeNotFound, "no such note")).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, err, defaultRealm)
}

func (m *Middleware) writeError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, err, m.realm)
}

func writeError(w http.ResponseWriter, r *http.Request, err error, realm string) {
	code := clerkgate.ErrorCode(err)
	if code == "" { // a nil error is no answer at all; never a 200
		code = clerkgate.CodeInternal
	}
	status := code.Status()
	detail := detailOf(code, err)
	h := w.Header()
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", challenge(realm, code, detail))
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	p := problem{
		Type:      ProblemTypeBase + string(code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Code:      string(code),
		RequestID: requestIDOf(w, r),
	}
	var re *ReverificationError
	if code == clerkgate.CodeReverificationRequired && errors.As(err, &re) {
		p.ClerkError = &clerkError{
			Type:   "forbidden",
			Reason: "reverification-error",
			Metadata: clerkMetadata{Reverification: reverificationHint{
				Level:        re.Required.level(),
				AfterMinutes: re.Required.afterMinutes(),
			}},
		}
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// detailOf is the client-safe detail of err: the message of a
// *clerkgate.Error (never for internal errors), else a fixed text.
func detailOf(code clerkgate.Code, err error) string {
	var ce *clerkgate.Error
	if code != clerkgate.CodeInternal && errors.As(err, &ce) && ce.Message != "" && ce.Code == code {
		return ce.Message
	}
	if d, ok := reasonDetails[verify.Reason(err)]; ok && code == clerkgate.CodeInvalidRequest {
		return d
	}
	if d, ok := details[code]; ok {
		return d
	}
	return http.StatusText(code.Status())
}

// challenge is the RFC 6750 WWW-Authenticate value of a 401: no error
// parameter when the request carried no credentials.
func challenge(realm string, code clerkgate.Code, detail string) string {
	c := "Bearer realm=" + strconv.Quote(realm)
	if code == clerkgate.CodeUnauthenticated {
		return c
	}
	return c + `, error="invalid_token", error_description=` + strconv.Quote(string(code)+": "+detail)
}
