package usersync_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/usersync"
)

func TestWebhookCreatedThenUpdated(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		const id = "user_created1"

		f.mustDeliver(t, usersync.ResultProcessed, event(t, "user.created", clerkUser(id, baseMillis,
			set("public_metadata", map[string]any{"role": "admin", "plan": "pro"}),
			set("external_id", "legacy-42"))))
		created := mustUser(t, st, id)
		want := clerkgate.User{
			ID: created.ID, ClerkUserID: id, Email: id + "@example.test", EmailVerified: true,
			FirstName: "Ada", LastName: "Lovelace", ImageURL: "https://img.clerk.test/" + id + ".png",
			Role: "admin", ExternalID: "legacy-42", ClerkUpdatedAt: baseMillis,
			LastSignInAt: time.UnixMilli(baseMillis - 60_000).UTC(),
			CreatedAt:    time.UnixMilli(baseMillis - 3_600_000).UTC(),
		}
		checkUser(t, created, want, `{"role":"admin","plan":"pro"}`)
		if !strings.HasPrefix(created.ID, "usr_") {
			t.Errorf("local id %q, want a new usr_ id", created.ID)
		}

		// The role follows public_metadata.role both ways; the local id
		// and created_at stay.
		f.mustDeliver(t, usersync.ResultProcessed, event(t, "user.updated", clerkUser(id, baseMillis+10,
			set("first_name", "Augusta"), set("external_id", "legacy-42"))))
		want.FirstName, want.Role, want.ClerkUpdatedAt = "Augusta", "member", baseMillis+10
		checkUser(t, mustUser(t, st, id), want, `{}`)

		f.mustDeliver(t, usersync.ResultProcessed, event(t, "user.updated", clerkUser(id, baseMillis+20,
			set("first_name", "Augusta"), set("external_id", "legacy-42"),
			set("public_metadata", map[string]any{"role": "admin"}))))
		want.Role, want.ClerkUpdatedAt = "admin", baseMillis+20
		checkUser(t, mustUser(t, st, id), want, `{"role":"admin"}`)

		// Nothing else was written: one row, three messages recorded.
		if n := len(allUsers(t, st)); n != 1 {
			t.Errorf("%d users stored, want 1", n)
		}
		wantObserved(t, f, "user.created processed", "user.updated processed", "user.updated processed")
		if got := f.deny.Calls(); !slices.Equal(got, []string{"allow_user " + id, "allow_user " + id, "allow_user " + id}) {
			t.Errorf("deny list calls %v, want allow_user three times", got)
		}
	})
}

// checkUser compares the synchronised fields of got with want, and its
// public metadata with meta.
func checkUser(t *testing.T, got *clerkgate.User, want clerkgate.User, meta string) {
	t.Helper()
	if !sameJSON(got.PublicMetadata, []byte(meta)) {
		t.Errorf("public metadata %s, want %s", got.PublicMetadata, meta)
	}
	g := *got
	g.PublicMetadata, g.UpdatedAt = nil, time.Time{}
	if !equalUsers(g, want) {
		t.Errorf("stored user\n got %+v\nwant %+v", g, want)
	}
}

func equalUsers(a, b clerkgate.User) bool {
	return a.ID == b.ID && a.ClerkUserID == b.ClerkUserID && a.Email == b.Email && a.EmailVerified == b.EmailVerified &&
		a.FirstName == b.FirstName && a.LastName == b.LastName && a.ImageURL == b.ImageURL && a.Role == b.Role &&
		a.ExternalID == b.ExternalID && a.Banned == b.Banned && a.LastSignInAt.Equal(b.LastSignInAt) &&
		a.ClerkUpdatedAt == b.ClerkUpdatedAt && a.CreatedAt.Equal(b.CreatedAt) && a.DeletedAt.Equal(b.DeletedAt)
}

// wantObserved fails t unless the syncer observed exactly want, in order.
func wantObserved(t *testing.T, f *fixture, want ...string) {
	t.Helper()
	if got := f.obs.Got(); !slices.Equal(got, want) {
		t.Errorf("observed %q, want %q", got, want)
	}
}

// TestWebhookOrdering: whatever the order of arrival, the newest version
// wins; an update for a user never seen creates it.
func TestWebhookOrdering(t *testing.T) {
	t.Parallel()
	type delivery struct {
		typ     string
		version int64
		result  string
	}
	tests := []struct {
		name string
		seq  []delivery
		want int64 // the version stored at the end
	}{
		{"in order", []delivery{
			{"user.created", 1, "processed"}, {"user.updated", 2, "processed"}, {"user.updated", 3, "processed"}}, 3},
		{"newer first", []delivery{
			{"user.updated", 3, "processed"}, {"user.updated", 2, "stale"}, {"user.created", 1, "stale"}}, 3},
		{"interleaved", []delivery{
			{"user.created", 1, "processed"}, {"user.updated", 3, "processed"}, {"user.updated", 2, "stale"}}, 3},
		{"update of an unknown user", []delivery{{"user.updated", 5, "processed"}}, 5},
		{"created after its update", []delivery{
			{"user.updated", 2, "processed"}, {"user.created", 1, "stale"}}, 2},
		{"same version again", []delivery{
			{"user.updated", 2, "processed"}, {"user.updated", 2, "processed"}}, 2},
	}
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		for i, tc := range tests {
			id := fmt.Sprintf("user_order%d", i)
			for _, d := range tc.seq {
				f.mustDeliver(t, d.result, event(t, d.typ, clerkUser(id, baseMillis+d.version,
					set("first_name", fmt.Sprint("v", d.version)))))
			}
			u := mustUser(t, st, id)
			if u.ClerkUpdatedAt != baseMillis+tc.want || u.FirstName != fmt.Sprint("v", tc.want) {
				t.Errorf("%s: stored version %d %q, want %d", tc.name, u.ClerkUpdatedAt-baseMillis, u.FirstName, tc.want)
			}
		}
	})
}

// TestWebhookConcurrentVersions: versions of one user delivered at once,
// in random order, converge on the newest.
func TestWebhookConcurrentVersions(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		f := newFixture(db.open(t))
		const id, n = "user_concurrent", 24
		versions := rand.Perm(n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, v := range versions {
			wg.Go(func() {
				body := event(t, "user.updated", clerkUser(id, baseMillis+int64(v), set("first_name", fmt.Sprint("v", v))))
				if _, err := f.deliver(t, newMsgID(), body); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("HandleWebhook: %v", err)
		}
		u := mustUser(t, f.store, id)
		if u.ClerkUpdatedAt != baseMillis+n-1 || u.FirstName != fmt.Sprint("v", n-1) {
			t.Errorf("stored version %d %q, want the newest, %d", u.ClerkUpdatedAt-baseMillis, u.FirstName, n-1)
		}
	})
}

func TestWebhookUserDeleted(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		const id = "user_deleted1"
		f.mustDeliver(t, "processed", event(t, "user.created", clerkUser(id, baseMillis,
			set("public_metadata", map[string]any{"role": "admin"}), set("external_id", "ext-1"))))
		before := mustUser(t, st, id)
		if f.deny.Denied("", id) {
			t.Fatal("a live user is denied")
		}

		f.mustDeliver(t, "processed", event(t, "user.deleted", map[string]any{"object": "user", "id": id, "deleted": true}))
		got := mustUser(t, st, id)
		switch {
		case got.ID != before.ID:
			t.Errorf("tombstone has id %s, want the row's id %s", got.ID, before.ID)
		case !got.Deleted():
			t.Errorf("no tombstone: %+v", got)
		case got.Email != "" || got.FirstName != "" || got.LastName != "" || got.ImageURL != "" ||
			len(got.PublicMetadata) != 0 || got.ExternalID != "":
			t.Errorf("personal data kept in the tombstone: %+v", got)
		}
		if !f.deny.Denied("", id) || !slices.Contains(f.deny.Calls(), "deny_user "+id) {
			t.Errorf("the deleted user is not denied: calls %v", f.deny.Calls())
		}
		if evs := securityEvents(t, st, clerkgate.EventUserDeleted); len(evs) != 1 || evs[0].UserID != before.ID {
			t.Errorf("user_deleted events %+v, want one for %s", evs, before.ID)
		}

		// Nothing that arrives later brings the user back: older or newer
		// updates, a late user.created, the deletion again.
		for _, tc := range []struct {
			typ    string
			data   any
			result string
		}{
			{"user.updated", clerkUser(id, baseMillis-1), "stale"},
			{"user.updated", clerkUser(id, baseMillis+1), "stale"},
			{"user.created", clerkUser(id, baseMillis), "stale"},
			{"user.updated", clerkUser(id, time.Now().Add(time.Hour).UnixMilli()), "stale"},
			{"user.deleted", map[string]any{"object": "user", "id": id, "deleted": true}, "duplicate"},
		} {
			f.mustDeliver(t, tc.result, event(t, tc.typ, tc.data))
		}
		if after := mustUser(t, st, id); !after.Deleted() || after.Email != "" || !after.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("the tombstone changed: %+v", after)
		}
		if len(securityEvents(t, st, clerkgate.EventUserDeleted)) != 1 {
			t.Error("a second user_deleted event for a repeated deletion")
		}

		// A deletion of a user never seen is a tombstone too: the late
		// user.created loses to it.
		const early = "user_deletedfirst"
		f.mustDeliver(t, "processed", event(t, "user.deleted", map[string]any{"object": "user", "id": early, "deleted": true}))
		f.mustDeliver(t, "stale", event(t, "user.created", clerkUser(early, baseMillis)))
		if u := mustUser(t, st, early); !u.Deleted() || u.Email != "" {
			t.Errorf("user.created after user.deleted: %+v", u)
		}
	})
}

func TestWebhookBan(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		const id = "user_banned1"
		f.mustDeliver(t, "processed", event(t, "user.created", clerkUser(id, baseMillis)))
		f.mustDeliver(t, "processed", event(t, "user.updated", clerkUser(id, baseMillis+1, set("banned", true))))
		if !mustUser(t, st, id).Banned || !f.deny.Denied("sess_any", id) {
			t.Fatalf("banned user not stored as banned or not denied; calls %v", f.deny.Calls())
		}
		// An older version that predates the ban changes nothing.
		f.mustDeliver(t, "stale", event(t, "user.updated", clerkUser(id, baseMillis)))
		if !f.deny.Denied("sess_any", id) {
			t.Fatal("a stale unbanned version lifted the ban")
		}
		f.mustDeliver(t, "processed", event(t, "user.updated", clerkUser(id, baseMillis+2, set("banned", false))))
		if mustUser(t, st, id).Banned || f.deny.Denied("sess_any", id) {
			t.Fatal("unbanned user still banned or denied")
		}
		want := []string{"allow_user " + id, "deny_user " + id, "allow_user " + id}
		if got := f.deny.Calls(); !slices.Equal(got, want) {
			t.Errorf("deny list calls %v, want %v", got, want)
		}
	})
}

func TestWebhookSessionEnd(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		start := time.Now()
		for _, typ := range []string{"session.revoked", "session.ended", "session.removed"} {
			sid := "sess_" + strings.ReplaceAll(typ, ".", "")
			f.mustDeliver(t, "processed", event(t, typ, map[string]any{
				"object": "session", "id": sid, "user_id": "user_s1", "client_id": "client_1",
				"status": strings.TrimPrefix(typ, "session."), "expire_at": start.Add(7 * 24 * time.Hour).UnixMilli(),
				"last_active_at": baseMillis, "created_at": baseMillis, "updated_at": baseMillis,
				"user": clerkUser("user_s1", baseMillis),
			}))
			// At once in this process...
			if !f.deny.Denied(sid, "user_s1") {
				t.Errorf("%s: session not denied in process", typ)
			}
			// ...and durably, for the other instances.
			ds, err := st.SessionDenials(context.Background(), time.Now(), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(ds, func(d clerkgate.SessionDenial) bool { return d.SessionID == sid })
			if i < 0 {
				t.Fatalf("%s: no stored denial in %+v", typ, ds)
			}
			d := ds[i]
			if d.Reason != typ || d.ClerkUserID != "user_s1" || (!d.Until.IsZero() && d.Until.Before(start.Add(7*24*time.Hour))) {
				t.Errorf("%s: stored denial %+v", typ, d)
			}
		}
		// The user of the session is not touched (the embedded user is not
		// a user event).
		if _, err := st.UserByClerkID(context.Background(), "user_s1"); clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
			t.Errorf("a session event stored its user: %v", err)
		}
		// A session.created is nothing to deny.
		f.mustDeliver(t, "ignored", event(t, "session.created", map[string]any{"object": "session", "id": "sess_new", "user_id": "user_s1"}))
		if f.deny.Denied("sess_new", "user_s1") {
			t.Error("session.created denied the session")
		}
	})
}

func TestWebhookMemberships(t *testing.T) {
	t.Parallel()
	membership := func(role string, updated int64) map[string]any {
		return map[string]any{
			"object": "organization_membership", "id": "orgmem_1", "role": role, "permissions": []any{},
			"public_metadata": map[string]any{}, "private_metadata": map[string]any{},
			"organization": map[string]any{"object": "organization", "id": "org_1", "name": "Acme", "slug": "acme",
				"created_at": baseMillis, "updated_at": baseMillis},
			"public_user_data": map[string]any{"user_id": "user_m1", "first_name": "Ada", "identifier": "ada@example.test"},
			"created_at":       baseMillis, "updated_at": updated,
		}
	}
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		steps := []struct {
			typ    string
			role   string
			v      int64
			result string
			want   string // the live role afterwards, "" for none
		}{
			{"organizationMembership.created", "org:member", 1, "processed", "org:member"},
			{"organizationMembership.updated", "org:admin", 3, "processed", "org:admin"},
			{"organizationMembership.updated", "org:member", 2, "stale", "org:admin"},
			{"organizationMembership.deleted", "org:admin", 3, "processed", ""},
			{"organizationMembership.updated", "org:admin", 3, "stale", ""},
			{"organizationMembership.created", "org:member", 1, "stale", ""},
			{"organizationMembership.created", "org:member", 7, "processed", "org:member"},
		}
		for i, s := range steps {
			out, err := f.deliver(t, newMsgID(), event(t, s.typ, membership(s.role, baseMillis+s.v)))
			if err != nil || out.Result != s.result {
				t.Fatalf("step %d %s v%d: %+v, %v; want %s", i, s.typ, s.v, out, err, s.result)
			}
			ms, err := st.Memberships(context.Background(), "user_m1", false)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case s.want == "" && len(ms) != 0:
				t.Fatalf("step %d: memberships %+v, want none", i, ms)
			case s.want != "" && (len(ms) != 1 || ms[0].Role != s.want || ms[0].OrgID != "org_1" || ms[0].OrgSlug != "acme"):
				t.Fatalf("step %d: memberships %+v, want org_1 as %s", i, ms, s.want)
			}
		}
	})
}

func TestWebhookUnknownTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ, label string
	}{
		{"email.created", "email.created"},
		{"organization.created", "organization.created"},
		{"session.pending", "session.pending"},
		{"billing.paymentAttempt.created", "other"},
		{"user.renamed", "other"},
	}
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		var want []string
		for _, tc := range tests {
			id := newMsgID()
			out, err := f.deliver(t, id, event(t, tc.typ, map[string]any{"id": "x_1", "object": "thing", "anything": []any{1}}))
			if err != nil || out.Result != usersync.ResultIgnored || out.Type != tc.typ {
				t.Errorf("%s: %+v, %v; want ignored", tc.typ, out, err)
			}
			// Recorded, so that a retry is a duplicate.
			if !recorded(t, st, id) {
				t.Errorf("%s: no webhook record", tc.typ)
			}
			if out, err := f.deliver(t, id, event(t, tc.typ, map[string]any{"id": "x_1", "object": "thing", "anything": []any{1}})); err != nil || out.Result != "duplicate" {
				t.Errorf("%s again: %+v, %v; want duplicate", tc.typ, out, err)
			}
			want = append(want, tc.label+" ignored", tc.label+" duplicate")
		}
		if n := len(allUsers(t, st)); n != 0 {
			t.Errorf("%d users stored by unknown events", n)
		}
		wantObserved(t, f, want...)
	})
}

func TestWebhookDuplicateAndReplay(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		const id, msg = "user_dup1", "msg_dup_1"
		body := event(t, "user.created", clerkUser(id, baseMillis))
		if out, err := f.deliver(t, msg, body); err != nil || out.Result != "processed" {
			t.Fatalf("first delivery: %+v, %v", out, err)
		}
		first := mustUser(t, st, id)

		// Svix retries with the same id and body: nothing changes, no
		// security event.
		out, err := f.deliver(t, msg, body)
		if err != nil || out.Result != "duplicate" || out.Replay || out.Type != "user.created" {
			t.Fatalf("retry: %+v, %v; want duplicate", out, err)
		}
		if len(securityEvents(t, st, clerkgate.EventWebhookReplay)) != 0 {
			t.Error("a plain retry recorded a webhook_replay event")
		}

		// The same id with another body (a newer version, even another
		// type) changes nothing either, and is a replay.
		for _, other := range [][]byte{
			event(t, "user.updated", clerkUser(id, baseMillis+100, set("first_name", "Mallory"))),
			event(t, "user.deleted", map[string]any{"object": "user", "id": id, "deleted": true}),
		} {
			out, err := f.deliver(t, msg, other)
			if err != nil || out.Result != "duplicate" || !out.Replay {
				t.Fatalf("replay: %+v, %v; want duplicate and replay", out, err)
			}
		}
		if got := mustUser(t, st, id); !equalUsers(*got, *first) || !got.UpdatedAt.Equal(first.UpdatedAt) {
			t.Errorf("a duplicate changed the user:\n got %+v\nwant %+v", got, first)
		}
		evs := securityEvents(t, st, clerkgate.EventWebhookReplay)
		if len(evs) != 2 || evs[0].IP != "203.0.113.9" || !strings.Contains(string(evs[0].Detail), msg) {
			t.Errorf("webhook_replay events %+v, want 2 naming %s", evs, msg)
		}
		for _, e := range evs {
			if strings.Contains(string(e.Detail), "Mallory") {
				t.Errorf("a security event holds the body: %s", e.Detail)
			}
		}
		wantObserved(t, f, "user.created processed", "user.created duplicate", "user.created duplicate", "user.created duplicate")
	})
}

// TestWebhookInvalid: an event that cannot be used is invalid_request and
// stored nowhere, whatever is wrong with it.
// TestWebhookBanAndRoleEvents: a ban and a new role made in Clerk are
// security events (user_banned, role_changed), as when made through the
// admin API; an update that changes neither records none.
func TestWebhookBanAndRoleEvents(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		const id = "user_banrole"
		f.mustDeliver(t, "processed", event(t, "user.created", clerkUser(id, baseMillis)))
		f.mustDeliver(t, "processed", event(t, "user.updated", clerkUser(id, baseMillis+1, set("first_name", "Other"))))
		if n := len(securityEvents(t, st, clerkgate.EventRoleChanged)) + len(securityEvents(t, st, clerkgate.EventUserBanned)); n != 0 {
			t.Fatalf("%d events for a change of name", n)
		}
		f.mustDeliver(t, "processed", event(t, "user.updated", clerkUser(id, baseMillis+2,
			set("public_metadata", map[string]any{"role": "admin"}))))
		f.mustDeliver(t, "processed", event(t, "user.updated", clerkUser(id, baseMillis+3,
			set("public_metadata", map[string]any{"role": "admin"}), set("banned", true))))
		u := mustUser(t, st, id)
		roles := securityEvents(t, st, clerkgate.EventRoleChanged)
		if len(roles) != 1 || roles[0].UserID != u.ID || roles[0].IP != "203.0.113.9" {
			t.Errorf("role_changed events %+v, want one for %s", roles, u.ID)
		}
		if bans := securityEvents(t, st, clerkgate.EventUserBanned); len(bans) != 1 || bans[0].UserID != u.ID {
			t.Errorf("user_banned events %+v, want one for %s", bans, u.ID)
		}
	})
}

func TestWebhookInvalid(t *testing.T) {
	t.Parallel()
	user := func(mods ...func(map[string]any)) []byte {
		return event(t, "user.updated", clerkUser("user_bad", baseMillis, mods...))
	}
	del := func(key string) func(map[string]any) { return func(u map[string]any) { delete(u, key) } }
	tests := []struct {
		name  string
		body  []byte
		label string // the type label observed
	}{
		{"not JSON", []byte("not json"), "none"},
		{"empty body", []byte(""), "none"},
		{"JSON array", []byte(`[{"type":"user.updated"}]`), "none"},
		{"JSON string", []byte(`"user.updated"`), "none"},
		{"data missing", []byte(`{"type":"user.updated","object":"event"}`), "user.updated"},
		{"data null", []byte(`{"type":"user.updated","data":null}`), "user.updated"},
		{"data array", []byte(`{"type":"user.updated","data":[{"id":"user_bad"}]}`), "user.updated"},
		{"data string", []byte(`{"type":"user.updated","data":"user_bad"}`), "user.updated"},
		{"no type", []byte(`{"object":"event","data":{"id":"user_bad"}}`), "none"},
		{"type not a string", []byte(`{"type":7,"data":{"id":"user_bad"}}`), "none"},
		{"trailing garbage", append(user(), []byte(" {}")...), "none"},
		{"user id a number", event(t, "user.updated", map[string]any{"id": 7, "updated_at": baseMillis, "created_at": baseMillis}), "user.updated"},
		{"user without id", user(del("id")), "user.updated"},
		{"user id not a user id", user(set("id", "sess_123")), "user.updated"},
		{"user without updated_at", user(del("updated_at")), "user.updated"},
		{"user without created_at", user(del("created_at")), "user.updated"},
		{"updated_at a string", user(set("updated_at", "yesterday")), "user.updated"},
		{"updated_at fractional", user(set("updated_at", 1.5e12+0.5)), "user.updated"},
		{"banned a string", user(set("banned", "yes")), "user.updated"},
		{"email addresses an object", user(set("email_addresses", map[string]any{"x": 1})), "user.updated"},
		{"NUL in a name", user(set("first_name", "Ada\x00Lovelace")), "user.updated"},
		{"NUL in the user id", user(set("id", "user_\x00")), "user.updated"},
		{"deleted user without id", event(t, "user.deleted", map[string]any{"object": "user", "deleted": true}), "user.deleted"},
		{"deleted user id a number", event(t, "user.deleted", map[string]any{"id": 5, "deleted": true}), "user.deleted"},
		{"session without id", event(t, "session.revoked", map[string]any{"object": "session", "user_id": "user_1"}), "session.revoked"},
		{"session id NUL", event(t, "session.revoked", map[string]any{"id": "sess_\x00", "user_id": "user_1"}), "session.revoked"},
		{"session expire_at a string", event(t, "session.ended", map[string]any{"id": "sess_1", "expire_at": "soon"}), "session.ended"},
		{"membership without organization", event(t, "organizationMembership.created",
			map[string]any{"role": "org:admin", "public_user_data": map[string]any{"user_id": "user_1"}}), "organizationMembership.created"},
		{"membership without user", event(t, "organizationMembership.deleted",
			map[string]any{"role": "org:admin", "organization": map[string]any{"id": "org_1"}}), "organizationMembership.deleted"},
		{"membership org id NUL", event(t, "organizationMembership.updated", map[string]any{"role": "org:admin",
			"organization": map[string]any{"id": "org_\x00"}, "public_user_data": map[string]any{"user_id": "user_1"}, "updated_at": 1}),
			"organizationMembership.updated"},
		{"NUL in an unknown type", event(t, "email.\x00created", map[string]any{"id": "x"}), "other"},
	}
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		var want []string
		for _, tc := range tests {
			id := newMsgID()
			out, err := f.deliver(t, id, tc.body)
			if code := clerkgate.ErrorCode(err); code != clerkgate.CodeInvalidRequest || out.Result != usersync.ResultRejected {
				t.Errorf("%s: %+v, %v (%s); want invalid_request and rejected", tc.name, out, err, code)
			}
			if recorded(t, st, id) {
				t.Errorf("%s: a webhook record was stored", tc.name)
			}
			want = append(want, tc.label+" rejected")
		}
		if us := allUsers(t, st); len(us) != 0 {
			t.Errorf("invalid events stored users: %+v", us)
		}
		if ds, err := st.SessionDenials(context.Background(), time.Now(), time.Time{}); err != nil || len(ds) != 0 {
			t.Errorf("invalid events stored denials: %+v, %v", ds, err)
		}
		if ms, err := st.Memberships(context.Background(), "user_1", false); err != nil || len(ms) != 0 {
			t.Errorf("invalid events stored memberships: %+v, %v", ms, err)
		}
		wantObserved(t, f, want...)
		if calls := f.deny.Calls(); len(calls) != 0 {
			t.Errorf("invalid events reached the deny list: %v", calls)
		}
	})
}

// TestWebhookMetadataNUL: a NUL escaped inside public_metadata is valid
// JSON that one engine may hold (SQLite) and another may not (Postgres
// jsonb). Either way the answer is final, never "retry later" (Svix would
// retry it for days), and a refused event is stored nowhere.
func TestWebhookMetadataNUL(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		id := newMsgID()
		out, err := f.deliver(t, id, event(t, "user.created", clerkUser("user_nul", baseMillis,
			set("public_metadata", map[string]any{"note": "a\x00b"}))))
		switch clerkgate.ErrorCode(err) {
		case "":
			if out.Result != "processed" || !recorded(t, st, id) {
				t.Errorf("accepted but %+v, recorded %v", out, recorded(t, st, id))
			}
		case clerkgate.CodeInvalidRequest:
			if recorded(t, st, id) || len(allUsers(t, st)) != 0 {
				t.Error("refused but stored")
			}
		default:
			t.Errorf("%s: %+v, %v; want processed or invalid_request", db.engine, out, err)
		}
	})
}

// TestWebhookStoreFailure: when the store fails, the answer is
// unavailable (Svix retries) and nothing is recorded; the retry, once the
// store is back, applies the change.
func TestWebhookStoreFailure(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		down := db.open(t)
		f := newFixture(down)
		if err := down.Close(); err != nil {
			t.Fatal(err)
		}
		const msg, id = "msg_retry_1", "user_retry1"
		body := event(t, "user.created", clerkUser(id, baseMillis))
		for _, b := range [][]byte{body, event(t, "session.revoked", map[string]any{"id": "sess_r1", "user_id": id})} {
			out, err := f.deliver(t, msg, b)
			if clerkgate.ErrorCode(err) != clerkgate.CodeUnavailable || out.Result != usersync.ResultFailed {
				t.Fatalf("with the store down: %+v, %v; want unavailable and failed", out, err)
			}
			if m := clerkgate.ErrorMessage(err); strings.Contains(m, "closed") || strings.Contains(m, "sql") {
				t.Errorf("the client-facing message shows the cause: %q", m)
			}
		}
		wantObserved(t, f, "user.created failed", "session.revoked failed")

		// The store is back (a new connection to the same database).
		up := db.open(t)
		if recorded(t, up, msg) || len(allUsers(t, up)) != 0 {
			t.Fatal("the failed delivery left something behind")
		}
		g := newFixture(up)
		if out, err := g.deliver(t, msg, body); err != nil || out.Result != "processed" {
			t.Fatalf("retry: %+v, %v", out, err)
		}
		if u := mustUser(t, up, id); u.Email != id+"@example.test" || !recorded(t, up, msg) {
			t.Errorf("after the retry: %+v, recorded %v", u, recorded(t, up, msg))
		}
		if out, err := g.deliver(t, msg, body); err != nil || out.Result != "duplicate" {
			t.Errorf("a retry after success: %+v, %v; want duplicate", out, err)
		}
	})
}

// TestWebhookEmulatorEvents feeds the events the emulator emits for a
// user's life (created, an organization, sessions, a ban and unban, then
// the deletion) in their order and in reverse: both converge on the same
// state.
func TestWebhookEmulatorEvents(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var events []clerkemu.Event
	emu := clerkemu.Start(t, clerkemu.Options{SigningKey: signingKey(), Clock: tickingClock(), OnEvent: func(ev clerkemu.Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u, err := emu.CreateUser(clerkemu.UserParams{Email: "life@example.test", FirstName: "Life",
		PublicMetadata: map[string]any{"role": "admin"}})
	must(err)
	_, err = emu.CreateOrganization("Acme", "acme", u.ID)
	must(err)
	s1, err := emu.CreateSession(u.ID, "")
	must(err)
	_, err = emu.RevokeSession(s1.ID)
	must(err)
	s2, err := emu.CreateSession(u.ID, "")
	must(err)
	_, err = emu.BanUser(u.ID) // revokes s2
	must(err)
	_, err = emu.UnbanUser(u.ID)
	must(err)
	s3, err := emu.CreateSession(u.ID, "")
	must(err)
	live := len(events)        // everything up to here: a live user
	must(emu.DeleteUser(u.ID)) // removes s3 and the membership

	mu.Lock()
	all := slices.Clone(events)
	mu.Unlock()
	bodies := make([][]byte, len(all))
	types := map[string]bool{}
	for i, ev := range all {
		bodies[i] = event(t, ev.Type, ev.Data)
		types[ev.Type] = true
	}
	for _, typ := range []string{"user.created", "user.updated", "user.deleted", "session.created", "session.revoked",
		"session.removed", "organizationMembership.created", "organizationMembership.deleted"} {
		if !types[typ] {
			t.Fatalf("the emulator emitted no %s: %v", typ, types)
		}
	}
	reversed := func(b [][]byte) [][]byte { r := slices.Clone(b); slices.Reverse(r); return r }

	// state is what a test compares across orders.
	state := func(t *testing.T, st store) string {
		t.Helper()
		u := mustUser(t, st, u.ID)
		ms, err := st.Memberships(context.Background(), u.ClerkUserID, false)
		must(err)
		ds, err := st.SessionDenials(context.Background(), time.Now(), time.Time{})
		must(err)
		var denied []string
		for _, d := range ds {
			denied = append(denied, d.SessionID)
		}
		slices.Sort(denied)
		version := fmt.Sprint(u.ClerkUpdatedAt)
		if u.Deleted() {
			version = "tombstone" // versioned by the local clock at deletion
		}
		return fmt.Sprintf("user %s %s %s role=%s banned=%v v=%s deleted=%v memberships=%v denied=%v",
			u.Email, u.FirstName, u.LastName, u.Role, u.Banned, version, u.Deleted(), len(ms), denied)
	}
	eachEngine(t, func(t *testing.T, db database) {
		for _, tc := range []struct {
			name   string
			bodies [][]byte
			want   string
		}{
			{"live", bodies[:live], fmt.Sprintf("user life@example.test Life  role=admin banned=false v=%d deleted=false memberships=1 denied=%v",
				mustEmuUser(t, all[:live]).UpdatedAt, sortedIDs(s1.ID, s2.ID))},
			{"deleted", bodies, fmt.Sprintf("user    role=member banned=false v=tombstone deleted=true memberships=0 denied=%v", sortedIDs(s1.ID, s2.ID, s3.ID))},
		} {
			var got []string
			for _, order := range [][][]byte{tc.bodies, reversed(tc.bodies)} {
				st := newDatabase(t, db.engine).open(t)
				f := newFixture(st)
				for _, b := range order {
					if _, err := f.deliver(t, newMsgID(), b); err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
				}
				got = append(got, state(t, st))
			}
			if got[0] != got[1] {
				t.Errorf("%s: in order and reversed differ:\n%s\n%s", tc.name, got[0], got[1])
			}
			if !strings.Contains(got[0], tc.want) {
				t.Errorf("%s: state %s, want %s", tc.name, got[0], tc.want)
			}
		}
	})
}

// mustEmuUser returns the last user snapshot among events.
func mustEmuUser(t *testing.T, events []clerkemu.Event) clerkemu.User {
	t.Helper()
	for i := len(events) - 1; i >= 0; i-- {
		if u, ok := events[i].Data.(clerkemu.User); ok {
			return u
		}
	}
	t.Fatal("no user event")
	return clerkemu.User{}
}

func sortedIDs(ids ...string) []string {
	slices.Sort(ids)
	return ids
}
