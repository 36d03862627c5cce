package legacy

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/clerkgate/clerkgate/internal/policy"
)

// Follower is the Verifier of the legacy block of a policy that may be
// reloaded: it builds a new Verifier when the policy's legacy block
// changes, and has none once the block is gone (no token is legacy any
// more, no path a login path). A block that cannot be built (its key file
// unreadable, say) keeps the previous Verifier, and OnError is told. It is
// safe for concurrent use.
type Follower struct {
	current func() *policy.Policy
	build   func(policy.Legacy) (*Verifier, error)
	onError func(error)

	mu    sync.Mutex
	block *policy.Legacy // the block v was built from
	v     *Verifier
}

// NewFollower returns a Follower of the policies current returns, building
// Verifiers with build (New with the caller's getenv, clock and options).
// The current policy's block is built at once: its error is returned, so
// that a service refuses to start with a legacy block it cannot use.
// onError, which may be nil, is told of the failures of later rebuilds.
func NewFollower(current func() *policy.Policy, build func(policy.Legacy) (*Verifier, error), onError func(error)) (*Follower, error) {
	f := &Follower{current: current, build: build, onError: onError}
	if l := current().Legacy; l != nil {
		v, err := build(*l)
		if err != nil {
			return nil, err
		}
		f.block, f.v = l, v
	}
	return f, nil
}

// verifier returns the Verifier of the current policy's legacy block, or
// nil when it has none.
func (f *Follower) verifier() *Verifier {
	l := f.current().Legacy
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case l == f.block:
	case l == nil:
		f.block, f.v = nil, nil
	default:
		v, err := f.build(*l)
		if err != nil {
			if f.onError != nil {
				f.onError(err)
			}
			f.block = l // tell once; the previous Verifier stays
			break
		}
		f.block, f.v = l, v
	}
	return f.v
}

// IsLegacy is Verifier.IsLegacy; no token is legacy without a legacy block.
func (f *Follower) IsLegacy(token string) bool {
	v := f.verifier()
	return v != nil && v.IsLegacy(token)
}

// VerifyLegacy is Verifier.VerifyLegacy; without a legacy block (removed
// after the sunset) every token gets ErrSunset.
func (f *Follower) VerifyLegacy(ctx context.Context, token string) (string, error) {
	v := f.verifier()
	if v == nil {
		return "", ErrSunset
	}
	return v.VerifyLegacy(ctx, token)
}

// DeprecationHeaders is Verifier.DeprecationHeaders; nothing without a
// legacy block.
func (f *Follower) DeprecationHeaders(h http.Header) {
	if v := f.verifier(); v != nil {
		v.DeprecationHeaders(h)
	}
}

// SunsetPassed is Verifier.SunsetPassed; true without a legacy block.
func (f *Follower) SunsetPassed() bool {
	v := f.verifier()
	return v == nil || v.SunsetPassed()
}

// IsLoginPath is Verifier.IsLoginPath; false without a legacy block.
func (f *Follower) IsLoginPath(p string) bool {
	v := f.verifier()
	return v != nil && v.IsLoginPath(p)
}

// SampleUse is Verifier.SampleUse.
func (f *Follower) SampleUse(id string, now time.Time) (bool, int) {
	if v := f.verifier(); v != nil {
		return v.SampleUse(id, now)
	}
	return false, 0
}
