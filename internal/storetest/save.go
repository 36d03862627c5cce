package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
)

func testGet(t *testing.T, s clerkgate.UserStore) {
	saved, _ := mustSave(t, s, newUser("user_get", 1))
	byID, err := s.UserByID(t.Context(), saved.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	sameUser(t, byID, saved)
	byClerk, err := s.UserByClerkID(t.Context(), "user_get")
	if err != nil {
		t.Fatalf("UserByClerkID: %v", err)
	}
	sameUser(t, byClerk, saved)
	sameContent(t, saved, newUser("user_get", 1))
}

func testNotFound(t *testing.T, s clerkgate.UserStore) {
	mustSave(t, s, newUser("user_present", 1))
	for _, tc := range []struct {
		name string
		get  func() (*clerkgate.User, error)
	}{
		{"UserByID", func() (*clerkgate.User, error) { return s.UserByID(t.Context(), "usr_missing") }},
		{"UserByID empty", func() (*clerkgate.User, error) { return s.UserByID(t.Context(), "") }},
		{"UserByClerkID", func() (*clerkgate.User, error) { return s.UserByClerkID(t.Context(), "user_missing") }},
		{"UserByClerkID empty", func() (*clerkgate.User, error) { return s.UserByClerkID(t.Context(), "") }},
		{"UserByID with a Clerk id", func() (*clerkgate.User, error) { return s.UserByID(t.Context(), "user_present") }},
	} {
		u, err := tc.get()
		if u != nil {
			t.Errorf("%s: got a user %+v", tc.name, u)
		}
		wantCode(t, err, clerkgate.CodeNotFound)
		if msg := clerkgate.ErrorMessage(err); msg != "user not found" {
			t.Errorf("%s: message %q, want %q", tc.name, msg, "user not found")
		}
	}
}

func testInsertGeneratesID(t *testing.T, s clerkgate.UserStore) {
	before := time.Now()
	a, changed := mustSave(t, s, newUser("user_a", 1))
	b, _ := mustSave(t, s, newUser("user_b", 1))
	after := time.Now()
	if !changed {
		t.Error("insert reported changed=false")
	}
	for _, u := range []*clerkgate.User{a, b} {
		if !strings.HasPrefix(u.ID, "usr_") || len(u.ID) != 30 {
			t.Errorf("generated id %q, want usr_ and 26 characters", u.ID)
		}
		around(t, "CreatedAt", u.CreatedAt, before, after)
		around(t, "UpdatedAt", u.UpdatedAt, before, after)
	}
	if a.ID == b.ID {
		t.Errorf("two users got the same id %q", a.ID)
	}
}

func testInsertKeepsGiven(t *testing.T, s clerkgate.UserStore) {
	u := newUser("user_legacy", 1)
	u.ID = "legacy-42"
	u.CreatedAt = time.Date(2019, 1, 2, 3, 4, 5, 678_901_234, time.FixedZone("X", 5*3600))
	got, changed := mustSave(t, s, u)
	if !changed || got.ID != "legacy-42" {
		t.Fatalf("got id %q changed %v, want legacy-42 true", got.ID, changed)
	}
	want := u.CreatedAt.Truncate(time.Millisecond)
	if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want)
	}
}

func testInsertNeedsClerkID(t *testing.T, s clerkgate.UserStore) {
	u := newUser("", 1)
	_, _, err := s.SaveClerkUser(t.Context(), u)
	wantCode(t, err, clerkgate.CodeInvalidRequest)
	_, _, err = s.SaveClerkUser(t.Context(), nil)
	wantCode(t, err, clerkgate.CodeInvalidRequest)
}

// testInvalidText: text no engine can hold alike (NUL, invalid UTF-8) is
// CodeInvalidRequest when saved, and not found when looked up.
func testInvalidText(t *testing.T, s clerkgate.UserStore) {
	for _, bad := range []string{"a\x00b", "\xff\xfe"} {
		for _, set := range []func(u *clerkgate.User){
			func(u *clerkgate.User) { u.ClerkUserID = bad },
			func(u *clerkgate.User) { u.ID = bad },
			func(u *clerkgate.User) { u.Email = bad },
			func(u *clerkgate.User) { u.FirstName = bad },
			func(u *clerkgate.User) { u.Role = bad },
		} {
			u := newUser("user_text", 1)
			set(u)
			_, _, err := s.SaveClerkUser(t.Context(), u)
			wantCode(t, err, clerkgate.CodeInvalidRequest)
		}
		_, err := s.UserByID(t.Context(), bad)
		wantCode(t, err, clerkgate.CodeNotFound)
		_, err = s.UserByClerkID(t.Context(), bad)
		wantCode(t, err, clerkgate.CodeNotFound)
		_, _, err = s.ListUsers(t.Context(), clerkgate.UserQuery{Query: bad})
		wantCode(t, err, clerkgate.CodeInvalidRequest)
		_, _, err = s.ListUsers(t.Context(), clerkgate.UserQuery{Role: bad})
		wantCode(t, err, clerkgate.CodeInvalidRequest)
	}
	// Unicode that is not ASCII is fine.
	u := newUser("user_text", 1)
	u.FirstName, u.LastName = "Zoë", "Ångström 日本"
	got, _ := mustSave(t, s, u)
	sameContent(t, got, u)
}

func testUpdateNewer(t *testing.T, s clerkgate.UserStore) {
	first, _ := mustSave(t, s, newUser("user_up", 1))
	time.Sleep(2 * time.Millisecond)
	next := &clerkgate.User{
		ID:             "usr_ignored_on_update",
		ClerkUserID:    "user_up",
		Email:          "new@example.test",
		EmailVerified:  false,
		FirstName:      "New",
		LastName:       "Name",
		ImageURL:       "https://img.example.test/new.png",
		Role:           "admin",
		PublicMetadata: json.RawMessage(`{"role":"admin"}`),
		ExternalID:     "ext-new",
		Banned:         true,
		LastSignInAt:   base,
		ClerkUpdatedAt: 2,
		CreatedAt:      base.Add(-24 * time.Hour),
	}
	got, changed := mustSave(t, s, next)
	if !changed {
		t.Fatal("newer version reported changed=false")
	}
	sameContent(t, got, next)
	if got.ID != first.ID || !got.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("update changed ID/CreatedAt: %q %v, want %q %v", got.ID, got.CreatedAt, first.ID, first.CreatedAt)
	}
	if !got.UpdatedAt.After(first.UpdatedAt) {
		t.Errorf("UpdatedAt %v not after %v", got.UpdatedAt, first.UpdatedAt)
	}
	sameUser(t, mustGet(t, s, "user_up"), got)
}

func testUpdateClearsFields(t *testing.T, s clerkgate.UserStore) {
	mustSave(t, s, newUser("user_clear", 1))
	empty := &clerkgate.User{ClerkUserID: "user_clear", ClerkUpdatedAt: 2}
	got, changed := mustSave(t, s, empty)
	if !changed {
		t.Fatal("clearing update reported changed=false")
	}
	sameContent(t, got, empty)
	sameContent(t, mustGet(t, s, "user_clear"), empty)
	if got.PublicMetadata != nil {
		t.Errorf("PublicMetadata = %s, want nil", got.PublicMetadata)
	}
}

func testStaleIgnored(t *testing.T, s clerkgate.UserStore) {
	stored, _ := mustSave(t, s, newUser("user_stale", 5))
	old := newUser("user_stale", 3)
	old.FirstName = "Old"
	got, changed := mustSave(t, s, old)
	if changed {
		t.Error("older version reported changed=true")
	}
	sameUser(t, got, stored)
	sameUser(t, mustGet(t, s, "user_stale"), stored)
}

func testTieOverwrites(t *testing.T, s clerkgate.UserStore) {
	first, _ := mustSave(t, s, newUser("user_tie", 5))
	same, changed := mustSave(t, s, newUser("user_tie", 5))
	if changed {
		t.Error("replay of the stored version with the same content reported changed=true")
	}
	sameUser(t, same, first)

	tie := newUser("user_tie", 5)
	tie.Role = "admin"
	got, changed := mustSave(t, s, tie)
	if !changed {
		t.Fatal("same version with new content reported changed=false")
	}
	sameContent(t, got, tie)
	sameContent(t, mustGet(t, s, "user_tie"), tie)
}

func testTombstoneWins(t *testing.T, s clerkgate.UserStore) {
	live, _ := mustSave(t, s, newUser("user_del", 5))
	at := base.Add(time.Minute)
	// Clerk's user.deleted carries no version: the tombstone wins over a
	// live row of any version, and the stored version never goes down.
	got, changed := mustSave(t, s, tombstone("user_del", 1, at))
	if !changed || !got.Deleted() {
		t.Fatalf("tombstone: changed %v deleted %v, want true true", changed, got.Deleted())
	}
	want := tombstone("user_del", 5, at)
	sameContent(t, got, want)
	if got.ID != live.ID || !got.CreatedAt.Equal(live.CreatedAt) {
		t.Errorf("tombstone changed ID/CreatedAt")
	}
	stored := mustGet(t, s, "user_del")
	sameUser(t, stored, got)

	for _, later := range []*clerkgate.User{newUser("user_del", 9), newUser("user_del", 5), tombstone("user_del", 10, at.Add(time.Hour))} {
		again, changed := mustSave(t, s, later)
		if changed {
			t.Errorf("save of v%d over a tombstone reported changed=true", later.ClerkUpdatedAt)
		}
		sameUser(t, again, stored)
	}
	sameUser(t, mustGet(t, s, "user_del"), stored)
	byID, err := s.UserByID(t.Context(), live.ID)
	if err != nil || !byID.Deleted() {
		t.Fatalf("UserByID of a tombstone: %v, deleted %v", err, byID != nil && byID.Deleted())
	}
}

func testTombstoneBeforeCreate(t *testing.T, s clerkgate.UserStore) {
	at := base
	ts, changed := mustSave(t, s, tombstone("user_early_del", 0, at))
	if !changed || !ts.Deleted() || ts.ID == "" {
		t.Fatalf("tombstone of an unknown user: changed %v deleted %v id %q", changed, ts.Deleted(), ts.ID)
	}
	got, changed := mustSave(t, s, newUser("user_early_del", 7))
	if changed {
		t.Error("user.created after user.deleted reported changed=true")
	}
	sameUser(t, got, ts)
}

func testUniqueConflict(t *testing.T, s clerkgate.UserStore) {
	a := newUser("user_one", 1)
	a.ID = "usr_dup"
	mustSave(t, s, a)
	b := newUser("user_two", 1)
	b.ID = "usr_dup"
	got, changed, err := s.SaveClerkUser(t.Context(), b)
	wantCode(t, err, clerkgate.CodeConflict)
	if got != nil || changed {
		t.Errorf("conflict returned %v, %v", got, changed)
	}
	_, err = s.UserByClerkID(t.Context(), "user_two")
	wantCode(t, err, clerkgate.CodeNotFound)
	if u := mustGet(t, s, "user_one"); u.ID != "usr_dup" {
		t.Errorf("first user's id became %q", u.ID)
	}
}

func testMetadata(t *testing.T, s clerkgate.UserStore) {
	tests := []struct {
		name string
		meta json.RawMessage
	}{
		{"nil", nil},
		{"empty object", json.RawMessage(`{}`)},
		{"nested", json.RawMessage(`{"role":"admin","orgs":[{"id":"org_1","roles":["a","b"]}],"flags":{"beta":true,"n":12.5,"none":null},"name":"Zoë 🚀 \"q\""}`)},
		{"array", json.RawMessage(` [1, 2, 3] `)},
		{"big number", json.RawMessage(`{"id":12345678901234567}`)},
	}
	for i, tc := range tests {
		u := newUser("user_meta_"+tc.name, 1)
		u.PublicMetadata = tc.meta
		got, _ := mustSave(t, s, u)
		if !sameJSON(got.PublicMetadata, tc.meta) {
			t.Errorf("%d %s: saved metadata %s, want %s", i, tc.name, got.PublicMetadata, tc.meta)
		}
		if read := mustGet(t, s, u.ClerkUserID); !sameJSON(read.PublicMetadata, tc.meta) {
			t.Errorf("%d %s: read metadata %s, want %s", i, tc.name, read.PublicMetadata, tc.meta)
		}
	}
	bad := newUser("user_meta_bad", 1)
	bad.PublicMetadata = json.RawMessage(`{"role":`)
	_, _, err := s.SaveClerkUser(t.Context(), bad)
	wantCode(t, err, clerkgate.CodeInvalidRequest)
}

func testTimes(t *testing.T, s clerkgate.UserStore) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	u := newUser("user_times", 1)
	u.LastSignInAt = time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, zone)
	u.CreatedAt = time.Date(2001, 9, 9, 1, 46, 40, 123_456_789, zone)
	saved, _ := mustSave(t, s, u)
	read := mustGet(t, s, "user_times")
	for _, got := range []*clerkgate.User{saved, read} {
		for _, f := range []struct {
			name      string
			got, want time.Time
		}{
			{"LastSignInAt", got.LastSignInAt, u.LastSignInAt.Truncate(time.Millisecond)},
			{"CreatedAt", got.CreatedAt, u.CreatedAt.Truncate(time.Millisecond)},
		} {
			if !f.got.Equal(f.want) || f.got.Location() != time.UTC {
				t.Errorf("%s = %v, want %v in UTC", f.name, f.got, f.want)
			}
		}
		if got.UpdatedAt.Location() != time.UTC || got.UpdatedAt.Nanosecond()%int(time.Millisecond) != 0 {
			t.Errorf("UpdatedAt = %v, want UTC at ms precision", got.UpdatedAt)
		}
		if !got.DeletedAt.IsZero() {
			t.Errorf("DeletedAt = %v, want zero", got.DeletedAt)
		}
	}
	never := newUser("user_never", 1)
	never.LastSignInAt = time.Time{}
	if got, _ := mustSave(t, s, never); !got.LastSignInAt.IsZero() {
		t.Errorf("LastSignInAt of a user who never signed in = %v, want zero", got.LastSignInAt)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 1_999_999, zone)
	ts, _ := mustSave(t, s, tombstone("user_times", 2, at))
	if !ts.DeletedAt.Equal(at.Truncate(time.Millisecond)) || ts.DeletedAt.Location() != time.UTC {
		t.Errorf("DeletedAt = %v, want %v in UTC", ts.DeletedAt, at.Truncate(time.Millisecond))
	}
}
