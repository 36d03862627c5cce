package main

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/testkit"
)

// The outage tests make the user store fail while changes happen in the
// emulator: the receiver must answer 503 (never 2xx for a change it did not
// store), the emulator retries on Svix's schedule, scaled down, and once the
// store is back the local state converges with nothing lost.

// outageOptions retries after 0, 50 ms, 3 s, 18 s, ...: the first two
// attempts of a message made during the outage fail, the third comes after
// the store is back.
func outageOptions() clerkemu.Options {
	return clerkemu.Options{
		WebhookRetryScale:  0.01,
		WebhookConcurrency: 4,
		WebhookTimeout:     2 * time.Second,
		WebhookKnobs: clerkemu.WebhookKnobs{
			DuplicateRate: 0.3, ReorderWindow: 20 * time.Millisecond, Delay: 5 * time.Millisecond, Seed: 7,
		},
	}
}

func TestWebhookOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for retries; skipped with -short")
	}
	pg := os.Getenv("CLERKGATE_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("CLERKGATE_TEST_POSTGRES_URL is not set")
	}
	t.Parallel()
	db := freshDatabase(t, pg)
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testkit.StartTCPProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.Addr()
	rig := startSyncRig(t, viaProxy.String(), db, outageOptions())
	w := newWorkload(t, rig, 7)
	for range 100 {
		w.step()
	}
	rig.wait(t, 30*time.Second)
	checkConverged(t, rig, w)

	// The database goes away: the receiver answers 503 unavailable.
	proxy.Cut()
	cutAt := time.Now()
	before := rig.emu.WebhookStats()
	probe := event(t, "user.created", map[string]any{"id": "user_outageprobe", "object": "user",
		"created_at": time.Now().UnixMilli(), "updated_at": time.Now().UnixMilli()})
	if code, out := postWebhook(t, rig.base, testWebhookSecret, "msg_outage_probe", probe); code != 503 || out["code"] != "unavailable" {
		t.Fatalf("webhook with the database down: %d %v, want 503 unavailable", code, out)
	}
	if r := get(t, rig.base+"/readyz", nil); r.status != 503 {
		t.Errorf("readyz with the database down: %d %v", r.status, r.body)
	}
	deliveries := outageChanges(t, rig, w, before, 100, 0)
	time.Sleep(time.Second - time.Since(cutAt)) // an outage of a second at least
	proxy.Restore()
	outage := time.Since(cutAt)

	rig.wait(t, 60*time.Second)
	recovered := time.Since(cutAt)
	checkConverged(t, rig, w)
	if _, err := rig.st.UserByClerkID(context.Background(), "user_outageprobe"); err == nil {
		t.Errorf("the probe answered 503 was stored")
	}
	checkNothingLost(t, rig)
	t.Logf("outage of %v: 100 changes (%d deliveries), %d connections refused; converged %v after the cut",
		outage.Round(time.Millisecond), deliveries, proxy.Refused(), recovered.Round(time.Millisecond))
	rig.report(t)
}

// TestWebhookOutageSQLite makes the SQLite store fail for real: another
// connection holds the database's write lock (as another process would,
// with a long transaction), so every write of the service waits for its
// busy timeout (5 s) and fails. Changing file permissions would not do:
// open files stay writable, and tests may run as root.
func TestWebhookOutageSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the store's busy timeout and for retries; skipped with -short")
	}
	t.Parallel()
	path := t.TempDir() + "/outage.db"
	db := "sqlite://" + path
	opts := outageOptions()
	opts.WebhookTimeout = 15 * time.Second // Svix's: longer than the busy timeout, so the 503 comes back
	rig := startSyncRig(t, db, db, opts)
	w := newWorkload(t, rig, 8)
	for range 100 {
		w.step()
	}
	rig.wait(t, 30*time.Second)
	checkConverged(t, rig, w)

	release := holdWriteLock(t, path)
	cutAt := time.Now()
	before := rig.emu.WebhookStats()
	probe := event(t, "user.created", map[string]any{"id": "user_outageprobe", "object": "user",
		"created_at": time.Now().UnixMilli(), "updated_at": time.Now().UnixMilli()})
	if code, out := postWebhook(t, rig.base, testWebhookSecret, "msg_outage_probe", probe); code != 503 || out["code"] != "unavailable" {
		t.Fatalf("webhook with the database locked: %d %v, want 503 unavailable", code, out)
	}
	deliveries := outageChanges(t, rig, w, before, 20, 1)
	release()
	outage := time.Since(cutAt)

	rig.wait(t, 60*time.Second)
	recovered := time.Since(cutAt)
	checkConverged(t, rig, w)
	if _, err := rig.st.UserByClerkID(context.Background(), "user_outageprobe"); err == nil {
		t.Errorf("the probe answered 503 was stored")
	}
	checkNothingLost(t, rig)
	t.Logf("write lock held %v: 20 changes (%d deliveries); converged %v after it was taken",
		outage.Round(time.Millisecond), deliveries, recovered.Round(time.Millisecond))
	rig.report(t)
}

// outageChanges makes n changes while the store is down and waits until
// the emulator has seen failed attempts: one for each delivery the changes
// caused, or minFailed when it is positive (a store that fails slowly).
// It returns the number of deliveries the changes caused.
func outageChanges(t *testing.T, rig *syncRig, w *workload, before clerkemu.WebhookStats, n, minFailed int) int {
	t.Helper()
	for range n {
		w.step()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := rig.emu.WebhookStats()
		deliveries := st.Messages + st.Duplicates - before.Messages - before.Duplicates
		want := deliveries
		if minFailed > 0 {
			want = minFailed
		}
		if st.Failed-before.Failed >= want {
			if st.Delivered != before.Delivered {
				t.Errorf("%d deliveries acknowledged while the store was down", st.Delivered-before.Delivered)
			}
			return deliveries
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d failed attempts did not come in time: %+v", want, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkNothingLost checks that every delivery ended acknowledged, none
// given up, and that some failed and were retried.
func checkNothingLost(t *testing.T, rig *syncRig) {
	t.Helper()
	st := rig.emu.WebhookStats()
	if st.GaveUp != 0 || st.Pending != 0 || st.Delivered != st.Messages+st.Duplicates {
		t.Errorf("deliveries lost: %+v", st)
	}
	if st.Failed == 0 || rig.tap.status(http.StatusServiceUnavailable) == 0 {
		t.Errorf("no delivery failed during the outage: %+v, %d answers 503", st, rig.tap.status(http.StatusServiceUnavailable))
	}
}

// holdWriteLock takes the write lock of the SQLite database at path from a
// connection of its own and returns the function that releases it (also
// called when the test ends).
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Errorf("release the write lock: %v", err)
			}
			conn.Close()
			db.Close()
		})
	}
	t.Cleanup(release)
	return release
}
