package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

// problemTypeBase prefixes the code to form a problem's type URI.
const problemTypeBase = "https://clerkgate.dev/problems/"

// details are the client-facing texts of the codes whose cause must not be
// shown (anything internal) or that read better with a fixed sentence.
var details = map[clerkgate.Code]string{
	clerkgate.CodeUnauthenticated:  "sign in: send a Clerk session token as Authorization: Bearer or in the __session cookie",
	clerkgate.CodeTokenExpired:     "the session token has expired: get a fresh one from Clerk",
	clerkgate.CodeTokenInvalid:     "the session token is not valid",
	clerkgate.CodeTokenNotYetValid: "the session token is not valid yet: check the clock",
	clerkgate.CodeSessionRevoked:   "the session has ended",
	clerkgate.CodeSessionPending:   "the session is pending: finish signing in (choose an organization) first",
	clerkgate.CodeUnavailable:      "the service cannot verify credentials right now; retry later",
	clerkgate.CodeInternal:         "internal error",
}

// writeProblem answers err as a problem document with the status of its
// code. Internal causes never reach the client.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	code := clerkgate.ErrorCode(err)
	writeProblemStatus(w, r, code, code.Status(), detailOf(code, err))
}

func detailOf(code clerkgate.Code, err error) string {
	var ce *clerkgate.Error
	if code != clerkgate.CodeInternal && errors.As(err, &ce) && ce.Message != "" {
		return ce.Message
	}
	if d, ok := details[code]; ok {
		return d
	}
	return http.StatusText(code.Status())
}

func writeProblemStatus(w http.ResponseWriter, r *http.Request, code clerkgate.Code, status int, detail string) {
	h := w.Header()
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", challenge(code, detail))
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(problem{
		Type:      problemTypeBase + string(code),
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Code:      string(code),
		RequestID: requestID(r),
	})
}

// challenge is the RFC 6750 WWW-Authenticate value for a 401: no error
// parameter when the request carried no credentials.
func challenge(code clerkgate.Code, detail string) string {
	if code == clerkgate.CodeUnauthenticated {
		return `Bearer realm="clerkgate"`
	}
	return `Bearer realm="clerkgate", error="invalid_token", error_description=` + strconv.Quote(string(code)+": "+detail)
}

// reasonOf is the short reason of an authentication error, for metrics.
func reasonOf(err error) string {
	if r := verify.Reason(err); r != "" {
		return r
	}
	return string(clerkgate.ErrorCode(err))
}
