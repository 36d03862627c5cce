package usersync_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/security"
	"github.com/clerkgate/clerkgate/internal/usersync"
)

// countingStore is a real store that counts the calls the syncer makes.
type countingStore struct {
	store
	mu    sync.Mutex
	calls []string
}

func (c *countingStore) record(call string) {
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
}

// take returns the calls since the last take.
func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

func (c *countingStore) WebhookRecord(ctx context.Context, id string) (*clerkgate.WebhookRecord, error) {
	c.record("WebhookRecord")
	return c.store.WebhookRecord(ctx, id)
}

func (c *countingStore) SaveWebhookRecord(ctx context.Context, r clerkgate.WebhookRecord) (bool, error) {
	c.record("SaveWebhookRecord")
	return c.store.SaveWebhookRecord(ctx, r)
}

func (c *countingStore) UserByClerkID(ctx context.Context, id string) (*clerkgate.User, error) {
	c.record("UserByClerkID")
	return c.store.UserByClerkID(ctx, id)
}

func (c *countingStore) SaveClerkUser(ctx context.Context, u *clerkgate.User) (*clerkgate.User, bool, error) {
	c.record("SaveClerkUser")
	return c.store.SaveClerkUser(ctx, u)
}

func (c *countingStore) SaveClerkUserEvent(ctx context.Context, ev clerkgate.UserEvent) (clerkgate.UserEventResult, error) {
	c.record("SaveClerkUserEvent")
	return c.store.SaveClerkUserEvent(ctx, ev)
}

// TestWebhookUserEventStoreCalls: a user event costs one store call, the
// event saved with its record in one transaction; a duplicate costs the
// record's read on top, to tell a retry from a replay; only a user not
// stored yet goes looking for a local user to link.
func TestWebhookUserEventStoreCalls(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		cs := &countingStore{store: db.open(t)}
		f := newFixture(cs)
		const id = "user_calls"
		want := func(what string, calls ...string) {
			t.Helper()
			if got := cs.take(); !slices.Equal(got, calls) {
				t.Errorf("%s: store calls %q, want %q", what, got, calls)
			}
		}
		f.mustDeliver(t, "processed", event(t, "user.created", clerkUser(id, baseMillis)))
		want("a new user", "SaveClerkUserEvent", "SaveClerkUserEvent")

		body := event(t, "user.updated", clerkUser(id, baseMillis+1, set("first_name", "Ann")))
		if out, err := f.deliver(t, "msg_calls_1", body); err != nil || out.Result != "processed" {
			t.Fatalf("update: %+v, %v", out, err)
		}
		want("an update", "SaveClerkUserEvent")
		f.mustDeliver(t, "stale", event(t, "user.updated", clerkUser(id, baseMillis)))
		want("a stale update", "SaveClerkUserEvent")
		if out, err := f.deliver(t, "msg_calls_1", body); err != nil || out.Result != "duplicate" || out.Replay {
			t.Fatalf("retry: %+v, %v", out, err)
		}
		want("a retry", "SaveClerkUserEvent", "WebhookRecord")
		f.mustDeliver(t, "processed", event(t, "user.deleted", map[string]any{"object": "user", "id": id, "deleted": true}))
		want("a deletion", "SaveClerkUserEvent")
	})
}

// TestWebhookOldDuplicateAfterNewer: an old message delivered again after
// a newer one, with its body or another, stays a duplicate and changes
// nothing; a new message with the old version is stale.
func TestWebhookOldDuplicateAfterNewer(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		const id = "user_olddup"
		v1 := event(t, "user.updated", clerkUser(id, baseMillis+1, set("first_name", "One")))
		v2 := event(t, "user.updated", clerkUser(id, baseMillis+2, set("first_name", "Two")))
		for msg, body := range map[string][]byte{"msg_olddup_1": v1, "msg_olddup_2": v2} {
			if _, err := f.deliver(t, msg, body); err != nil {
				t.Fatal(err)
			}
		}
		latest := mustUser(t, st, id)
		for _, tc := range []struct {
			msg    string
			body   []byte
			result string
			replay bool
		}{
			{"msg_olddup_1", v1, "duplicate", false},
			{"msg_olddup_1", v2, "duplicate", true},
			{"msg_olddup_1", event(t, "user.updated", clerkUser(id, baseMillis+3, set("first_name", "Three"))), "duplicate", true},
			{"msg_olddup_new", v1, "stale", false},
		} {
			out, err := f.deliver(t, tc.msg, tc.body)
			if err != nil || out.Result != tc.result || out.Replay != tc.replay {
				t.Errorf("%s: %+v, %v; want %s (replay %v)", tc.msg, out, err, tc.result, tc.replay)
			}
		}
		if got := mustUser(t, st, id); !equalUsers(*got, *latest) || !got.UpdatedAt.Equal(latest.UpdatedAt) {
			t.Errorf("the user changed:\n got %+v\nwant %+v", got, latest)
		}
	})
}

// TestWebhookTie: an event with the stored version but other data (two
// changes in one millisecond) is settled by asking Clerk, and only then:
// Clerk's answer is stored; a user Clerk says is gone is left for the
// user.deleted that follows; when Clerk cannot answer, the event's data is
// stored, as without a Backend API. Each message is recorded once.
func TestWebhookTie(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		var fetches atomic.Int64
		var answer func(id string) (*clerkgate.User, error)
		var mu sync.Mutex
		f := newFixture(st)
		f.syncer = usersync.New(usersync.Options{
			Store: st, Policy: policy.Default(), Denier: f.deny, Security: security.New(st, nil, nil), Observe: f.obs.observe,
			Fetch: func(ctx context.Context, id string) (*clerkgate.User, error) {
				fetches.Add(1)
				mu.Lock()
				defer mu.Unlock()
				return answer(id)
			},
		})
		setAnswer := func(fn func(id string) (*clerkgate.User, error)) {
			mu.Lock()
			answer = fn
			mu.Unlock()
		}
		const id = "user_tie"
		v := baseMillis + 5
		f.mustDeliver(t, "processed", event(t, "user.created", clerkUser(id, v)))
		f.mustDeliver(t, "processed", event(t, "user.updated", clerkUser(id, v)))                  // the same data: no tie
		f.mustDeliver(t, "processed", event(t, "user.updated", clerkUser(id, v+1)))                // newer
		f.mustDeliver(t, "stale", event(t, "user.updated", clerkUser(id, v, set("banned", true)))) // older
		if n := fetches.Load(); n != 0 {
			t.Fatalf("%d fetches without a tie", n)
		}
		v++

		// Clerk's current user wins: a ban that arrived first is kept
		// although the rename of the same millisecond came last.
		setAnswer(func(string) (*clerkgate.User, error) {
			return &clerkgate.User{ClerkUserID: id, Email: id + "@example.test", EmailVerified: true, FirstName: "Grace",
				Banned: true, ClerkUpdatedAt: v}, nil
		})
		msg := "msg_tie_rename"
		out, err := f.deliver(t, msg, event(t, "user.updated", clerkUser(id, v, set("first_name", "Grace"))))
		if err != nil || out.Result != "processed" || fetches.Load() != 1 {
			t.Fatalf("tie: %+v, %v, %d fetches", out, err, fetches.Load())
		}
		if u := mustUser(t, st, id); u.FirstName != "Grace" || !u.Banned || u.ClerkUpdatedAt != v || !recorded(t, st, msg) {
			t.Fatalf("after the tie: %+v, recorded %v", u, recorded(t, st, msg))
		}
		if out, err := f.deliver(t, msg, event(t, "user.updated", clerkUser(id, v, set("first_name", "Grace")))); err != nil || out.Result != "duplicate" {
			t.Errorf("the tie's retry: %+v, %v", out, err)
		}

		// Clerk says the user is gone: nothing changes, the message is
		// recorded.
		setAnswer(func(string) (*clerkgate.User, error) {
			return nil, &clerkgate.Error{Code: clerkgate.CodeNotFound, Message: "user not found"}
		})
		before := mustUser(t, st, id)
		msg = "msg_tie_gone"
		if out, err := f.deliver(t, msg, event(t, "user.updated", clerkUser(id, v, set("first_name", "Gone")))); err != nil || out.Result != "stale" {
			t.Errorf("tie, user gone: %+v, %v", out, err)
		}
		if u := mustUser(t, st, id); !equalUsers(*u, *before) || !recorded(t, st, msg) {
			t.Errorf("tie, user gone: %+v, recorded %v", u, recorded(t, st, msg))
		}

		// Clerk cannot be reached: the event's data is stored.
		setAnswer(func(string) (*clerkgate.User, error) {
			return nil, &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "down"}
		})
		f.mustDeliver(t, "processed", event(t, "user.updated", clerkUser(id, v, set("first_name", "Ada"))))
		if u := mustUser(t, st, id); u.FirstName != "Ada" || u.Banned {
			t.Errorf("tie, Clerk down: %+v, want the event's data", u)
		}
		if n := fetches.Load(); n != 3 {
			t.Errorf("%d fetches, want 3 (one per tie)", n)
		}
	})
}

// TestWebhookLinkRecorded: a user.created that links a legacy user records
// its message, so that its retry is a duplicate.
func TestWebhookLinkRecorded(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		if _, err := st.CreateLocalUser(context.Background(), &clerkgate.User{ID: "2001", Email: "user_eve@example.test", EmailVerified: true}); err != nil {
			t.Fatal(err)
		}
		body := event(t, "user.created", clerkUser("user_eve", baseMillis))
		if out, err := f.deliver(t, "msg_link_1", body); err != nil || out.Result != "processed" {
			t.Fatalf("link: %+v, %v", out, err)
		}
		if u := mustUser(t, st, "user_eve"); u.ID != "2001" || !recorded(t, st, "msg_link_1") {
			t.Fatalf("linked %s, recorded %v", u.ID, recorded(t, st, "msg_link_1"))
		}
		if out, err := f.deliver(t, "msg_link_1", body); err != nil || out.Result != "duplicate" {
			t.Errorf("retry: %+v, %v", out, err)
		}
	})
}

// TestWebhookUserEventLayout: a user event is decoded in one pass when
// its body looks like Clerk's compact JSON, and in two otherwise; both
// store the same.
func TestWebhookUserEventLayout(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		st := db.open(t)
		f := newFixture(st)
		compact := event(t, "user.updated", clerkUser("user_compact", baseMillis, set("first_name", "Grace")))
		var v any
		if err := json.Unmarshal(event(t, "user.updated", clerkUser("user_indented", baseMillis, set("first_name", "Grace"))), &v); err != nil {
			t.Fatal(err)
		}
		indented, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		f.mustDeliver(t, "processed", compact)
		f.mustDeliver(t, "processed", indented)
		a, b := mustUser(t, st, "user_compact"), mustUser(t, st, "user_indented")
		if a.FirstName != "Grace" || b.FirstName != "Grace" || a.ClerkUpdatedAt != b.ClerkUpdatedAt || a.Email != "user_compact@example.test" ||
			b.Email != "user_indented@example.test" || a.EmailVerified != b.EmailVerified || a.LastSignInAt != b.LastSignInAt {
			t.Errorf("compact %+v\nindented %+v", a, b)
		}
		wantObserved(t, f, "user.updated processed", "user.updated processed")
	})
}
