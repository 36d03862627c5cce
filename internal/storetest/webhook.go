package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
)

// webhookTests are the tests of clerkgate.WebhookStore.
var webhookTests = []test{
	{"WebhookRecord", testWebhookRecord},
	{"WebhookRecordInvalid", testWebhookRecordInvalid},
	{"ConcurrentWebhookRecord", testConcurrentWebhookRecord},
}

// digest is the SHA-256 of body.
func digest(body string) []byte {
	d := sha256.Sum256([]byte(body))
	return d[:]
}

// wantRecord fails t unless the record of want.MessageID is want.
func wantRecord(t testing.TB, s Store, want clerkgate.WebhookRecord) {
	t.Helper()
	got, err := s.WebhookRecord(t.Context(), want.MessageID)
	if err != nil {
		t.Fatalf("WebhookRecord(%s): %v", want.MessageID, err)
	}
	if got.MessageID != want.MessageID || got.EventType != want.EventType || !bytes.Equal(got.BodySHA256, want.BodySHA256) ||
		!sameMillis(got.ProcessedAt, want.ProcessedAt) {
		t.Fatalf("WebhookRecord(%s) = %+v, want %+v", want.MessageID, got, want)
	}
}

func testWebhookRecord(t *testing.T, s Store) {
	got, err := s.WebhookRecord(t.Context(), "msg_1")
	if got != nil {
		t.Error("WebhookRecord of an unknown id returned a record")
	}
	wantCode(t, err, clerkgate.CodeNotFound)

	first := clerkgate.WebhookRecord{
		MessageID:   "msg_1",
		EventType:   "user.created",
		BodySHA256:  digest(`{"type":"user.created"}`),
		ProcessedAt: base.In(time.FixedZone("UTC+9", 9*3600)).Add(999_999),
	}
	inserted, err := s.SaveWebhookRecord(t.Context(), first)
	if err != nil || !inserted {
		t.Fatalf("first SaveWebhookRecord = %v, %v; want true", inserted, err)
	}
	wantRecord(t, s, first)

	// The same id again, with another body or type: nothing changes.
	for _, again := range []clerkgate.WebhookRecord{
		first,
		{MessageID: "msg_1", EventType: "user.updated", BodySHA256: digest("other"), ProcessedAt: base.Add(time.Hour)},
	} {
		inserted, err := s.SaveWebhookRecord(t.Context(), again)
		if err != nil || inserted {
			t.Fatalf("SaveWebhookRecord of a known id = %v, %v; want false, nil", inserted, err)
		}
		wantRecord(t, s, first)
	}

	// A zero ProcessedAt is now.
	before := time.Now()
	if _, err := s.SaveWebhookRecord(t.Context(), clerkgate.WebhookRecord{MessageID: "msg_2", BodySHA256: digest("")}); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	second, err := s.WebhookRecord(t.Context(), "msg_2")
	if err != nil {
		t.Fatal(err)
	}
	around(t, "ProcessedAt", second.ProcessedAt, before, after)

	for _, id := range []string{"", "msg_\x00", "\xff", "MSG_1"} {
		_, err := s.WebhookRecord(t.Context(), id)
		wantCode(t, err, clerkgate.CodeNotFound)
	}
}

func testWebhookRecordInvalid(t *testing.T, s Store) {
	for name, r := range map[string]clerkgate.WebhookRecord{
		"no id":          {EventType: "user.created", BodySHA256: digest("x")},
		"no digest":      {MessageID: "msg_1", EventType: "user.created"},
		"short digest":   {MessageID: "msg_1", EventType: "user.created", BodySHA256: digest("x")[:31]},
		"long digest":    {MessageID: "msg_1", EventType: "user.created", BodySHA256: append(digest("x"), 0)},
		"NUL in the id":  {MessageID: "msg_\x00", BodySHA256: digest("x")},
		"invalid UTF-8":  {MessageID: "msg_1", EventType: "\xff", BodySHA256: digest("x")},
		"NUL in type":    {MessageID: "msg_1", EventType: "user.\x00", BodySHA256: digest("x")},
		"nil everything": {},
	} {
		inserted, err := s.SaveWebhookRecord(t.Context(), r)
		if code := clerkgate.ErrorCode(err); code != clerkgate.CodeInvalidRequest || inserted {
			t.Errorf("%s: %v, %v (code %q), want invalid_request", name, inserted, err, code)
		}
	}
	_, err := s.WebhookRecord(t.Context(), "msg_1")
	wantCode(t, err, clerkgate.CodeNotFound)
}

// testConcurrentWebhookRecord has 20 goroutines record one message id at
// once, each with a body of its own (instances racing on one Svix
// delivery): exactly one inserts, and its record is the one stored.
func testConcurrentWebhookRecord(t *testing.T, s Store) {
	const n = 20
	inserted := make([]bool, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ok, err := s.SaveWebhookRecord(t.Context(), clerkgate.WebhookRecord{
				MessageID: "msg_race", EventType: "user.updated", BodySHA256: digest(fmt.Sprint(i)), ProcessedAt: base,
			})
			if err != nil {
				t.Errorf("SaveWebhookRecord: %v", err)
			}
			inserted[i] = ok
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, ok := range inserted {
		if ok && winner >= 0 {
			t.Fatalf("saves %d and %d both inserted", winner, i)
		}
		if ok {
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no save inserted")
	}
	wantRecord(t, s, clerkgate.WebhookRecord{MessageID: "msg_race", EventType: "user.updated", BodySHA256: digest(fmt.Sprint(winner)), ProcessedAt: base})
}
