package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/middleware"
	"github.com/clerkgate/clerkgate/verify"
)

// TestSources checks where each Middleware finds the token: header then
// cookie by default, one of them when configured, and ambiguous
// credentials refused only in the sources that are read.
func TestSources(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	good, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["bob"]})
	const bad = "not.a.token"

	type creds struct {
		auth    []string // Authorization header values
		cookies []string // __session cookie values
	}
	req := func(c creds) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		for _, a := range c.auth {
			r.Header.Add("Authorization", a)
		}
		for _, v := range c.cookies {
			r.AddCookie(&http.Cookie{Name: verify.SessionCookie, Value: v})
		}
		return r
	}
	tests := []struct {
		name    string
		sources middleware.Source
		creds   creds
		want    string // "ok" or the code
	}{
		{"both/header", 0, creds{auth: []string{"Bearer " + good}}, "ok"},
		{"both/lower-case scheme", 0, creds{auth: []string{"bearer " + good}}, "ok"},
		{"both/cookie", 0, creds{cookies: []string{good}}, "ok"},
		{"both/header wins over a bad cookie", 0, creds{auth: []string{"Bearer " + good}, cookies: []string{bad}}, "ok"},
		{"both/a bad header is not rescued by the cookie", 0, creds{auth: []string{"Bearer " + bad}, cookies: []string{good}}, "token_invalid"},
		{"both/basic scheme falls back to the cookie", 0, creds{auth: []string{"Basic dTpw"}, cookies: []string{good}}, "ok"},
		{"both/nothing", 0, creds{}, "unauthenticated"},
		{"both/two headers", 0, creds{auth: []string{"Bearer " + good, "Bearer " + good}}, "invalid_request"},
		{"both/two cookies", 0, creds{auth: []string{"Bearer " + good}, cookies: []string{good, good}}, "invalid_request"},
		{"explicit both/cookie", middleware.SourceHeader | middleware.SourceCookie, creds{cookies: []string{good}}, "ok"},

		{"header/header", middleware.SourceHeader, creds{auth: []string{"Bearer " + good}}, "ok"},
		{"header/cookie is not read", middleware.SourceHeader, creds{cookies: []string{good}}, "unauthenticated"},
		{"header/two cookies do not matter", middleware.SourceHeader, creds{auth: []string{"Bearer " + good}, cookies: []string{bad, bad}}, "ok"},
		{"header/two headers", middleware.SourceHeader, creds{auth: []string{"Bearer " + good, "Bearer " + good}}, "invalid_request"},

		{"cookie/cookie", middleware.SourceCookie, creds{cookies: []string{good}}, "ok"},
		{"cookie/header is not read", middleware.SourceCookie, creds{auth: []string{"Bearer " + good}}, "unauthenticated"},
		{"cookie/a bad header does not matter", middleware.SourceCookie, creds{auth: []string{"Bearer " + bad}, cookies: []string{good}}, "ok"},
		{"cookie/two headers do not matter", middleware.SourceCookie, creds{auth: []string{"Bearer x", "Bearer y"}, cookies: []string{good}}, "ok"},
		{"cookie/two cookies", middleware.SourceCookie, creds{cookies: []string{good, good}}, "invalid_request"},
		{"cookie/empty cookie", middleware.SourceCookie, creds{cookies: []string{""}}, "unauthenticated"},
	}
	statuses := map[string]int{"ok": 200, "token_invalid": 401, "unauthenticated": 401, "invalid_request": 400}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := w.middleware(t, func(o *middleware.Options) { o.Sources = tt.sources }).RequireSession(whoami)
			res := serve(h, req(tt.creds))
			if res.status != statuses[tt.want] {
				t.Fatalf("status = %d, want %d; body %s", res.status, statuses[tt.want], res.body)
			}
			if tt.want == "ok" {
				if res.doc["user_id"] != w.users["bob"] {
					t.Errorf("user_id = %v", res.doc["user_id"])
				}
				return
			}
			if res.code() != tt.want {
				t.Errorf("code = %q, want %q", res.code(), tt.want)
			}
			checkChallenge(t, res)
		})
	}
}
