package clerkemu_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	"github.com/clerk/clerk-sdk-go/v2/organization"
	"github.com/clerk/clerk-sdk-go/v2/organizationmembership"
	"github.com/clerk/clerk-sdk-go/v2/session"
	"github.com/clerk/clerk-sdk-go/v2/user"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// specPath is Clerk's Backend API description, relative to this package.
var specPath = filepath.Join("..", "..", "shared", "clerk", "bapi-2026-05-12.yml")

// testKey is one RSA key shared by the tests' emulators: generating one per
// emulator would dominate the run time.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// spec is the loaded description, or nil when the file is absent; it is
// loaded once per test binary (it is large).
var spec = sync.OnceValues(func() (*conformance, error) {
	if _, err := os.Stat(specPath); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	doc, err := openapi3.NewLoader().LoadFromFile(specPath)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", specPath, err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", specPath, err)
	}
	c := &conformance{doc: doc, router: router}
	c.errors = doc.Components.Schemas["ClerkErrors"].Value
	c.sessionPage = &openapi3.Schema{
		Type:     &openapi3.Types{"object"},
		Required: []string{"data", "total_count"},
		Properties: openapi3.Schemas{
			"data":        openapi3.NewArraySchema().WithItems(doc.Components.Schemas["Session"].Value).NewRef(),
			"total_count": openapi3.NewIntegerSchema().NewRef(),
		},
	}
	return c, nil
})

// conformance checks responses against the description.
type conformance struct {
	doc         *openapi3.T
	router      routers.Router
	errors      *openapi3.Schema
	sessionPage *openapi3.Schema
}

// mustSpec returns the description, nil when absent.
func mustSpec(tb testing.TB) *conformance {
	tb.Helper()
	c, err := spec()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// schemaOpts keep schema and value dumps out of failure messages.
func schemaOpts() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{openapi3.MultiErrors(), openapi3.DisableSchemaErrorDetails()}
}

// check validates one emulator answer: never a 500, always exactly
// "application/json" with a JSON body, errors in Clerk's error schema, and
// successes in the schema of their operation.
func (c *conformance) check(tb testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	tb.Helper()
	what := req.Method + " " + req.URL.Path
	if status >= 500 {
		tb.Errorf("%s: status %d: %s", what, status, body)
	}
	if ct := header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
		tb.Errorf("%s: Content-Type %q, want exactly application/json", what, ct)
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		tb.Errorf("%s: body is not JSON: %v", what, err)
		return
	}
	if c == nil {
		return // description absent: TestSpecPresent says so
	}
	if status >= 400 {
		if err := c.errors.VisitJSON(doc, schemaOpts()...); err != nil {
			tb.Errorf("%s: error body does not match ClerkErrors: %s", what, brief(err))
		}
		return
	}
	if req.URL.Path == "/v1/sessions" && req.Method == http.MethodGet && req.URL.Query().Get("paginated") == "true" {
		if err := c.sessionPage.VisitJSON(doc, schemaOpts()...); err != nil {
			tb.Errorf("%s: paginated session list does not match: %s", what, brief(err))
		}
		return
	}
	u := *req.URL
	u.Scheme, u.Host = "https", "api.clerk.com"
	sreq := &http.Request{Method: req.Method, URL: &u, Header: http.Header{}}
	route, params, err := c.router.FindRoute(sreq)
	if err != nil {
		tb.Errorf("%s: no such operation in the description: %v", what, err)
		return
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: sreq, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}},
	})
	if err != nil {
		tb.Errorf("%s: answer %d does not match operation %s: %s", what, status, route.Operation.OperationID, brief(err))
	}
}

// brief renders validation errors as "pointer: reason" lines.
func brief(err error) string {
	var lines []string
	var walk func(error)
	walk = func(err error) {
		var me openapi3.MultiError
		var se *openapi3.SchemaError
		var re *openapi3filter.ResponseError
		switch {
		case errors.As(err, &me):
			for _, e := range me {
				walk(e)
			}
		case errors.As(err, &se):
			lines = append(lines, "/"+strings.Join(se.JSONPointer(), "/")+": "+se.Reason)
		case errors.As(err, &re) && re.Err != nil:
			lines = append(lines, re.Reason)
			walk(re.Err)
		default:
			lines = append(lines, err.Error())
		}
	}
	walk(err)
	return strings.Join(lines, "; ")
}

// checkingTransport passes every answer through conformance.check.
type checkingTransport struct {
	tb   testing.TB
	spec *conformance
}

func (t checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	t.spec.check(t.tb, req, resp.StatusCode, resp.Header, body)
	return resp, nil
}

// env is a started emulator with SDK clients whose every answer is checked
// against the description.
type env struct {
	srv      *clerkemu.Server
	http     *http.Client
	users    *user.Client
	sessions *session.Client
	jwks     *jwks.Client
	orgs     *organization.Client
	members  *organizationmembership.Client
}

// newEnv starts an emulator for t; opts.SigningKey defaults to the shared
// test key unless opts.State holds the keys.
func newEnv(t *testing.T, opts clerkemu.Options) *env {
	t.Helper()
	if opts.SigningKey == nil && len(opts.State) == 0 {
		opts.SigningKey = testKey()
	}
	srv := clerkemu.Start(t, opts)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: checkingTransport{tb: t, spec: mustSpec(t)}}
	cfg := func() *clerk.ClientConfig {
		return &clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
			HTTPClient: hc, URL: clerk.String(srv.APIURL), Key: clerk.String(srv.SecretKey())}}
	}
	return &env{
		srv: srv, http: hc,
		users: user.NewClient(cfg()), sessions: session.NewClient(cfg()), jwks: jwks.NewClient(cfg()),
		orgs: organization.NewClient(cfg()), members: organizationmembership.NewClient(cfg()),
	}
}

// rawResponse is one raw HTTP answer.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v.
func (r rawResponse) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
}

// clerkError is the first error of an error answer.
func (r rawResponse) clerkError(tb testing.TB) (code, param string) {
	tb.Helper()
	var e struct {
		Errors []struct {
			Code string         `json:"code"`
			Meta map[string]any `json:"meta"`
		} `json:"errors"`
		TraceID string `json:"clerk_trace_id"`
	}
	r.decode(tb, &e)
	if len(e.Errors) == 0 || e.TraceID == "" {
		tb.Fatalf("not a Clerk error: %s", r.body)
	}
	if e.Errors[0].Meta == nil {
		tb.Errorf("error without meta object: %s", r.body)
	}
	p, _ := e.Errors[0].Meta["param_name"].(string)
	return e.Errors[0].Code, p
}

// do sends a raw request with the instance's key (unless header sets
// Authorization) and returns the checked answer. body "" sends no body.
func (e *env) do(tb testing.TB, method, path, body string, header ...string) rawResponse {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.srv.SecretKey())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := e.http.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// apiError asserts err is a Clerk API error with status and code.
func apiError(tb testing.TB, err error, status int, code string) {
	tb.Helper()
	var ae *clerk.APIErrorResponse
	if !errors.As(err, &ae) {
		tb.Fatalf("error %v (%T), want a Clerk API error %d %s", err, err, status, code)
	}
	if ae.HTTPStatusCode != status || len(ae.Errors) == 0 || ae.Errors[0].Code != code {
		tb.Fatalf("error %s, want %d %s", ae.Error(), status, code)
	}
	if ae.TraceID == "" {
		tb.Errorf("error without trace id: %s", ae.Error())
	}
}

// fixedClock is a settable clock for emulators under test.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestSpecPresent(t *testing.T) {
	c, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		t.Skipf("%s is absent: responses are checked for status, JSON and Content-Type only", specPath)
	}
}

func ctx() context.Context { return context.Background() }
