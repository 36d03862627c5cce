package clerkemu

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ServeHTTP serves the Backend API under /v1. Every other path answers 404
// in Clerk's error shape; /__emulator/ is reserved for control endpoints.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.handler.ServeHTTP(w, r)
}

// handlerFunc answers one route: the value to encode with 200, or an error
// (a *Error, or anything else for a 500).
type handlerFunc func(r *http.Request, args []string) (any, error)

// route is one Backend API route: a method and a path under /v1 whose
// "{}" segments are passed to the handler in order.
type route struct {
	method  string
	pattern string
	handle  handlerFunc
}

// router matches requests against a route table.
type router struct {
	e      *Emulator
	routes []route
	split  [][]string
}

func newRouter(e *Emulator, routes []route) *router {
	rt := &router{e: e, routes: routes}
	for _, r := range routes {
		rt.split = append(rt.split, strings.Split(strings.Trim(r.pattern, "/"), "/"))
	}
	return rt
}

// ServeHTTP authenticates, routes and answers one request. It never panics
// outward: a handler panic is logged and answered 500.
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	trace := newTraceID()
	pattern := "unknown"
	status := http.StatusOK
	defer func() {
		if p := recover(); p != nil {
			rt.e.log.Error("clerkemu: handler panic", slog.Any("panic", p), slog.String("route", pattern))
			status = http.StatusInternalServerError
			writeError(w, trace, &Error{Status: status, Code: CodeInternal, Message: "internal error",
				LongMessage: "The emulator failed to handle the request."})
		}
		rt.e.log.Debug("clerkemu request", slog.String("method", r.Method), slog.String("route", pattern),
			slog.Int("status", status))
	}()
	fail := func(err error) {
		var apiErr *Error
		if !errors.As(err, &apiErr) {
			rt.e.log.Error("clerkemu: handler failed", slog.String("route", pattern), slog.String("error", err.Error()))
			apiErr = &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error",
				LongMessage: "The emulator failed to handle the request."}
		}
		status = apiErr.Status
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", strings.Join(allowedMethods(rt, r), ", "))
		}
		writeError(w, trace, apiErr)
	}

	path := r.URL.EscapedPath()
	if path != "/v1" && !strings.HasPrefix(path, "/v1/") {
		fail(errNotFound("The requested resource was not found."))
		return
	}
	// Clerk checks the key before anything else, unknown paths included.
	if err := rt.e.authenticate(r); err != nil {
		fail(err)
		return
	}
	segs, ok := splitPath(strings.TrimPrefix(path, "/v1"))
	if !ok {
		fail(errNotFound("The requested resource was not found."))
		return
	}
	pathMatched := false
	for i, rte := range rt.routes {
		args, ok := match(rt.split[i], segs)
		if !ok {
			continue
		}
		pathMatched = true
		if rte.method != r.Method {
			continue
		}
		pattern = rte.method + " " + rte.pattern
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes+1)
		v, err := rte.handle(r, args)
		if err != nil {
			fail(err)
			return
		}
		writeJSON(w, trace, http.StatusOK, v)
		return
	}
	if pathMatched {
		fail(errMethod(r.Method))
		return
	}
	fail(errNotFound("The requested resource was not found."))
}

// allowedMethods lists the methods of the routes matching r's path.
func allowedMethods(rt *router, r *http.Request) []string {
	segs, _ := splitPath(strings.TrimPrefix(r.URL.EscapedPath(), "/v1"))
	var out []string
	for i, rte := range rt.routes {
		if _, ok := match(rt.split[i], segs); ok && !slices.Contains(out, rte.method) {
			out = append(out, rte.method)
		}
	}
	return out
}

// splitPath splits an escaped path into unescaped segments.
func splitPath(p string) ([]string, bool) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range parts {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

// match matches path segments against a pattern; "{}" takes any non-empty
// segment.
func match(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var args []string
	for i, p := range pattern {
		switch {
		case p == "{}" && segs[i] != "":
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, true
}

// authenticate checks "Authorization: Bearer <secret key>" in constant time:
// no or a malformed header is authorization_header_format_invalid, a wrong
// key clerk_key_invalid, both 401.
func (e *Emulator) authenticate(r *http.Request) error {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return errAuthHeader()
	}
	scheme, key, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	key = strings.TrimSpace(key)
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return errAuthHeader()
	}
	got := sha256.Sum256([]byte(key))
	want := sha256.Sum256([]byte(e.secretKey))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return errKeyInvalid()
	}
	return nil
}
