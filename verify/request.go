package verify

import (
	"net/http"
	"strings"
)

// SessionCookie is the cookie in which Clerk's frontend sends the session
// token on same-origin requests.
const SessionCookie = "__session"

// TokenFromRequest returns the session token of r: the Authorization Bearer
// token, else the __session cookie. The Bearer scheme is matched without
// regard to case. Another scheme, an empty Bearer or nothing at all is
// ErrNoCredentials (unless the cookie carries a token). Two Authorization
// headers or two __session cookies are ErrInvalidRequest, whichever source
// would be used: ambiguous credentials are refused, never guessed at.
func TokenFromRequest(r *http.Request) (string, error) {
	auth := r.Header.Values("Authorization")
	if len(auth) > 1 {
		return "", &Error{Code: ErrInvalidRequest.Code, Reason: "multiple_authorization"}
	}
	cookies := r.CookiesNamed(SessionCookie)
	if len(cookies) > 1 {
		return "", &Error{Code: ErrInvalidRequest.Code, Reason: "multiple_session_cookies"}
	}
	if len(auth) == 1 {
		if tok, ok := bearer(auth[0]); ok {
			return tok, nil
		}
	}
	if len(cookies) == 1 && cookies[0].Value != "" {
		return cookies[0].Value, nil
	}
	return "", &Error{Code: ErrNoCredentials.Code, Reason: "no_credentials"}
}

// bearer returns the token of a "Bearer <token>" value, if it is one.
func bearer(v string) (string, bool) {
	scheme, rest, _ := strings.Cut(strings.TrimLeft(v, " \t"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok := strings.Trim(rest, " \t")
	return tok, tok != ""
}

// VerifyRequest takes the token of r (TokenFromRequest) and verifies it
// under p.
func (v *Verifier) VerifyRequest(r *http.Request, p Policy) (*Claims, error) {
	tok, err := TokenFromRequest(r)
	if err != nil {
		return nil, err
	}
	return v.VerifyWith(r.Context(), tok, p)
}
