package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The hand-written /auth/me encoding says exactly what encoding/json says.
func TestMeAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	id := "usr_1"
	now := time.Date(2026, 11, 22, 1, 2, 3, 456789000, time.UTC)
	odd := "a\"b\\c\n\r\t\x01<script>&\u2028\u2029é\xff\U0001F600"
	cases := []meResponse{
		{},
		{ID: &id, ClerkUserID: "user_1", Email: "a@example.com", Role: "admin", Permissions: []string{"*"},
			SessionID: "sess_1", CreatedAt: &now, UpdatedAt: &now, LastSignInAt: &now},
		{ID: &id, FirstName: odd, LastName: odd, ImageURL: odd, Permissions: []string{odd, ""},
			Org:   &meOrg{ID: "org_1", Slug: odd, Role: "org:admin", Permissions: []string{}},
			Actor: &meActor{Sub: odd}, ProfilePending: true, CreatedAt: &now},
		{Org: &meOrg{}, Permissions: []string{}},
	}
	for i, c := range cases {
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.appendJSON(nil); string(got) != string(want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b", "\x00\x1f", "<&>", "\u2028", "\xff\xfe", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// A value that cannot be encoded is answered as a 500 problem document.
func TestWriteJSONFailureIsProblem(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "rid-1")
	writeJSON(rec, http.StatusOK, map[string]any{"x": json.RawMessage("not json")})
	var p problem
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" ||
		json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Code != "internal" || p.RequestID != "rid-1" {
		t.Fatalf("%d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

func BenchmarkMeAppendJSON(b *testing.B) {
	id := "usr_01m80th5z7xn0dsq0vj98h72bj"
	now := time.Date(2026, 11, 22, 1, 2, 3, 456000000, time.UTC)
	m := meResponse{ID: &id, ClerkUserID: "user_2pYx0abcdefghijklmnopqrstu", Email: "alice@example.com",
		FirstName: "Alice", LastName: "Admin", ImageURL: "https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCIsImlpZCI6InVzZXJfYWxpY2UifQ",
		Role: "admin", Permissions: []string{"*", "org:dashboard:manage", "org:dashboard:read", "org:teams:manage", "org:teams:read"},
		SessionID: "sess_clUi3F4SKS6tkJKqn8W1jYMW3J9", Org: &meOrg{ID: "org_acme", Slug: "acme", Role: "org:admin",
			Permissions: []string{"org:dashboard:manage", "org:dashboard:read", "org:teams:manage", "org:teams:read"}},
		CreatedAt: &now, UpdatedAt: &now}
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = m.appendJSON(buf[:0])
	}
}
