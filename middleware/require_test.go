package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/middleware"
	"github.com/clerkgate/clerkgate/verify"
)

// TestReverify checks factor ages against Reverification, and Clerk's hint
// in the refusal.
func TestReverify(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	iat := time.Now().Add(-30 * time.Second)
	fva := func(first, second int) string {
		return w.signed(t, "bob", map[string]any{"fva": []int{first, second}, "iat": iat.Unix()})
	}
	noFVA := w.signed(t, "bob", map[string]any{"iat": iat.Unix()})
	tests := []struct {
		name   string
		token  string
		maxAge time.Duration
		factor middleware.Factor
		now    time.Time // zero: iat + 30s
		ok     bool
	}{
		{"second fresh", fva(100, 9), 10 * time.Minute, middleware.SecondFactor, time.Time{}, true},
		{"second fresh by default", fva(100, 9), 10 * time.Minute, "", time.Time{}, true},
		{"second aged since the token was issued", fva(100, 9), 10 * time.Minute, middleware.SecondFactor, iat.Add(61 * time.Second), false},
		{"second at the limit", fva(0, 10), 10 * time.Minute, middleware.SecondFactor, iat, false},
		{"second stale", fva(0, 12), 10 * time.Minute, middleware.SecondFactor, time.Time{}, false},
		{"second never verified", fva(0, -1), 10 * time.Minute, middleware.SecondFactor, time.Time{}, false},
		{"first fresh", fva(3, -1), 10 * time.Minute, middleware.FirstFactor, time.Time{}, true},
		{"first stale", fva(30, 0), 10 * time.Minute, middleware.FirstFactor, time.Time{}, false},
		{"first never verified", fva(-1, 0), time.Hour, middleware.FirstFactor, time.Time{}, false},
		{"no fva claim", noFVA, 24 * time.Hour, middleware.FirstFactor, time.Time{}, false},
		{"under a minute, minutes round down", fva(0, 0), 30 * time.Second, middleware.SecondFactor, iat, true},
		{"under a minute, aged since the token was issued", fva(0, 0), 30 * time.Second, middleware.SecondFactor, iat.Add(31 * time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := tt.now
			if now.IsZero() {
				now = iat.Add(30 * time.Second)
			}
			mw := w.middleware(t, func(o *middleware.Options) { o.Now = func() time.Time { return now } })
			res := serve(mw.Reverify(tt.maxAge, tt.factor)(whoami), bearer(tt.token))
			if tt.ok {
				if res.status != 200 {
					t.Fatalf("status = %d, want 200; body %s", res.status, res.body)
				}
				return
			}
			if res.status != 403 || res.code() != "reverification_required" {
				t.Fatalf("%d %q, want 403 reverification_required; body %s", res.status, res.code(), res.body)
			}
			level := string(tt.factor)
			if level == "" {
				level = "second_factor"
			}
			minutes := int64((tt.maxAge + time.Minute - 1) / time.Minute)
			wantHint := `"clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":{"level":"` +
				level + `","afterMinutes":` + itoa(minutes) + `}}}`
			if !bytes.Contains(res.body, []byte(wantHint)) {
				t.Errorf("body %s\nlacks %s", res.body, wantHint)
			}
			want := []string{"clerk_error", "code", "detail", "request_id", "status", "title", "type"}
			if got := sortedKeys(res.doc); !slices.Equal(got, want) {
				t.Errorf("members = %v, want %v", got, want)
			}
		})
	}

	t.Run("emulator session has no second factor", func(t *testing.T) {
		t.Parallel()
		tok, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["bob"]})
		mw := w.middleware(t, nil)
		if res := serve(mw.Reverify(10*time.Minute, middleware.FirstFactor)(whoami), bearer(tok)); res.status != 200 {
			t.Errorf("first factor: %d %s", res.status, res.body)
		}
		if res := serve(mw.Reverify(10*time.Minute, middleware.SecondFactor)(whoami), bearer(tok)); res.code() != "reverification_required" {
			t.Errorf("second factor: %d %s", res.status, res.body)
		}
	})

	t.Run("authorization before reverification", func(t *testing.T) {
		t.Parallel()
		h := w.middleware(t, nil).Require(middleware.RequireOptions{
			Roles:    []string{"admin"},
			Reverify: middleware.Reverification{MaxAge: time.Minute},
		})(whoami)
		if res := serve(h, bearer(fva(0, -1))); res.code() != "forbidden" {
			t.Errorf("member: %d %q, want forbidden", res.status, res.code())
		}
	})
}

func itoa(n int64) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

// TestRequireOptions checks pending and impersonated sessions, combined
// requirements and stacked wrappers.
func TestRequireOptions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	mw := w.middleware(t, nil)
	pending, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["frank"], Pending: true})
	impersonated, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["bob"], ActiveOrganizationID: w.acme, Actor: map[string]any{"sub": "user_support"}})
	admin, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["alice"], ActiveOrganizationID: w.acme})
	editor, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["dave"], ActiveOrganizationID: w.acme})
	member, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["bob"], ActiveOrganizationID: w.acme})
	revokedPending, sid := w.token(t, clerkemu.SessionParams{UserID: w.users["frank"], Pending: true})
	w.deny.DenySession(sid, time.Time{})

	tests := []struct {
		name  string
		h     http.Handler
		token string
		want  string
	}{
		{"pending allowed", mw.Require(middleware.RequireOptions{AllowPending: true})(whoami), pending, "ok"},
		{"pending refused by default", mw.Require(middleware.RequireOptions{})(whoami), pending, "session_pending"},
		{"revoked beats pending", mw.Require(middleware.RequireOptions{AllowPending: true})(whoami), revokedPending, "session_revoked"},
		{"impersonation allowed", mw.Require(middleware.RequireOptions{AllowImpersonation: true})(whoami), impersonated, "ok"},
		{"impersonation refused", mw.RequireSession(whoami), impersonated, "forbidden"},
		{"impersonation allowed but role lacking", mw.Require(middleware.RequireOptions{AllowImpersonation: true, Roles: []string{"admin"}})(whoami), impersonated, "forbidden"},
		{"any of roles", mw.RequireRole("admin", "editor")(whoami), editor, "ok"},
		{"all of permissions", mw.RequirePermission("notes:read", "notes:write")(whoami), editor, "ok"},
		{"all of permissions, one missing", mw.RequirePermission("notes:read", "notes:write")(whoami), member, "forbidden"},
		{"org permission from the token", mw.RequirePermission("org:dashboard:manage")(whoami), admin, "ok"},
		{"org permission of the editor", mw.RequirePermission("org:notes:write")(whoami), editor, "ok"},
		{"org permission lacking", mw.RequirePermission("org:dashboard:manage")(whoami), member, "forbidden"},
		{"any of org roles", mw.RequireOrgRole("org:admin", "org:editor")(whoami), editor, "ok"},
		{"combined", mw.Require(middleware.RequireOptions{Roles: []string{"admin"}, OrgRoles: []string{"org:admin"}, Permissions: []string{"anything:at:all"}})(whoami), admin, "ok"},
		{"stacked: outer pending, inner refuses", mw.Require(middleware.RequireOptions{AllowPending: true})(mw.RequireSession(whoami)), pending, "session_pending"},
		{"stacked: both pass", mw.RequireSession(mw.RequireRole("admin")(whoami)), admin, "ok"},
		{"stacked: inner refuses", mw.RequireSession(mw.RequireRole("admin")(whoami)), member, "forbidden"},
	}
	status := map[string]int{"ok": 200, "session_pending": 401, "session_revoked": 401, "forbidden": 403}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := serve(tt.h, bearer(tt.token))
			if res.status != status[tt.want] || (tt.want != "ok" && res.code() != tt.want) {
				t.Errorf("%d %q, want %d %s; body %s", res.status, res.code(), status[tt.want], tt.want, res.body)
			}
		})
	}
}

// TestStackedReuse checks that stacked wrappers verify once and share one
// Identity and one request id.
func TestStackedReuse(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tok, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["alice"], ActiveOrganizationID: w.acme})
	mw := w.middleware(t, nil)
	var outer, inner *middleware.Identity
	var outerRID string
	h := mw.RequireSession(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		outer = middleware.MustFromContext(r.Context())
		outerRID = middleware.RequestID(r.Context())
		mw.RequireRole("admin")(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			inner = middleware.MustFromContext(r.Context())
			if middleware.RequestID(r.Context()) != outerRID {
				t.Error("the inner wrapper changed the request id")
			}
		})).ServeHTTP(rw, r)
	}))
	before := w.v.Stats()
	if res := serve(h, bearer(tok)); res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	after := w.v.Stats()
	if outer == nil || outer != inner {
		t.Errorf("identities %p and %p, want one", outer, inner)
	}
	if n := (after.CacheHits + after.CacheMisses) - (before.CacheHits + before.CacheMisses); n != 1 {
		t.Errorf("%d verifications, want 1", n)
	}
}

// TestRoles checks the default role rules, the options that change them
// and RoleFunc.
func TestRoles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	admin, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["alice"], ActiveOrganizationID: w.acme})
	editor, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["dave"], ActiveOrganizationID: w.acme})
	noOrg, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["frank"]})

	identity := func(o middleware.Options, tok string) *middleware.Identity {
		t.Helper()
		o.Verifier = w.v
		mw, err := middleware.New(o)
		must(t, err)
		var got *middleware.Identity
		res := serve(mw.RequireSession(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got, _ = middleware.FromContext(r.Context())
		})), bearer(tok))
		if res.status != 200 || got == nil {
			t.Fatalf("status %d, identity %v", res.status, got)
		}
		return got
	}
	tests := []struct {
		name      string
		opts      middleware.Options
		token     string
		role      string
		perms     []string
		permCheck map[string]bool
	}{
		{"zero options, org admin", middleware.Options{}, admin, "admin",
			[]string{"*", "org:dashboard:manage", "org:dashboard:read", "org:teams:manage", "org:teams:read"},
			map[string]bool{"users:delete": true, "anything": true}},
		{"zero options, unmapped org role", middleware.Options{}, editor, "member",
			[]string{"org:notes:write", "profile:read", "profile:write"},
			map[string]bool{"profile:read": true, "org:notes:write": true, "notes:write": false}},
		{"zero options, no org", middleware.Options{}, noOrg, "member", []string{"profile:read", "profile:write"}, nil},
		{"custom default role", middleware.Options{DefaultRole: "guest", Permissions: map[string][]string{"guest": {"public:read"}}}, noOrg, "guest", []string{"public:read"}, nil},
		{"empty org role map", middleware.Options{OrgRoles: map[string]string{}}, admin, "member",
			[]string{"org:dashboard:manage", "org:dashboard:read", "org:teams:manage", "org:teams:read", "profile:read", "profile:write"}, nil},
		{"empty permission map", middleware.Options{Permissions: map[string][]string{}}, noOrg, "member", []string{}, map[string]bool{"profile:read": false}},
		{"role func", middleware.Options{
			OrgRoles: map[string]string{"org:admin": "ignored"},
			RoleFunc: func(c *verify.Claims) (string, []string) {
				return "staff:" + c.Subject[:5], []string{"reports:*"}
			},
		}, admin, "staff:user_", []string{"reports:*"}, map[string]bool{"reports:monthly:read": true, "reports": false, "org:dashboard:manage": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := identity(tt.opts, tt.token)
			if id.Role != tt.role || !slices.Equal(id.Permissions, tt.perms) && !(len(id.Permissions) == 0 && len(tt.perms) == 0) {
				t.Errorf("role %q, permissions %q; want %q, %q", id.Role, id.Permissions, tt.role, tt.perms)
			}
			for p, want := range tt.permCheck {
				if got := id.HasPermission(p); got != want {
					t.Errorf("HasPermission(%q) = %v, want %v", p, got, want)
				}
			}
		})
	}

	t.Run("options are copied", func(t *testing.T) {
		t.Parallel()
		roles := map[string]string{"org:admin": "admin"}
		perms := map[string][]string{"admin": {"a:b"}}
		mw, err := middleware.New(middleware.Options{Verifier: w.v, OrgRoles: roles, Permissions: perms})
		must(t, err)
		roles["org:admin"] = "changed"
		perms["admin"][0] = "changed"
		var got *middleware.Identity
		serve(mw.RequireSession(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got = middleware.MustFromContext(r.Context())
		})), bearer(admin))
		if got == nil || got.Role != "admin" || !got.HasPermission("a:b") {
			t.Errorf("identity %+v: the Middleware saw a later change of its options", got)
		}
	})
}

// TestHasPermission checks the wildcard rules.
func TestHasPermission(t *testing.T) {
	t.Parallel()
	tests := []struct {
		have []string
		need string
		want bool
	}{
		{[]string{"notes:read"}, "notes:read", true},
		{[]string{"notes:read"}, "notes:write", false},
		{[]string{"*"}, "notes:write", true},
		{[]string{"*"}, "org:x:y", true},
		{[]string{"notes:*"}, "notes:write", true},
		{[]string{"notes:*"}, "notes:drafts:read", true},
		{[]string{"notes:*"}, "notes", false},
		{[]string{"notes:*"}, "notesx:read", false},
		{[]string{"notes*"}, "notesx:read", false},
		{[]string{"notes:*"}, "users:read", false},
		{[]string{"notes:read"}, "", false},
		{[]string{"*"}, "", false},
		{nil, "notes:read", false},
		{[]string{"NOTES:READ"}, "notes:read", false},
	}
	for _, tt := range tests {
		id := &middleware.Identity{Permissions: tt.have}
		if got := id.HasPermission(tt.need); got != tt.want {
			t.Errorf("%q.HasPermission(%q) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
	var none *middleware.Identity
	if none.HasPermission("x") || none.HasRole("x") || none.HasOrgRole("org:x") {
		t.Error("a nil Identity has something")
	}
}

// TestErrorHandler checks that a custom handler gets every refusal with
// its code, and the caller on a 403.
func TestErrorHandler(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	member, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["bob"], ActiveOrganizationID: w.acme})
	type call struct {
		code clerkgate.Code
		err  error
		id   *middleware.Identity
	}
	calls := make(chan call, 1)
	mw := w.middleware(t, func(o *middleware.Options) {
		o.ErrorHandler = func(rw http.ResponseWriter, r *http.Request, err error) {
			id, _ := middleware.FromContext(r.Context())
			calls <- call{clerkgate.ErrorCode(err), err, id}
			rw.WriteHeader(clerkgate.ErrorCode(err).Status())
		}
	})
	res := serve(mw.RequireSession(whoami), bearer(""))
	c := <-calls
	if res.status != 401 || c.code != clerkgate.CodeUnauthenticated || !errors.Is(c.err, verify.ErrNoCredentials) || c.id != nil {
		t.Errorf("no credentials: %d, %+v", res.status, c)
	}
	res = serve(mw.RequireOrgRole("org:admin")(whoami), bearer(member))
	c = <-calls
	if res.status != 403 || !errors.Is(c.err, middleware.ErrOrgRoleNotAllowed) || c.id == nil || c.id.UserID != w.users["bob"] {
		t.Errorf("org role: %d, %+v", res.status, c)
	}
	res = serve(mw.Reverify(time.Minute, middleware.SecondFactor)(whoami), bearer(member))
	c = <-calls
	var re *middleware.ReverificationError
	if res.status != 403 || !errors.As(c.err, &re) || re.Required.MaxAge != time.Minute {
		t.Errorf("reverify: %d, %+v", res.status, c)
	}
}

// TestLogger checks the log line of a refusal, and that no token reaches
// the log.
func TestLogger(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	member, _ := w.token(t, clerkemu.SessionParams{UserID: w.users["bob"], ActiveOrganizationID: w.acme})
	var buf syncBuffer
	mw := w.middleware(t, func(o *middleware.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	expired := w.signed(t, "bob", map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": nil, "nbf": nil})
	for _, tok := range []string{expired, member} {
		r := bearer(tok)
		r.URL.RawQuery = "__clerk_db_jwt=" + tok
		r.AddCookie(&http.Cookie{Name: "__session", Value: tok})
		r.Header.Set("X-Request-Id", "log-1")
		serve(mw.RequireRole("admin")(whoami), r)
		serve(mw.RequireSession(whoami), bearer(""))
	}
	out := buf.String()
	for _, tok := range []string{expired, member} {
		for _, part := range strings.Split(tok, ".") {
			if strings.Contains(out, part) {
				t.Fatalf("the log holds a token:\n%s", out)
			}
		}
	}
	for _, want := range []string{
		`level=INFO msg="request refused" code=token_expired method=GET path=/x reason=expired request_id=log-1`,
		`code=forbidden method=GET path=/x reason=role user_id=` + w.users["bob"],
		`level=DEBUG msg="request refused" code=unauthenticated method=GET path=/x reason=no_credentials request_id=`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestNew checks the options New refuses and the panics of wrappers that
// could never admit anyone.
func TestNew(t *testing.T) {
	t.Parallel()
	v, err := verify.New(verify.Options{JWTKey: newWorld(t).emu.PublicKeyPEM()})
	must(t, err)
	for _, tt := range []struct {
		opts middleware.Options
		want string
	}{
		{middleware.Options{}, "Verifier is required"},
		{middleware.Options{Verifier: v, Sources: 4}, "Sources 0x4"},
		{middleware.Options{Verifier: v, Realm: `a"b`}, "Realm"},
		{middleware.Options{Verifier: v, Realm: "é"}, "Realm"},
	} {
		if _, err := middleware.New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error about %q", tt.opts, err, tt.want)
		}
	}
	mw, err := middleware.New(middleware.Options{Verifier: v})
	must(t, err)
	for name, f := range map[string]func(){
		"RequireRole()":          func() { mw.RequireRole() },
		"RequireRole(\"\")":      func() { mw.RequireRole("admin", "") },
		"RequirePermission()":    func() { mw.RequirePermission() },
		"RequireOrgRole()":       func() { mw.RequireOrgRole() },
		"Reverify(0)":            func() { mw.Reverify(0, middleware.SecondFactor) },
		"Reverify(bad factor)":   func() { mw.Reverify(time.Minute, "third_factor") },
		"Require(negative age)":  func() { mw.Require(middleware.RequireOptions{Reverify: middleware.Reverification{MaxAge: -1}}) },
		"Require(empty perm)":    func() { mw.Require(middleware.RequireOptions{Permissions: []string{""}}) },
		"MustFromContext(empty)": func() { middleware.MustFromContext(context.Background()) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}
