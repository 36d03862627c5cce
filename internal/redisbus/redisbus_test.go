package redisbus_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clerkgate/clerkgate/internal/redisbus"
	"github.com/clerkgate/clerkgate/internal/testkit"
)

// recorder keeps what a Bus told its callbacks.
type recorder struct {
	mu sync.Mutex
	seen
}

type seen struct {
	denied  map[string]time.Time
	changed []string
	resyncs int
	states  []bool
}

func (r *recorder) options(url, prefix string) redisbus.Options {
	return redisbus.Options{
		URL: url, Prefix: prefix,
		PingInterval: 200 * time.Millisecond, RetryInterval: 50 * time.Millisecond,
		OnSessionDenied: func(sid string, until time.Time) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.denied == nil {
				r.denied = map[string]time.Time{}
			}
			r.denied[sid] = until
		},
		OnUserChanged: func(id string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.changed = append(r.changed, id)
		},
		OnResync: func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.resyncs++
		},
		OnState: func(up bool, err error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.states = append(r.states, up)
		},
	}
}

func (r *recorder) snapshot() seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := seen{denied: map[string]time.Time{}, changed: append([]string(nil), r.changed...), resyncs: r.resyncs,
		states: append([]bool(nil), r.states...)}
	for k, v := range r.denied {
		out.denied[k] = v
	}
	return out
}

// MustStart opens and starts a Bus, closed when the test ends, and waits
// until it is subscribed.
func MustStart(tb testing.TB, o redisbus.Options) *redisbus.Bus {
	tb.Helper()
	b, err := redisbus.Open(o)
	if err != nil {
		tb.Fatal(err)
	}
	b.Start(context.Background())
	tb.Cleanup(func() { b.Close() })
	eventually(tb, 5*time.Second, "subscribed", func() bool { return b.Err() == nil })
	return b
}

// eventually waits up to limit for cond.
func eventually(tb testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			tb.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func TestEventsReachTheOtherInstances(t *testing.T) {
	t.Parallel()
	url, prefix := testkit.MustRedis(t)
	var ra, rb recorder
	a := MustStart(t, ra.options(url, prefix))
	MustStart(t, rb.options(url, prefix))

	until := time.UnixMilli(time.Now().Add(time.Hour).UnixMilli())
	a.DenySession("sess_1", until)
	a.DenySession("sess_2", time.Time{})
	a.UserChanged("user_1")
	took := eventually(t, 500*time.Millisecond, "events on the other instance", func() bool {
		s := rb.snapshot()
		return len(s.denied) == 2 && len(s.changed) == 1
	})
	t.Logf("delivered in %v", took)
	s := rb.snapshot()
	if !s.denied["sess_1"].Equal(until) || !s.denied["sess_2"].IsZero() || s.changed[0] != "user_1" {
		t.Fatalf("received %+v", s)
	}
	time.Sleep(50 * time.Millisecond)
	if s := ra.snapshot(); len(s.denied) != 0 || len(s.changed) != 0 {
		t.Fatalf("the sender applied its own events: %+v", s)
	}
}

// Whatever arrives on the channel is decoded with care: garbage is
// ignored, and what is valid in a message still applies.
func TestMalformedMessagesAreIgnored(t *testing.T) {
	t.Parallel()
	url, prefix := testkit.MustRedis(t)
	var r recorder
	var mu sync.Mutex
	counts := map[string]int{}
	o := r.options(url, prefix)
	o.Observe = func(op, result string) {
		mu.Lock()
		defer mu.Unlock()
		counts[op+" "+result]++
	}
	b := MustStart(t, o)
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	long := strings.Repeat("x", 300)
	for _, p := range []string{
		"", "null", "not json", `{"o":""}`, `{"o":"x","e":"nope"}`, `[1,2]`,
		`{"o":"x","e":[{"k":"session","id":"sess_neg","until":-5},{"k":"session","id":"` + long + `"},` +
			`{"k":"block","id":"10.0.0.1","ttl":999999999999},{"k":"future"},{"k":"user","id":""},` +
			`{"k":"session","id":"sess_ok"},{"k":"block","id":"10.0.0.2","ttl":60000}]}`,
	} {
		if err := c.Publish(context.Background(), prefix+"events", p).Err(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, time.Second, "the valid session", func() bool { _, ok := r.snapshot().denied["sess_ok"]; return ok })
	s := r.snapshot()
	if len(s.denied) != 1 || len(s.changed) != 0 {
		t.Fatalf("applied %+v", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if counts["receive invalid"] != 6 {
		t.Errorf("counted %v, want 6 invalid", counts)
	}
	if b.Blocked("10.0.0.1", time.Now()) != 0 || b.Blocked("10.0.0.2", time.Now()) <= 0 {
		t.Errorf("blocks: a day-long one applied, or a valid one not")
	}
}

func TestFailureLimitIsShared(t *testing.T) {
	t.Parallel()
	url, prefix := testkit.MustRedis(t)
	var ra, rb recorder
	a := MustStart(t, ra.options(url, prefix))
	b := MustStart(t, rb.options(url, prefix))
	ctx := context.Background()
	const ip, limit, window = "192.0.2.7", 3, 5 * time.Second
	for i, bus := range []*redisbus.Bus{a, b, a} {
		if d, started, err := bus.Fail(ctx, ip, limit, window); err != nil || d != 0 || started {
			t.Fatalf("failure %d: %v %v %v", i+1, d, started, err)
		}
	}
	d, started, err := b.Fail(ctx, ip, limit, window)
	if err != nil || !started || d <= 0 || d > window {
		t.Fatalf("failure 4: %v %v %v, want the block started", d, started, err)
	}
	if b.Blocked(ip, time.Now()) <= 0 {
		t.Fatalf("the blocking instance does not see the block")
	}
	took := eventually(t, 500*time.Millisecond, "the block on the other instance", func() bool { return a.Blocked(ip, time.Now()) > 0 })
	t.Logf("block announced in %v", took)
	if d, started, err := a.Fail(ctx, ip, limit, window); err != nil || started || d <= 0 {
		t.Fatalf("failure 5: %v %v %v, want blocked, not started again", d, started, err)
	}
	if a.Blocked("192.0.2.8", time.Now()) != 0 {
		t.Fatalf("another address is blocked")
	}
}

// A Redis that cannot be reached costs nothing: calls return at once.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var r recorder
	b, err := redisbus.Open(r.options("redis://:secretpw@"+addr+"/0", "clerkgate-test:"))
	if err != nil {
		t.Fatal(err)
	}
	b.Start(context.Background())
	defer b.Close()
	time.Sleep(100 * time.Millisecond)
	if err := b.Err(); err == nil || strings.Contains(err.Error(), "secretpw") {
		t.Fatalf("Err() = %v", err)
	}
	if s := r.snapshot(); len(s.states) != 1 || s.states[0] {
		t.Errorf("states %v, want one report of down", s.states)
	}
	start := time.Now()
	for range 100 {
		b.DenySession("sess_1", time.Time{})
		if _, _, err := b.Fail(context.Background(), "192.0.2.1", 1, time.Minute); err == nil {
			t.Fatal("Fail without Redis succeeded")
		}
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("100 calls without Redis took %v", d)
	}
}

// An outage: the instance behind a cut connection says so, misses what is
// published meanwhile, cannot publish its own events; when the connection
// is back it is told to resync, and so are the others, for the events it
// dropped.
func TestOutageAndResync(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testkit.MustRedis(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	p := testkit.StartTCPProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = p.Addr()
	var ra, rb recorder
	a := MustStart(t, ra.options(redisURL, prefix))
	b := MustStart(t, rb.options(viaProxy.String(), prefix))
	resyncsA, resyncsB := ra.snapshot().resyncs, rb.snapshot().resyncs

	p.Cut()
	eventually(t, 2*time.Second, "b down", func() bool { return b.Err() != nil })
	a.DenySession("sess_missed", time.Time{})
	b.UserChanged("user_dropped")
	time.Sleep(100 * time.Millisecond)
	if _, ok := rb.snapshot().denied["sess_missed"]; ok {
		t.Fatal("a message went through a cut connection")
	}
	p.Restore()
	eventually(t, 5*time.Second, "b up again", func() bool { return b.Err() == nil })
	eventually(t, time.Second, "b resyncs", func() bool { return rb.snapshot().resyncs > resyncsB })
	eventually(t, time.Second, "a told to resync", func() bool { return ra.snapshot().resyncs > resyncsA })
	if s := rb.snapshot(); len(s.states) < 2 || s.states[len(s.states)-2] || !s.states[len(s.states)-1] {
		t.Errorf("states %v, want ... down, up", s.states)
	}
	a.DenySession("sess_after", time.Time{})
	eventually(t, 500*time.Millisecond, "a denial after the outage", func() bool { _, ok := rb.snapshot().denied["sess_after"]; return ok })
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, want string }{
		{"redis://127.0.0.1:6379/0", ""},
		{"rediss://user:pw@redis.example:6380/2", ""},
		{"http://127.0.0.1:6379", "not a redis"},
		{"redis://", "no host"},
		{"redis://:hunter2@127.0.0.1:notaport/0", "not a valid URL"},
		{"redis://:hunter2@127.0.0.1:6379/x", "database"},
		{"redis://:hunter2@127.0.0.1:6379/0/1", "path"},
		{"redis://:hunter2@127.0.0.1:6379/0?hunter2=1", "unexpected option"},
		{"redis://:hunter2@127.0.0.1:6379/0?dial_timeout=hunter2", "dial_timeout"},
		{"redis://:hunter2@127.0.0.1:6379/0\x7f", "not a valid URL"},
	} {
		_, err := redisbus.ParseURL(tc.url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.url, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want %q", tc.url, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%q: the error shows the password: %v", tc.url, err)
		}
	}
	for _, p := range []string{"", "has space", strings.Repeat("p", 65), "tab\t", "é"} {
		if redisbus.CheckPrefix(p) == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}
