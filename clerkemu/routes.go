package clerkemu

import (
	"net/http"
	"strings"
)

// routes returns the emulator's HTTP handler: the control endpoint, then
// every Backend API route in one table, behind the faults.
func (e *Emulator) routes() http.Handler {
	api := withCreated(e.apiRoutes())
	faulty := e.withFaults(api)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.EscapedPath(); {
		case p == "/__emulator/faults":
			e.handleFaults(w, r)
		case p == "/v1" || strings.HasPrefix(p, "/v1/"):
			faulty.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r) // 404 in Clerk's shape
		}
	})
}

// apiRoutes returns the Backend API's router.
func (e *Emulator) apiRoutes() http.Handler {
	const (
		get    = http.MethodGet
		post   = http.MethodPost
		patch  = http.MethodPatch
		put    = http.MethodPut
		delete = http.MethodDelete
	)
	return newRouter(e, []route{
		{get, "/jwks", e.handleJWKS},

		{get, "/users", e.handleListUsers},
		{post, "/users", e.handleCreateUser},
		{get, "/users/count", e.handleCountUsers},
		{get, "/users/{}", e.handleGetUser},
		{patch, "/users/{}", e.handleUpdateUser},
		{delete, "/users/{}", e.handleDeleteUser},
		{patch, "/users/{}/metadata", e.handleUserMetadata(true)},
		{put, "/users/{}/metadata", e.handleUserMetadata(false)},
		{post, "/users/{}/ban", e.handleUserAction((*tx).banUser)},
		{post, "/users/{}/unban", e.handleUserAction((*tx).unbanUser)},
		{post, "/users/{}/lock", e.handleUserAction((*tx).lockUser)},
		{post, "/users/{}/unlock", e.handleUserAction((*tx).unlockUser)},
		{get, "/users/{}/organization_memberships", e.handleUserMemberships},

		{get, "/sessions", e.handleListSessions},
		{post, "/sessions", e.handleCreateSession},
		{get, "/sessions/{}", e.handleGetSession},
		{post, "/sessions/{}/revoke", e.handleRevokeSession},
		{post, "/sessions/{}/tokens", e.handleCreateToken},
		{post, "/sessions/{}/tokens/{}", e.handleCreateTemplateToken},

		{get, "/organizations", e.handleListOrgs},
		{post, "/organizations", e.handleCreateOrg},
		{get, "/organizations/{}", e.handleGetOrg},
		{patch, "/organizations/{}", e.handleUpdateOrg},
		{delete, "/organizations/{}", e.handleDeleteOrg},
		{patch, "/organizations/{}/metadata", e.handleOrgMetadata(true)},
		{put, "/organizations/{}/metadata", e.handleOrgMetadata(false)},
		{get, "/organizations/{}/memberships", e.handleListMemberships},
		{post, "/organizations/{}/memberships", e.handleCreateMembership},
		{patch, "/organizations/{}/memberships/{}", e.handleUpdateMembership},
		{delete, "/organizations/{}/memberships/{}", e.handleDeleteMembership},

		{post, "/api_keys", e.handleCreateAPIKey},
		{post, "/api_keys/verify", e.handleVerifyAPIKey},
		{post, "/api_keys/{}/revoke", e.handleRevokeAPIKey},
		{post, "/m2m_tokens", e.handleCreateM2MToken},
		{post, "/m2m_tokens/verify", e.handleVerifyM2MToken},
		{post, "/m2m_tokens/{}/revoke", e.handleRevokeM2MToken},
		{post, "/oauth_applications/access_tokens/verify", e.handleVerifyOAuthToken},
	})
}

// handleJWKS answers GET /v1/jwks.
func (e *Emulator) handleJWKS(*http.Request, []string) (any, error) {
	return e.JWKS(), nil
}
