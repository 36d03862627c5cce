package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// TestModes checks that both modes answer the same document, and that the
// SDK mode accepts an emulator token (keys fetched from the emulator's
// JWKS) and refuses a request without one: what bench/run.sh relies on.
func TestModes(t *testing.T) {
	t.Parallel()
	emu := clerkemu.Start(t, clerkemu.Options{})
	u, err := emu.CreateUser(clerkemu.UserParams{Email: "bench@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := emu.CreateSession(u.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	token, err := emu.SessionToken(s.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		mode, token string
		want        int
	}{
		{"none", "", http.StatusOK},
		{"none", token, http.StatusOK},
		{"sdk", token, http.StatusOK},
		{"sdk", "", http.StatusForbidden},
		{"sdk", "not-a-jwt", http.StatusForbidden},
	}
	for _, tt := range tests {
		h, err := newHandler(tt.mode, emu.URL, emu.SecretKey())
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/", nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("mode %s, token %t: status %d, want %d", tt.mode, tt.token != "", rec.Code, tt.want)
		}
		if tt.want == http.StatusOK && rec.Body.String() != string(body) {
			t.Errorf("mode %s: body %q, want %q", tt.mode, rec.Body.String(), body)
		}
	}
	if _, err := newHandler("sdk", "", ""); err == nil {
		t.Error("sdk mode without CLERK_API_URL and CLERK_SECRET_KEY: no error")
	}
	if _, err := newHandler("jwt", emu.URL, emu.SecretKey()); err == nil {
		t.Error("unknown mode: no error")
	}
}
