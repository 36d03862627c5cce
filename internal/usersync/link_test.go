package usersync_test

import (
	"context"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/usersync"
)

// TestWebhookLinksLegacyUsers: a user.created for a Clerk user that a
// local user without a Clerk id is (by external_id, as import-legacy
// creates them, or by verified email, as when a legacy user signs up)
// links that local user, who keeps its id, rather than adding a second row.
func TestWebhookLinksLegacyUsers(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		ctx := context.Background()
		for _, u := range []*clerkgate.User{
			{ID: "1001", Email: "ann@legacy.test", Role: "admin", PasswordDigest: "$2a$04$x"},
			{ID: "1002", Email: "user_bob@example.test", EmailVerified: true},
			{ID: "1003", Email: "user_cat@example.test"},
			{ID: "1004", Email: "user_dan@example.test", DeletedAt: time.UnixMilli(baseMillis).UTC()},
		} {
			if _, err := st.CreateLocalUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		// By external_id: the address differs, the id decides.
		f.mustDeliver(t, usersync.ResultProcessed, event(t, "user.created", clerkUser("user_ann", baseMillis,
			set("external_id", "1001"), set("public_metadata", map[string]any{"role": "admin"}))))
		// By verified primary email.
		f.mustDeliver(t, usersync.ResultProcessed, event(t, "user.created", clerkUser("user_bob", baseMillis)))
		// An unverified address links nobody.
		f.mustDeliver(t, usersync.ResultProcessed, event(t, "user.created", clerkUser("user_cat", baseMillis,
			set("email_addresses", []any{map[string]any{"id": "idn_cat", "object": "email_address",
				"email_address": "user_cat@example.test", "verification": map[string]any{"status": "unverified"},
				"linked_to": []any{}, "created_at": baseMillis, "updated_at": baseMillis}}),
			set("primary_email_address_id", "idn_cat"))))
		// A deleted legacy user is not brought back.
		f.mustDeliver(t, usersync.ResultProcessed, event(t, "user.created", clerkUser("user_dan", baseMillis)))

		for clerkID, localID := range map[string]string{"user_ann": "1001", "user_bob": "1002"} {
			u := mustUser(t, st, clerkID)
			if u.ID != localID {
				t.Errorf("%s stored as %s, want the legacy user %s", clerkID, u.ID, localID)
			}
		}
		if u := mustUser(t, st, "user_ann"); u.Role != "admin" || u.ExternalID != "1001" {
			t.Errorf("linked user_ann: role %q, external id %q", u.Role, u.ExternalID)
		}
		for _, clerkID := range []string{"user_cat", "user_dan"} {
			if u := mustUser(t, st, clerkID); u.ID == "1003" || u.ID == "1004" {
				t.Errorf("%s was linked to %s", clerkID, u.ID)
			}
		}
		if n := len(allUsers(t, st)); n != 6 {
			t.Errorf("%d rows, want 6 (4 legacy, 2 new)", n)
		}
		// A later update of a linked user changes the same row.
		f.mustDeliver(t, usersync.ResultProcessed, event(t, "user.updated", clerkUser("user_bob", baseMillis+10,
			set("first_name", "Robert"))))
		if u := mustUser(t, st, "user_bob"); u.ID != "1002" || u.FirstName != "Robert" {
			t.Errorf("user_bob after an update: %s %q", u.ID, u.FirstName)
		}
	})
}
