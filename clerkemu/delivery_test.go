package clerkemu_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/verify"
)

// TestWebhookRetryThenDelivered: a receiver that answers 500 twice, then
// 200, gets the same message three times and it counts as delivered.
func TestWebhookRetryThenDelivered(t *testing.T) {
	t.Parallel()
	e, rc := hookEnv(t, clerkemu.Options{WebhookRetryScale: 0.001}, func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	if _, err := e.srv.CreateUser(clerkemu.UserParams{}); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, e.srv.Emulator)
	got := rc.deliveries()
	if len(got) != 3 {
		t.Fatalf("receiver got %d requests, want 3", len(got))
	}
	w := mustVerifier(t, nil)
	for _, d := range got[1:] {
		if d.id() != got[0].id() || !bytes.Equal(d.body, got[0].body) {
			t.Errorf("retry %s differs from the first attempt %s", d.id(), got[0].id())
		}
		if _, err := w.Verify(d.header, d.body); err != nil {
			t.Errorf("retry does not verify: %v", err)
		}
	}
	// The second attempt waits 5s (scaled: 5ms) after the first failed.
	if gap := got[2].at.Sub(got[1].at); gap < 5*time.Millisecond {
		t.Errorf("third attempt %v after the second, want at least 5ms", gap)
	}
	want := clerkemu.WebhookStats{Messages: 1, Sent: 3, Delivered: 1, Failed: 2}
	if st := e.srv.WebhookStats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// TestWebhookGiveUp: a receiver that never answers 2xx gets every attempt
// of the (scaled) schedule, spaced by it, and the message is given up.
func TestWebhookGiveUp(t *testing.T) {
	t.Parallel()
	const scale = 0.00001 // the whole schedule, 27.6h, in about a second
	e, rc := hookEnv(t, clerkemu.Options{WebhookRetryScale: scale}, func(int, *http.Request) int {
		return http.StatusServiceUnavailable
	})
	if _, err := e.srv.CreateUser(clerkemu.UserParams{}); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, e.srv.Emulator)
	got := rc.deliveries()
	sched := clerkemu.WebhookSchedule()
	if len(got) != len(sched) || len(sched) != 8 {
		t.Fatalf("receiver got %d attempts, want %d", len(got), len(sched))
	}
	for i := 1; i < len(got); i++ {
		if got[i].id() != got[0].id() {
			t.Errorf("attempt %d has svix-id %s, want %s", i+1, got[i].id(), got[0].id())
		}
		if gap, min := got[i].at.Sub(got[i-1].at), time.Duration(float64(sched[i])*scale); gap < min {
			t.Errorf("attempt %d came %v after the previous one, want at least %v", i+1, gap, min)
		}
	}
	want := clerkemu.WebhookStats{Messages: 1, Sent: 8, Failed: 8, GaveUp: 1}
	if st := e.srv.WebhookStats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// TestWebhookFailures: a timeout, a redirect and a refused connection are
// failed attempts.
func TestWebhookFailures(t *testing.T) {
	t.Parallel()
	slow := newReceiver(t, func(n int, r *http.Request) int {
		if n == 1 {
			<-r.Context().Done() // longer than the timeout
		}
		return http.StatusNoContent
	})
	redirect := newReceiver(t, func(n int, _ *http.Request) int {
		if n == 1 {
			return http.StatusFound
		}
		return http.StatusAccepted
	})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	e := newEnv(t, clerkemu.Options{WebhookTimeout: 100 * time.Millisecond, WebhookRetryScale: 0.00001,
		Webhooks: []clerkemu.WebhookEndpoint{{URL: slow.URL, Secret: testSecret}, {URL: redirect.URL, Secret: testSecret},
			{URL: closed.URL, Secret: testSecret}}})
	if _, err := e.srv.CreateUser(clerkemu.UserParams{}); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, e.srv.Emulator)
	if n, m := len(slow.deliveries()), len(redirect.deliveries()); n != 2 || m != 2 {
		t.Errorf("slow receiver got %d attempts, redirecting one %d; want 2 each", n, m)
	}
	want := clerkemu.WebhookStats{Messages: 3, Sent: 12, Delivered: 2, Failed: 10, GaveUp: 1}
	if st := e.srv.WebhookStats(); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// TestWebhookEndpoints: endpoints added at run time get the events from
// then on; every endpoint gets the same svix-id; bad endpoints and options
// are errors.
func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	e, first := hookEnv(t, clerkemu.Options{}, nil)
	if _, err := e.srv.CreateUser(clerkemu.UserParams{}); err != nil {
		t.Fatal(err)
	}
	second := newReceiver(t, nil)
	if err := e.srv.AddWebhookEndpoint(second.URL, testSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.CreateUser(clerkemu.UserParams{}); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, e.srv.Emulator)
	a, b := first.deliveries(), second.deliveries()
	if len(a) != 2 || len(b) != 1 {
		t.Fatalf("receivers got %d and %d, want 2 and 1", len(a), len(b))
	}
	if !slices.ContainsFunc(a, func(d delivery) bool { return d.id() == b[0].id() && bytes.Equal(d.body, b[0].body) }) {
		t.Errorf("the endpoints got different messages for one event")
	}

	for _, tt := range []struct{ url, secret string }{
		{"ftp://127.0.0.1/x", testSecret},
		{"/relative", testSecret},
		{"http://127.0.0.1/x", "whsec_not base64!"},
		{"http://127.0.0.1/x", ""},
	} {
		err := e.srv.AddWebhookEndpoint(tt.url, tt.secret)
		if err == nil {
			t.Errorf("AddWebhookEndpoint(%q, %q) = nil, want an error", tt.url, tt.secret)
		} else if tt.secret != "" && bytes.Contains([]byte(err.Error()), []byte(tt.secret)) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	for _, opts := range []clerkemu.Options{
		{WebhookTimeout: -1}, {WebhookRetryScale: -1}, {WebhookConcurrency: -1},
		{WebhookKnobs: clerkemu.WebhookKnobs{DuplicateRate: 1.5}},
		{Webhooks: []clerkemu.WebhookEndpoint{{URL: "http://127.0.0.1:1/x", Secret: "nope!"}}},
	} {
		opts.SigningKey = testKey()
		if emu, err := clerkemu.New(opts); err == nil {
			emu.Close()
			t.Errorf("New(%+v) = nil error", opts)
		}
	}
	if err := e.srv.SetWebhookKnobs(clerkemu.WebhookKnobs{Delay: -time.Second}); err == nil {
		t.Error("SetWebhookKnobs(negative delay) = nil")
	}
	if got := (clerkemu.WebhookEndpoint{URL: "https://x.example/h?token=t", Secret: testSecret}).String(); got != "webhook endpoint https://x.example/h" {
		t.Errorf("String() = %q", got)
	}
}

// TestWebhookDuplicates: DuplicateRate 1 sends every message twice, same
// svix-id and body; a rate of one half duplicates some, the same ones for
// the same seed.
func TestWebhookDuplicates(t *testing.T) {
	t.Parallel()
	e, rc := hookEnv(t, clerkemu.Options{WebhookKnobs: clerkemu.WebhookKnobs{DuplicateRate: 1}}, nil)
	for range 3 {
		if _, err := e.srv.CreateUser(clerkemu.UserParams{}); err != nil {
			t.Fatal(err)
		}
	}
	waitWebhooks(t, e.srv.Emulator)
	byID := map[string][]delivery{}
	for _, d := range rc.deliveries() {
		byID[d.id()] = append(byID[d.id()], d)
	}
	if len(byID) != 3 {
		t.Fatalf("%d messages, want 3", len(byID))
	}
	for id, ds := range byID {
		if len(ds) != 2 || !bytes.Equal(ds[0].body, ds[1].body) {
			t.Errorf("message %s arrived %d times (or with different bodies), want twice", id, len(ds))
		}
	}
	if st := e.srv.WebhookStats(); st.Duplicates != 3 || st.Delivered != 6 {
		t.Errorf("stats %+v", st)
	}

	// Which messages a seed duplicates depends on the seed only.
	pattern := func() string {
		e, rc := hookEnv(t, clerkemu.Options{WebhookConcurrency: 1,
			WebhookKnobs: clerkemu.WebhookKnobs{DuplicateRate: 0.5, Seed: 42}}, nil)
		var users []string
		for range 12 {
			u, err := e.srv.CreateUser(clerkemu.UserParams{})
			if err != nil {
				t.Fatal(err)
			}
			users = append(users, u.ID)
		}
		waitWebhooks(t, e.srv.Emulator)
		count := map[string]int{}
		for _, d := range rc.deliveries() {
			count[d.event(t).Data["id"].(string)]++
		}
		var p []byte
		for _, id := range users {
			p = strconv.AppendInt(p, int64(count[id]), 10)
		}
		return string(p)
	}
	p1, p2 := pattern(), pattern()
	if p1 != p2 || !bytes.Contains([]byte(p1), []byte("1")) || !bytes.Contains([]byte(p1), []byte("2")) {
		t.Errorf("deliveries per message %s and %s: want the same mix of 1 and 2 for one seed", p1, p2)
	}
}

// TestWebhookReorder: messages held by ReorderWindow arrive in a random
// order, the same for the same seed.
func TestWebhookReorder(t *testing.T) {
	t.Parallel()
	order := func(seed int64) []int {
		e, rc := hookEnv(t, clerkemu.Options{WebhookConcurrency: 1,
			WebhookKnobs: clerkemu.WebhookKnobs{ReorderWindow: 300 * time.Millisecond, Seed: seed}}, nil)
		index := map[string]int{}
		for i := range 8 {
			u, err := e.srv.CreateUser(clerkemu.UserParams{})
			if err != nil {
				t.Fatal(err)
			}
			index[u.ID] = i
		}
		waitWebhooks(t, e.srv.Emulator)
		var out []int
		for _, d := range rc.deliveries() {
			out = append(out, index[d.event(t).Data["id"].(string)])
		}
		return out
	}
	a, b, c := order(7), order(7), order(8)
	if len(a) != 8 || slices.IsSorted(a) {
		t.Errorf("arrival order %v: want all 8, shuffled", a)
	}
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Errorf("orders %v (seed 7), %v (seed 7), %v (seed 8): want the same for one seed", a, b, c)
	}
}

// TestWebhookDelay: Delay spreads the first attempts over up to Delay.
func TestWebhookDelay(t *testing.T) {
	t.Parallel()
	const delay = 400 * time.Millisecond
	e, rc := hookEnv(t, clerkemu.Options{WebhookKnobs: clerkemu.WebhookKnobs{Delay: delay, Seed: 3}}, nil)
	start := time.Now()
	for range 6 {
		if _, err := e.srv.CreateUser(clerkemu.UserParams{}); err != nil {
			t.Fatal(err)
		}
	}
	waitWebhooks(t, e.srv.Emulator)
	var late time.Duration
	for _, d := range rc.deliveries() {
		late = max(late, d.at.Sub(start))
	}
	if late < delay/8 || late > delay+5*time.Second {
		t.Errorf("last delivery %v after the changes, want between %v and about %v", late, delay/8, delay)
	}
}

// TestWebhookStaleTimestamp: StaleTimestamp signs validly with an old
// svix-timestamp, which a receiver with Svix's tolerance rejects.
func TestWebhookStaleTimestamp(t *testing.T) {
	t.Parallel()
	e, rc := hookEnv(t, clerkemu.Options{}, nil)
	if err := e.srv.SetWebhookKnobs(clerkemu.WebhookKnobs{StaleTimestamp: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.CreateUser(clerkemu.UserParams{}); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, e.srv.Emulator)
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	ts, _ := strconv.ParseInt(got[0].header.Get("svix-timestamp"), 10, 64)
	if age := time.Since(time.Unix(ts, 0)); age < 10*time.Minute || age > 11*time.Minute {
		t.Errorf("svix-timestamp is %v old, want 10m", age)
	}
	if _, err := mustVerifier(t, nil).Verify(got[0].header, got[0].body); !errors.Is(err, verify.ErrWebhookSignature) {
		t.Errorf("Verify(stale) = %v, want a signature error", err)
	}
	then := func() time.Time { return time.Unix(ts, 0) }
	if _, err := mustVerifier(t, then).Verify(got[0].header, got[0].body); err != nil {
		t.Errorf("Verify at the stale time = %v, want nil", err)
	}
}

// TestWebhookClose: Close drops what is pending, aborts what is in flight,
// and leaves no goroutine behind. It is not parallel, so that the count of
// goroutines means something.
func TestWebhookClose(t *testing.T) {
	before := runtime.NumGoroutine()
	// Cleanups run last first: this one runs after the receivers closed.
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	{
		hang := newReceiver(t, func(_ int, r *http.Request) int { <-r.Context().Done(); return http.StatusOK })
		fail := newReceiver(t, func(int, *http.Request) int { return http.StatusInternalServerError })
		emu, err := clerkemu.New(clerkemu.Options{SigningKey: testKey(),
			Webhooks: []clerkemu.WebhookEndpoint{{URL: hang.URL, Secret: testSecret}, {URL: fail.URL, Secret: testSecret}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(emu)
		for range 10 {
			if _, err := emu.CreateUser(clerkemu.UserParams{}); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(hang.deliveries()) < 4 || len(fail.deliveries()) < 10 {
			if time.Now().After(deadline) {
				t.Fatalf("deliveries did not start: %+v", emu.WebhookStats())
			}
			time.Sleep(5 * time.Millisecond)
		}
		srv.Close()
		emu.Close()
		emu.Close()
		st := emu.WebhookStats()
		if st.Pending != 0 || st.Dropped != 20-st.Delivered-st.GaveUp || st.Dropped == 0 {
			t.Errorf("stats after Close %+v", st)
		}
		if err := emu.WaitWebhooks(context.Background()); err != nil {
			t.Errorf("WaitWebhooks after Close = %v", err)
		}
		if err := emu.AddWebhookEndpoint(hang.URL, testSecret); !errors.Is(err, clerkemu.ErrClosed) {
			t.Errorf("AddWebhookEndpoint after Close = %v, want ErrClosed", err)
		}
		if _, err := emu.CreateUser(clerkemu.UserParams{}); err != nil {
			t.Errorf("CreateUser after Close = %v", err)
		}
		if st2 := emu.WebhookStats(); st2 != st {
			t.Errorf("stats changed after Close: %+v", st2)
		}
	}
}

// TestWebhookClock: the envelope's timestamp and svix-timestamp follow
// Options.Clock, so a receiver on the same clock verifies them.
func TestWebhookClock(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	e, rc := hookEnv(t, clerkemu.Options{Clock: clk.Now}, nil)
	if _, err := e.srv.CreateUser(clerkemu.UserParams{}); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, e.srv.Emulator)
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	if ev := got[0].event(t); ev.Timestamp != clk.Now().UnixMilli() {
		t.Errorf("timestamp %d, want %d", ev.Timestamp, clk.Now().UnixMilli())
	}
	if ts := got[0].header.Get("svix-timestamp"); ts != strconv.FormatInt(clk.Now().Unix(), 10) {
		t.Errorf("svix-timestamp %s, want %d", ts, clk.Now().Unix())
	}
	if _, err := mustVerifier(t, clk.Now).Verify(got[0].header, got[0].body); err != nil {
		t.Errorf("Verify on the emulator's clock: %v", err)
	}
}
