package clerkapi

import (
	"testing"
	"time"
)

func TestBreakerCycle(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	b := newBreaker(2, 10*time.Second, func() time.Time { return now })
	mustAllow := func(want, wantProbe bool) bool {
		t.Helper()
		ok, probe := b.allow()
		if ok != want || probe != wantProbe {
			t.Fatalf("allow() = %v, %v; want %v, %v", ok, probe, want, wantProbe)
		}
		return probe
	}

	mustAllow(true, false)
	b.done(false, outcomeFailed)
	mustAllow(true, false)
	b.done(false, outcomeAnswered) // an answer resets the count
	mustAllow(true, false)
	b.done(false, outcomeFailed)
	mustAllow(true, false)
	b.done(false, outcomeNeutral) // a caller's cancellation counts for nothing
	mustAllow(true, false)
	b.done(false, outcomeFailed) // second consecutive failure: open

	mustAllow(false, false)
	now = now.Add(9 * time.Second)
	mustAllow(false, false)
	now = now.Add(time.Second)
	probe := mustAllow(true, true) // cool-down over: one probe
	mustAllow(false, false)        // and only one at a time
	b.done(probe, outcomeFailed)   // the probe failed: open again
	mustAllow(false, false)
	now = now.Add(10 * time.Second)
	probe = mustAllow(true, true)
	b.done(probe, outcomeNeutral) // an abandoned probe frees the slot
	probe = mustAllow(true, true)
	b.done(probe, outcomeAnswered) // the probe got an answer: closed
	mustAllow(true, false)
	mustAllow(true, false)

	var off *breaker
	if ok, _ := off.allow(); !ok {
		t.Error("a nil breaker refused a call")
	}
	off.done(false, outcomeFailed)
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		" 12 ":                          12 * time.Second,
		"999999999999":                  24 * time.Hour,
		"Fri, 02 Jan 2026 03:05:05 GMT": time.Minute,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
		"tomorrow":                      0,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	if got := clip("héllo\nworld", 2); got != "h" {
		t.Errorf("clip = %q", got)
	}
	if got := clip("a\tb", 10); got != "a b" {
		t.Errorf("clip = %q", got)
	}
}
