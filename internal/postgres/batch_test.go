package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/postgres"
)

// TestUserEventBatchesConcurrently: many concurrent user events, a third of
// them second deliveries of a message, for a few users. Each message is
// applied once (every other delivery of it is a duplicate), each user ends
// at the newest version sent for them, every message is recorded, and the
// events did share transactions.
func TestUserEventBatchesConcurrently(t *testing.T) {
	t.Parallel()
	s := MustOpen(t)
	const users, messages = 12, 300
	for i := range users {
		if _, _, err := s.SaveClerkUser(t.Context(), &clerkgate.User{ClerkUserID: fmt.Sprintf("user_b%02d", i), ClerkUpdatedAt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	type delivery struct {
		msg  string
		user *clerkgate.User
	}
	var deliveries []delivery
	newest := map[string]int64{}
	for m := range messages {
		u := &clerkgate.User{ClerkUserID: fmt.Sprintf("user_b%02d", m%users), FirstName: fmt.Sprintf("v%d", m),
			ClerkUpdatedAt: int64(10 + m)}
		newest[u.ClerkUserID] = max(newest[u.ClerkUserID], u.ClerkUpdatedAt)
		d := delivery{fmt.Sprintf("msg_b%03d", m), u}
		deliveries = append(deliveries, d)
		if m%3 == 0 {
			deliveries = append(deliveries, d) // a second delivery, same body
		}
	}
	rand.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })

	results := make([]clerkgate.UserEventResult, len(deliveries))
	errs := make([]error, len(deliveries))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32) // 32 senders at a time
	for i, d := range deliveries {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			u := *d.user
			results[i], errs[i] = s.SaveClerkUserEvent(context.Background(), clerkgate.UserEvent{User: &u, Record: eventRecord(d.msg)})
		})
	}
	wg.Wait()

	applied := map[string]int{}
	for i, d := range deliveries {
		if errs[i] != nil {
			t.Fatalf("%s: %v", d.msg, errs[i])
		}
		if !results[i].Duplicate {
			applied[d.msg]++
		}
	}
	for m := range messages {
		if id := fmt.Sprintf("msg_b%03d", m); applied[id] != 1 {
			t.Errorf("%s applied %d times, want once", id, applied[id])
		}
	}
	for id, v := range newest {
		u, err := s.UserByClerkID(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if u.ClerkUpdatedAt != v || u.FirstName != fmt.Sprintf("v%d", v-10) {
			t.Errorf("%s at version %d (%q), want %d", id, u.ClerkUpdatedAt, u.FirstName, v)
		}
	}
	for m := range messages {
		if _, err := s.WebhookRecord(t.Context(), fmt.Sprintf("msg_b%03d", m)); err != nil {
			t.Errorf("msg_b%03d not recorded: %v", m, err)
		}
	}
	// Batches lock user rows in one order, and a duplicate only waits
	// for its twin's user row: no batch may fail (a deadlock would).
	if shared, failed := postgres.EventBatches(s); shared == 0 || failed > 0 {
		t.Errorf("%d transactions shared by several events, %d of them failed; want some, none", shared, failed)
	}
}

// TestUserEventBatchFails: a batch whose transaction fails (here a record
// of one of its messages that another connection commits while the batch
// waits to write its own) commits none of its events; each is then saved
// on its own, so the duplicate is reported and the others are stored.
func TestUserEventBatchFails(t *testing.T) {
	t.Parallel()
	schema := MustSchema(t)
	s := openNamed(t, schema)
	for _, id := range []string{"user_hold", "user_f1", "user_f2", "user_f3"} {
		if _, _, err := s.SaveClerkUser(t.Context(), &clerkgate.User{ClerkUserID: id, ClerkUpdatedAt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	save := func(id, msg string, v int64) chan clerkgate.UserEventResult {
		ch := make(chan clerkgate.UserEventResult, 1)
		go func() {
			res, err := s.SaveClerkUserEvent(context.Background(), clerkgate.UserEvent{
				User: &clerkgate.User{ClerkUserID: id, FirstName: msg, ClerkUpdatedAt: v}, Record: eventRecord(msg)})
			if err != nil {
				t.Errorf("%s: %v", msg, err)
			}
			ch <- res
		}()
		return ch
	}
	waiting := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count(t, schema, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND application_name = '`+schema+`'`) < n {
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d saves wait for a lock", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Both batch runners wait for user_hold's row...
	rowTx := holdTx(t, schema, `SELECT 1 FROM users WHERE clerk_user_id = 'user_hold' FOR UPDATE`)
	first := []chan clerkgate.UserEventResult{save("user_hold", "msg_h1", 2)}
	waiting(1)
	first = append(first, save("user_hold", "msg_h2", 3))
	waiting(2)
	// ...so these three queue up and go as one batch, in which msg_f1's
	// record waits for another connection's uncommitted one.
	other := eventRecord("msg_f1_other_body")
	recTx := holdTx(t, schema, `INSERT INTO webhook_messages (message_id, event_type, body_sha256, processed_at)
		VALUES ('msg_f1', 'user.updated', $1, now())`, other.BodySHA256)
	batch := []chan clerkgate.UserEventResult{save("user_f1", "msg_f1", 2), save("user_f2", "msg_f2", 2), save("user_f3", "msg_f3", 2)}
	time.Sleep(100 * time.Millisecond) // the three are queued (nothing to wait for: they cannot run)
	if err := rowTx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, ch := range first {
		if res := <-ch; !res.Changed {
			t.Errorf("the held user's event: %+v, want Changed", res)
		}
	}
	waiting(1) // the batch waits for msg_f1's record
	if err := recTx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if res := <-batch[0]; !res.Duplicate {
		t.Errorf("msg_f1, recorded meanwhile: %+v, want Duplicate", res)
	}
	for i, ch := range batch[1:] {
		if res := <-ch; !res.Changed || res.User == nil || res.User.FirstName != fmt.Sprintf("msg_f%d", i+2) {
			t.Errorf("msg_f%d: %+v, want Changed", i+2, res)
		}
	}
	if u, err := s.UserByClerkID(t.Context(), "user_f1"); err != nil || u.ClerkUpdatedAt != 1 {
		t.Errorf("user_f1 changed by a duplicate: %+v, %v", u, err)
	}
	if shared, failed := postgres.EventBatches(s); shared != 1 || failed != 1 {
		t.Errorf("%d shared transactions, %d failed; want the one batch, failed", shared, failed)
	}
}
