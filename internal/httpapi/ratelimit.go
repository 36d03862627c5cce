package httpapi

import (
	"context"
	"sync"
	"time"
)

// SharedFailures counts failed authentications across instances (SPEC §11:
// the limit is shared when Redis is configured).
type SharedFailures interface {
	// Fail counts one failure of ip against limit per window and returns
	// how long ip is now blocked (0: it is not) and whether this failure
	// started the block. It returns within a short timeout; an error means
	// the shared count is out of reach, and the limiter counts in-process.
	Fail(ctx context.Context, ip string, limit int, window time.Duration) (blocked time.Duration, started bool, err error)
	// Blocked returns how long ip is blocked by failures counted on any
	// instance (0: it is not), from memory: it does no I/O.
	Blocked(ip string, now time.Time) time.Duration
}

// failureLimiter counts failed authentications per client IP in a fixed
// window; past the limit the IP is refused (429) for a cooling period of one
// window. Loopback is not exempt. It keeps at most maxTracked IPs. With a
// shared count, failures are counted there, and in-process only while the
// shared count is out of reach.
type failureLimiter struct {
	limit  int
	window time.Duration
	shared SharedFailures // nil: in-process only

	mu sync.Mutex
	m  map[string]*failureBucket
}

type failureBucket struct {
	start        time.Time // window start
	count        int
	blockedUntil time.Time
}

const maxTracked = 100_000

// sharedFailTimeout bounds the wait for the shared count.
const sharedFailTimeout = time.Second

// newFailureLimiter returns nil (no limit) when limit is 0. shared may be
// nil.
func newFailureLimiter(limit int, window time.Duration, shared SharedFailures) *failureLimiter {
	if limit <= 0 || window <= 0 {
		return nil
	}
	return &failureLimiter{limit: limit, window: window, shared: shared, m: map[string]*failureBucket{}}
}

// blocked returns how long ip must wait, or 0. It reads the clock only
// when it has something to compare with: on every request, an address
// that never failed costs a map lookup.
func (l *failureLimiter) blocked(ip string, clock func() time.Time) time.Duration {
	if l == nil {
		return 0
	}
	var wait time.Duration
	var now time.Time
	l.mu.Lock()
	if b, ok := l.m[ip]; ok && !b.blockedUntil.IsZero() {
		now = clock()
		if now.Before(b.blockedUntil) {
			wait = b.blockedUntil.Sub(now)
		}
	}
	l.mu.Unlock()
	if l.shared != nil {
		if now.IsZero() {
			now = clock()
		}
		wait = max(wait, l.shared.Blocked(ip, now))
	}
	return wait
}

// fail counts one failure and reports whether ip became blocked by it.
func (l *failureLimiter) fail(ip string, now time.Time) bool {
	if l == nil {
		return false
	}
	if l.shared != nil {
		// Counted even when the client has gone: aborting a request must
		// not escape the count.
		ctx, cancel := context.WithTimeout(context.Background(), sharedFailTimeout)
		_, started, err := l.shared.Fail(ctx, ip, l.limit, l.window)
		cancel()
		if err == nil {
			return started
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[ip]
	if !ok {
		if len(l.m) >= maxTracked {
			l.sweep(now)
		}
		b = &failureBucket{start: now}
		l.m[ip] = b
	}
	if now.Sub(b.start) >= l.window {
		b.start, b.count = now, 0
	}
	b.count++
	if b.count > l.limit && !now.Before(b.blockedUntil) {
		b.blockedUntil = now.Add(l.window)
		return true
	}
	return false
}

// sweep drops idle entries; if none is idle, it drops all (a flood of
// distinct addresses must not grow memory without bound). Called with mu.
func (l *failureLimiter) sweep(now time.Time) {
	for ip, b := range l.m {
		if now.Sub(b.start) >= l.window && !now.Before(b.blockedUntil) {
			delete(l.m, ip)
		}
	}
	if len(l.m) >= maxTracked {
		clear(l.m)
	}
}
