package storetest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
)

// securityTests are the tests of clerkgate.SecurityEventStore.
var securityTests = []test{
	{"SecurityEventSave", testSecurityEventSave},
	{"SecurityEventIDsSortByTime", testSecurityEventIDs},
	{"SecurityEventInvalid", testSecurityEventInvalid},
	{"SecurityEventsPages", testSecurityEventsPages},
	{"SecurityEventsFilters", testSecurityEventsFilters},
	{"SecurityEventsLimits", testSecurityEventsLimits},
	{"SecurityEventsBadCursor", testSecurityEventsBadCursor},
	{"SecurityEventsPurge", testSecurityEventsPurge},
	{"ConcurrentSecurityEvents", testConcurrentSecurityEvents},
}

// event returns an event of kind at at with every field set.
func event(kind string, at time.Time) clerkgate.SecurityEvent {
	return clerkgate.SecurityEvent{
		Kind:      kind,
		At:        at,
		IP:        "203.0.113.9",
		UserID:    "user_1",
		RequestID: "req-1",
		Detail:    json.RawMessage(`{"reason":"expired","n":2}`),
	}
}

// mustSaveEvent saves e and fails t on error.
func mustSaveEvent(t testing.TB, s Store, e clerkgate.SecurityEvent) {
	t.Helper()
	if err := s.SaveSecurityEvent(t.Context(), e); err != nil {
		t.Fatalf("SaveSecurityEvent(%s %s): %v", e.Kind, e.ID, err)
	}
}

// listEvents follows the cursors of q to the end and returns every event
// seen and the size of each page.
func listEvents(t testing.TB, s Store, q clerkgate.SecurityEventQuery) (events []clerkgate.SecurityEvent, pages []int) {
	t.Helper()
	for range 1000 {
		page, next, err := s.SecurityEvents(t.Context(), q)
		if err != nil {
			t.Fatalf("SecurityEvents(%+v): %v", q, err)
		}
		pages = append(pages, len(page))
		events = append(events, page...)
		if next == "" {
			return events, pages
		}
		q.Cursor = next
	}
	t.Fatal("SecurityEvents never ended")
	return nil, nil
}

// eventIDs returns the ids of events.
func eventIDs(events []clerkgate.SecurityEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

// sameEvent fails t unless got is want (times at ms, in UTC).
func sameEvent(t testing.TB, got, want clerkgate.SecurityEvent) {
	t.Helper()
	if got.ID != want.ID || got.Kind != want.Kind || !sameMillis(got.At, want.At) || got.IP != want.IP ||
		got.UserID != want.UserID || got.RequestID != want.RequestID || !sameJSON(got.Detail, want.Detail) {
		t.Fatalf("event = %+v, want %+v", got, want)
	}
}

func testSecurityEventSave(t *testing.T, s Store) {
	e := event(clerkgate.EventAuthFailed, base.In(time.FixedZone("UTC+1", 3600)).Add(777_777))
	mustSaveEvent(t, s, e)
	events, _ := listEvents(t, s, clerkgate.SecurityEventQuery{})
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	got := events[0]
	if !strings.HasPrefix(got.ID, "sev_") || len(got.ID) != 30 {
		t.Errorf("generated id %q, want sev_ and 26 characters", got.ID)
	}
	e.ID = got.ID
	sameEvent(t, got, e)

	// A given id is kept, and taken it is a conflict.
	given := event(clerkgate.EventAdminAction, base.Add(time.Second))
	given.ID, given.Detail, given.IP, given.UserID, given.RequestID = "sev_given", nil, "", "", ""
	mustSaveEvent(t, s, given)
	wantCode(t, s.SaveSecurityEvent(t.Context(), given), clerkgate.CodeConflict)

	// A zero At is now.
	before := time.Now()
	mustSaveEvent(t, s, clerkgate.SecurityEvent{Kind: clerkgate.EventHeaderSpoofing})
	after := time.Now()

	events, _ = listEvents(t, s, clerkgate.SecurityEventQuery{})
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	around(t, "At", events[0].At, before, after)
	sameEvent(t, events[1], given)
	if events[1].Detail != nil {
		t.Errorf("Detail = %s, want nil", events[1].Detail)
	}
	sameEvent(t, events[2], e)
}

// testSecurityEventIDs: generated ids sort as the events' times do, to the
// millisecond.
func testSecurityEventIDs(t *testing.T, s Store) {
	for _, d := range []time.Duration{3 * time.Hour, 0, time.Millisecond, 24 * time.Hour, time.Second} {
		mustSaveEvent(t, s, event(clerkgate.EventAuthFailed, base.Add(d)))
	}
	events, _ := listEvents(t, s, clerkgate.SecurityEventQuery{})
	ids := eventIDs(events)
	if !slices.IsSortedFunc(ids, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("ids %v, newest first, are not in descending order", ids)
	}
}

func testSecurityEventInvalid(t *testing.T, s Store) {
	for name, set := range map[string]func(e *clerkgate.SecurityEvent){
		"no kind":       func(e *clerkgate.SecurityEvent) { e.Kind = "" },
		"bad detail":    func(e *clerkgate.SecurityEvent) { e.Detail = json.RawMessage(`{"a":`) },
		"NUL in kind":   func(e *clerkgate.SecurityEvent) { e.Kind = "auth\x00" },
		"NUL in IP":     func(e *clerkgate.SecurityEvent) { e.IP = "\x00" },
		"invalid user":  func(e *clerkgate.SecurityEvent) { e.UserID = "\xff" },
		"invalid req":   func(e *clerkgate.SecurityEvent) { e.RequestID = "a\xc3" },
		"invalid id":    func(e *clerkgate.SecurityEvent) { e.ID = "sev_\x00" },
		"detail + junk": func(e *clerkgate.SecurityEvent) { e.Detail = json.RawMessage(`{} x`) },
	} {
		e := event(clerkgate.EventAuthFailed, base)
		set(&e)
		if code := clerkgate.ErrorCode(s.SaveSecurityEvent(t.Context(), e)); code != clerkgate.CodeInvalidRequest {
			t.Errorf("%s: code %q, want invalid_request", name, code)
		}
	}
	if events, _ := listEvents(t, s, clerkgate.SecurityEventQuery{}); len(events) != 0 {
		t.Errorf("invalid events were stored: %d", len(events))
	}
}

// seedEvents saves n events a second apart from base, of kinds that
// alternate between auth_failed and webhook_replay, and returns them
// newest first, as the store lists them.
func seedEvents(t testing.TB, s Store, n int) []clerkgate.SecurityEvent {
	t.Helper()
	out := make([]clerkgate.SecurityEvent, n)
	for i := range n {
		kind := clerkgate.EventAuthFailed
		if i%2 == 1 {
			kind = clerkgate.EventWebhookReplay
		}
		e := event(kind, base.Add(time.Duration(i)*time.Second))
		e.ID = fmt.Sprintf("sev_seed_%03d", i)
		mustSaveEvent(t, s, e)
		out[n-1-i] = e
	}
	return out
}

func testSecurityEventsPages(t *testing.T, s Store) {
	events, pages := listEvents(t, s, clerkgate.SecurityEventQuery{})
	if len(events) != 0 || !slices.Equal(pages, []int{0}) {
		t.Fatalf("empty store: %d events in pages %v", len(events), pages)
	}
	want := seedEvents(t, s, 7)
	got, pages := listEvents(t, s, clerkgate.SecurityEventQuery{Limit: 3})
	if !slices.Equal(eventIDs(got), eventIDs(want)) || !slices.Equal(pages, []int{3, 3, 1}) {
		t.Fatalf("pages %v of %v, want [3 3 1] of %v", pages, eventIDs(got), eventIDs(want))
	}
	for i := range got {
		sameEvent(t, got[i], want[i])
	}
	if _, pages = listEvents(t, s, clerkgate.SecurityEventQuery{Limit: 7}); len(pages) != 1 {
		t.Errorf("a page that ends at the last event has a next cursor: pages %v", pages)
	}

	// Events of the same millisecond are ordered by id, and no page
	// boundary loses or repeats one.
	same := []string{"sev_tie_c", "sev_tie_a", "sev_tie_e", "sev_tie_b", "sev_tie_d"}
	for _, id := range same {
		e := event(clerkgate.EventAuthFailed, base.Add(time.Hour))
		e.ID = id
		mustSaveEvent(t, s, e)
	}
	got, _ = listEvents(t, s, clerkgate.SecurityEventQuery{Limit: 2})
	wantIDs := append([]string{"sev_tie_e", "sev_tie_d", "sev_tie_c", "sev_tie_b", "sev_tie_a"}, eventIDs(want)...)
	if !slices.Equal(eventIDs(got), wantIDs) {
		t.Fatalf("order %v, want %v", eventIDs(got), wantIDs)
	}
}

func testSecurityEventsFilters(t *testing.T, s Store) {
	all := seedEvents(t, s, 9) // seconds 8 (newest) .. 0
	pick := func(seconds ...int) []string {
		var ids []string
		for _, sec := range seconds {
			ids = append(ids, all[len(all)-1-sec].ID)
		}
		return ids
	}
	for _, tc := range []struct {
		q    clerkgate.SecurityEventQuery
		want []string
	}{
		{clerkgate.SecurityEventQuery{Kind: clerkgate.EventAuthFailed}, pick(8, 6, 4, 2, 0)},
		{clerkgate.SecurityEventQuery{Kind: clerkgate.EventWebhookReplay, Limit: 1}, pick(7, 5, 3, 1)},
		{clerkgate.SecurityEventQuery{Kind: clerkgate.EventUserBanned}, nil},
		{clerkgate.SecurityEventQuery{Kind: "AUTH_FAILED"}, nil},                           // kinds are exact
		{clerkgate.SecurityEventQuery{Since: base.Add(5 * time.Second)}, pick(8, 7, 6, 5)}, // inclusive
		{clerkgate.SecurityEventQuery{Since: base.Add(5*time.Second + time.Millisecond)}, pick(8, 7, 6)},
		{clerkgate.SecurityEventQuery{Since: base.Add(time.Hour)}, nil},
		{clerkgate.SecurityEventQuery{Kind: clerkgate.EventAuthFailed, Since: base.Add(3 * time.Second), Limit: 2}, pick(8, 6, 4)},
	} {
		got, _ := listEvents(t, s, tc.q)
		if !slices.Equal(eventIDs(got), tc.want) {
			t.Errorf("SecurityEvents(%+v) = %v, want %v", tc.q, eventIDs(got), tc.want)
		}
	}
}

func testSecurityEventsLimits(t *testing.T, s Store) {
	for _, limit := range []int{-1, 201, 1 << 30} {
		_, _, err := s.SecurityEvents(t.Context(), clerkgate.SecurityEventQuery{Limit: limit})
		wantCode(t, err, clerkgate.CodeInvalidRequest)
	}
	for _, bad := range []string{"a\x00", "\xff"} {
		_, _, err := s.SecurityEvents(t.Context(), clerkgate.SecurityEventQuery{Kind: bad})
		wantCode(t, err, clerkgate.CodeInvalidRequest)
	}
	seedEvents(t, s, 51)
	events, next, err := s.SecurityEvents(t.Context(), clerkgate.SecurityEventQuery{})
	if err != nil || len(events) != 50 || next == "" {
		t.Fatalf("default limit: %d events, next %q, %v; want 50 and a cursor", len(events), next, err)
	}
	events, next, err = s.SecurityEvents(t.Context(), clerkgate.SecurityEventQuery{Limit: 200})
	if err != nil || len(events) != 51 || next != "" {
		t.Fatalf("limit 200: %d events, next %q, %v; want 51 and no cursor", len(events), next, err)
	}
}

func testSecurityEventsBadCursor(t *testing.T, s Store) {
	seedEvents(t, s, 3)
	b64 := base64.RawURLEncoding.EncodeToString
	for _, c := range []string{
		"garbage!",
		"====",
		b64([]byte("no-separator")),
		b64([]byte("abc:sev_x")),
		b64([]byte("1:")),
		b64([]byte("99999999999999999999999:sev_x")),
		b64([]byte("9223372036854775807:sev_x")),
		b64([]byte("1:sev_\x00")),
		b64([]byte("1:\xff")),
		strings.Repeat("A", 10_000),
		"' OR 1=1 --",
	} {
		events, next, err := s.SecurityEvents(t.Context(), clerkgate.SecurityEventQuery{Cursor: c})
		if clerkgate.ErrorCode(err) != clerkgate.CodeInvalidRequest {
			t.Errorf("cursor %.40q: %d events, %q, %v; want invalid_request", c, len(events), next, err)
		}
	}
}

func testSecurityEventsPurge(t *testing.T, s Store) {
	n, err := s.PurgeSecurityEvents(t.Context(), base)
	if err != nil || n != 0 {
		t.Fatalf("purge of an empty store = %d, %v", n, err)
	}
	day := 24 * time.Hour
	for _, d := range []time.Duration{-3 * day, -2 * day, -day, 0, day} {
		mustSaveEvent(t, s, event(clerkgate.EventAuthFailed, base.Add(d)))
	}
	// Strictly older than before.
	if n, err := s.PurgeSecurityEvents(t.Context(), base.Add(-day)); err != nil || n != 2 {
		t.Fatalf("purge = %d, %v; want 2", n, err)
	}
	if n, err := s.PurgeSecurityEvents(t.Context(), base.Add(-day)); err != nil || n != 0 {
		t.Fatalf("second purge = %d, %v; want 0", n, err)
	}
	events, _ := listEvents(t, s, clerkgate.SecurityEventQuery{})
	if len(events) != 3 || !events[2].At.Equal(base.Add(-day)) {
		t.Fatalf("after the purge: %+v", events)
	}

}

// testConcurrentSecurityEvents saves 200 events of one millisecond from 8
// goroutines: each gets an id of its own and every one is listed once.
func testConcurrentSecurityEvents(t *testing.T, s Store) {
	const n = 200
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range next {
				if err := s.SaveSecurityEvent(t.Context(), event(clerkgate.EventAuthFailed, base)); err != nil {
					t.Errorf("SaveSecurityEvent: %v", err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	events, _ := listEvents(t, s, clerkgate.SecurityEventQuery{Limit: 7})
	ids := eventIDs(events)
	slices.Sort(ids)
	if distinct := len(slices.Compact(ids)); distinct != n || len(events) != n {
		t.Fatalf("%d events listed, %d distinct; want %d", len(events), distinct, n)
	}
}

// PurgeInBatches tests PurgeSecurityEvents across the batches it deletes
// in: s is a new, empty store set to delete batch rows per statement
// (batch small, 3 for one). It purges 3·batch events (whole batches, then
// an empty one) and then 2·batch+1 (a partial last batch), leaving newer
// events alone.
func PurgeInBatches(t *testing.T, s clerkgate.SecurityEventStore, batch int) {
	save := func(n int, from time.Time) {
		for i := range n {
			if err := s.SaveSecurityEvent(t.Context(), event(clerkgate.EventBruteForceSuspected, from.Add(time.Duration(i)*time.Millisecond))); err != nil {
				t.Fatalf("SaveSecurityEvent: %v", err)
			}
		}
	}
	save(3*batch, base.Add(-48*time.Hour))
	save(2*batch+1, base.Add(-24*time.Hour))
	save(2, base)
	for _, tc := range []struct {
		before time.Time
		want   int64
	}{
		{base.Add(-24 * time.Hour), int64(3 * batch)},
		{base, int64(2*batch + 1)},
		{base, 0},
	} {
		if n, err := s.PurgeSecurityEvents(t.Context(), tc.before); err != nil || n != tc.want {
			t.Fatalf("PurgeSecurityEvents(%v) = %d, %v; want %d", tc.before, n, err, tc.want)
		}
	}
	events, _, err := s.SecurityEvents(t.Context(), clerkgate.SecurityEventQuery{})
	if err != nil || len(events) != 2 {
		t.Fatalf("after the purges: %d events, %v; want 2", len(events), err)
	}
}
