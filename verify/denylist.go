package verify

import (
	"sync"
	"sync/atomic"
	"time"
)

// DenyList says whether a session or a user must be refused although their
// token is valid: a logout, a revoked or ended session, a banned or deleted
// user. A Verifier asks it on every verification, cached or not, so a denial
// takes effect at once. Implementations must be fast and safe for
// concurrent use.
type DenyList interface {
	Denied(sessionID, userID string) bool
}

// MemoryDenyList is an in-process DenyList. Session entries may carry an
// expiry (after which the session's tokens have expired anyway); user
// entries last until allowed again. The zero value is ready to use.
type MemoryDenyList struct {
	n        atomic.Int64 // entries, so an empty list costs one atomic load
	sessions sync.Map     // session id -> time.Time (zero: no expiry)
	users    sync.Map     // user id -> struct{}
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ DenyList = (*MemoryDenyList)(nil)

// DenySession refuses the session's tokens until until (zero: for ever).
func (d *MemoryDenyList) DenySession(sessionID string, until time.Time) {
	if _, loaded := d.sessions.Swap(sessionID, until); !loaded {
		d.n.Add(1)
	}
}

// DenyUser refuses every token of the user until AllowUser.
func (d *MemoryDenyList) DenyUser(userID string) {
	if _, loaded := d.users.LoadOrStore(userID, struct{}{}); !loaded {
		d.n.Add(1)
	}
}

// AllowUser undoes DenyUser (an unban).
func (d *MemoryDenyList) AllowUser(userID string) {
	if _, loaded := d.users.LoadAndDelete(userID); loaded {
		d.n.Add(-1)
	}
}

// Denied implements DenyList.
func (d *MemoryDenyList) Denied(sessionID, userID string) bool {
	if d.n.Load() == 0 {
		return false
	}
	if _, ok := d.users.Load(userID); ok {
		return true
	}
	v, ok := d.sessions.Load(sessionID)
	if !ok {
		return false
	}
	until := v.(time.Time)
	if until.IsZero() || d.now().Before(until) {
		return true
	}
	if d.sessions.CompareAndDelete(sessionID, v) {
		d.n.Add(-1)
	}
	return false
}

func (d *MemoryDenyList) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
