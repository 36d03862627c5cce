package httpapi

import (
	"sync"
	"time"
)

// failureLimiter counts failed authentications per client IP in a fixed
// window; past the limit the IP is refused (429) for a cooling period of one
// window. Loopback is not exempt. It keeps at most maxTracked IPs.
type failureLimiter struct {
	limit  int
	window time.Duration

	mu sync.Mutex
	m  map[string]*failureBucket
}

type failureBucket struct {
	start        time.Time // window start
	count        int
	blockedUntil time.Time
}

const maxTracked = 100_000

// newFailureLimiter returns nil (no limit) when limit is 0.
func newFailureLimiter(limit int, window time.Duration) *failureLimiter {
	if limit <= 0 || window <= 0 {
		return nil
	}
	return &failureLimiter{limit: limit, window: window, m: map[string]*failureBucket{}}
}

// blocked returns how long ip must wait, or 0.
func (l *failureLimiter) blocked(ip string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[ip]
	if !ok || !now.Before(b.blockedUntil) {
		return 0
	}
	return b.blockedUntil.Sub(now)
}

// fail counts one failure and reports whether ip became blocked by it.
func (l *failureLimiter) fail(ip string, now time.Time) bool {
	if l == nil {
		return false
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
