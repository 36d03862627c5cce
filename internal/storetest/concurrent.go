package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	clerkgate "github.com/clerkgate/clerkgate"
)

// save is one SaveClerkUser result of a concurrent test.
type save struct {
	version int64
	user    *clerkgate.User
	changed bool
	err     error
}

// saveAll saves users from workers goroutines at once and returns the
// results in the order of users.
func saveAll(t *testing.T, s clerkgate.UserStore, workers int, users []*clerkgate.User) []save {
	t.Helper()
	out := make([]save, len(users))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				u, changed, err := s.SaveClerkUser(t.Context(), users[i])
				out[i] = save{version: users[i].ClerkUpdatedAt, user: u, changed: changed, err: err}
			}
		})
	}
	for i := range users {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// testConcurrentVersions saves 50 versions of one user, in random order,
// from 10 goroutines: the store ends at the newest, whatever the order.
func testConcurrentVersions(t *testing.T, s clerkgate.UserStore) {
	const versions, workers = 50, 10
	users := make([]*clerkgate.User, versions)
	for i := range users {
		v := int64(i + 1)
		users[i] = newUser("user_race", v)
		users[i].FirstName = fmt.Sprintf("v%d", v)
	}
	rand.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })

	results := saveAll(t, s, workers, users)
	var id string
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("save v%d: %v", r.version, r.err)
		}
		if id == "" {
			id = r.user.ID
		}
		if r.user.ID != id {
			t.Fatalf("one Clerk user got two ids: %q and %q", id, r.user.ID)
		}
		if r.user.ClerkUpdatedAt < r.version && r.changed {
			t.Errorf("save v%d changed the row but returned v%d", r.version, r.user.ClerkUpdatedAt)
		}
		if r.version == versions && (!r.changed || r.user.ClerkUpdatedAt != versions) {
			t.Errorf("save of the newest version: changed %v, stored v%d", r.changed, r.user.ClerkUpdatedAt)
		}
	}
	final := mustGet(t, s, "user_race")
	if final.ClerkUpdatedAt != versions || final.FirstName != fmt.Sprintf("v%d", versions) || final.ID != id {
		t.Fatalf("final row v%d %q id %q, want v%d %q id %q", final.ClerkUpdatedAt, final.FirstName, final.ID, versions, fmt.Sprintf("v%d", versions), id)
	}
}

// testConcurrentInsertSameUser has 20 goroutines insert the same new user
// with the same version: one row, one id, and exactly one insert reports a
// change.
func testConcurrentInsertSameUser(t *testing.T, s clerkgate.UserStore) {
	const n = 20
	users := make([]*clerkgate.User, n)
	for i := range users {
		users[i] = newUser("user_dupe_insert", 3)
	}
	results := saveAll(t, s, n, users)
	changed := 0
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("save: %v", r.err)
		}
		if r.user.ID != results[0].user.ID {
			t.Fatalf("one Clerk user got two ids: %q and %q", results[0].user.ID, r.user.ID)
		}
		if r.changed {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d saves reported a change, want 1", changed)
	}
	users2, _, err := s.ListUsers(t.Context(), clerkgate.UserQuery{IncludeDeleted: true})
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if len(users2) != 1 {
		t.Errorf("store holds %d rows, want 1", len(users2))
	}
}
