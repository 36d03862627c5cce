// Package storetest is the contract suite of clerkgate's stores (Store: the
// users, legacy-user links, memberships, session denials, webhook records,
// user events and security events): one set of tests that every store (SQLite,
// Postgres) passes, so that the rules the rest of clerkgate relies on hold
// whatever the engine. A store's own test calls Run with a function that
// opens a fresh, migrated, empty store, and the benchmarks
// (BenchmarkSaveClerkUser, BenchmarkSaveWebhookRecord) for comparable
// figures.
package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
)

// Store is everything a clerkgate store implements, and what the suite
// tests.
type Store interface {
	clerkgate.UserStore
	clerkgate.LinkStore
	clerkgate.MembershipStore
	clerkgate.DenialStore
	clerkgate.WebhookStore
	clerkgate.UserEventStore
	clerkgate.SecurityEventStore
}

// test is one test of the suite.
type test struct {
	name string
	fn   func(t *testing.T, s Store)
}

// Run runs the contract suite against the stores open returns. open must
// return a new, empty, migrated store for t that t.Cleanup closes; Run calls
// it once per subtest, from parallel subtests.
func Run(t *testing.T, open func(t *testing.T) Store) {
	var tests []test
	for _, tc := range userTests {
		tests = append(tests, test{tc.name, func(t *testing.T, s Store) { tc.fn(t, s) }})
	}
	for _, group := range [][]test{linkTests, unlinkedTests, membershipTests, denialTests, webhookTests, userEventTests, securityTests} {
		tests = append(tests, group...)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// userTests are the tests of clerkgate.UserStore.
var userTests = []struct {
	name string
	fn   func(t *testing.T, s clerkgate.UserStore)
}{
	{"Ping", testPing},
	{"GetByIDAndClerkID", testGet},
	{"NotFound", testNotFound},
	{"InsertGeneratesID", testInsertGeneratesID},
	{"InsertKeepsGivenIDAndCreatedAt", testInsertKeepsGiven},
	{"InsertNeedsClerkID", testInsertNeedsClerkID},
	{"InvalidText", testInvalidText},
	{"UpdateNewer", testUpdateNewer},
	{"UpdateClearsFields", testUpdateClearsFields},
	{"StaleIgnored", testStaleIgnored},
	{"TieOverwrites", testTieOverwrites},
	{"TombstoneWins", testTombstoneWins},
	{"TombstoneBeforeCreate", testTombstoneBeforeCreate},
	{"ConcurrentVersions", testConcurrentVersions},
	{"ConcurrentInsertSameUser", testConcurrentInsertSameUser},
	{"UniqueConflict", testUniqueConflict},
	{"MetadataRoundTrip", testMetadata},
	{"TimesRoundTrip", testTimes},
	{"ListEmpty", testListEmpty},
	{"ListPages", testListPages},
	{"ListPagesSameCreatedAt", testListPagesSameCreatedAt},
	{"ListFilters", testListFilters},
	{"ListLikeEscaping", testListLikeEscaping},
	{"ListLimits", testListLimits},
	{"ListBadCursor", testListBadCursor},
}

// base is a fixed instant for test data, at millisecond precision.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// newUser returns a user with every field set, Clerk id clerkID at version.
func newUser(clerkID string, version int64) *clerkgate.User {
	return &clerkgate.User{
		ClerkUserID:    clerkID,
		Email:          clerkID + "@example.test",
		EmailVerified:  true,
		FirstName:      "First " + clerkID,
		LastName:       "Last " + clerkID,
		ImageURL:       "https://img.example.test/" + clerkID + ".png",
		Role:           "member",
		PublicMetadata: json.RawMessage(`{"role":"member","n":1}`),
		ExternalID:     "ext-" + clerkID,
		Banned:         false,
		LastSignInAt:   base.Add(-time.Hour),
		ClerkUpdatedAt: version,
	}
}

// tombstone returns the tombstone of clerkID as the caller writes it: the
// personal fields erased, DeletedAt set.
func tombstone(clerkID string, version int64, at time.Time) *clerkgate.User {
	return &clerkgate.User{ClerkUserID: clerkID, ClerkUpdatedAt: version, DeletedAt: at}
}

// mustSave saves u and fails t on error.
func mustSave(t testing.TB, s clerkgate.UserStore, u *clerkgate.User) (*clerkgate.User, bool) {
	t.Helper()
	got, changed, err := s.SaveClerkUser(t.Context(), u)
	if err != nil {
		t.Fatalf("SaveClerkUser(%s v%d): %v", u.ClerkUserID, u.ClerkUpdatedAt, err)
	}
	if got == nil {
		t.Fatalf("SaveClerkUser(%s v%d) returned a nil user", u.ClerkUserID, u.ClerkUpdatedAt)
	}
	return got, changed
}

// mustGet returns the user with Clerk id clerkID and fails t on error.
func mustGet(t testing.TB, s clerkgate.UserStore, clerkID string) *clerkgate.User {
	t.Helper()
	u, err := s.UserByClerkID(t.Context(), clerkID)
	if err != nil {
		t.Fatalf("UserByClerkID(%s): %v", clerkID, err)
	}
	return u
}

// wantCode fails t unless err carries code.
func wantCode(t testing.TB, err error, code clerkgate.Code) {
	t.Helper()
	if got := clerkgate.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

// sameContent fails t unless got holds the Clerk-owned fields of want
// (everything but ID, CreatedAt and UpdatedAt), times compared at ms.
func sameContent(t testing.TB, got, want *clerkgate.User) {
	t.Helper()
	if diff := contentDiff(got, want); diff != "" {
		t.Fatalf("stored user differs: %s", diff)
	}
}

// sameUser fails t unless got and want are equal in every field.
func sameUser(t testing.TB, got, want *clerkgate.User) {
	t.Helper()
	diff := contentDiff(got, want)
	switch {
	case got.ID != want.ID:
		diff += fmt.Sprintf(" ID %q != %q;", got.ID, want.ID)
	case !got.CreatedAt.Equal(want.CreatedAt):
		diff += fmt.Sprintf(" CreatedAt %v != %v;", got.CreatedAt, want.CreatedAt)
	case !got.UpdatedAt.Equal(want.UpdatedAt):
		diff += fmt.Sprintf(" UpdatedAt %v != %v;", got.UpdatedAt, want.UpdatedAt)
	}
	if diff != "" {
		t.Fatalf("users differ: %s", diff)
	}
}

// contentDiff describes how the Clerk-owned fields of got and want differ.
func contentDiff(got, want *clerkgate.User) string {
	var d string
	field := func(name string, g, w any) {
		if g != w {
			d += fmt.Sprintf(" %s %#v != %#v;", name, g, w)
		}
	}
	field("ClerkUserID", got.ClerkUserID, want.ClerkUserID)
	field("Email", got.Email, want.Email)
	field("EmailVerified", got.EmailVerified, want.EmailVerified)
	field("FirstName", got.FirstName, want.FirstName)
	field("LastName", got.LastName, want.LastName)
	field("ImageURL", got.ImageURL, want.ImageURL)
	field("Role", got.Role, want.Role)
	field("ExternalID", got.ExternalID, want.ExternalID)
	field("Banned", got.Banned, want.Banned)
	field("ClerkUpdatedAt", got.ClerkUpdatedAt, want.ClerkUpdatedAt)
	field("LastSignInAt", got.LastSignInAt.UnixMilli(), want.LastSignInAt.UnixMilli())
	field("LastSignInAt.IsZero", got.LastSignInAt.IsZero(), want.LastSignInAt.IsZero())
	field("DeletedAt", got.DeletedAt.UnixMilli(), want.DeletedAt.UnixMilli())
	field("DeletedAt.IsZero", got.DeletedAt.IsZero(), want.DeletedAt.IsZero())
	if !sameJSON(got.PublicMetadata, want.PublicMetadata) {
		d += fmt.Sprintf(" PublicMetadata %s != %s;", got.PublicMetadata, want.PublicMetadata)
	}
	return d
}

// sameJSON reports whether a and b are both absent or the same JSON value;
// engines may reorder object members and drop insignificant space.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// around fails t unless at lies within [from, to] widened to whole
// milliseconds, the precision of the stores.
func around(t testing.TB, name string, at, from, to time.Time) {
	t.Helper()
	if at.Before(from.Truncate(time.Millisecond)) || at.After(to.Truncate(time.Millisecond).Add(time.Millisecond)) {
		t.Fatalf("%s = %v, want within [%v, %v]", name, at, from, to)
	}
}

func testPing(t *testing.T, s clerkgate.UserStore) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
