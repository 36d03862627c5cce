package httpapi

import (
	"bytes"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clerkgate/clerkgate/internal/metrics"
)

// TestOpenAPIRoutes checks that the document has an operation for every
// route of the router, and no other.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	s := &server{metrics: metrics.New()}
	r := newRouter()
	s.routes(r, true)
	routed := map[string]bool{}
	for path, methods := range r.methods {
		for _, m := range methods {
			if m != "HEAD" { // answered wherever GET is
				routed[m+" "+path] = true
			}
		}
	}
	for _, op := range slices.Sorted(maps.Keys(routed)) {
		if !documented[op] {
			t.Errorf("route %s is not in openapi.yaml", op)
		}
	}
	for _, op := range slices.Sorted(maps.Keys(documented)) {
		if !routed[op] {
			t.Errorf("openapi.yaml documents %s, which is no route", op)
		}
	}
}

// TestOpenAPIServed checks that GET /openapi.yaml serves the embedded
// document whatever credentials come with the request.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	h := NewServer(Deps{})
	for _, method := range []string{"GET", "HEAD"} {
		req := httptest.NewRequest(method, "/openapi.yaml", nil)
		req.Header.Set("Authorization", "Bearer not.a.token")
		req.AddCookie(&http.Cookie{Name: "__session", Value: "garbage"})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/yaml" || w.Header().Get("X-Request-Id") == "" {
			t.Fatalf("%s: %d %v", method, w.Code, w.Header())
		}
		if method == "GET" && !bytes.Equal(w.Body.Bytes(), OpenAPI()) {
			t.Fatalf("GET served %d bytes, not the %d embedded ones", w.Body.Len(), len(OpenAPI()))
		}
	}
	// OpenAPI returns a copy: a caller cannot change what is served.
	OpenAPI()[0] = '#'
	if OpenAPI()[0] == '#' {
		t.Fatal("OpenAPI returned the embedded slice itself")
	}
}
