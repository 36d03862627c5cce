package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/httpapi"
)

// The end-to-end tests call the service through client(t): every answer of
// the service is checked against internal/httpapi/openapi.yaml, and an
// undocumented status, a missing documented header or a body that does not
// validate fails the test that made the request.

// client returns an HTTP client whose answers from the service are
// validated against the OpenAPI document; failures are reported on t.
func client(t testing.TB) *http.Client {
	t.Helper()
	if _, err := loadSpec(); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return &http.Client{Transport: &validatingTransport{t: t, next: http.DefaultTransport}}
}

// validatingTransport validates the service's answers; the emulator's
// (/v1/..., /__emulator/...) pass through unchecked.
type validatingTransport struct {
	t    testing.TB
	next http.RoundTripper
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := vt.next.RoundTrip(req)
	if err != nil || isEmulatorPath(req.URL.Path) {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		vt.t.Errorf("openapi: %s %s: reading the answer: %v", req.Method, req.URL.Path, err)
		return resp, nil
	}
	spec, _ := loadSpec() // client checked the error
	for _, problem := range spec.check(req.Method, req.URL.Path, resp.StatusCode, resp.Header, body) {
		vt.t.Errorf("openapi: %s %s → %d: %s\nbody: %.2000s", req.Method, req.URL.Path, resp.StatusCode, problem, body)
	}
	return resp, nil
}

func isEmulatorPath(p string) bool {
	return p == "/v1" || strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/__emulator")
}

// docURL names the document as a JSON Schema resource; schemas are
// compiled at JSON pointers into it, so that $ref '#/components/schemas/X'
// resolves inside it.
const docURL = "https://clerkgate.dev/openapi.json"

// spec is the OpenAPI document compiled for validation.
type spec struct {
	doc       map[string]any
	paths     []*specPath // literal paths first
	notFound  *specResponse
	notAllow  *specResponse
	problem   *jsonschema.Schema
	compiler  *jsonschema.Compiler
	compileMu sync.Mutex
}

type specPath struct {
	template string
	re       *regexp.Regexp
	ops      map[string]*specOp // by method
}

type specOp struct {
	method, path string
	ptr          string // JSON pointer of the operation
	op           map[string]any
	responses    map[string]*specResponse // by status, "200"
}

type specResponse struct {
	ptr     string
	headers map[string]*specHeader        // canonical name
	content map[string]*jsonschema.Schema // media type; nil schema for non-JSON
}

type specHeader struct {
	required bool
	schema   *jsonschema.Schema
}

var loadSpec = sync.OnceValues(func() (*spec, error) { return parseSpec(httpapi.OpenAPI()) })

// yamlToJSON converts YAML to the JSON value jsonschema expects (numbers
// as json.Number, every map keyed by strings).
func yamlToJSON(raw []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(stringKeys(v))
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// stringKeys turns yaml.v3's map[any]any (a mapping with a non-string
// key, such as an unquoted 200) into map[string]any, recursively.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
		return v
	}
	return v
}

func parseSpec(raw []byte) (*spec, error) {
	v, err := yamlToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a mapping")
	}
	s := &spec{doc: doc, compiler: jsonschema.NewCompiler()}
	s.compiler.DefaultDraft(jsonschema.Draft2020)
	s.compiler.AssertFormat()
	if err := s.compiler.AddResource(docURL, doc); err != nil {
		return nil, err
	}
	if s.problem, err = s.schemaAt("/components/schemas/Problem"); err != nil {
		return nil, err
	}
	if s.notFound, err = s.response("/components/responses/NotFound"); err != nil {
		return nil, err
	}
	if s.notAllow, err = s.response("/components/responses/MethodNotAllowed"); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	for tmpl, item := range paths {
		p := &specPath{template: tmpl, ops: map[string]*specOp{}}
		re := regexp.QuoteMeta(tmpl)
		re = regexp.MustCompile(`\\\{[^/]+?\\\}`).ReplaceAllString(re, `[^/]+`)
		p.re = regexp.MustCompile("^" + re + "$")
		for method, o := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
			default:
				continue
			}
			op := &specOp{method: strings.ToUpper(method), path: tmpl, ptr: pointer("paths", tmpl, method),
				op: o.(map[string]any), responses: map[string]*specResponse{}}
			rs, _ := op.op["responses"].(map[string]any)
			for status := range rs {
				r, err := s.response(pointer("paths", tmpl, method, "responses", status))
				if err != nil {
					return nil, fmt.Errorf("%s %s %s: %w", op.method, tmpl, status, err)
				}
				op.responses[status] = r
			}
			p.ops[op.method] = op
		}
		s.paths = append(s.paths, p)
	}
	// A literal path wins over a template that also matches it.
	sort.Slice(s.paths, func(i, j int) bool {
		ti, tj := strings.Count(s.paths[i].template, "{"), strings.Count(s.paths[j].template, "{")
		if ti != tj {
			return ti < tj
		}
		return s.paths[i].template < s.paths[j].template
	})
	return s, nil
}

// pointer is the JSON pointer of the tokens.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString("/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// at returns the value at a JSON pointer of the document.
func (s *spec) at(ptr string) (any, error) {
	var v any = s.doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: no such object", ptr)
		}
		if v, ok = m[tok]; !ok {
			return nil, fmt.Errorf("%s: no %q", ptr, tok)
		}
	}
	return v, nil
}

// deref follows OpenAPI Reference Objects ($ref to '#/...') from ptr and
// returns the pointer and value of the object finally referred to.
func (s *spec) deref(ptr string) (string, map[string]any, error) {
	for range 10 {
		v, err := s.at(ptr)
		if err != nil {
			return "", nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return "", nil, fmt.Errorf("%s: not an object", ptr)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return ptr, m, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return "", nil, fmt.Errorf("%s: only local references are supported, not %q", ptr, ref)
		}
		ptr = strings.TrimPrefix(ref, "#")
	}
	return "", nil, fmt.Errorf("%s: too many references", ptr)
}

// schemaAt compiles the schema at a JSON pointer of the document.
func (s *spec) schemaAt(ptr string) (*jsonschema.Schema, error) {
	var frag strings.Builder
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		frag.WriteString("/" + url.PathEscape(tok))
	}
	s.compileMu.Lock()
	defer s.compileMu.Unlock()
	return s.compiler.Compile(docURL + "#" + frag.String())
}

// response compiles the response object at ptr (following references).
func (s *spec) response(ptr string) (*specResponse, error) {
	ptr, m, err := s.deref(ptr)
	if err != nil {
		return nil, err
	}
	r := &specResponse{ptr: ptr, headers: map[string]*specHeader{}, content: map[string]*jsonschema.Schema{}}
	hs, _ := m["headers"].(map[string]any)
	for name := range hs {
		hp, h, err := s.deref(ptr + pointer("headers", name))
		if err != nil {
			return nil, err
		}
		sh := &specHeader{}
		sh.required, _ = h["required"].(bool)
		if _, ok := h["schema"]; ok {
			if sh.schema, err = s.schemaAt(hp + "/schema"); err != nil {
				return nil, fmt.Errorf("header %s: %w", name, err)
			}
		}
		r.headers[http.CanonicalHeaderKey(name)] = sh
	}
	content, _ := m["content"].(map[string]any)
	for media := range content {
		r.content[media] = nil
		if isJSON(media) {
			if r.content[media], err = s.schemaAt(ptr + pointer("content", media, "schema")); err != nil {
				return nil, fmt.Errorf("%s: %w", media, err)
			}
		}
	}
	return r, nil
}

func isJSON(media string) bool {
	return media == "application/json" || strings.HasSuffix(media, "+json")
}

// match finds the documented path of a request path.
func (s *spec) match(path string) *specPath {
	for _, p := range s.paths {
		if p.re.MatchString(path) {
			return p
		}
	}
	return nil
}

// check validates one answer of the service and returns what is wrong.
func (s *spec) check(method, path string, status int, h http.Header, body []byte) []string {
	p := s.match(path)
	if p == nil {
		// Not a path of the document: the "no such endpoint" 404, or (with
		// an upstream) a proxied answer; only the service's own problem
		// documents are checked.
		switch {
		case status == http.StatusNotFound && h.Get("Content-Type") == "application/problem+json":
			return s.notFound.check(status, h, body, method == "HEAD")
		case h.Get("Content-Type") == "application/problem+json":
			return checkBody(s.problem, status, h, body)
		}
		return nil
	}
	op := p.ops[method]
	if op == nil && method == "HEAD" {
		op = p.ops["GET"]
	}
	if op == nil {
		if status != http.StatusMethodNotAllowed {
			return []string{fmt.Sprintf("%s is not an operation of %s: want 405", method, p.template)}
		}
		return s.notAllow.check(status, h, body, method == "HEAD")
	}
	r := op.responses[fmt.Sprint(status)]
	if r == nil {
		return []string{fmt.Sprintf("status %d is not documented for %s %s (documented: %s)",
			status, op.method, op.path, strings.Join(slices.Sorted(maps.Keys(op.responses)), ", "))}
	}
	return r.check(status, h, body, method == "HEAD")
}

// check validates headers, media type and body against the response.
func (r *specResponse) check(status int, h http.Header, body []byte, head bool) []string {
	var errs []string
	for name, sh := range r.headers {
		v, ok := h[name]
		if !ok {
			if sh.required {
				errs = append(errs, "header "+name+" is missing")
			}
			continue
		}
		if sh.schema != nil {
			if err := sh.schema.Validate(v[0]); err != nil {
				errs = append(errs, fmt.Sprintf("header %s %q: %v", name, v[0], err))
			}
		}
	}
	if len(r.content) == 0 {
		if len(body) > 0 {
			errs = append(errs, fmt.Sprintf("%s documents no content, got %d bytes", r.ptr, len(body)))
		}
		return errs
	}
	media, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return append(errs, fmt.Sprintf("Content-Type %q: %v", h.Get("Content-Type"), err))
	}
	sch, ok := r.content[media]
	switch {
	case !ok:
		errs = append(errs, fmt.Sprintf("Content-Type %s is not documented (documented: %s)", media,
			strings.Join(slices.Sorted(maps.Keys(r.content)), ", ")))
	case head:
	case len(body) == 0:
		errs = append(errs, "the body is empty")
	case sch != nil:
		errs = append(errs, checkBody(sch, status, h, body)...)
	}
	return errs
}

// checkBody validates a JSON body; a problem document's request_id must
// also be the X-Request-Id of the answer.
func checkBody(sch *jsonschema.Schema, status int, h http.Header, body []byte) []string {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return []string{"the body is not JSON: " + err.Error()}
	}
	if err := sch.Validate(v); err != nil {
		return []string{err.Error()}
	}
	if m, ok := v.(map[string]any); ok && h.Get("Content-Type") == "application/problem+json" {
		if id, _ := m["request_id"].(string); id != h.Get("X-Request-Id") {
			return []string{fmt.Sprintf("request_id %q is not the X-Request-Id %q", id, h.Get("X-Request-Id"))}
		}
		if n, _ := m["status"].(json.Number); n.String() != fmt.Sprint(status) {
			return []string{fmt.Sprintf("problem status %v, HTTP status %d", m["status"], status)}
		}
	}
	return nil
}

// route is one r.handle line of internal/httpapi/routes.go.
type route struct {
	method, path string
	auth         bool   // authenticate or require
	permission   string // require's permission
}

// routesGo lists the routes registered in routes.go.
func routesGo(t *testing.T) []route {
	t.Helper()
	src, err := os.ReadFile("../../internal/httpapi/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	// s.authenticate(...) and s.require...("permission", ...) sign in.
	re := regexp.MustCompile(`r\.handle\("([A-Z]+)", "([^"]+)", (?:s\.(authenticate|require\w*)\((?:"([^"]+)")?)?`)
	var out []route
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		out = append(out, route{method: m[1], path: m[2], auth: m[3] != "", permission: m[4]})
	}
	if len(out) < 10 {
		t.Fatalf("found only %d routes in routes.go: has its shape changed?", len(out))
	}
	return out
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi: %q, want 3.1.x", v)
	}
	// Every schema compiles, used or not.
	schemas, _ := s.doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, name := range []string{"Me", "User", "UserList", "Session", "SessionList", "Token", "SecurityEvent",
		"SecurityEventList", "SyncRun", "Health", "Readiness", "Problem"} {
		if schemas[name] == nil {
			t.Errorf("components.schemas lacks %s", name)
		}
	}
	for name := range schemas {
		if _, err := s.schemaAt(pointer("components", "schemas", name)); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
	// The codes of problem documents are exactly the contract's.
	var codes []string
	for _, c := range clerkgate.Codes() {
		codes = append(codes, string(c))
	}
	enum, _ := s.at("/components/schemas/Problem/properties/code/enum")
	var documented []string
	for _, c := range enum.([]any) {
		documented = append(documented, c.(string))
	}
	slices.Sort(codes)
	slices.Sort(documented)
	if !slices.Equal(codes, documented) {
		t.Errorf("Problem.code enum %v, contract codes %v", documented, codes)
	}

	// Routes and operations correspond one to one.
	ops := map[string]*specOp{}
	for _, p := range s.paths {
		for m, op := range p.ops {
			ops[m+" "+p.template] = op
		}
	}
	routes := routesGo(t)
	seen := map[string]bool{}
	for _, r := range routes {
		key := r.method + " " + r.path
		seen[key] = true
		op := ops[key]
		if op == nil {
			t.Errorf("routes.go has %s, the document has no such operation", key)
			continue
		}
		if got := hasSecurity(op, "bearerAuth") && hasSecurity(op, "sessionCookie"); got != r.auth {
			t.Errorf("%s: signed-in security %v, routes.go authenticates: %v", key, got, r.auth)
		}
		if perm, _ := op.op["x-permission"].(string); perm != r.permission {
			t.Errorf("%s: x-permission %q, routes.go requires %q", key, perm, r.permission)
		}
		if r.auth {
			for _, status := range []string{"401", "429", "503"} {
				if op.responses[status] == nil {
					t.Errorf("%s: authentication applies, %s is not documented", key, status)
				}
			}
			if w := op.responses["401"]; w != nil && w.headers["Www-Authenticate"] == nil {
				t.Errorf("%s: the 401 documents no WWW-Authenticate", key)
			}
		}
		if r.permission != "" && op.responses["403"] == nil {
			t.Errorf("%s: a permission applies, 403 is not documented", key)
		}
		if sec, ok := op.op["security"].([]any); !r.auth && r.path != "/webhooks/clerk" && (!ok || len(sec) != 0) {
			t.Errorf("%s: a public route must say security: []", key)
		}
	}
	for key, op := range ops {
		if !seen[key] {
			t.Errorf("the document has %s, routes.go has no such route", key)
		}
		var ok2xx bool
		for status, r := range op.responses {
			ok2xx = ok2xx || strings.HasPrefix(status, "2")
			if r.headers["X-Request-Id"] == nil {
				t.Errorf("%s %s: X-Request-Id is not documented", key, status)
			}
			// The 503 of /readyz is its own document (SPEC §3).
			if status >= "400" && key != "GET /readyz" {
				if len(r.content) != 1 || r.content["application/problem+json"] == nil {
					t.Errorf("%s %s: an error must be application/problem+json alone", key, status)
				}
			}
		}
		if !ok2xx {
			t.Errorf("%s: no 2xx response", key)
		}
	}

	// The running service answers every documented operation (none is
	// "no such endpoint" or a 405), every signed-in one with a 401 when no
	// credentials come; the client validates each answer.
	emu := clerkemu.Start(t, clerkemu.Options{})
	base, _ := startServe(t, serviceEnv(emu, "sqlite://"+t.TempDir()+"/o.db"))
	for _, r := range routes {
		path := regexp.MustCompile(`\{[^/]+\}`).ReplaceAllString(r.path, "x")
		req, _ := http.NewRequest(r.method, base+path, nil)
		resp, err := client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out) // a problem document, or not JSON at all
		resp.Body.Close()
		code := resp.StatusCode
		if code == 405 || (code == 404 && out["detail"] == "no such endpoint") {
			t.Errorf("%s %s: %d %v", r.method, path, code, out)
		}
		if r.auth && (code != 401 || out["code"] != "unauthenticated") {
			t.Errorf("%s %s without credentials: %d %v", r.method, path, code, out)
		}
	}
	// /openapi.yaml serves the embedded bytes, whatever the credentials.
	req, _ := http.NewRequest("GET", base+"/openapi.yaml", nil)
	req.Header.Set("Authorization", "Bearer not.a.token")
	req.AddCookie(&http.Cookie{Name: "__session", Value: "garbage"})
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" || !bytes.Equal(raw, httpapi.OpenAPI()) {
		t.Fatalf("GET /openapi.yaml: %d %q, %d bytes (want the %d embedded ones)", resp.StatusCode,
			resp.Header.Get("Content-Type"), len(raw), len(httpapi.OpenAPI()))
	}
}

func hasSecurity(op *specOp, scheme string) bool {
	sec, _ := op.op["security"].([]any)
	for _, req := range sec {
		if m, ok := req.(map[string]any); ok {
			if _, ok := m[scheme]; ok {
				return true
			}
		}
	}
	return false
}

// TestOpenAPIValidatorCatchesDrift shows that the validating client fails
// answers that differ from the document.
func TestOpenAPIValidatorCatchesDrift(t *testing.T) {
	t.Parallel()
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{"X-Request-Id": {"r1"}}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	jsonH := hdr("Content-Type", "application/json")
	problemH := hdr("Content-Type", "application/problem+json", "Cache-Control", "no-store")
	unauthH := hdr("Content-Type", "application/problem+json", "Cache-Control", "no-store", "WWW-Authenticate", `Bearer realm="clerkgate"`)
	problem := func(status int, code string) string {
		return fmt.Sprintf(`{"type":"https://clerkgate.dev/problems/%s","title":"x","status":%d,"detail":"d","code":%q,"request_id":"r1"}`, code, status, code)
	}
	user := `{"id":"u1","clerk_user_id":null,"email":"","email_verified":false,"first_name":"","last_name":"","image_url":"",` +
		`"role":"member","public_metadata":{},"external_id":null,"banned":false,"last_sign_in_at":null,` +
		`"created_at":"2026-01-02T15:04:05Z","updated_at":null,"deleted_at":null}`
	cases := []struct {
		name, method, path string
		status             int
		h                  http.Header
		body               string
		ok                 bool
	}{
		{"healthz", "GET", "/healthz", 200, jsonH, `{"status":"ok"}`, true},
		{"healthz extra field", "GET", "/healthz", 200, jsonH, `{"status":"ok","x":1}`, false},
		{"no request id", "GET", "/healthz", 200, http.Header{"Content-Type": {"application/json"}}, `{"status":"ok"}`, false},
		{"undocumented status", "GET", "/healthz", 201, jsonH, `{"status":"ok"}`, false},
		{"user", "GET", "/admin/users/u1", 200, jsonH, user, true},
		{"user without a field", "GET", "/admin/users/u1", 200, jsonH, strings.Replace(user, `"banned":false,`, "", 1), false},
		{"user with a bad time", "GET", "/admin/users/u1", 200, jsonH, strings.Replace(user, "2026-01-02T15:04:05Z", "yesterday", 1), false},
		{"wrong media type", "GET", "/admin/users/u1", 200, hdr("Content-Type", "text/plain"), user, false},
		{"problem", "GET", "/admin/users/u1", 404, problemH, problem(404, "not_found"), true},
		{"problem with a code off the list", "GET", "/admin/users/u1", 404, problemH, problem(404, "gone"), false},
		{"problem with another status's code", "GET", "/admin/users/u1", 404, problemH, problem(404, "conflict"), false},
		{"401", "GET", "/auth/me", 401, unauthH, problem(401, "unauthenticated"), true},
		{"401 without a challenge", "GET", "/auth/me", 401, problemH, problem(401, "unauthenticated"), false},
		{"204 with a body", "POST", "/auth/logout", 204, jsonH, `{}`, false},
		{"405", "PUT", "/auth/me", 405, hdr("Content-Type", "application/problem+json", "Cache-Control", "no-store", "Allow", "GET, HEAD"), problem(405, "invalid_request"), true},
		{"405 without Allow", "PUT", "/auth/me", 405, problemH, problem(405, "invalid_request"), false},
		{"unknown path", "GET", "/nope", 404, problemH, problem(404, "not_found"), true},
		{"unknown path, bad problem", "GET", "/nope", 404, problemH, `{"code":"not_found"}`, false},
		{"request id mismatch", "GET", "/nope", 404, problemH, strings.Replace(problem(404, "not_found"), `"r1"`, `"r2"`, 1), false},
	}
	for _, c := range cases {
		errs := s.check(c.method, c.path, c.status, c.h, []byte(c.body))
		if (len(errs) == 0) != c.ok {
			t.Errorf("%s: errors %q, want ok=%v", c.name, errs, c.ok)
		}
	}
}
