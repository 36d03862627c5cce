// Package middleware guards the routes of a net/http application with Clerk
// session tokens, for applications that embed clerkgate rather than run it
// as a service.
//
// A Middleware wraps handlers. Every wrapper authenticates first (a missing,
// invalid, expired, pending or revoked token is a 401, whatever the route
// would demand next) and authorizes second (a 403):
//
//	mw, err := middleware.New(middleware.Options{Verifier: v})
//	...
//	mux.Handle("GET /notes", mw.RequireSession(listNotes))
//	mux.Handle("GET /admin/notes", mw.RequirePermission("notes:read_all")(allNotes))
//	mux.Handle("DELETE /org/settings", mw.RequireOrgRole("org:admin")(deleteSettings))
//	mux.Handle("POST /transfers", mw.Require(middleware.RequireOptions{
//		Permissions: []string{"transfers:write"},
//		Reverify:    middleware.Reverification{MaxAge: 10 * time.Minute},
//	})(transfer))
//
// Handlers behind a wrapper read the caller with FromContext or
// MustFromContext: the Clerk user and session ids, the application role and
// permissions, the active organization and the verified claims.
//
// # Tokens
//
// The token comes from "Authorization: Bearer <token>", then from the
// __session cookie (Options.Sources can restrict that to one of them), as
// verify.TokenFromRequest reads them: two Authorization headers or two
// __session cookies are refused with 400, never guessed at. The
// verify.Verifier does the checking, including its deny list, so a logout
// or a ban takes effect on the next request.
//
// Pending sessions (a Clerk session that must still choose an organization)
// are refused with 401 session_pending, and impersonated sessions (a token
// with an act claim) with 403 forbidden, unless RequireOptions allows them.
//
// # Roles and permissions
//
// By default the application role comes from the role in the session's
// active organization ("org:admin" is "admin", "org:member" is "member"),
// and is "member" otherwise; a role's permissions come from
// Options.Permissions, and the token's organization permissions
// ("org:teams:manage") are added. A permission "*" grants everything and
// "notes:*" everything that starts with "notes:". Options.RoleFunc replaces
// the whole rule.
//
// # Errors
//
// Refusals are RFC 9457 problem documents, the same as the clerkgate
// service answers:
//
//	{"type":"https://clerkgate.dev/problems/token_expired","title":"Unauthorized",
//	 "status":401,"detail":"...","code":"token_expired","request_id":"..."}
//
// with "WWW-Authenticate: Bearer realm=\"clerkgate\"" on every 401 (plus
// error="invalid_token" and an error_description when credentials were
// sent). A reverification_required document also carries Clerk's
// "clerk_error" member, so that Clerk's frontend (useReverification) can ask
// the user to verify again and retry. Every response that passes through a
// wrapper carries an X-Request-Id, echoed from the request when it is sane.
// WriteError writes the same documents for the application's own errors,
// and Options.ErrorHandler replaces the writer.
//
// The package never logs a token, a cookie or an Authorization header.
package middleware
