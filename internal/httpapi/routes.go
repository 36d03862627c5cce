package httpapi

import (
	"net/http"
	"strings"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// routes lists every endpoint of the service in one place.
func (s *server) routes(r *router, serveMetrics bool) {
	r.handle("GET", "/healthz", http.HandlerFunc(s.handleHealthz))
	r.handle("GET", "/readyz", http.HandlerFunc(s.handleReadyz))
	if serveMetrics && s.metrics != nil {
		r.handle("GET", "/metrics", s.metrics.Handler())
	}
	r.handle("GET", "/openapi.yaml", http.HandlerFunc(handleOpenAPI))
	r.handle("GET", "/auth/me", s.authenticate(verify.Policy{}, s.handleMe))
	r.handle("POST", "/webhooks/clerk", http.HandlerFunc(s.handleWebhook))
	r.handle("POST", "/auth/logout", s.authenticate(verify.Policy{}, s.handleLogout))
	r.handle("GET", "/auth/sessions", s.authenticate(verify.Policy{}, s.handleListSessions))
	r.handle("DELETE", "/auth/sessions/{id}", s.authenticate(verify.Policy{}, s.handleRevokeSession))
	r.handle("POST", "/auth/token", s.authenticate(verify.Policy{}, s.handleToken))
	r.handle("GET", "/admin/users", s.require("users:read", s.handleListUsers))
	r.handle("GET", "/admin/users/{id}", s.require("users:read", s.handleGetUser))
	r.handle("PATCH", "/admin/users/{id}", s.requireSensitive("users:write", s.handlePatchUser))
	r.handle("DELETE", "/admin/users/{id}", s.requireSensitive("users:delete", s.handleDeleteUser))
	r.handle("POST", "/admin/users/{id}/ban", s.requireSensitive("users:write", s.handleBan(true)))
	r.handle("POST", "/admin/users/{id}/unban", s.requireSensitive("users:write", s.handleBan(false)))
	r.handle("GET", "/admin/security-events", s.require("security:read", s.handleSecurityEvents))
	r.handle("POST", "/admin/sync", s.require("users:write", s.handleStartSync))
	r.handle("GET", "/admin/sync/{id}", s.require("users:write", s.handleGetSync))
	r.mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, &clerkgate.Error{Code: clerkgate.CodeNotFound, Message: "no such endpoint"})
	}))
}

// router is a ServeMux that answers a known path with a wrong method by a
// 405 problem document with an Allow header, instead of plain text.
type router struct {
	mux     *http.ServeMux
	methods map[string][]string
}

func newRouter() *router {
	return &router{mux: http.NewServeMux(), methods: map[string][]string{}}
}

func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

func (r *router) handle(method, path string, h http.Handler) {
	r.mux.Handle(method+" "+path, limitBody(MaxBodyBytes, h))
	if _, seen := r.methods[path]; !seen {
		r.mux.Handle(path, r.methodNotAllowed(path))
	}
	r.methods[path] = append(r.methods[path], method)
	if method == "GET" {
		r.methods[path] = append(r.methods[path], "HEAD")
	}
}

func (r *router) methodNotAllowed(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", strings.Join(r.methods[path], ", "))
		writeProblemStatus(w, req, clerkgate.CodeInvalidRequest, http.StatusMethodNotAllowed,
			"method "+req.Method+" is not allowed here")
	})
}
