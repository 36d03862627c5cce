package clerkemu_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/user"

	"github.com/clerkgate/clerkgate/clerkemu"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{SecretKey: "sk_test_emulator_key"})
	tests := []struct {
		name, path, auth string
		status           int
		code             string
	}{
		{"no header", "/v1/users", "", 401, "authorization_header_format_invalid"},
		{"basic scheme", "/v1/users", "Basic c2s6", 401, "authorization_header_format_invalid"},
		{"bearer without key", "/v1/users", "Bearer ", 401, "authorization_header_format_invalid"},
		{"wrong key", "/v1/users", "Bearer sk_test_emulator_kez", 401, "clerk_key_invalid"},
		{"key prefix", "/v1/users", "Bearer sk_test_emulator", 401, "clerk_key_invalid"},
		{"key is checked before routing", "/v1/no/such/route", "Bearer wrong", 401, "clerk_key_invalid"},
		{"jwks needs the key too", "/v1/jwks", "", 401, "authorization_header_format_invalid"},
		{"scheme is case-insensitive", "/v1/users", "bearer sk_test_emulator_key", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.do(t, "GET", tt.path, "", "Authorization", tt.auth)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.code != "" {
				if code, _ := r.clerkError(t); code != tt.code {
					t.Errorf("code %s, want %s", code, tt.code)
				}
			}
		})
	}
	t.Run("sdk with a wrong key", func(t *testing.T) {
		c := user.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
			HTTPClient: e.http, URL: clerk.String(e.srv.APIURL), Key: clerk.String("sk_test_other")}})
		_, err := c.List(ctx(), &user.ListParams{})
		apiError(t, err, http.StatusUnauthorized, "clerk_key_invalid")
	})
}

func TestErrorAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	u, err := e.srv.CreateUser(clerkemu.UserParams{Email: "err@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"first_name":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name, method, path, body string
		status                   int
		code, param              string
	}{
		{"unknown route", "GET", "/v1/nope", "", 404, "resource_not_found", ""},
		{"outside /v1", "GET", "/users", "", 404, "resource_not_found", ""},
		{"root", "GET", "/", "", 404, "resource_not_found", ""},
		{"wrong method", "DELETE", "/v1/jwks", "", 405, "method_not_allowed", ""},
		{"unknown user", "GET", "/v1/users/user_nope", "", 404, "resource_not_found", ""},
		{"unknown user patch", "PATCH", "/v1/users/user_nope", `{"first_name":"x"}`, 404, "resource_not_found", ""},
		{"unknown user ban", "POST", "/v1/users/user_nope/ban", "null", 404, "resource_not_found", ""},
		{"unknown user metadata", "PATCH", "/v1/users/user_nope/metadata", `{}`, 404, "resource_not_found", ""},
		{"encoded slash in id", "GET", "/v1/users/user_x%2F..%2Fcount", "", 404, "resource_not_found", ""},
		{"empty id segment", "POST", "/v1/users//ban", "", 404, "resource_not_found", ""},
		{"malformed JSON", "POST", "/v1/users", `{"email_address":`, 400, "request_body_invalid", ""},
		{"JSON array body", "POST", "/v1/users", `[]`, 400, "request_body_invalid", ""},
		{"JSON string body", "PATCH", "/v1/users/" + u.ID, `"x"`, 400, "request_body_invalid", ""},
		{"trailing garbage", "POST", "/v1/sessions", `{"user_id":"` + u.ID + `"} x`, 400, "request_body_invalid", ""},
		{"body too large", "PATCH", "/v1/users/" + u.ID, big, 413, "request_body_too_large", ""},
		{"unknown member on ban", "POST", "/v1/users/" + u.ID + "/ban", `{"reason":"x"}`, 422, "form_param_unknown", "reason"},
		{"metadata not an object", "PATCH", "/v1/users/" + u.ID + "/metadata", `{"public_metadata":"x"}`, 422, "form_param_format_invalid", "public_metadata"},
		{"limit zero", "GET", "/v1/users?limit=0", "", 422, "form_param_value_invalid", "limit"},
		{"limit too big", "GET", "/v1/users?limit=501", "", 422, "form_param_value_invalid", "limit"},
		{"limit not a number", "GET", "/v1/users?limit=ten", "", 422, "form_param_format_invalid", "limit"},
		{"negative offset", "GET", "/v1/users?offset=-1", "", 422, "form_param_value_invalid", "offset"},
		{"unknown order", "GET", "/v1/users?order_by=-password", "", 422, "form_param_value_invalid", "order_by"},
		{"bad boolean", "GET", "/v1/users/count?banned=maybe", "", 422, "form_param_format_invalid", "banned"},
		{"bad timestamp filter", "GET", "/v1/users?created_at_after=today", "", 422, "form_param_format_invalid", "created_at_after"},
		{"primary email not the user's", "PATCH", "/v1/users/" + u.ID, `{"primary_email_address_id":"idn_nope"}`, 422, "form_param_value_invalid", "primary_email_address_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.do(t, tt.method, tt.path, tt.body)
			code, param := r.clerkError(t)
			if r.status != tt.status || code != tt.code || param != tt.param {
				t.Errorf("%d %s (param %q), want %d %s (param %q)", r.status, code, param, tt.status, tt.code, tt.param)
			}
			if tt.status == 405 && r.header.Get("Allow") != "GET" {
				t.Errorf("Allow %q", r.header.Get("Allow"))
			}
			if r.header.Get("Clerk-Trace-Id") == "" {
				t.Error("no Clerk-Trace-Id header")
			}
		})
	}
}

// TestEmptyBodies checks that null, empty and {} bodies are all "no
// parameters" on every parameterless POST and DELETE.
func TestEmptyBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	for _, body := range []string{"", "null", "{}", " \n null \n", "{ }"} {
		t.Run("body "+strings.TrimSpace(body), func(t *testing.T) {
			t.Parallel()
			r := e.do(t, "POST", "/v1/users", body)
			var u clerkemu.User
			r.decode(t, &u)
			if r.status != 200 || u.ID == "" || len(u.EmailAddresses) != 0 || u.PrimaryEmailAddressID != nil {
				t.Fatalf("create user: %d %s", r.status, r.body)
			}
			for _, action := range []string{"ban", "unban", "lock", "unlock"} {
				if r := e.do(t, "POST", "/v1/users/"+u.ID+"/"+action, body); r.status != 200 {
					t.Errorf("%s: %d %s", action, r.status, r.body)
				}
			}
			r = e.do(t, "PATCH", "/v1/users/"+u.ID+"/metadata", body)
			if r.status != 200 {
				t.Errorf("metadata: %d %s", r.status, r.body)
			}
			r = e.do(t, "POST", "/v1/sessions", `{"user_id":"`+u.ID+`"}`)
			var s clerkemu.Session
			r.decode(t, &s)
			for _, p := range []string{"/tokens", "/revoke"} {
				if r := e.do(t, "POST", "/v1/sessions/"+s.ID+p, body); r.status != 200 {
					t.Errorf("%s: %d %s", p, r.status, r.body)
				}
			}
			if r := e.do(t, "DELETE", "/v1/users/"+u.ID, body); r.status != 200 {
				t.Errorf("delete: %d %s", r.status, r.body)
			}
		})
	}
}

// TestHostileBodiesNeverFail sends odd bodies to every writing route: the
// checking transport fails the test on any 5xx or malformed answer.
func TestHostileBodiesNeverFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "h@example.com"})
	org, _ := e.srv.CreateOrganization("Hostile", "hostile", u.ID)
	s, _ := e.srv.CreateSession(u.ID, "")
	routes := []struct{ method, path string }{
		{"POST", "/v1/users"}, {"PATCH", "/v1/users/" + u.ID}, {"PATCH", "/v1/users/" + u.ID + "/metadata"},
		{"PUT", "/v1/users/" + u.ID + "/metadata"}, {"POST", "/v1/sessions"}, {"POST", "/v1/sessions/" + s.ID + "/tokens"},
		{"POST", "/v1/organizations"}, {"PATCH", "/v1/organizations/" + org.ID},
		{"PATCH", "/v1/organizations/" + org.ID + "/metadata"}, {"POST", "/v1/organizations/" + org.ID + "/memberships"},
		{"PATCH", "/v1/organizations/" + org.ID + "/memberships/" + u.ID},
	}
	bodies := []string{
		`{`, `}`, `[1,2]`, `1`, `true`, `"x"`, "\x00", `{"a":1}{"b":2}`, `{"email_address":null}`,
		`{"email_address":[1]}`, `{"email_address":[null]}`, `{"public_metadata":{"a":{"b":{"c":[{"d":null}]}}}}`,
		`{"expires_in_seconds":1e400}`, `{"expires_in_seconds":-1}`, `{"user_id":{"$ne":""}}`, `{"name":""}`,
		`{"name":null,"slug":null}`, `{"role":""}`, `{"role":"org:owner"}`, `{"slug":"BAD SLUG"}`,
		`{"max_allowed_memberships":-5}`, `{"created_at":"2020-13-45T99:00:00Z"}`, `{"first_name":"` + strings.Repeat("é", 300) + `"}`,
		strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	}
	for _, rt := range routes {
		for _, b := range bodies {
			r := e.do(t, rt.method, rt.path, b)
			if r.status >= 500 {
				t.Errorf("%s %s %.40q: %d", rt.method, rt.path, b, r.status)
			}
		}
	}
}

// FuzzServeHTTP throws arbitrary methods, paths and bodies at the handler:
// it must never panic or answer 5xx, and always answer JSON.
func FuzzServeHTTP(f *testing.F) {
	emu, err := clerkemu.New(clerkemu.Options{SecretKey: "sk_test_fuzz", SigningKey: testKey()})
	if err != nil {
		f.Fatal(err)
	}
	u, _ := emu.CreateUser(clerkemu.UserParams{Email: "f@example.com"})
	for _, seed := range []struct{ method, path, body string }{
		{"POST", "/v1/users", `{"email_address":["x@example.com"]}`},
		{"PATCH", "/v1/users/" + u.ID + "/metadata", `{"public_metadata":{"a":null}}`},
		{"POST", "/v1/sessions", `{"user_id":"` + u.ID + `"}`},
		{"GET", "/v1/users?limit=3&order_by=-updated_at&query=x", ""},
		{"DELETE", "/v1/organizations/%2e%2e", ""},
	} {
		f.Add(seed.method, seed.path, seed.body)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		req, err := http.NewRequest(method, "http://emu"+path, strings.NewReader(body))
		if err != nil || req.URL.Path == "" && req.URL.RawPath == "" {
			t.Skip()
		}
		req.Header.Set("Authorization", "Bearer sk_test_fuzz")
		w := httptest.NewRecorder()
		emu.ServeHTTP(w, req)
		if w.Code >= 500 || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body.Bytes())
		}
	})
}
