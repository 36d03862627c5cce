package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
)

// denialTests are the tests of clerkgate.DenialStore.
var denialTests = []test{
	{"DenySessionAndList", testDenySessionAndList},
	{"DenySessionKeepsLaterUntil", testDenyKeepsLaterUntil},
	{"DenySessionDefaults", testDenyDefaults},
	{"DenySessionInvalid", testDenyInvalid},
	{"ConcurrentDenials", testConcurrentDenials},
}

// mustDeny stores d and fails t on error.
func mustDeny(t testing.TB, s Store, d clerkgate.SessionDenial) {
	t.Helper()
	if err := s.DenySession(t.Context(), d); err != nil {
		t.Fatalf("DenySession(%s): %v", d.SessionID, err)
	}
}

// wantDenials fails t unless SessionDenials(now, since) is want: times
// compared at ms and in UTC.
func wantDenials(t testing.TB, s Store, now, since time.Time, want ...clerkgate.SessionDenial) {
	t.Helper()
	got, err := s.SessionDenials(t.Context(), now, since)
	if err != nil {
		t.Fatalf("SessionDenials: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("SessionDenials(%v, %v) = %+v, want %+v", now, since, got, want)
	}
	for i, g := range got {
		w := want[i]
		if g.SessionID != w.SessionID || g.ClerkUserID != w.ClerkUserID || g.Reason != w.Reason ||
			!sameMillis(g.Until, w.Until) || !sameMillis(g.CreatedAt, w.CreatedAt) {
			t.Fatalf("denial %d = %+v, want %+v", i, g, w)
		}
	}
}

// sameMillis reports whether got is want at ms precision, in UTC unless
// both are zero.
func sameMillis(got, want time.Time) bool {
	if got.IsZero() || want.IsZero() {
		return got.IsZero() && want.IsZero()
	}
	return got.Equal(want.Truncate(time.Millisecond)) && got.Location() == time.UTC
}

func testDenySessionAndList(t *testing.T, s Store) {
	now := base
	zone := time.FixedZone("UTC-7", -7*3600)
	a := clerkgate.SessionDenial{SessionID: "sess_a", ClerkUserID: "user_1", Reason: "logout",
		Until: now.Add(time.Hour).In(zone).Add(123_456), CreatedAt: now.Add(-3 * time.Minute).In(zone).Add(654_321)}
	b := clerkgate.SessionDenial{SessionID: "sess_b", Reason: "user.banned", CreatedAt: now.Add(-2 * time.Minute)} // for ever
	c := clerkgate.SessionDenial{SessionID: "sess_c", Reason: "session.revoked", Until: now.Add(-time.Minute), CreatedAt: now.Add(-time.Minute)}
	d := clerkgate.SessionDenial{SessionID: "sess_d", Reason: "session.ended", Until: now, CreatedAt: now.Add(-30 * time.Second)}
	wantDenials(t, s, now, time.Time{})
	for _, x := range []clerkgate.SessionDenial{d, c, b, a} {
		mustDeny(t, s, x)
	}
	// In force: until after now (sess_d ends at now exactly) or never.
	wantDenials(t, s, now, time.Time{}, a, b)
	wantDenials(t, s, now.Add(-2*time.Hour), time.Time{}, a, b, c, d)
	wantDenials(t, s, now.Add(1000*time.Hour), time.Time{}, b)
	// Created at or after since.
	wantDenials(t, s, now, b.CreatedAt, b)
	wantDenials(t, s, now, b.CreatedAt.Add(time.Millisecond))
	wantDenials(t, s, now.Add(-2*time.Hour), b.CreatedAt, b, c, d)
}

func testDenyKeepsLaterUntil(t *testing.T, s Store) {
	now := base
	first := clerkgate.SessionDenial{SessionID: "sess_x", Reason: "logout", Until: now.Add(time.Hour), CreatedAt: now.Add(-10 * time.Minute)}
	mustDeny(t, s, first)

	// An earlier until changes nothing.
	mustDeny(t, s, clerkgate.SessionDenial{SessionID: "sess_x", Reason: "session.ended", Until: now.Add(30 * time.Minute), CreatedAt: now.Add(-5 * time.Minute)})
	wantDenials(t, s, now, time.Time{}, first)

	// A later until wins, with its reason, and moves created_at forward:
	// an instance that polls since its last look sees the extension.
	later := clerkgate.SessionDenial{SessionID: "sess_x", Reason: "session.revoked", Until: now.Add(2 * time.Hour), CreatedAt: now.Add(-5 * time.Minute)}
	mustDeny(t, s, later)
	wantDenials(t, s, now, time.Time{}, later)
	wantDenials(t, s, now, now.Add(-6*time.Minute), later)
	wantDenials(t, s, now.Add(90*time.Minute), time.Time{}, later)

	// Created at an earlier time than stored: the later until wins and
	// created_at does not go back.
	earlierCreated := clerkgate.SessionDenial{SessionID: "sess_x", Reason: "session.removed", Until: now.Add(3 * time.Hour), CreatedAt: now.Add(-20 * time.Minute)}
	mustDeny(t, s, earlierCreated)
	want := earlierCreated
	want.CreatedAt = later.CreatedAt
	wantDenials(t, s, now, time.Time{}, want)

	// For ever wins over any until, and nothing ends it afterwards.
	ban := clerkgate.SessionDenial{SessionID: "sess_x", Reason: "user.banned", CreatedAt: now.Add(-4 * time.Minute)}
	mustDeny(t, s, ban)
	wantDenials(t, s, now, time.Time{}, ban)
	mustDeny(t, s, clerkgate.SessionDenial{SessionID: "sess_x", Reason: "logout", Until: now.Add(5 * time.Hour), CreatedAt: now.Add(-time.Minute)})
	mustDeny(t, s, clerkgate.SessionDenial{SessionID: "sess_x", Reason: "logout", CreatedAt: now.Add(-time.Minute)})
	wantDenials(t, s, now.Add(1000*time.Hour), time.Time{}, ban)

	// A Clerk user id fills an empty one, and only an empty one, without
	// changing anything else.
	anon := clerkgate.SessionDenial{SessionID: "sess_y", Reason: "session.revoked", Until: now.Add(time.Hour), CreatedAt: now.Add(-time.Minute)}
	mustDeny(t, s, anon)
	mustDeny(t, s, clerkgate.SessionDenial{SessionID: "sess_y", ClerkUserID: "user_9", Reason: "logout", Until: now.Add(time.Minute), CreatedAt: now})
	mustDeny(t, s, clerkgate.SessionDenial{SessionID: "sess_y", ClerkUserID: "user_10", Reason: "logout", Until: now.Add(time.Minute), CreatedAt: now})
	named := anon
	named.ClerkUserID = "user_9"
	wantDenials(t, s, now, now.Add(-2*time.Minute), named)

	// An expired denial is renewed by a later one.
	mustDeny(t, s, clerkgate.SessionDenial{SessionID: "sess_z", Reason: "logout", Until: now.Add(-time.Hour), CreatedAt: now.Add(-2 * time.Hour)})
	renewed := clerkgate.SessionDenial{SessionID: "sess_z", Reason: "session.revoked", Until: now.Add(time.Hour), CreatedAt: now}
	mustDeny(t, s, renewed)
	wantDenials(t, s, now, now, renewed)
}

func testDenyDefaults(t *testing.T, s Store) {
	before := time.Now()
	mustDeny(t, s, clerkgate.SessionDenial{SessionID: "sess_now", Until: before.Add(time.Hour)})
	after := time.Now()
	got, err := s.SessionDenials(t.Context(), before, time.Time{})
	if err != nil || len(got) != 1 {
		t.Fatalf("SessionDenials = %+v, %v; want one", got, err)
	}
	around(t, "CreatedAt", got[0].CreatedAt, before, after)
	if got[0].ClerkUserID != "" || got[0].Reason != "" {
		t.Errorf("empty fields came back as %+v", got[0])
	}
}

func testDenyInvalid(t *testing.T, s Store) {
	for name, d := range map[string]clerkgate.SessionDenial{
		"no session id": {Reason: "logout"},
		"NUL":           {SessionID: "sess_\x00"},
		"invalid UTF-8": {SessionID: "sess_1", ClerkUserID: "\xff"},
		"NUL in reason": {SessionID: "sess_1", Reason: "a\x00"},
	} {
		if code := clerkgate.ErrorCode(s.DenySession(t.Context(), d)); code != clerkgate.CodeInvalidRequest {
			t.Errorf("%s: code %q, want invalid_request", name, code)
		}
	}
	wantDenials(t, s, time.Time{}, time.Time{})
}

// testConcurrentDenials denies two sessions 20 times each, at once and in
// random order: the first ends at the latest until, the second, denied
// once for ever, never ends.
func testConcurrentDenials(t *testing.T, s Store) {
	const n = 20
	var all []clerkgate.SessionDenial
	for i := range n {
		until := base.Add(time.Duration(i+1) * time.Minute)
		all = append(all,
			clerkgate.SessionDenial{SessionID: "sess_race", Reason: fmt.Sprintf("r%d", i+1), Until: until, CreatedAt: base},
			clerkgate.SessionDenial{SessionID: "sess_race_ban", Reason: "logout", Until: until, CreatedAt: base})
	}
	all[len(all)-1].Until, all[len(all)-1].Reason = time.Time{}, "user.banned"
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, d := range all {
		wg.Go(func() {
			<-start
			if err := s.DenySession(t.Context(), d); err != nil {
				t.Errorf("DenySession: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	wantDenials(t, s, base, time.Time{},
		clerkgate.SessionDenial{SessionID: "sess_race", Reason: fmt.Sprintf("r%d", n), Until: base.Add(n * time.Minute), CreatedAt: base},
		clerkgate.SessionDenial{SessionID: "sess_race_ban", Reason: "user.banned", CreatedAt: base})
}
