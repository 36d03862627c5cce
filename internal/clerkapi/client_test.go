package clerkapi_test

import (
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

// TestTwoClientsDoNotInterfere runs two clients with different keys against
// two emulators at the same time: each sees only its own instance.
func TestTwoClientsDoNotInterfere(t *testing.T) {
	t.Parallel()
	type instance struct {
		srv  *clerkemu.Server
		c    *clerkapi.Client
		user string
	}
	var inst [2]instance
	for i := range inst {
		srv := clerkemu.Start(t, clerkemu.Options{SecretKey: []string{"sk_test_instance_a_111", "sk_test_instance_b_222"}[i]})
		u := MustUser(t, srv, clerkemu.UserParams{Email: []string{"a@example.com", "b@example.com"}[i]})
		inst[i] = instance{srv, MustNew(t, clerkapi.Options{APIURL: srv.URL, SecretKey: srv.SecretKey()}), u.ID}
	}
	ctx := Ctx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for round := range 50 {
		for i, in := range inst {
			other := inst[1-i]
			wg.Go(func() {
				u, _, err := in.c.GetUser(ctx, in.user)
				if err != nil {
					errs <- err
					return
				}
				if want := []string{"a@example.com", "b@example.com"}[i]; u.Email != want {
					errs <- errors.New("client " + string(rune('a'+i)) + " got " + u.Email)
				}
				if round%10 == 0 {
					// The other instance's user does not exist here.
					if _, _, err := in.c.GetUser(ctx, other.user); clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
						errs <- errors.New("cross-instance lookup: " + string(clerkgate.ErrorCode(err)))
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A third client with instance a's key cannot use instance b.
	mixed := MustNew(t, clerkapi.Options{APIURL: inst[1].srv.URL, SecretKey: inst[0].srv.SecretKey()})
	_, _, err := mixed.GetUser(ctx, inst[1].user)
	WantCode(t, err, clerkgate.CodeUnavailable)
}

func TestObserve(t *testing.T) {
	t.Parallel()
	var rec Recorder
	srv, c := MustEmulator(t, func(o *clerkapi.Options) { o.Observe = rec.Observe })
	u := MustUser(t, srv, clerkemu.UserParams{Email: "obs@example.com"})
	s := MustSession(t, srv, u.ID, "")
	ctx := Ctx(t)

	_, _, _ = c.GetUser(ctx, u.ID)
	_, _, _ = c.GetUser(ctx, "user_missing")
	_, _, _ = c.GetUser(ctx, "not/valid") // never sent: not observed
	_ = c.Ping(ctx)
	_, _ = c.ListUsers(ctx, 10, 0)
	_, _ = c.UpdateUserMetadata(ctx, u.ID, []byte(`{"a":1}`))
	_, _ = c.ListSessions(ctx, u.ID, "")
	_, _ = c.GetSession(ctx, s.ID)
	_, _ = c.CreateSessionToken(ctx, s.ID, 0)
	_, _ = c.CreateSessionToken(ctx, s.ID, 10*time.Second)
	_ = c.RevokeSession(ctx, s.ID)
	_ = c.BanUser(ctx, u.ID)
	_ = c.UnbanUser(ctx, u.ID)
	_ = c.DeleteUser(ctx, u.ID)

	want := []observation{
		{"get_user", 200}, {"get_user", 404}, {"get_jwks", 200}, {"list_users", 200},
		{"update_user_metadata", 200}, {"list_sessions", 200}, {"get_session", 200},
		{"create_session_token", 200}, {"create_session_token", 422}, {"revoke_session", 200},
		{"ban_user", 200}, {"unban_user", 200}, {"delete_user", 200},
	}
	if got := rec.Take(); !slices.Equal(got, want) {
		t.Errorf("observed\n %v\nwant\n %v", got, want)
	}
}

func TestBreakerOpensOnOutagesOnly(t *testing.T) {
	t.Parallel()
	down, hits := StubServer(t, ClerkError(http.StatusServiceUnavailable, "service_unavailable", "down", ""))
	var rec Recorder
	c := MustNew(t, clerkapi.Options{APIURL: down.URL, SecretKey: "sk_test_x", BreakerThreshold: 3,
		BreakerCooldown: time.Hour, Observe: rec.Observe})
	ctx := Ctx(t)
	for range 3 {
		_, _, err := c.GetUser(ctx, "user_1")
		WantCode(t, err, clerkgate.CodeUnavailable)
	}
	for range 5 {
		_, _, err := c.GetUser(ctx, "user_1")
		WantCode(t, err, clerkgate.CodeUnavailable)
		if !errors.Is(err, clerkapi.ErrBreakerOpen) {
			t.Fatalf("call after 3 failures: %v, want the breaker open", err)
		}
	}
	if n := hits(); n != 3 {
		t.Errorf("server got %d requests, want 3 (then fail fast)", n)
	}
	if obs := rec.Take(); len(obs) != 8 || obs[3] != (observation{"get_user", 0}) {
		t.Errorf("observed %v, want 3 × 503 then 5 × status 0", obs)
	}

	// 404s and other answers prove Clerk is up: they never open it.
	notFound, hits404 := StubServer(t, ClerkError(http.StatusNotFound, "resource_not_found", "not found", ""))
	c404 := MustNew(t, clerkapi.Options{APIURL: notFound.URL, SecretKey: "sk_test_x", BreakerThreshold: 2})
	for range 6 {
		_, _, err := c404.GetUser(ctx, "user_1")
		WantCode(t, err, clerkgate.CodeNotFound)
	}
	if n := hits404(); n != 6 {
		t.Errorf("404 server got %d requests, want 6", n)
	}
}
