package middleware_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/middleware"
	"github.com/clerkgate/clerkgate/verify"
)

// TestProblemDocument checks the shape of a refusal, member by member.
func TestProblemDocument(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	mw := w.middleware(t, nil)
	member, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["bob"], ActiveOrganizationID: w.acme})

	tests := []struct {
		name   string
		h      http.Handler
		token  string
		status int
		code   string
		title  string
		detail string
	}{
		{"no credentials", mw.RequireSession(whoami), "", 401, "unauthenticated", "Unauthorized",
			"sign in: send a Clerk session token as Authorization: Bearer or in the __session cookie"},
		{"invalid", mw.RequireSession(whoami), "a.b.c", 401, "token_invalid", "Unauthorized", "the session token is not valid"},
		{"forbidden", mw.RequireRole("admin")(whoami), member, 403, "forbidden", "Forbidden", middleware.ErrRoleNotAllowed.Message},
		{"no permission", mw.RequirePermission("notes:write")(whoami), member, 403, "forbidden", "Forbidden", middleware.ErrPermissionMissing.Message},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := bearer(tt.token)
			r.Header.Set("X-Request-Id", "req-"+strings.ReplaceAll(tt.name, " ", "-"))
			res := serve(tt.h, r)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d", res.status, tt.status)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cc := res.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q", cc)
			}
			want := map[string]any{
				"type":       "https://clerkgate.dev/problems/" + tt.code,
				"title":      tt.title,
				"status":     float64(tt.status),
				"detail":     tt.detail,
				"code":       tt.code,
				"request_id": r.Header.Get("X-Request-Id"),
			}
			if got := sortedKeys(res.doc); !slices.Equal(got, sortedKeys(want)) {
				t.Errorf("members = %v, want %v", got, sortedKeys(want))
			}
			for k, v := range want {
				if res.doc[k] != v {
					t.Errorf("%s = %#v, want %#v", k, res.doc[k], v)
				}
			}
			if got := res.header.Get("X-Request-Id"); got != r.Header.Get("X-Request-Id") {
				t.Errorf("X-Request-Id = %q, want it echoed", got)
			}
		})
	}
}

// TestRequestID checks that X-Request-Id is echoed when sane, generated
// otherwise, reported in problem documents and left alone when disabled.
func TestRequestID(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tok, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["bob"]})
	seen := make(chan string, 1)
	h := w.middleware(t, nil).RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- middleware.RequestID(r.Context())
	}))
	for _, tt := range []struct {
		name, sent string
		echo       bool
	}{
		{"sane", "abc-123_x.y:z", true},
		{"absent", "", false},
		{"space", "abc 123", false},
		{"too long", strings.Repeat("a", 129), false},
		{"longest", strings.Repeat("a", 128), true},
		{"non-ascii", "abcé", false},
	} {
		for _, token := range []string{tok, ""} {
			r := bearer(token)
			if tt.sent != "" {
				r.Header.Set("X-Request-Id", tt.sent)
			}
			res := serve(h, r)
			got := res.header.Get("X-Request-Id")
			switch {
			case tt.echo && got != tt.sent:
				t.Errorf("%s: X-Request-Id = %q, want %q", tt.name, got, tt.sent)
			case !tt.echo && (got == tt.sent || len(got) != 24):
				t.Errorf("%s: X-Request-Id = %q, want a new one", tt.name, got)
			}
			if token == "" {
				if res.doc["request_id"] != got {
					t.Errorf("%s: request_id = %v, header %q", tt.name, res.doc["request_id"], got)
				}
			} else if ctx := <-seen; ctx != got {
				t.Errorf("%s: RequestID(ctx) = %q, header %q", tt.name, ctx, got)
			}
		}
	}

	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		mw := w.middleware(t, func(o *middleware.Options) { o.DisableRequestID = true })
		app := func(next http.Handler) http.Handler { // the application's own request ids
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Request-Id", "app-1")
				next.ServeHTTP(w, r)
			})
		}
		r := bearer("")
		r.Header.Set("X-Request-Id", "client-1")
		res := serve(app(mw.RequireSession(whoami)), r)
		if got := res.header.Values("X-Request-Id"); !slices.Equal(got, []string{"app-1"}) || res.doc["request_id"] != "app-1" {
			t.Errorf("X-Request-Id = %q, request_id = %v; want the application's", got, res.doc["request_id"])
		}
		res = serve(mw.RequireSession(whoami), r)
		if got := res.header.Values("X-Request-Id"); len(got) != 0 || res.doc["request_id"] != "" {
			t.Errorf("X-Request-Id = %q, request_id = %v; want none", got, res.doc["request_id"])
		}
	})
}

// TestWriteError checks the documents of errors that do not come from the
// wrappers: an application's own, and causes that must not be shown.
func TestWriteError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		detail string
	}{
		{"application error", clerkgate.Errorf(clerkgate.CodeNotFound, "no such note"), 404, "not_found", "no such note"},
		{"wrapped", fmt.Errorf("loading: %w", clerkgate.Errorf(clerkgate.CodeConflict, "the note changed")), 409, "conflict", "the note changed"},
		{"plain error is internal", errors.New("pq: relation notes does not exist"), 500, "internal", "internal error"},
		{"internal message hidden", &clerkgate.Error{Code: clerkgate.CodeInternal, Message: "secret detail"}, 500, "internal", "internal error"},
		{"nil", nil, 500, "internal", "internal error"},
		{"verify error", verify.ErrSessionRevoked, 401, "session_revoked", "the session has ended"},
		{"ambiguous credentials", &verify.Error{Code: clerkgate.CodeInvalidRequest, Reason: "multiple_authorization"}, 400, "invalid_request",
			"send the session token once: the request has more than one Authorization header"},
		{"code without a text", &clerkgate.Error{Code: clerkgate.CodeRateLimited}, 429, "rate_limited", "Too Many Requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			rec.Header().Set("X-Request-Id", "r1")
			middleware.WriteError(rec, httptest.NewRequest("GET", "/", nil), tt.err)
			res := rec.Result()
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.status)
			}
			body := rec.Body.String()
			want := fmt.Sprintf(`{"type":"https://clerkgate.dev/problems/%s","title":%q,"status":%d,"detail":%q,"code":%q,"request_id":"r1"}`+"\n",
				tt.code, http.StatusText(tt.status), tt.status, tt.detail, tt.code)
			if body != want {
				t.Errorf("body =\n%s\nwant\n%s", body, want)
			}
			if (tt.status == 401) != (res.Header.Get("WWW-Authenticate") != "") {
				t.Errorf("WWW-Authenticate = %q on %d", res.Header.Get("WWW-Authenticate"), tt.status)
			}
		})
	}
}

// TestUnavailable: with no verification key to be had, the answer is 503,
// not a 401 that would blame the user.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	t.Cleanup(jwks.Close)
	v, err := verify.New(verify.Options{JWKSURL: jwks.URL, JWKSTimeout: time.Second})
	must(t, err)
	w := newWorld(t)
	tok, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["bob"]})
	mw, err := middleware.New(middleware.Options{Verifier: v})
	must(t, err)
	res := serve(mw.RequireSession(whoami), bearer(tok))
	if res.status != 503 || res.code() != "unavailable" || res.header.Get("WWW-Authenticate") != "" {
		t.Errorf("%d %q, WWW-Authenticate %q; want 503 unavailable and no challenge", res.status, res.code(), res.header.Get("WWW-Authenticate"))
	}
}
