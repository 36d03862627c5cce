package middleware_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/middleware"
)

// TestMatrix runs every kind of caller against every kind of wrapper and
// checks the exact status and code: authentication failures are 401 on
// every route, whatever the caller would lack next.
func TestMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	mw := w.middleware(t, nil)

	forger, err := clerkemu.New(clerkemu.Options{})
	must(t, err)
	t.Cleanup(forger.Close)
	forged, err := forger.Sign(map[string]any{
		"iss": w.emu.Issuer(), "sub": w.users["alice"], "sid": "sess_forged",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}, nil)
	must(t, err)
	denied, deniedSID := w.token(t, clerkemu.SessionParams{UserID: w.users["alice"], ActiveOrganizationID: w.acme})
	w.deny.DenySession(deniedSID, time.Time{})
	tok := func(p clerkemu.SessionParams) string {
		s, _ := w.token(t, p)
		return s
	}

	routes := []struct {
		name string
		h    http.Handler
	}{
		{"RequireSession", mw.RequireSession(whoami)},
		{"RequireRole(admin)", mw.RequireRole("admin")(whoami)},
		{"RequirePermission(notes:write)", mw.RequirePermission("notes:write")(whoami)},
		{"RequireOrgRole(org:admin)", mw.RequireOrgRole("org:admin")(whoami)},
	}
	const ok = "ok"
	callers := []struct {
		name  string
		token string
		want  [4]string // per route: "ok" or the code
	}{
		{"no token", "", all("unauthenticated")},
		{"garbage token", "not.a.token", all("token_invalid")},
		{"forged token", forged, all("token_invalid")},
		{"expired", w.signed(t, "alice", map[string]any{"exp": time.Now().Add(-10 * time.Minute).Unix(), "iat": time.Now().Add(-20 * time.Minute).Unix(), "nbf": time.Now().Add(-20 * time.Minute).Unix()}), all("token_expired")},
		{"not yet valid", w.signed(t, "alice", map[string]any{"nbf": time.Now().Add(10 * time.Minute).Unix()}), all("token_not_yet_valid")},
		{"pending", tok(clerkemu.SessionParams{UserID: w.users["frank"], Pending: true}), all("session_pending")},
		{"impersonated admin", tok(clerkemu.SessionParams{UserID: w.users["alice"], ActiveOrganizationID: w.acme, Actor: map[string]any{"sub": "user_support"}}), all("forbidden")},
		{"member", tok(clerkemu.SessionParams{UserID: w.users["bob"], ActiveOrganizationID: w.acme}), [4]string{ok, "forbidden", "forbidden", "forbidden"}},
		{"admin", tok(clerkemu.SessionParams{UserID: w.users["alice"], ActiveOrganizationID: w.acme}), all(ok)},
		{"editor", tok(clerkemu.SessionParams{UserID: w.users["dave"], ActiveOrganizationID: w.acme}), [4]string{ok, "forbidden", ok, "forbidden"}},
		{"other-org member", tok(clerkemu.SessionParams{UserID: w.users["erin"], ActiveOrganizationID: w.globex}), [4]string{ok, "forbidden", "forbidden", "forbidden"}},
		{"no active org", tok(clerkemu.SessionParams{UserID: w.users["frank"]}), [4]string{ok, "forbidden", "forbidden", "forbidden"}},
		{"admin without active org", tok(clerkemu.SessionParams{UserID: w.users["alice"]}), [4]string{ok, "forbidden", "forbidden", "forbidden"}},
		{"denied session", denied, all("session_revoked")},
	}
	wantStatus := map[string]int{
		ok: 200, "unauthenticated": 401, "token_invalid": 401, "token_expired": 401, "token_not_yet_valid": 401,
		"session_pending": 401, "session_revoked": 401, "forbidden": 403,
	}
	for _, c := range callers {
		for i, rt := range routes {
			t.Run(c.name+"/"+rt.name, func(t *testing.T) {
				t.Parallel()
				res := serve(rt.h, bearer(c.token))
				want := c.want[i]
				if res.status != wantStatus[want] {
					t.Fatalf("status = %d, want %d; body %s", res.status, wantStatus[want], res.body)
				}
				if want == ok {
					if res.doc["user_id"] == "" || res.header.Get("X-Request-Id") == "" {
						t.Errorf("body %s, X-Request-Id %q", res.body, res.header.Get("X-Request-Id"))
					}
					return
				}
				if res.code() != want {
					t.Errorf("code = %q, want %q", res.code(), want)
				}
				checkChallenge(t, res)
			})
		}
	}
}

func all(code string) [4]string { return [4]string{code, code, code, code} }

// checkChallenge checks WWW-Authenticate against the status and code of a
// refusal: exactly the bare challenge without credentials, the
// invalid_token challenge on other 401s, none otherwise.
func checkChallenge(t *testing.T, res response) {
	t.Helper()
	got := res.header.Values("WWW-Authenticate")
	switch {
	case res.status != http.StatusUnauthorized:
		if len(got) != 0 {
			t.Errorf("WWW-Authenticate on a %d: %q", res.status, got)
		}
	case res.code() == "unauthenticated":
		if len(got) != 1 || got[0] != `Bearer realm="clerkgate"` {
			t.Errorf("WWW-Authenticate = %q, want exactly Bearer realm=\"clerkgate\"", got)
		}
	default:
		want := `Bearer realm="clerkgate", error="invalid_token", error_description="` + res.code() + ": " + res.doc["detail"].(string) + `"`
		if len(got) != 1 || got[0] != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
	}
}

// TestChallengeExact pins the challenge texts of the contract.
func TestChallengeExact(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h := w.middleware(t, nil).RequireSession(whoami)
	expired := w.signed(t, "bob", map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix(), "nbf": nil})
	tests := []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"nothing", func() *http.Request { return bearer("") }, `Bearer realm="clerkgate"`},
		{"basic scheme", func() *http.Request {
			r := bearer("")
			r.SetBasicAuth("u", "p")
			return r
		}, `Bearer realm="clerkgate"`},
		{"empty bearer", func() *http.Request {
			r := bearer("")
			r.Header.Set("Authorization", "Bearer ")
			return r
		}, `Bearer realm="clerkgate"`},
		{"expired", func() *http.Request { return bearer(expired) },
			`Bearer realm="clerkgate", error="invalid_token", error_description="token_expired: the session token has expired: get a fresh one from Clerk"`},
		{"invalid", func() *http.Request { return bearer("x.y.z") },
			`Bearer realm="clerkgate", error="invalid_token", error_description="token_invalid: the session token is not valid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := serve(h, tt.req())
			if res.status != 401 || res.header.Get("WWW-Authenticate") != tt.want {
				t.Errorf("%d, WWW-Authenticate = %q, want %q", res.status, res.header.Get("WWW-Authenticate"), tt.want)
			}
		})
	}

	t.Run("realm", func(t *testing.T) {
		t.Parallel()
		h := w.middleware(t, func(o *middleware.Options) { o.Realm = "notes" }).RequireSession(whoami)
		if got := serve(h, bearer("")).header.Get("WWW-Authenticate"); got != `Bearer realm="notes"` {
			t.Errorf("WWW-Authenticate = %q", got)
		}
		if got := serve(h, bearer("x.y.z")).header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="notes", error="invalid_token"`) {
			t.Errorf("WWW-Authenticate = %q", got)
		}
	})
}
