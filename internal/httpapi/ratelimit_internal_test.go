package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeShared is a SharedFailures with function fields.
type fakeShared struct {
	fail    func(ip string) (time.Duration, bool, error)
	blocked func(ip string) time.Duration
}

func (f fakeShared) Fail(_ context.Context, ip string, _ int, _ time.Duration) (time.Duration, bool, error) {
	return f.fail(ip)
}

func (f fakeShared) Blocked(ip string, _ time.Time) time.Duration { return f.blocked(ip) }

func TestFailureLimiterShared(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	var down bool
	var sharedBlock time.Duration
	calls := 0
	l := newFailureLimiter(2, time.Minute, fakeShared{
		fail: func(string) (time.Duration, bool, error) {
			calls++
			if down {
				return 0, false, errors.New("unreachable")
			}
			return sharedBlock, sharedBlock > 0, nil
		},
		blocked: func(string) time.Duration { return sharedBlock },
	})
	// Counted in the shared store only: the local count stays empty.
	for range 5 {
		if l.fail("192.0.2.1", now) {
			t.Fatal("blocked although the shared count did not block")
		}
	}
	if calls != 5 || l.blocked("192.0.2.1", func() time.Time { return now }) != 0 {
		t.Fatalf("%d shared calls, blocked %v", calls, l.blocked("192.0.2.1", func() time.Time { return now }))
	}
	// A block decided by the shared count (here, or on another instance).
	sharedBlock = 30 * time.Second
	if !l.fail("192.0.2.1", now) || l.blocked("192.0.2.1", func() time.Time { return now }) != 30*time.Second {
		t.Fatalf("the shared block is not the limiter's")
	}
	// Shared count out of reach: counted in-process, limit 2.
	sharedBlock, down = 0, true
	l.fail("192.0.2.2", now)
	l.fail("192.0.2.2", now)
	if !l.fail("192.0.2.2", now) || l.blocked("192.0.2.2", func() time.Time { return now }) != time.Minute {
		t.Fatalf("the in-process fallback did not block")
	}
}
