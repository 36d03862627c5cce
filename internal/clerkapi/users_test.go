package clerkapi_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

func TestGetUserMapsEveryField(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	created := MustUser(t, srv, clerkemu.UserParams{
		Email:      "alice@example.com",
		Username:   "alice",
		FirstName:  "Alice",
		LastName:   "Liddell",
		ExternalID: "legacy-42",
		PublicMetadata: map[string]any{
			"role":  "admin",
			"prefs": map[string]any{"theme": "dark", "n": 3},
		},
	})
	MustSession(t, srv, created.ID, "") // sets last_sign_in_at and last_active_at
	want, err := srv.GetUser(created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want.LastSignInAt == nil || want.LastActiveAt == nil {
		t.Fatal("emulator set no last_sign_in_at / last_active_at")
	}

	got, details, err := c.GetUser(Ctx(t), created.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	wantUser := &clerkgate.User{
		ClerkUserID:    created.ID,
		Email:          "alice@example.com",
		EmailVerified:  true,
		FirstName:      "Alice",
		LastName:       "Liddell",
		ImageURL:       want.ImageURL,
		PublicMetadata: json.RawMessage(`{"prefs":{"n":3,"theme":"dark"},"role":"admin"}`),
		ExternalID:     "legacy-42",
		LastSignInAt:   time.UnixMilli(*want.LastSignInAt).UTC(),
		ClerkUpdatedAt: want.UpdatedAt,
		CreatedAt:      time.UnixMilli(want.CreatedAt).UTC(),
	}
	if want.ImageURL == "" {
		t.Fatal("emulator user has no image_url")
	}
	if !reflect.DeepEqual(got, wantUser) {
		t.Errorf("GetUser:\n got %+v\nwant %+v", got, wantUser)
	}
	wantDetails := &clerkapi.UserDetails{
		PublicMetadata: map[string]any{"role": "admin", "prefs": map[string]any{"theme": "dark", "n": float64(3)}},
		Username:       "alice",
		LastActiveAt:   time.UnixMilli(*want.LastActiveAt).UTC(),
	}
	if !reflect.DeepEqual(details, wantDetails) {
		t.Errorf("details:\n got %+v\nwant %+v", details, wantDetails)
	}
}

// TestGetUserBannedLocked covers the flags the emulator's Go helper cannot
// set. (The emulator has no unverified addresses: TestConvertUser covers
// those.)
func TestGetUserBannedLocked(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	id := MustPostUser(t, srv, map[string]any{
		"email_address": []string{"bob@example.com"},
		"banned":        true,
		"locked":        true,
	})
	got, details, err := c.GetUser(Ctx(t), id)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if got.Email != "bob@example.com" || !got.EmailVerified {
		t.Errorf("email = %q verified %v, want bob@example.com verified", got.Email, got.EmailVerified)
	}
	if !got.Banned || !details.Locked {
		t.Errorf("banned %v locked %v, want both", got.Banned, details.Locked)
	}
	if !got.LastSignInAt.IsZero() || !details.LastActiveAt.IsZero() {
		t.Errorf("never signed in, got last sign-in %v, last active %v", got.LastSignInAt, details.LastActiveAt)
	}
	if got.FirstName != "" || got.ExternalID != "" {
		t.Errorf("unset fields not empty: %+v", got)
	}
}

func TestGetUserNotFound(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	u := MustUser(t, srv, clerkemu.UserParams{Email: "gone@example.com"})
	if err := srv.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"user_doesnotexist", u.ID, "", "../jwks", "user_1/ban", "user%2F1"} {
		_, _, err := c.GetUser(Ctx(t), id)
		WantCode(t, err, clerkgate.CodeNotFound)
		if msg := clerkgate.ErrorMessage(err); msg != "user not found in Clerk" {
			t.Errorf("GetUser(%q) message = %q", id, msg)
		}
	}
}

func TestConvertUser(t *testing.T) {
	t.Parallel()
	if clerkapi.ConvertUser(nil) != nil {
		t.Error("ConvertUser(nil) != nil")
	}
	ms := int64(1700000000123)
	tests := []struct {
		name string
		in   clerk.User
		want clerkgate.User
	}{
		{
			name: "no primary address, null metadata",
			in: clerk.User{ID: "user_1", PublicMetadata: json.RawMessage("null"), CreatedAt: ms, UpdatedAt: ms + 1,
				EmailAddresses: []*clerk.EmailAddress{{ID: "idn_1", EmailAddress: "a@example.com"}}},
			want: clerkgate.User{ClerkUserID: "user_1", CreatedAt: time.UnixMilli(ms).UTC(), ClerkUpdatedAt: ms + 1},
		},
		{
			name: "primary among several, verified; metadata compacted",
			in: clerk.User{ID: "user_2", PrimaryEmailAddressID: clerk.String("idn_2"), CreatedAt: ms,
				PublicMetadata: json.RawMessage(" {\"a\": [1, 2]}\n"), LastSignInAt: clerk.Int64(ms),
				EmailAddresses: []*clerk.EmailAddress{
					{ID: "idn_1", EmailAddress: "old@example.com", Verification: &clerk.Verification{Status: "verified"}},
					{ID: "idn_2", EmailAddress: "new@example.com", Verification: &clerk.Verification{Status: "verified"}},
				}},
			want: clerkgate.User{ClerkUserID: "user_2", Email: "new@example.com", EmailVerified: true,
				PublicMetadata: json.RawMessage(`{"a":[1,2]}`), CreatedAt: time.UnixMilli(ms).UTC(),
				LastSignInAt: time.UnixMilli(ms).UTC()},
		},
		{
			name: "primary unverified",
			in: clerk.User{ID: "user_4", PrimaryEmailAddressID: clerk.String("idn_4"), CreatedAt: ms,
				EmailAddresses: []*clerk.EmailAddress{{ID: "idn_4", EmailAddress: "u@example.com",
					Verification: &clerk.Verification{Status: "unverified"}}}},
			want: clerkgate.User{ClerkUserID: "user_4", Email: "u@example.com", CreatedAt: time.UnixMilli(ms).UTC()},
		},
		{
			name: "no verification object, empty metadata",
			in: clerk.User{ID: "user_3", PrimaryEmailAddressID: clerk.String("idn_3"), CreatedAt: ms,
				PublicMetadata: json.RawMessage(`{}`),
				EmailAddresses: []*clerk.EmailAddress{nil, {ID: "idn_3", EmailAddress: "x@example.com"}}},
			want: clerkgate.User{ClerkUserID: "user_3", Email: "x@example.com", PublicMetadata: json.RawMessage(`{}`),
				CreatedAt: time.UnixMilli(ms).UTC()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := clerkapi.ConvertUser(&tt.in)
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("ConvertUser:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestListUsersPages(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	var want []string
	for i := range 7 {
		u := MustUser(t, srv, clerkemu.UserParams{
			Email:     fmt.Sprintf("user%d@example.com", i),
			CreatedAt: time.Date(2024, 1, 1, 0, 0, i, 0, time.UTC),
		})
		want = append(want, u.ID)
	}
	ctx := Ctx(t)

	var byOffset []string
	for offset := 0; ; offset += 3 {
		page, err := c.ListUsers(ctx, 3, offset)
		if err != nil {
			t.Fatalf("ListUsers(3, %d): %v", offset, err)
		}
		for _, u := range page {
			byOffset = append(byOffset, u.ClerkUserID)
			if u.Email == "" || u.CreatedAt.IsZero() {
				t.Errorf("user %s not converted: %+v", u.ClerkUserID, u)
			}
		}
		if len(page) < 3 {
			break
		}
	}
	if !slices.Equal(byOffset, want) {
		t.Errorf("ListUsers by offset = %v, want %v (oldest first)", byOffset, want)
	}

	var byCursor []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		page, err := c.ListUsersAfter(ctx, 2, after)
		if err != nil {
			t.Fatalf("ListUsersAfter(2, %q): %v", after, err)
		}
		for _, u := range page {
			byCursor = append(byCursor, u.ClerkUserID)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ClerkUserID
	}
	if !slices.Equal(byCursor, want) {
		t.Errorf("ListUsersAfter walk = %v, want %v", byCursor, want)
	}

	for _, bad := range []struct{ limit, offset int }{{0, 0}, {501, 0}, {-1, 0}, {10, -1}} {
		_, err := c.ListUsers(ctx, bad.limit, bad.offset)
		WantCode(t, err, clerkgate.CodeInvalidRequest)
	}
	page, err := c.ListUsers(ctx, clerkapi.MaxUsersPage, 0)
	if err != nil || len(page) != len(want) {
		t.Errorf("ListUsers(max) = %d users, %v; want %d", len(page), err, len(want))
	}
}

func TestUpdateUserMetadataDeepMerges(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	u := MustUser(t, srv, clerkemu.UserParams{
		Email: "meta@example.com",
		PublicMetadata: map[string]any{
			"role":  "member",
			"prefs": map[string]any{"theme": "dark", "lang": "en"},
			"drop":  1,
		},
	})
	ctx := Ctx(t)
	got, err := c.UpdateUserMetadata(ctx, u.ID, json.RawMessage(`{"prefs":{"lang":"de"},"drop":null,"new":true}`))
	if err != nil {
		t.Fatalf("UpdateUserMetadata: %v", err)
	}
	want := map[string]any{"role": "member", "prefs": map[string]any{"theme": "dark", "lang": "de"}, "new": true}
	var merged map[string]any
	if err := json.Unmarshal(got.PublicMetadata, &merged); err != nil || !reflect.DeepEqual(merged, want) {
		t.Errorf("returned metadata = %s (%v), want %v", got.PublicMetadata, err, want)
	}
	again, details, err := c.GetUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(details.PublicMetadata, want) || string(again.PublicMetadata) != string(got.PublicMetadata) {
		t.Errorf("stored metadata = %s, want %v", again.PublicMetadata, want)
	}
	if again.ClerkUpdatedAt < u.UpdatedAt {
		t.Errorf("updated_at went back: %d < %d", again.ClerkUpdatedAt, u.UpdatedAt)
	}

	for _, bad := range []string{``, `null`, `[1]`, `"x"`, `{"a":`} {
		_, err := c.UpdateUserMetadata(ctx, u.ID, json.RawMessage(bad))
		WantCode(t, err, clerkgate.CodeInvalidRequest)
	}
	_, err = c.UpdateUserMetadata(ctx, "user_missing", json.RawMessage(`{}`))
	WantCode(t, err, clerkgate.CodeNotFound)
}

func TestBanUnbanDelete(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	u := MustUser(t, srv, clerkemu.UserParams{Email: "carol@example.com"})
	s := MustSession(t, srv, u.ID, "")
	ctx := Ctx(t)

	if err := c.BanUser(ctx, u.ID); err != nil {
		t.Fatalf("BanUser: %v", err)
	}
	got, _, err := c.GetUser(ctx, u.ID)
	if err != nil || !got.Banned {
		t.Fatalf("after ban: banned %v, %v", got != nil && got.Banned, err)
	}
	if sess, err := c.GetSession(ctx, s.ID); err != nil || sess.Status == clerkapi.SessionActive {
		t.Errorf("session after ban: %+v, %v; want it ended", sess, err)
	}
	if err := c.UnbanUser(ctx, u.ID); err != nil {
		t.Fatalf("UnbanUser: %v", err)
	}
	if got, _, err := c.GetUser(ctx, u.ID); err != nil || got.Banned {
		t.Fatalf("after unban: %+v, %v", got, err)
	}
	if err := c.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, _, err = c.GetUser(ctx, u.ID)
	WantCode(t, err, clerkgate.CodeNotFound)
	WantCode(t, c.DeleteUser(ctx, u.ID), clerkgate.CodeNotFound)
	WantCode(t, c.BanUser(ctx, u.ID), clerkgate.CodeNotFound)
	WantCode(t, c.UnbanUser(ctx, "no/such"), clerkgate.CodeNotFound)
}
