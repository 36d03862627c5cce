package clerkapi

import (
	"sync"
	"time"
)

// breaker is a small circuit breaker. After threshold consecutive failed
// calls it opens: calls fail fast for cooldown. Then one call at a time
// probes Clerk; an answer closes the breaker, a failure opens it again for
// another cooldown. A nil *breaker lets every call through.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	failures  int       // consecutive failed calls
	openUntil time.Time // while failures >= threshold: fail fast until then
	probing   bool      // a probe is under way
}

func newBreaker(threshold int, cooldown time.Duration, now func() time.Time) *breaker {
	return &breaker{threshold: threshold, cooldown: cooldown, now: now}
}

// allow reports whether a call may go to Clerk now, and whether that call
// is the probe of an open breaker.
func (b *breaker) allow() (ok, probe bool) {
	if b == nil {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true, false
	}
	if b.probing || b.now().Before(b.openUntil) {
		return false, false
	}
	b.probing = true
	return true, true
}

// done records the outcome of a call that allow let through; probe is what
// allow said.
func (b *breaker) done(probe bool, out outcome) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch out {
	case outcomeAnswered:
		b.failures = 0
	case outcomeFailed:
		b.failures++
		if b.failures >= b.threshold {
			b.openUntil = b.now().Add(b.cooldown)
		}
	}
}
