package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/middleware"
	"github.com/clerkgate/clerkgate/verify"
)

// The examples use the emulator as their Clerk instance: it signs session
// tokens with a key whose public half is CLERK_JWT_KEY for the Verifier.
// A real application builds the Verifier from its own CLERK_* settings.

// exampleInstance returns an emulator with one organization, acme, in which
// alice is org:admin and bob org:member, and a Verifier of its tokens.
func exampleInstance() (emu *clerkemu.Emulator, v *verify.Verifier, alice, bob string) {
	emu, err := clerkemu.New(clerkemu.Options{})
	if err != nil {
		panic(err)
	}
	a, _ := emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com"})
	b, _ := emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})
	acme, _ := emu.CreateOrganization("Acme", "acme", a.ID)
	if err := emu.AddMembership(acme.ID, b.ID, "org:member"); err != nil {
		panic(err)
	}
	token := func(userID string) string {
		s, err := emu.CreateSession(userID, acme.ID)
		if err != nil {
			panic(err)
		}
		tok, err := emu.SessionToken(s.ID, time.Minute)
		if err != nil {
			panic(err)
		}
		return tok
	}
	v, err = verify.New(verify.Options{JWTKey: emu.PublicKeyPEM()})
	if err != nil {
		panic(err)
	}
	return emu, v, token(a.ID), token(b.ID)
}

// get sends GET path to h with the token (none when empty) and prints the
// answer's status, challenge and body.
func get(h http.Handler, path, token string) {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("X-Request-Id", "req-1")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code)
	if c := rec.Header().Get("WWW-Authenticate"); c != "" {
		fmt.Println("WWW-Authenticate:", c)
	}
	body, _ := io.ReadAll(rec.Body)
	fmt.Print(string(body))
}

func ExampleMiddleware_RequireSession() {
	emu, v, alice, _ := exampleInstance()
	defer emu.Close()

	mw, err := middleware.New(middleware.Options{Verifier: v})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /hello", mw.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := middleware.MustFromContext(r.Context())
		fmt.Fprintf(w, "hello, %s of %s\n", id.Role, id.Org.Slug)
	})))

	get(mux, "/hello", alice)
	get(mux, "/hello", "")
	// Output:
	// 200
	// hello, admin of acme
	// 401
	// WWW-Authenticate: Bearer realm="clerkgate"
	// {"type":"https://clerkgate.dev/problems/unauthenticated","title":"Unauthorized","status":401,"detail":"sign in: send a Clerk session token as Authorization: Bearer or in the __session cookie","code":"unauthenticated","request_id":"req-1"}
}

func ExampleMiddleware_RequirePermission() {
	emu, v, alice, bob := exampleInstance()
	defer emu.Close()

	mw, err := middleware.New(middleware.Options{
		Verifier: v,
		// org:admin is "admin" and org:member "member" by default.
		Permissions: map[string][]string{
			"admin":  {"notes:*"},
			"member": {"notes:read", "notes:write"},
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /admin/notes", mw.RequirePermission("notes:read_all")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "every note")
	})))

	get(mux, "/admin/notes", alice)
	get(mux, "/admin/notes", bob)
	// Output:
	// 200
	// every note
	// 403
	// {"type":"https://clerkgate.dev/problems/forbidden","title":"Forbidden","status":403,"detail":"you lack a permission this needs","code":"forbidden","request_id":"req-1"}
}

func ExampleFromContext() {
	emu, v, alice, bob := exampleInstance()
	defer emu.Close()

	mw, err := middleware.New(middleware.Options{Verifier: v})
	if err != nil {
		panic(err)
	}
	// A handler that behaves differently for admins.
	settings := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := middleware.FromContext(r.Context())
		if !ok {
			http.Error(w, "not behind a Require wrapper", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "role=%s org_role=%s can_manage_teams=%v\n",
			id.Role, id.Org.Role, id.HasPermission("org:teams:manage"))
	})
	h := mw.RequireSession(settings)

	get(h, "/settings", alice)
	get(h, "/settings", bob)
	// Output:
	// 200
	// role=admin org_role=org:admin can_manage_teams=true
	// 200
	// role=member org_role=org:member can_manage_teams=false
}

func ExampleMiddleware_Reverify() {
	emu, v, alice, _ := exampleInstance()
	defer emu.Close()

	mw, err := middleware.New(middleware.Options{Verifier: v})
	if err != nil {
		panic(err)
	}
	// Deleting the organization needs the second factor verified within
	// 10 minutes; the emulator's users have none, so Clerk's frontend
	// would be asked to prompt (the clerk_error member).
	del := mw.Require(middleware.RequireOptions{
		OrgRoles: []string{"org:admin"},
		Reverify: middleware.Reverification{MaxAge: 10 * time.Minute, Factor: middleware.SecondFactor},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))

	get(del, "/org", alice)
	// Output:
	// 403
	// {"type":"https://clerkgate.dev/problems/reverification_required","title":"Forbidden","status":403,"detail":"verify your identity again to continue","code":"reverification_required","request_id":"req-1","clerk_error":{"type":"forbidden","reason":"reverification-error","metadata":{"reverification":{"level":"second_factor","afterMinutes":10}}}}
}
