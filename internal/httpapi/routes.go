package httpapi

import (
	"net/http"
	"net/url"
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
	r.handle("GET", "/auth/verify", http.HandlerFunc(s.handleVerify))
	// Every other path: the reverse proxy when an upstream is configured
	// (proxy.go), else 404.
	r.catchAll = http.HandlerFunc(s.handleUnrouted)
	r.mux.Handle("/", r.catchAll)
	r.proxying = s.proxying
}

// router is a ServeMux that answers a known path with a wrong method by a
// 405 problem document with an Allow header, instead of plain text.
type router struct {
	mux     *http.ServeMux
	methods map[string][]string
	// catchAll answers the paths no route matches.
	catchAll http.Handler
	// proxying, when set and true, sends a request that only the catch-all
	// "/" matches straight to catchAll, whatever its path looks like: the
	// ServeMux's redirects of paths with "//", "." or ".." must not answer
	// for the reverse proxy, which canonicalizes (or refuses) them itself.
	proxying func() bool
}

func newRouter() *router {
	return &router{mux: http.NewServeMux(), methods: map[string][]string{}}
}

func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.proxying != nil && r.proxying() {
		if _, pattern := r.mux.Handler(req); pattern == "/" {
			r.catchAll.ServeHTTP(w, req)
			return
		}
	}
	r.mux.ServeHTTP(w, req)
}

// owns reports whether a route of the service answers path, with any
// method: such a path is never proxied.
func (r *router) owns(path string) bool {
	_, pattern := r.mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: path}})
	return pattern != "" && pattern != "/"
}

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
