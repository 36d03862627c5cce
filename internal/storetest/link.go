package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
)

// linkTests are the tests of clerkgate.LinkStore.
var linkTests = []test{
	{"CreateLocalUser", testCreateLocalUser},
	{"CreateLocalUserInvalid", testCreateLocalUserInvalid},
	{"UnlinkedUserByEmail", testUnlinkedUserByEmail},
	{"LinkClerkUser", testLinkClerkUser},
	{"LinkClerkUserErrors", testLinkClerkUserErrors},
	{"ConcurrentLinkOneUser", testConcurrentLinkOneUser},
	{"ConcurrentLinkOneClerkID", testConcurrentLinkOneClerkID},
}

// localUser returns a legacy user: every field but the Clerk ones set.
func localUser(id, email string) *clerkgate.User {
	return &clerkgate.User{
		ID:             id,
		Email:          email,
		EmailVerified:  true,
		FirstName:      "Legacy",
		LastName:       "User " + id,
		ImageURL:       "https://img.example.test/legacy.png",
		Role:           "member",
		PublicMetadata: json.RawMessage(`{"legacy":true}`),
		ExternalID:     "",
		LastSignInAt:   base.Add(-48 * time.Hour),
	}
}

// mustCreateLocal creates u with CreateLocalUser and fails t on error.
func mustCreateLocal(t testing.TB, s Store, u *clerkgate.User) *clerkgate.User {
	t.Helper()
	got, err := s.CreateLocalUser(t.Context(), u)
	if err != nil {
		t.Fatalf("CreateLocalUser(%q): %v", u.ID, err)
	}
	return got
}

func testCreateLocalUser(t *testing.T, s Store) {
	before := time.Now()
	u := localUser("", "Legacy@Example.test")
	got := mustCreateLocal(t, s, u)
	after := time.Now()
	if !strings.HasPrefix(got.ID, "usr_") || len(got.ID) != 30 {
		t.Errorf("generated id %q, want usr_ and 26 characters", got.ID)
	}
	sameContent(t, got, u)
	around(t, "CreatedAt", got.CreatedAt, before, after)
	around(t, "UpdatedAt", got.UpdatedAt, before, after)
	byID, err := s.UserByID(t.Context(), got.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	sameUser(t, byID, got)

	// The id and creation time of the legacy system are kept.
	given := localUser("legacy-7", "seven@example.test")
	given.CreatedAt = time.Date(2018, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("X", -3*3600))
	kept := mustCreateLocal(t, s, given)
	if kept.ID != "legacy-7" || !kept.CreatedAt.Equal(given.CreatedAt.Truncate(time.Millisecond)) || kept.CreatedAt.Location() != time.UTC {
		t.Errorf("kept id %q created %v, want legacy-7 %v in UTC", kept.ID, kept.CreatedAt, given.CreatedAt.Truncate(time.Millisecond))
	}
	// A deleted legacy user is stored as a tombstone.
	gone := localUser("legacy-gone", "gone@example.test")
	gone.DeletedAt = base
	if ts := mustCreateLocal(t, s, gone); !ts.Deleted() {
		t.Error("CreateLocalUser dropped DeletedAt")
	}

	// An id taken by a local or a Clerk user is a conflict.
	_, err = s.CreateLocalUser(t.Context(), localUser("legacy-7", "other@example.test"))
	wantCode(t, err, clerkgate.CodeConflict)
	clerkUser := newUser("user_has_id", 1)
	clerkUser.ID = "usr_taken"
	mustSave(t, s, clerkUser)
	_, err = s.CreateLocalUser(t.Context(), localUser("usr_taken", "x@example.test"))
	wantCode(t, err, clerkgate.CodeConflict)

	ids, _ := listAll(t, s, clerkgate.UserQuery{IncludeDeleted: true})
	if len(ids) != 4 {
		t.Errorf("store holds %d users, want 4", len(ids))
	}
}

func testCreateLocalUserInvalid(t *testing.T, s Store) {
	for name, u := range map[string]*clerkgate.User{
		"nil":           nil,
		"Clerk id":      func() *clerkgate.User { u := localUser("l1", "a@example.test"); u.ClerkUserID = "user_1"; return u }(),
		"Clerk version": func() *clerkgate.User { u := localUser("l2", "a@example.test"); u.ClerkUpdatedAt = 3; return u }(),
		"bad metadata": func() *clerkgate.User {
			u := localUser("l3", "a@example.test")
			u.PublicMetadata = []byte(`{`)
			return u
		}(),
		"NUL in email":    localUser("l4", "a\x00@example.test"),
		"invalid UTF-8":   localUser("l5\xff", "a@example.test"),
		"NUL in the name": func() *clerkgate.User { u := localUser("l6", "a@example.test"); u.FirstName = "\x00"; return u }(),
	} {
		got, err := s.CreateLocalUser(t.Context(), u)
		if got != nil {
			t.Errorf("%s: got a user", name)
		}
		if code := clerkgate.ErrorCode(err); code != clerkgate.CodeInvalidRequest {
			t.Errorf("%s: error %v (code %q), want invalid_request", name, err, code)
		}
	}
	if ids, _ := listAll(t, s, clerkgate.UserQuery{IncludeDeleted: true}); len(ids) != 0 {
		t.Errorf("invalid users were stored: %d rows", len(ids))
	}
}

func testUnlinkedUserByEmail(t *testing.T, s Store) {
	ann := mustCreateLocal(t, s, localUser("legacy-ann", "Ann@Example.test"))
	mustCreateLocal(t, s, localUser("legacy-noemail", ""))
	deleted := localUser("legacy-gone", "gone@example.test")
	deleted.DeletedAt = base
	mustCreateLocal(t, s, deleted)
	mustCreateLocal(t, s, localUser("legacy-twin1", "twin@example.test"))
	mustCreateLocal(t, s, localUser("legacy-twin2", "TWIN@example.test"))
	shared := mustCreateLocal(t, s, localUser("legacy-shared", "shared@example.test"))
	for _, c := range []string{"user_clerk", "user_shared"} {
		u := newUser(c, 1)
		u.Email = strings.TrimPrefix(c, "user_") + "@example.test"
		mustSave(t, s, u)
	}

	for _, email := range []string{"Ann@Example.test", "ann@example.test", "ANN@EXAMPLE.TEST"} {
		got, err := s.UnlinkedUserByEmail(t.Context(), email)
		if err != nil {
			t.Fatalf("UnlinkedUserByEmail(%q): %v", email, err)
		}
		sameUser(t, got, ann)
	}
	// A Clerk user with the same email is linked already and not a match.
	got, err := s.UnlinkedUserByEmail(t.Context(), "shared@example.test")
	if err != nil {
		t.Fatalf("UnlinkedUserByEmail(shared): %v", err)
	}
	sameUser(t, got, shared)

	for _, email := range []string{
		"nobody@example.test",
		"",                     // matches nobody, not the user without an email
		"clerk@example.test",   // a Clerk user
		"gone@example.test",    // a tombstone
		"ann@example.tes_",     // not a LIKE pattern
		"%@example.test",       // not a LIKE pattern
		" ann@example.test",    // exact but for case
		"ann@example.test\x00", // text no store holds
		"\xff",
	} {
		got, err := s.UnlinkedUserByEmail(t.Context(), email)
		if got != nil || clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
			t.Errorf("UnlinkedUserByEmail(%q) = %v, %v; want not_found", email, got, err)
		}
	}
	got, err = s.UnlinkedUserByEmail(t.Context(), "Twin@Example.Test")
	if got != nil {
		t.Errorf("two matches returned %q", got.ID)
	}
	wantCode(t, err, clerkgate.CodeConflict)
}

func testLinkClerkUser(t *testing.T, s Store) {
	legacy := localUser("legacy-link", "link@example.test")
	legacy.CreatedAt = base.Add(-365 * 24 * time.Hour)
	local := mustCreateLocal(t, s, legacy)
	time.Sleep(2 * time.Millisecond)

	u := newUser("user_link", 4)
	u.ID = "usr_ignored"
	u.CreatedAt = base
	before := time.Now()
	got, err := s.LinkClerkUser(t.Context(), local.ID, u)
	after := time.Now()
	if err != nil {
		t.Fatalf("LinkClerkUser: %v", err)
	}
	sameContent(t, got, u)
	if got.ID != local.ID || !got.CreatedAt.Equal(local.CreatedAt) {
		t.Errorf("link changed ID/CreatedAt to %q %v, want %q %v", got.ID, got.CreatedAt, local.ID, local.CreatedAt)
	}
	around(t, "UpdatedAt", got.UpdatedAt, before, after)
	sameUser(t, mustGet(t, s, "user_link"), got)
	_, err = s.UnlinkedUserByEmail(t.Context(), "link@example.test")
	wantCode(t, err, clerkgate.CodeNotFound)

	// Linked already: with another Clerk id or the same one.
	for _, c := range []string{"user_other", "user_link"} {
		again, err := s.LinkClerkUser(t.Context(), local.ID, newUser(c, 9))
		if again != nil {
			t.Errorf("second link with %s returned a user", c)
		}
		wantCode(t, err, clerkgate.CodeConflict)
	}
	sameUser(t, mustGet(t, s, "user_link"), got)
	_, err = s.UserByClerkID(t.Context(), "user_other")
	wantCode(t, err, clerkgate.CodeNotFound)

	// The linked row is an ordinary Clerk user from now on.
	stale := newUser("user_link", 3)
	stale.FirstName = "Stale"
	if same, changed := mustSave(t, s, stale); changed || same.ID != local.ID {
		t.Errorf("older version after the link: changed %v id %q", changed, same.ID)
	}
	newer, changed := mustSave(t, s, newUser("user_link", 5))
	if !changed || newer.ID != local.ID || !newer.CreatedAt.Equal(local.CreatedAt) {
		t.Errorf("newer version after the link: changed %v id %q created %v", changed, newer.ID, newer.CreatedAt)
	}
}

func testLinkClerkUserErrors(t *testing.T, s Store) {
	local := mustCreateLocal(t, s, localUser("legacy-err", "err@example.test"))
	for _, id := range []string{"usr_missing", "", "bad\x00"} {
		got, err := s.LinkClerkUser(t.Context(), id, newUser("user_err", 1))
		if got != nil {
			t.Errorf("link of %q returned a user", id)
		}
		wantCode(t, err, clerkgate.CodeNotFound)
	}
	for name, u := range map[string]*clerkgate.User{
		"nil":          nil,
		"no Clerk id":  newUser("", 1),
		"bad metadata": func() *clerkgate.User { u := newUser("user_err", 1); u.PublicMetadata = []byte(`[`); return u }(),
		"NUL":          func() *clerkgate.User { u := newUser("user_err", 1); u.Email = "\x00"; return u }(),
	} {
		_, err := s.LinkClerkUser(t.Context(), local.ID, u)
		if code := clerkgate.ErrorCode(err); code != clerkgate.CodeInvalidRequest {
			t.Errorf("%s: error %v (code %q), want invalid_request", name, err, code)
		}
	}

	// The Clerk id belongs to another row: nothing changes on either.
	taken, _ := mustSave(t, s, newUser("user_taken", 1))
	_, err := s.LinkClerkUser(t.Context(), local.ID, newUser("user_taken", 2))
	wantCode(t, err, clerkgate.CodeConflict)
	sameUser(t, mustGet(t, s, "user_taken"), taken)
	after, err := s.UserByID(t.Context(), local.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameUser(t, after, local)

	// A user created from Clerk, and a deleted legacy user, cannot be linked.
	_, err = s.LinkClerkUser(t.Context(), taken.ID, newUser("user_fresh", 1))
	wantCode(t, err, clerkgate.CodeConflict)
	gone := localUser("legacy-gone", "gone@example.test")
	gone.DeletedAt = base
	mustCreateLocal(t, s, gone)
	_, err = s.LinkClerkUser(t.Context(), "legacy-gone", newUser("user_fresh", 1))
	wantCode(t, err, clerkgate.CodeConflict)
	_, err = s.UserByClerkID(t.Context(), "user_fresh")
	wantCode(t, err, clerkgate.CodeNotFound)
}

// link is the result of one LinkClerkUser of a concurrent test.
type link struct {
	clerkID string
	user    *clerkgate.User
	err     error
}

// linkAll runs LinkClerkUser(localIDs[i], users[i]) for every i at once.
func linkAll(t *testing.T, s Store, localIDs []string, users []*clerkgate.User) []link {
	out := make([]link, len(users))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			<-start
			u, err := s.LinkClerkUser(t.Context(), localIDs[i], users[i])
			out[i] = link{users[i].ClerkUserID, u, err}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// oneWinner checks that exactly one link succeeded and every other one is
// CodeConflict, and returns the winner.
func oneWinner(t *testing.T, results []link) link {
	t.Helper()
	var won []link
	for _, r := range results {
		switch code := clerkgate.ErrorCode(r.err); {
		case r.err == nil:
			won = append(won, r)
		case code != clerkgate.CodeConflict:
			t.Fatalf("link with %s: %v (code %q), want success or conflict", r.clerkID, r.err, code)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d links succeeded, want 1", len(won))
	}
	return won[0]
}

// testConcurrentLinkOneUser links one local user to several Clerk ids at
// once, a few times over: one link wins, the others are conflicts and
// leave no trace.
func testConcurrentLinkOneUser(t *testing.T, s Store) {
	const rounds, clerkIDs = 5, 8
	for round := range rounds {
		local := mustCreateLocal(t, s, localUser(fmt.Sprintf("legacy-race-%d", round), "race@example.test"))
		localIDs := make([]string, clerkIDs)
		users := make([]*clerkgate.User, clerkIDs)
		for i := range users {
			localIDs[i] = local.ID
			users[i] = newUser(fmt.Sprintf("user_race_%d_%d", round, i), 1)
		}
		w := oneWinner(t, linkAll(t, s, localIDs, users))
		if w.user.ID != local.ID {
			t.Fatalf("winner linked %q, want %q", w.user.ID, local.ID)
		}
		for _, u := range users {
			got, err := s.UserByClerkID(t.Context(), u.ClerkUserID)
			switch {
			case u.ClerkUserID == w.clerkID && (err != nil || got.ID != local.ID):
				t.Fatalf("winner %s: %v, %v", w.clerkID, got, err)
			case u.ClerkUserID != w.clerkID && clerkgate.ErrorCode(err) != clerkgate.CodeNotFound:
				t.Fatalf("loser %s is stored: %v", u.ClerkUserID, err)
			}
		}
	}
}

// testConcurrentLinkOneClerkID links several local users to one Clerk id
// at once: one wins, the others stay unlinked.
func testConcurrentLinkOneClerkID(t *testing.T, s Store) {
	const locals = 8
	localIDs := make([]string, locals)
	users := make([]*clerkgate.User, locals)
	for i := range localIDs {
		localIDs[i] = mustCreateLocal(t, s, localUser(fmt.Sprintf("legacy-one-%d", i), "one@example.test")).ID
		users[i] = newUser("user_one", 1)
	}
	results := linkAll(t, s, localIDs, users)
	oneWinner(t, results)
	winner := mustGet(t, s, "user_one")
	for i, id := range localIDs {
		u, err := s.UserByID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if linked := u.ClerkUserID != ""; linked != (id == winner.ID) || (results[i].err == nil) != linked {
			t.Errorf("local user %s: Clerk id %q, link error %v; the winner is %s", id, u.ClerkUserID, results[i].err, winner.ID)
		}
	}
}
