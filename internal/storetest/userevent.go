package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
)

// userEventTests are the tests of clerkgate.UserEventStore.
var userEventTests = []test{
	{"UserEventSaves", testUserEventSaves},
	{"UserEventPrevious", testUserEventPrevious},
	{"UserEventStaleRecorded", testUserEventStale},
	{"UserEventDuplicate", testUserEventDuplicate},
	{"UserEventAbsent", testUserEventAbsent},
	{"UserEventTie", testUserEventTie},
	{"UserEventInvalid", testUserEventInvalid},
	{"UserEventConflictWritesNothing", testUserEventConflict},
	{"ConcurrentUserEventSameMessage", testConcurrentUserEventSameMessage},
	{"ConcurrentUserEventVersions", testConcurrentUserEventVersions},
}

// msgRecord is the record of message id carrying body.
func msgRecord(id, body string) clerkgate.WebhookRecord {
	return clerkgate.WebhookRecord{MessageID: id, EventType: "user.updated", BodySHA256: digest(body), ProcessedAt: base}
}

// saveEvent calls SaveClerkUserEvent and fails t on error.
func saveEvent(t testing.TB, s Store, ev clerkgate.UserEvent) clerkgate.UserEventResult {
	t.Helper()
	res, err := s.SaveClerkUserEvent(t.Context(), ev)
	if err != nil {
		t.Fatalf("SaveClerkUserEvent(%s, %s v%d): %v", ev.Record.MessageID, ev.User.ClerkUserID, ev.User.ClerkUpdatedAt, err)
	}
	return res
}

// wantSaved fails t unless res is a recorded save with the given change.
func wantSaved(t testing.TB, res clerkgate.UserEventResult, changed bool) {
	t.Helper()
	if res.Duplicate || res.Absent || res.Tie || res.User == nil || res.Changed != changed {
		t.Fatalf("result %+v, want the user stored (changed %v) and the message recorded", res, changed)
	}
}

// wantNoRecord fails t if message id is recorded.
func wantNoRecord(t testing.TB, s Store, id string) {
	t.Helper()
	_, err := s.WebhookRecord(t.Context(), id)
	wantCode(t, err, clerkgate.CodeNotFound)
}

// testUserEventPrevious: a change of a stored row reports the role and
// ban the row had before it; an insert and a stale event report none.
func testUserEventPrevious(t *testing.T, s Store) {
	u := newUser("user_evprev", 1)
	u.Role = "member"
	res := saveEvent(t, s, clerkgate.UserEvent{User: u, Record: msgRecord("msg_evprev_1", "v1")})
	if wantSaved(t, res, true); res.Previous != nil {
		t.Errorf("insert: Previous %+v, want nil", res.Previous)
	}
	steps := []struct {
		role   string
		banned bool
		want   clerkgate.UserPrevious
	}{
		{"admin", false, clerkgate.UserPrevious{Role: "member"}},
		{"admin", true, clerkgate.UserPrevious{Role: "admin"}},
		{"member", false, clerkgate.UserPrevious{Role: "admin", Banned: true}},
	}
	for i, st := range steps {
		v := newUser("user_evprev", int64(i+2))
		v.Role, v.Banned = st.role, st.banned
		res := saveEvent(t, s, clerkgate.UserEvent{User: v, Record: msgRecord(fmt.Sprintf("msg_evprev_%d", i+2), "v")})
		if wantSaved(t, res, true); res.Previous == nil || *res.Previous != st.want {
			t.Errorf("step %d: Previous %+v, want %+v", i, res.Previous, st.want)
		}
	}
	stale := newUser("user_evprev", 1)
	res = saveEvent(t, s, clerkgate.UserEvent{User: stale, Record: msgRecord("msg_evprev_stale", "old")})
	if wantSaved(t, res, false); res.Previous != nil {
		t.Errorf("stale event: Previous %+v, want nil (nothing changed)", res.Previous)
	}
}

// testUserEventSaves: a new user is inserted and a newer version
// overwrites, as SaveClerkUser does, and each message is recorded.
func testUserEventSaves(t *testing.T, s Store) {
	before := time.Now()
	res := saveEvent(t, s, clerkgate.UserEvent{User: newUser("user_ev", 1), Record: msgRecord("msg_ev_1", "v1")})
	wantSaved(t, res, true)
	sameContent(t, res.User, newUser("user_ev", 1))
	sameUser(t, mustGet(t, s, "user_ev"), res.User)
	around(t, "CreatedAt", res.User.CreatedAt, before, time.Now())
	wantRecord(t, s, msgRecord("msg_ev_1", "v1"))

	next := newUser("user_ev", 2)
	next.FirstName, next.Banned = "Next", true
	res2 := saveEvent(t, s, clerkgate.UserEvent{User: next, Record: msgRecord("msg_ev_2", "v2"), ReportAbsent: true, ReportTie: true})
	wantSaved(t, res2, true)
	sameContent(t, res2.User, next)
	if res2.User.ID != res.User.ID || !res2.User.CreatedAt.Equal(res.User.CreatedAt) {
		t.Errorf("an update changed ID/CreatedAt")
	}
	sameUser(t, mustGet(t, s, "user_ev"), res2.User)
	wantRecord(t, s, msgRecord("msg_ev_2", "v2"))

	// A zero ProcessedAt is now; a tombstone is stored as SaveClerkUser
	// stores it.
	before = time.Now()
	del := saveEvent(t, s, clerkgate.UserEvent{User: tombstone("user_ev", 1, base), Record: clerkgate.WebhookRecord{
		MessageID: "msg_ev_3", EventType: "user.deleted", BodySHA256: digest("del")}, ReportAbsent: true, ReportTie: true})
	wantSaved(t, del, true)
	sameContent(t, del.User, tombstone("user_ev", 2, base))
	rec, err := s.WebhookRecord(t.Context(), "msg_ev_3")
	if err != nil {
		t.Fatal(err)
	}
	around(t, "ProcessedAt", rec.ProcessedAt, before, time.Now())
}

// testUserEventStale: an older version, the same version again, or any
// user over a tombstone changes nothing, and the message is recorded all
// the same with the row as stored.
func testUserEventStale(t *testing.T, s Store) {
	stored, _ := mustSave(t, s, newUser("user_evst", 5))
	old := newUser("user_evst", 3)
	old.FirstName = "Old"
	for i, u := range []*clerkgate.User{old, newUser("user_evst", 5)} {
		id := fmt.Sprint("msg_evst_", i)
		res := saveEvent(t, s, clerkgate.UserEvent{User: u, Record: msgRecord(id, id), ReportAbsent: true, ReportTie: true})
		wantSaved(t, res, false)
		sameUser(t, res.User, stored)
		wantRecord(t, s, msgRecord(id, id))
	}
	sameUser(t, mustGet(t, s, "user_evst"), stored)

	ts, _ := mustSave(t, s, tombstone("user_evst", 6, base))
	res := saveEvent(t, s, clerkgate.UserEvent{User: newUser("user_evst", 9), Record: msgRecord("msg_evst_9", "9"), ReportAbsent: true, ReportTie: true})
	wantSaved(t, res, false)
	sameUser(t, res.User, ts)
	sameUser(t, mustGet(t, s, "user_evst"), ts)
}

// testUserEventDuplicate: a message id recorded already wins over
// everything: nothing is written, whether the event is the same, newer
// data (a replay), an older one arriving after a newer, or a user never
// seen.
func testUserEventDuplicate(t *testing.T, s Store) {
	saveEvent(t, s, clerkgate.UserEvent{User: newUser("user_evdup", 1), Record: msgRecord("msg_evdup_1", "v1")})
	saveEvent(t, s, clerkgate.UserEvent{User: newUser("user_evdup", 2), Record: msgRecord("msg_evdup_2", "v2")})
	stored := mustGet(t, s, "user_evdup")
	if _, err := s.SaveWebhookRecord(t.Context(), msgRecord("msg_evdup_other", "other")); err != nil {
		t.Fatal(err)
	}
	newer := newUser("user_evdup", 9)
	newer.FirstName = "Mallory"
	for _, tc := range []struct {
		name string
		ev   clerkgate.UserEvent
	}{
		{"the old event again", clerkgate.UserEvent{User: newUser("user_evdup", 1), Record: msgRecord("msg_evdup_1", "v1")}},
		{"the latest event again", clerkgate.UserEvent{User: newUser("user_evdup", 2), Record: msgRecord("msg_evdup_2", "v2")}},
		{"newer data under a known id", clerkgate.UserEvent{User: newer, Record: msgRecord("msg_evdup_1", "replay")}},
		{"a tombstone under a known id", clerkgate.UserEvent{User: tombstone("user_evdup", 9, base), Record: msgRecord("msg_evdup_2", "replay")}},
		{"a new user under a known id", clerkgate.UserEvent{User: newUser("user_evdup_new", 1), Record: msgRecord("msg_evdup_other", "replay")}},
		{"reporting asked", clerkgate.UserEvent{User: newUser("user_evdup_new", 1), Record: msgRecord("msg_evdup_other", "x"),
			ReportAbsent: true, ReportTie: true}},
	} {
		res := saveEvent(t, s, tc.ev)
		if !res.Duplicate || res.Absent || res.Tie || res.Changed || res.User != nil {
			t.Errorf("%s: %+v, want Duplicate alone", tc.name, res)
		}
	}
	sameUser(t, mustGet(t, s, "user_evdup"), stored)
	_, err := s.UserByClerkID(t.Context(), "user_evdup_new")
	wantCode(t, err, clerkgate.CodeNotFound)
	wantRecord(t, s, msgRecord("msg_evdup_1", "v1"))
	wantRecord(t, s, msgRecord("msg_evdup_2", "v2"))
	wantRecord(t, s, msgRecord("msg_evdup_other", "other"))
}

// testUserEventAbsent: with ReportAbsent, a user that has no row is
// reported and nothing is written; without it, it is inserted.
func testUserEventAbsent(t *testing.T, s Store) {
	ev := clerkgate.UserEvent{User: newUser("user_evabs", 1), Record: msgRecord("msg_evabs", "a"), ReportAbsent: true}
	res := saveEvent(t, s, ev)
	if !res.Absent || res.Duplicate || res.Tie || res.User != nil {
		t.Fatalf("%+v, want Absent alone", res)
	}
	_, err := s.UserByClerkID(t.Context(), "user_evabs")
	wantCode(t, err, clerkgate.CodeNotFound)
	wantNoRecord(t, s, "msg_evabs")

	// A tombstone has a row too: not absent.
	ts, _ := mustSave(t, s, tombstone("user_evabs_del", 1, base))
	res = saveEvent(t, s, clerkgate.UserEvent{User: newUser("user_evabs_del", 2), Record: msgRecord("msg_evabs_del", "d"), ReportAbsent: true})
	wantSaved(t, res, false)
	sameUser(t, res.User, ts)

	ev.ReportAbsent = false
	wantSaved(t, saveEvent(t, s, ev), true)
	sameContent(t, mustGet(t, s, "user_evabs"), newUser("user_evabs", 1))
	wantRecord(t, s, msgRecord("msg_evabs", "a"))
}

// testUserEventTie: with ReportTie, a live row at the user's version with
// other content is reported and nothing is written; the same content is
// no tie (recorded, unchanged), nor is a tombstone on either side; without
// ReportTie a tie overwrites, as SaveClerkUser does.
func testUserEventTie(t *testing.T, s Store) {
	stored, _ := mustSave(t, s, newUser("user_evtie", 5))
	for _, change := range []func(u *clerkgate.User){
		func(u *clerkgate.User) { u.Banned = true },
		func(u *clerkgate.User) { u.FirstName = "Other" },
		func(u *clerkgate.User) { u.Role = "admin" },
		func(u *clerkgate.User) { u.PublicMetadata = []byte(`{"role":"admin"}`) },
		func(u *clerkgate.User) { u.PublicMetadata = nil },
		func(u *clerkgate.User) { u.ExternalID = "" },
		func(u *clerkgate.User) { u.LastSignInAt = base },
		func(u *clerkgate.User) { u.EmailVerified = false },
	} {
		tie := newUser("user_evtie", 5)
		change(tie)
		res := saveEvent(t, s, clerkgate.UserEvent{User: tie, Record: msgRecord("msg_evtie", "t"), ReportAbsent: true, ReportTie: true})
		if !res.Tie || res.Duplicate || res.Absent || res.User != nil {
			t.Fatalf("%+v, want Tie alone", res)
		}
		wantNoRecord(t, s, "msg_evtie")
		sameUser(t, mustGet(t, s, "user_evtie"), stored)
	}

	// The same content is no tie.
	res := saveEvent(t, s, clerkgate.UserEvent{User: newUser("user_evtie", 5), Record: msgRecord("msg_evtie_same", "s"), ReportTie: true})
	wantSaved(t, res, false)
	sameUser(t, res.User, stored)
	wantRecord(t, s, msgRecord("msg_evtie_same", "s"))

	// Without ReportTie the tie overwrites.
	tie := newUser("user_evtie", 5)
	tie.Banned = true
	res = saveEvent(t, s, clerkgate.UserEvent{User: tie, Record: msgRecord("msg_evtie", "t")})
	wantSaved(t, res, true)
	sameContent(t, mustGet(t, s, "user_evtie"), tie)

	// A tombstone is no tie, stored or saved.
	ts, _ := mustSave(t, s, tombstone("user_evtie_del", 5, base))
	res = saveEvent(t, s, clerkgate.UserEvent{User: newUser("user_evtie_del", 5), Record: msgRecord("msg_evtie_del1", "1"), ReportTie: true})
	wantSaved(t, res, false)
	sameUser(t, res.User, ts)
	mustSave(t, s, newUser("user_evtie_del2", base.UnixMilli()))
	res = saveEvent(t, s, clerkgate.UserEvent{User: tombstone("user_evtie_del2", base.UnixMilli(), base), Record: msgRecord("msg_evtie_del2", "2"), ReportTie: true})
	wantSaved(t, res, true)
	if !res.User.Deleted() {
		t.Errorf("the tombstone was not stored: %+v", res.User)
	}
}

// testUserEventInvalid: what SaveClerkUser or SaveWebhookRecord refuse is
// CodeInvalidRequest, and neither the user nor the record is written.
func testUserEventInvalid(t *testing.T, s Store) {
	noClerkID := newUser("", 1)
	badMeta := newUser("user_evinv", 1)
	badMeta.PublicMetadata = []byte(`{"role":`)
	nulName := newUser("user_evinv", 1)
	nulName.FirstName = "a\x00b"
	for name, ev := range map[string]clerkgate.UserEvent{
		"nil user":        {Record: msgRecord("msg_evinv", "x")},
		"no Clerk id":     {User: noClerkID, Record: msgRecord("msg_evinv", "x")},
		"bad metadata":    {User: badMeta, Record: msgRecord("msg_evinv", "x")},
		"NUL in a name":   {User: nulName, Record: msgRecord("msg_evinv", "x")},
		"no message id":   {User: newUser("user_evinv", 1), Record: msgRecord("", "x")},
		"short digest":    {User: newUser("user_evinv", 1), Record: clerkgate.WebhookRecord{MessageID: "msg_evinv", BodySHA256: digest("x")[:31]}},
		"NUL in the type": {User: newUser("user_evinv", 1), Record: clerkgate.WebhookRecord{MessageID: "msg_evinv", EventType: "user.\x00", BodySHA256: digest("x")}},
	} {
		res, err := s.SaveClerkUserEvent(t.Context(), ev)
		if code := clerkgate.ErrorCode(err); code != clerkgate.CodeInvalidRequest || res != (clerkgate.UserEventResult{}) {
			t.Errorf("%s: %+v, %v (code %q), want invalid_request", name, res, err, code)
		}
	}
	_, err := s.UserByClerkID(t.Context(), "user_evinv")
	wantCode(t, err, clerkgate.CodeNotFound)
	wantNoRecord(t, s, "msg_evinv")
}

// testUserEventConflict: when the user cannot be stored (its id belongs to
// another row), the record is not written either: the message stays new,
// so its retry applies it.
func testUserEventConflict(t *testing.T, s Store) {
	a := newUser("user_evone", 1)
	a.ID = "usr_evdup"
	mustSave(t, s, a)
	b := newUser("user_evtwo", 1)
	b.ID = "usr_evdup"
	res, err := s.SaveClerkUserEvent(t.Context(), clerkgate.UserEvent{User: b, Record: msgRecord("msg_evconf", "c")})
	wantCode(t, err, clerkgate.CodeConflict)
	if res != (clerkgate.UserEventResult{}) {
		t.Errorf("conflict returned %+v", res)
	}
	wantNoRecord(t, s, "msg_evconf")
	_, err = s.UserByClerkID(t.Context(), "user_evtwo")
	wantCode(t, err, clerkgate.CodeNotFound)
}

// testConcurrentUserEventSameMessage has 20 goroutines save one message id
// at once, each with a user of its own (instances racing on one Svix
// delivery, or a replay with another body): exactly one records it, and
// only its user is written, so the record and its change go together.
func testConcurrentUserEventSameMessage(t *testing.T, s Store) {
	const n = 20
	results := make([]clerkgate.UserEventResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := s.SaveClerkUserEvent(t.Context(), clerkgate.UserEvent{
				User: newUser(fmt.Sprint("user_evrace", i), 1), Record: msgRecord("msg_evrace", fmt.Sprint(i)),
			})
			if err != nil {
				t.Errorf("SaveClerkUserEvent: %v", err)
			}
			results[i] = res
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, res := range results {
		switch {
		case res.Duplicate:
		case winner >= 0:
			t.Fatalf("saves %d and %d both recorded the message: %+v, %+v", winner, i, results[winner], res)
		default:
			wantSaved(t, res, true)
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no save recorded the message")
	}
	wantRecord(t, s, msgRecord("msg_evrace", fmt.Sprint(winner)))
	for i := range n {
		_, err := s.UserByClerkID(t.Context(), fmt.Sprint("user_evrace", i))
		if i == winner && err != nil {
			t.Errorf("the winner's user: %v", err)
		}
		if i != winner && clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
			t.Errorf("user %d of a duplicate was written (err %v)", i, err)
		}
	}
}

// testConcurrentUserEventVersions saves 40 versions of one user, each
// under a message of its own, in random order from 8 goroutines, with
// ReportAbsent and ReportTie as the webhook path asks, saving again
// without ReportAbsent after an Absent as it does: the store ends at the
// newest, and every message is recorded.
func testConcurrentUserEventVersions(t *testing.T, s Store) {
	const versions, workers = 40, 8
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for v := range next {
				u := newUser("user_evver", int64(v+1))
				u.FirstName = fmt.Sprint("v", v+1)
				ev := clerkgate.UserEvent{User: u, Record: msgRecord(fmt.Sprint("msg_evver_", v), fmt.Sprint(v)), ReportAbsent: true, ReportTie: true}
				res, err := s.SaveClerkUserEvent(t.Context(), ev)
				if err == nil && res.Absent {
					ev.ReportAbsent = false
					res, err = s.SaveClerkUserEvent(t.Context(), ev)
				}
				switch {
				case err != nil:
					t.Errorf("v%d: %v", v+1, err)
				case res.Duplicate || res.Absent || res.Tie || res.User == nil:
					t.Errorf("v%d: %+v, want the message recorded", v+1, res)
				}
			}
		})
	}
	for _, v := range rand.Perm(versions) {
		next <- v
	}
	close(next)
	wg.Wait()
	if got := mustGet(t, s, "user_evver"); got.ClerkUpdatedAt != versions || got.FirstName != fmt.Sprint("v", versions) {
		t.Errorf("stored v%d %q, want the newest, v%d", got.ClerkUpdatedAt, got.FirstName, versions)
	}
	for v := range versions {
		wantRecord(t, s, msgRecord(fmt.Sprint("msg_evver_", v), fmt.Sprint(v)))
	}
}
