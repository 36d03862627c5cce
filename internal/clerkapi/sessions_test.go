package clerkapi_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

func TestSessionsRevokeAndList(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	u := MustUser(t, srv, clerkemu.UserParams{Email: "dave@example.com"})
	org, err := srv.CreateOrganization("Acme", "acme", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	s1 := MustSession(t, srv, u.ID, "")
	s2 := MustSession(t, srv, u.ID, org.ID)
	other := MustUser(t, srv, clerkemu.UserParams{Email: "eve@example.com"})
	MustSession(t, srv, other.ID, "")
	ctx := Ctx(t)

	got, err := c.GetSession(ctx, s2.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	want := clerkapi.Session{
		ID:           s2.ID,
		UserID:       u.ID,
		ClientID:     s2.ClientID,
		Status:       clerkapi.SessionActive,
		ActiveOrgID:  org.ID,
		LastActiveAt: time.UnixMilli(s2.LastActiveAt).UTC(),
		ExpireAt:     time.UnixMilli(s2.ExpireAt).UTC(),
		AbandonAt:    time.UnixMilli(s2.AbandonAt).UTC(),
		CreatedAt:    time.UnixMilli(s2.CreatedAt).UTC(),
		UpdatedAt:    time.UnixMilli(s2.UpdatedAt).UTC(),
	}
	if got.Actor != nil || got.ID != want.ID || got.UserID != want.UserID || got.ClientID != want.ClientID ||
		got.Status != want.Status || got.ActiveOrgID != want.ActiveOrgID || !got.CreatedAt.Equal(want.CreatedAt) ||
		!got.ExpireAt.Equal(want.ExpireAt) || !got.AbandonAt.Equal(want.AbandonAt) {
		t.Errorf("GetSession:\n got %+v\nwant %+v", got, want)
	}

	active, err := c.ListSessions(ctx, u.ID, clerkapi.SessionActive)
	if err != nil || len(active) != 2 {
		t.Fatalf("ListSessions(active) = %d sessions, %v; want 2", len(active), err)
	}

	if err := c.RevokeSession(ctx, s1.ID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	revoked, err := c.GetSession(ctx, s1.ID)
	if err != nil || revoked.Status != clerkapi.SessionRevoked {
		t.Fatalf("GetSession after revoke = %+v, %v; want status revoked", revoked, err)
	}
	active, err = c.ListSessions(ctx, u.ID, clerkapi.SessionActive)
	if err != nil || len(active) != 1 || active[0].ID != s2.ID {
		t.Errorf("ListSessions(active) after revoke = %+v, %v; want only %s", active, err, s2.ID)
	}
	all, err := c.ListSessions(ctx, u.ID, "")
	if err != nil || len(all) != 2 {
		t.Errorf("ListSessions(all) = %d, %v; want 2", len(all), err)
	}
	none, err := c.ListSessions(ctx, "user_nobody", "")
	if err != nil || len(none) != 0 {
		t.Errorf("ListSessions(unknown user) = %v, %v; want none", none, err)
	}
	_, err = c.ListSessions(ctx, u.ID, "bogus")
	WantCode(t, err, clerkgate.CodeInvalidRequest)
	_, err = c.ListSessions(ctx, u.ID, "active&user_id=x")
	WantCode(t, err, clerkgate.CodeInvalidRequest)

	_, err = c.GetSession(ctx, "sess_missing")
	WantCode(t, err, clerkgate.CodeNotFound)
	if msg := clerkgate.ErrorMessage(err); msg != "session not found in Clerk" {
		t.Errorf("message = %q", msg)
	}
	WantCode(t, c.RevokeSession(ctx, "sess_missing"), clerkgate.CodeNotFound)
	WantCode(t, c.RevokeSession(ctx, "sess_1/revoke"), clerkgate.CodeNotFound)
}

func TestCreateSessionToken(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	u := MustUser(t, srv, clerkemu.UserParams{Email: "frank@example.com"})
	s := MustSession(t, srv, u.ID, "")
	ctx := Ctx(t)

	for _, ttl := range []time.Duration{0, 2 * time.Minute, 90*time.Second + time.Millisecond} {
		jwt, err := c.CreateSessionToken(ctx, s.ID, ttl)
		if err != nil {
			t.Fatalf("CreateSessionToken(%v): %v", ttl, err)
		}
		parts := strings.Split(jwt, ".")
		if len(parts) != 3 {
			t.Fatalf("token has %d parts", len(parts))
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			Sub string `json:"sub"`
			Sid string `json:"sid"`
			Exp int64  `json:"exp"`
			Iat int64  `json:"iat"`
		}
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatal(err)
		}
		if claims.Sub != u.ID || claims.Sid != s.ID {
			t.Errorf("claims sub %q sid %q, want %q %q", claims.Sub, claims.Sid, u.ID, s.ID)
		}
		wantTTL := map[time.Duration]int64{0: 60, 2 * time.Minute: 120, 90*time.Second + time.Millisecond: 91}[ttl]
		if got := claims.Exp - claims.Iat; got != wantTTL {
			t.Errorf("CreateSessionToken(%v): lifetime %ds, want %ds", ttl, got, wantTTL)
		}
	}

	_, err := c.CreateSessionToken(ctx, s.ID, 10*time.Second) // Clerk's minimum is 30 s
	WantCode(t, err, clerkgate.CodeInvalidRequest)
	if msg := clerkgate.ErrorMessage(err); !strings.HasPrefix(msg, "expires_in_seconds: ") {
		t.Errorf("message = %q, want Clerk's message naming the parameter", msg)
	}
	_, err = c.CreateSessionToken(ctx, s.ID, -time.Second)
	WantCode(t, err, clerkgate.CodeInvalidRequest)
	_, err = c.CreateSessionToken(ctx, "sess_missing", 0)
	WantCode(t, err, clerkgate.CodeNotFound)

	if err := c.RevokeSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateSessionToken(ctx, s.ID, 0)
	if err == nil {
		t.Error("CreateSessionToken for a revoked session succeeded")
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	_, c := MustEmulator(t)
	if err := c.Ping(Ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
