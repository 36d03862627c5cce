package usersync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/usersync"
)

// clerkAPI adapts the real Backend API client to usersync.Clerk, as
// cmd/clerkgate does. The users in hide are left out of every listing while
// GetUser still finds them: a user created in Clerk while a run pages.
type clerkAPI struct {
	c    *clerkapi.Client
	hide map[string]bool
}

func (a clerkAPI) ListUsersAfter(ctx context.Context, limit int, afterID string) ([]*clerkgate.User, error) {
	users, err := a.c.ListUsersAfter(ctx, limit, afterID)
	out := users[:0]
	for _, u := range users {
		if !a.hide[u.ClerkUserID] {
			out = append(out, u)
		}
	}
	return out, err
}

func (a clerkAPI) GetUser(ctx context.Context, id string) (*clerkgate.User, error) {
	u, _, err := a.c.GetUser(ctx, id)
	return u, err
}

// startEmulator starts an emulator whose clock moves a millisecond per read,
// so that every change has a version of its own.
func startEmulator(t *testing.T) *clerkemu.Server {
	t.Helper()
	return clerkemu.Start(t, clerkemu.Options{SigningKey: signingKey(), Clock: tickingClock()})
}

// newClient returns a Backend API client of emu.
func newClient(t *testing.T, emu *clerkemu.Server) *clerkapi.Client {
	t.Helper()
	c, err := clerkapi.New(clerkapi.Options{APIURL: emu.URL, SecretKey: emu.SecretKey(), BreakerThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func mustCreate(t *testing.T, emu *clerkemu.Server, p clerkemu.UserParams) string {
	t.Helper()
	u, err := emu.CreateUser(p)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", p.Email, err)
	}
	return u.ID
}

// unverify returns a new emulator with emu's state in which the primary
// email address of the user with email is no longer verified (as when it
// was changed and the new address awaits its code: the Backend API cannot
// create such a user, so the emulator's own state document is edited).
func unverify(t *testing.T, emu *clerkemu.Server, clock func() time.Time, email string) *clerkemu.Server {
	t.Helper()
	doc, err := emu.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(doc, &st); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, su := range st["users"].([]any) {
		u := su.(map[string]any)["user"].(map[string]any)
		for _, a := range u["email_addresses"].([]any) {
			if a := a.(map[string]any); a["email_address"] == email {
				a["verification"] = map[string]any{"object": "verification_otp", "status": "unverified", "strategy": "email_code"}
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no user with %s", email)
	}
	doc, _ = json.Marshal(st)
	emu.Close()
	return clerkemu.Start(t, clerkemu.Options{State: doc, Clock: clock})
}

// createLocal creates a legacy user (no Clerk id) with email.
func createLocal(t *testing.T, st store, email string) *clerkgate.User {
	t.Helper()
	u, err := st.CreateLocalUser(context.Background(), &clerkgate.User{Email: email, EmailVerified: true, FirstName: "Legacy", Role: "member"})
	if err != nil {
		t.Fatalf("CreateLocalUser(%s): %v", email, err)
	}
	return u
}

// storeFromClerk stores Clerk's current version of a user, as an earlier
// sync would have.
func storeFromClerk(t *testing.T, st store, api clerkAPI, id string) {
	t.Helper()
	u, err := api.GetUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	u.Role = policy.Default().StoredRole(u.PublicMetadata)
	if _, _, err := st.SaveClerkUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
}

// snapshot is every stored row as text, to compare before and after.
func snapshot(t *testing.T, st store) string {
	t.Helper()
	var b strings.Builder
	for _, u := range allUsers(t, st) {
		meta := u.PublicMetadata
		u.PublicMetadata = nil
		row, _ := json.Marshal(u)
		b.Write(row)
		b.WriteString(" meta=")
		b.Write(meta)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		ctx := context.Background()
		clock := tickingClock()
		emu := clerkemu.Start(t, clerkemu.Options{SigningKey: signingKey(), Clock: clock})
		st := db.open(t)
		f := newFixture(st)
		hank := mustCreate(t, emu, clerkemu.UserParams{Email: "hank@example.test"})

		// Legacy users from before Clerk.
		legacyX := createLocal(t, st, "xavier.old@example.test")
		legacyE := createLocal(t, st, "Eve.Legacy@Example.TEST")
		shared1 := createLocal(t, st, "shared@example.test")
		shared2 := createLocal(t, st, "shared@example.test")
		legacyU := createLocal(t, st, "unverified@example.test")

		// Clerk's users.
		alice := mustCreate(t, emu, clerkemu.UserParams{Email: "alice@example.test", FirstName: "Alice",
			PublicMetadata: map[string]any{"role": "admin", "team": "core"}})
		bob := mustCreate(t, emu, clerkemu.UserParams{Email: "bob@example.test", FirstName: "Bob"})
		carol := mustCreate(t, emu, clerkemu.UserParams{Email: "carol@example.test",
			PublicMetadata: map[string]any{"role": "member", "since": 2019}})
		xavier := mustCreate(t, emu, clerkemu.UserParams{Email: "xavier@example.test", ExternalID: legacyX.ID})
		eve := mustCreate(t, emu, clerkemu.UserParams{Email: "eve.legacy@example.test"})
		shared := mustCreate(t, emu, clerkemu.UserParams{Email: "shared@example.test"})
		unverified := mustCreate(t, emu, clerkemu.UserParams{Email: "unverified@example.test"})
		dave := mustCreate(t, emu, clerkemu.UserParams{Email: "dave@example.test"})
		emu = unverify(t, emu, clock, "unverified@example.test")
		api := clerkAPI{c: newClient(t, emu), hide: map[string]bool{hank: true}}
		if u, err := api.GetUser(ctx, unverified); err != nil || u.EmailVerified || u.Email != "unverified@example.test" {
			t.Fatalf("the unverified user: %+v, %v", u, err)
		}

		// What an earlier sync stored; then Bob changes and Dave goes.
		for _, id := range []string{bob, carol, dave, hank} {
			storeFromClerk(t, st, api, id)
		}
		if _, err := api.c.UpdateUserMetadata(ctx, bob, json.RawMessage(`{"role":"admin"}`)); err != nil {
			t.Fatal(err)
		}
		if err := emu.DeleteUser(dave); err != nil {
			t.Fatal(err)
		}
		daveRow := mustUser(t, st, dave)

		want := usersync.Counts{Created: 3, Updated: 1, Linked: 2, Deleted: 1, Unchanged: 1, Seen: 7}
		before := snapshot(t, st)
		actions := map[string]int{}
		dry, err := f.syncer.Reconcile(ctx, api, usersync.ReconcileOptions{DryRun: true, OnChange: func(c usersync.Change) {
			actions[c.Action]++
			if c.ClerkUserID == "" || (c.Action != "create") == (c.LocalID == "") {
				t.Errorf("change %+v: want a Clerk id, and a local id unless created", c)
			}
		}})
		if err != nil || dry != want {
			t.Fatalf("dry run: %v, %v; want %v", dry, err, want)
		}
		if fmt.Sprint(actions) != "map[create:3 delete:1 link:2 update:1]" {
			t.Errorf("changes told of: %v, want the counts' own", actions)
		}
		if after := snapshot(t, st); after != before {
			t.Fatalf("the dry run changed the store:\nbefore %s\nafter  %s", before, after)
		}
		if calls := f.deny.Calls(); len(calls) != 0 {
			t.Fatalf("the dry run reached the deny list: %v", calls)
		}

		got, err := f.syncer.Reconcile(ctx, api, usersync.ReconcileOptions{})
		if err != nil || got != want {
			t.Fatalf("run: %v, %v; want %v", got, err, want)
		}

		// Created and updated, with their roles.
		if u := mustUser(t, st, alice); u.Email != "alice@example.test" || u.FirstName != "Alice" || u.Role != "admin" || u.Deleted() {
			t.Errorf("alice: %+v", u)
		}
		if u := mustUser(t, st, bob); u.Role != "admin" || !sameJSON(u.PublicMetadata, []byte(`{"role":"admin"}`)) {
			t.Errorf("bob after his update: %+v", u)
		}
		// Linked by external_id and by verified email (case aside): the
		// legacy row, its id and created_at, now with the Clerk identity.
		for _, l := range []struct {
			legacy  *clerkgate.User
			clerkID string
		}{{legacyX, xavier}, {legacyE, eve}} {
			u := mustUser(t, st, l.clerkID)
			if u.ID != l.legacy.ID || !u.CreatedAt.Equal(l.legacy.CreatedAt) || u.ClerkUpdatedAt == 0 {
				t.Errorf("%s not linked to the legacy row %s: %+v", l.clerkID, l.legacy.ID, u)
			}
		}
		// Never linked: an email two legacy users share, an unverified one.
		for _, l := range []struct {
			legacy  []*clerkgate.User
			clerkID string
		}{{[]*clerkgate.User{shared1, shared2}, shared}, {[]*clerkgate.User{legacyU}, unverified}} {
			u := mustUser(t, st, l.clerkID)
			for _, legacy := range l.legacy {
				if u.ID == legacy.ID {
					t.Errorf("%s was linked to %s", l.clerkID, legacy.ID)
				}
				if lu, err := st.UserByID(ctx, legacy.ID); err != nil || lu.ClerkUserID != "" {
					t.Errorf("legacy %s: %+v, %v; want still unlinked", legacy.ID, lu, err)
				}
			}
		}
		// Dave is gone from Clerk: a tombstone under his id, denied.
		if u := mustUser(t, st, dave); !u.Deleted() || u.ID != daveRow.ID || u.Email != "" || u.FirstName != "" {
			t.Errorf("dave: %+v; want a tombstone of %s", u, daveRow.ID)
		}
		if !f.deny.Denied("", dave) {
			t.Error("dave is not denied")
		}
		evs := securityEvents(t, st, clerkgate.EventUserDeleted)
		if len(evs) != 1 || evs[0].UserID != daveRow.ID || !strings.Contains(string(evs[0].Detail), "reconcile") {
			t.Errorf("user_deleted events: %+v", evs)
		}
		// Hank is still in Clerk, only missing from the listing: kept.
		if u := mustUser(t, st, hank); u.Deleted() {
			t.Error("a user Clerk still has was deleted")
		}
		if n := len(allUsers(t, st)); n != 12 {
			t.Errorf("%d rows, want 12 (5 legacy, 2 of them linked, and 7 more)", n)
		}

		// Everything is in step now: a second run, dry or not, changes
		// nothing and says so.
		again := usersync.Counts{Unchanged: 7, Seen: 7}
		for _, dryRun := range []bool{false, true} {
			if c, err := f.syncer.Reconcile(ctx, api, usersync.ReconcileOptions{DryRun: dryRun}); err != nil || c != again {
				t.Errorf("second run (dry %v): %v, %v; want %v", dryRun, c, err, again)
			}
		}
	})
}

// TestReconcileInterrupted: a run stopped after its first page leaves a
// consistent store, and the next run finishes the job.
func TestReconcileInterrupted(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, db database) {
		emu := startEmulator(t)
		st := db.open(t)
		f := newFixture(st)
		api := clerkAPI{c: newClient(t, emu)}
		for _, name := range []string{"u1", "u2", "u3", "u4", "u5"} {
			mustCreate(t, emu, clerkemu.UserParams{Email: name + "@example.test"})
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var pages []usersync.Counts
		got, err := f.syncer.Reconcile(ctx, api, usersync.ReconcileOptions{PageSize: 2, Progress: func(c usersync.Counts) {
			pages = append(pages, c)
			cancel() // the service stops
		}})
		if err == nil {
			t.Fatalf("interrupted run succeeded: %v", got)
		}
		if len(pages) != 1 || got != (usersync.Counts{Created: 2, Seen: 2}) {
			t.Fatalf("interrupted run: progress %v, counts %v; want one page of 2 created", pages, got)
		}
		if n := len(allUsers(t, st)); n != 2 {
			t.Fatalf("%d users stored by the first page, want 2", n)
		}

		pages = nil
		got, err = f.syncer.Reconcile(context.Background(), api, usersync.ReconcileOptions{PageSize: 2,
			Progress: func(c usersync.Counts) { pages = append(pages, c) }})
		if want := (usersync.Counts{Created: 3, Unchanged: 2, Seen: 5}); err != nil || got != want {
			t.Fatalf("next run: %v, %v; want %v", got, err, want)
		}
		// Three pages (2, 2, 1) and the deletion pass.
		if len(pages) != 4 || pages[0].Seen != 2 || pages[1].Seen != 4 || pages[2].Seen != 5 {
			t.Errorf("progress %v", pages)
		}
		if n := len(allUsers(t, st)); n != 5 {
			t.Errorf("%d users stored, want 5", n)
		}
	})
}

// gatedClerk holds GetUser until released, so that a test sees a run in
// the middle of its deletion pass.
type gatedClerk struct {
	usersync.Clerk
	entered chan string
	release chan struct{}
}

func (g gatedClerk) GetUser(ctx context.Context, id string) (*clerkgate.User, error) {
	select {
	case g.entered <- id:
	default:
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Clerk.GetUser(ctx, id)
}

// waitRun polls a run until it is no longer running.
func waitRun(t *testing.T, runs *usersync.Runs, id string) usersync.Run {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		run, ok := runs.Get(id)
		if !ok {
			t.Fatalf("run %s is gone", id)
		}
		if run.Status != "running" {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still running: %+v", id, run)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestRuns(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	st := newDatabase(t, "sqlite").open(t)
	f := newFixture(st)
	for _, name := range []string{"r1", "r2", "r3"} {
		mustCreate(t, emu, clerkemu.UserParams{Email: name + "@example.test"})
	}
	// A user Clerk no longer has, so the run asks Clerk about it.
	if _, _, err := st.SaveClerkUser(context.Background(), &clerkgate.User{ClerkUserID: "user_gone", Email: "gone@example.test", ClerkUpdatedAt: 1}); err != nil {
		t.Fatal(err)
	}
	gate := gatedClerk{Clerk: clerkAPI{c: newClient(t, emu)}, entered: make(chan string, 1), release: make(chan struct{})}
	runs := usersync.NewRuns(t.Context(), f.syncer, gate)

	run, err := runs.Start(false)
	if err != nil || run.Status != "running" || !strings.HasPrefix(run.ID, "sync_") || run.StartedAt.IsZero() {
		t.Fatalf("Start: %+v, %v", run, err)
	}
	select {
	case id := <-gate.entered:
		if id != "user_gone" {
			t.Fatalf("asked Clerk about %s", id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run never reached the deletion pass")
	}
	// In the middle of the run: its progress shows, a second run is
	// refused.
	if got, ok := runs.Get(run.ID); !ok || got.Status != "running" || got.Counts != (usersync.Counts{Created: 3, Seen: 3}) {
		t.Errorf("while running: %+v", got)
	}
	if _, err := runs.Start(true); clerkgate.ErrorCode(err) != clerkgate.CodeConflict {
		t.Errorf("second Start while running: %v; want conflict", err)
	}
	// Clerk fails the confirmation: the run fails and deletes nothing.
	if err := emu.SetFaults(clerkemu.Faults{API: clerkemu.Fault{Mode: clerkemu.FaultFail, Status: 500}}); err != nil {
		t.Fatal(err)
	}
	close(gate.release)
	failed := waitRun(t, runs, run.ID)
	if failed.Status != "failed" || failed.Error == "" || failed.FinishedAt.IsZero() || failed.Counts.Deleted != 0 {
		t.Errorf("run with Clerk failing: %+v", failed)
	}
	if strings.Contains(failed.Error, emu.SecretKey()) {
		t.Error("the run's error shows the secret key")
	}
	if u := mustUser(t, st, "user_gone"); u.Deleted() {
		t.Error("a deletion Clerk did not confirm was made")
	}

	// Clerk is back: a new run may start and finishes the job.
	emu.ClearFaults()
	run2, err := runs.Start(false)
	if err != nil || run2.ID == run.ID {
		t.Fatalf("Start after a failed run: %+v, %v", run2, err)
	}
	done := waitRun(t, runs, run2.ID)
	if done.Status != "succeeded" || done.Error != "" || done.Counts != (usersync.Counts{Unchanged: 3, Deleted: 1, Seen: 3}) {
		t.Errorf("second run: %+v", done)
	}
	if u := mustUser(t, st, "user_gone"); !u.Deleted() {
		t.Error("user_gone not deleted")
	}
	// Both runs are remembered; an unknown id is not.
	if got, ok := runs.Get(run.ID); !ok || got.Status != "failed" {
		t.Errorf("first run: %+v, %v", got, ok)
	}
	if _, ok := runs.Get("sync_unknown"); ok {
		t.Error("Get of an unknown run succeeded")
	}
}

// TestRunsFailOnClerkError: a run that cannot list Clerk's users fails
// with a client-safe message and changes nothing.
func TestRunsFailOnClerkError(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	mustCreate(t, emu, clerkemu.UserParams{Email: "a@example.test"})
	if err := emu.SetFaults(clerkemu.Faults{API: clerkemu.Fault{Mode: clerkemu.FaultFail, Status: 503}}); err != nil {
		t.Fatal(err)
	}
	st := newDatabase(t, "sqlite").open(t)
	f := newFixture(st)
	runs := usersync.NewRuns(t.Context(), f.syncer, clerkAPI{c: newClient(t, emu)})
	run, err := runs.Start(true)
	if err != nil || !run.DryRun {
		t.Fatalf("Start: %+v, %v", run, err)
	}
	got := waitRun(t, runs, run.ID)
	if got.Status != "failed" || !strings.Contains(got.Error, "Clerk") || got.Counts != (usersync.Counts{}) {
		t.Errorf("run: %+v", got)
	}
	if n := len(allUsers(t, st)); n != 0 {
		t.Errorf("%d users stored by a failed run", n)
	}
}
