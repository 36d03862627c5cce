package identity_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/sqlite"
	"github.com/clerkgate/clerkgate/verify"
)

// fixture is an emulator behind a server that counts user fetches, a
// Backend API client, a SQLite store and the identity service.
type fixture struct {
	emu     *clerkemu.Emulator
	fetches atomic.Int64
	down    atomic.Bool
	store   *sqlite.Store
	svc     *identity.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{}
	var err error
	if f.emu, err = clerkemu.New(clerkemu.Options{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		if r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v1/users/user_") {
			f.fetches.Add(1)
			time.Sleep(20 * time.Millisecond) // let concurrent requests pile up
		}
		f.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	api, err := clerkapi.New(clerkapi.Options{APIURL: srv.URL, SecretKey: f.emu.SecretKey(), BreakerThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	if f.store, err = sqlite.Open(context.Background(), t.TempDir()+"/users.db"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	if err := f.store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.svc, err = identity.New(identity.Options{
		Store: f.store,
		Clerk: identity.FetcherFunc(func(ctx context.Context, id string) (*clerkgate.User, error) {
			u, _, err := api.GetUser(ctx, id)
			return u, err
		}),
		RetryPending: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func claimsFor(sub string) *verify.Claims {
	return &verify.Claims{Subject: sub, SessionID: "sess_1"}
}

// 100 concurrent first requests for one new user make one Backend API call.
func TestJustInTimeUserSharedFetch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u, err := f.emu.CreateUser(clerkemu.UserParams{Email: "new@example.com", FirstName: "New",
		PublicMetadata: map[string]any{"role": "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			id, err := f.svc.Resolve(context.Background(), claimsFor(u.ID))
			if err == nil && (id.Role != "admin" || id.User.Email != "new@example.com" || id.ProfilePending) {
				t.Errorf("identity %+v", id)
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.fetches.Load(); n != 1 {
		t.Fatalf("Backend API user fetches = %d, want 1", n)
	}
	stored, err := f.store.UserByClerkID(context.Background(), u.ID)
	if err != nil || stored.Role != "admin" || stored.FirstName != "New" {
		t.Fatalf("stored %+v, %v", stored, err)
	}
}

// With Clerk unreachable the identity comes from the token and the profile
// is pending; once Clerk answers, the profile fills in.
func TestJustInTimeUserClerkDown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u, err := f.emu.CreateUser(clerkemu.UserParams{Email: "late@example.com", FirstName: "Late"})
	if err != nil {
		t.Fatal(err)
	}
	f.down.Store(true)
	id, err := f.svc.Resolve(context.Background(), claimsFor(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	if !id.ProfilePending || id.Role != "member" || id.User.ID == "" {
		t.Fatalf("identity %+v, user %+v", id, id.User)
	}
	localID := id.User.ID
	f.down.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		id, err = f.svc.Resolve(context.Background(), claimsFor(u.ID))
		if err != nil {
			t.Fatal(err)
		}
		if !id.ProfilePending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("profile still pending after Clerk came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if id.User.Email != "late@example.com" || id.User.ID != localID {
		t.Fatalf("user %+v, local id was %s", id.User, localID)
	}
}

// A user Clerk does not know (deleted) is session_revoked; a banned or
// deleted local user too.
func TestGoneUsersAreRevoked(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.svc.Resolve(context.Background(), claimsFor("user_doesnotexist"))
	if clerkgate.ErrorCode(err) != clerkgate.CodeSessionRevoked {
		t.Fatalf("unknown user: %v", err)
	}
	for _, edit := range []func(*clerkgate.User){
		func(u *clerkgate.User) { u.Banned = true },
		func(u *clerkgate.User) { u.DeletedAt = time.Now() },
	} {
		u, err := f.emu.CreateUser(clerkemu.UserParams{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Resolve(context.Background(), claimsFor(u.ID)); err != nil {
			t.Fatal(err)
		}
		stored, err := f.store.UserByClerkID(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		next := *stored
		next.ClerkUpdatedAt++
		edit(&next)
		saved, _, err := f.store.SaveClerkUser(context.Background(), &next)
		if err != nil {
			t.Fatal(err)
		}
		f.svc.Updated(saved)
		_, err = f.svc.Resolve(context.Background(), claimsFor(u.ID))
		if clerkgate.ErrorCode(err) != clerkgate.CodeSessionRevoked {
			t.Fatalf("after change: %v", err)
		}
	}
}

// The organization role from the token feeds the role and permissions.
func TestOrgRoleAndPermissions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u, err := f.emu.CreateUser(clerkemu.UserParams{})
	if err != nil {
		t.Fatal(err)
	}
	c := claimsFor(u.ID)
	c.Org = &verify.Org{ID: "org_1", Role: "org:admin", Permissions: []string{"org:teams:read"}}
	id, err := f.svc.Resolve(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if id.Role != "admin" || len(id.Permissions) != 2 {
		t.Fatalf("role %q permissions %v", id.Role, id.Permissions)
	}
}

// slowStore is a user store whose reads wait for a signal, so that a test
// can change the user while a read is under way.
type slowStore struct {
	clerkgate.UserStore
	reads   atomic.Int64
	reading chan struct{}
	release chan struct{}
}

func (s *slowStore) UserByClerkID(ctx context.Context, id string) (*clerkgate.User, error) {
	u, err := s.UserStore.UserByClerkID(ctx, id)
	if s.reads.Add(1) == 1 {
		close(s.reading)
		<-s.release
	}
	return u, err
}

// A read of the store that began before Forget (another instance changed
// the user) is used for its request but not cached: the next request reads
// the store again and sees the change.
func TestForgetDuringLoad(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.store.SaveClerkUser(ctx, &clerkgate.User{ClerkUserID: "user_race", Role: "member", ClerkUpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	st := &slowStore{UserStore: f.store, reading: make(chan struct{}), release: make(chan struct{})}
	svc, err := identity.New(identity.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *identity.Identity)
	go func() {
		id, err := svc.Resolve(ctx, claimsFor("user_race"))
		if err != nil {
			t.Error(err)
		}
		done <- id
	}()
	<-st.reading // the first read has begun; another instance bans the user
	if _, _, err := f.store.SaveClerkUser(ctx, &clerkgate.User{ClerkUserID: "user_race", Role: "member", Banned: true, ClerkUpdatedAt: 2}); err != nil {
		t.Fatal(err)
	}
	svc.Forget("user_race")
	close(st.release)
	if id := <-done; id == nil || id.User.Banned {
		t.Fatalf("the request under way: %+v, want the user as read before the ban", id)
	}
	if _, err := svc.Resolve(ctx, claimsFor("user_race")); clerkgate.ErrorCode(err) != clerkgate.CodeSessionRevoked {
		t.Fatalf("after Forget: %v, want session_revoked (the stale read was cached)", err)
	}
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("%d store reads, want 2", n)
	}
}

// TestOnCacheLookup: the hook hears each lookup of the user cache.
func TestOnCacheLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.store.SaveClerkUser(ctx, &clerkgate.User{ClerkUserID: "user_hook", Role: "member", ClerkUpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	var hits, misses atomic.Int64
	svc, err := identity.New(identity.Options{Store: f.store, OnCacheLookup: func(hit bool) {
		if hit {
			hits.Add(1)
		} else {
			misses.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := svc.Resolve(ctx, claimsFor("user_hook")); err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != 2 || misses.Load() != 1 {
		t.Errorf("%d hits, %d misses; want 2, 1", hits.Load(), misses.Load())
	}
}
