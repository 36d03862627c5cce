package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxJWKSBody bounds a key-set answer.
const maxJWKSBody = 1 << 20

// keySet is one successful fetch. It is never changed after it is stored.
type keySet struct {
	keys      map[string]*rsaKey
	fetchedAt time.Time
}

// fetchCall is one fetch in flight; everyone who needs it waits on done.
type fetchCall struct {
	done chan struct{}
	err  error
}

// remoteKeys is the key set of a JWKS URL under the policy of SPEC §4: one
// fetch at a time, unknown kids refresh at most once per window, background
// and stale-while-revalidate refreshes, stale-if-error up to a limit, and a
// timeout on every fetch.
type remoteKeys struct {
	cfg *config

	set atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    *fetchCall
	lastAttempt time.Time // start of the latest fetch, for any reason
	lastErr     error     // result of the latest fetch
}

func newRemoteKeys(cfg *config) *remoteKeys {
	return &remoteKeys{cfg: cfg}
}

// usable reports whether keys may be used at now: fetched once, and not past
// the stale limit.
func (r *remoteKeys) usable(now time.Time) bool {
	s := r.set.Load()
	return s != nil && now.Sub(s.fetchedAt) <= r.cfg.JWKSMaxStale
}

// lookup returns the key for kid. It waits for a fetch only when it must (no
// keys yet, or an unknown kid outside the refresh window), and never longer
// than the fetch timeout.
func (r *remoteKeys) lookup(ctx context.Context, kid string) (*rsaKey, error) {
	now := r.cfg.Now()
	s := r.set.Load()
	if s == nil {
		// Never fetched: join (or start) the fetch that serves the first requests.
		call := r.start("initial", now, r.failureBackoff())
		if call == nil {
			return nil, &Error{Code: ErrUnavailable.Code, Reason: "no_keys"}
		}
		if err := r.wait(ctx, call); err != nil {
			return nil, &Error{Code: ErrUnavailable.Code, Reason: "no_keys"}
		}
		return r.find(kid)
	}
	if now.Sub(s.fetchedAt) > r.cfg.JWKSMaxStale {
		r.start("background", now, r.failureBackoff())
		return nil, &Error{Code: ErrUnavailable.Code, Reason: "keys_stale"}
	}
	if k, ok := s.keys[kid]; ok {
		if now.Sub(s.fetchedAt) > r.cfg.JWKSRefresh {
			r.start("background", now, r.failureBackoff()) // stale-while-revalidate: nobody waits
		}
		return k, nil
	}
	// Unknown kid: at most one refresh per window for the whole key set.
	call := r.start("unknown_kid", now, r.cfg.JWKSMinRefresh)
	if call == nil {
		return nil, invalid("unknown_kid")
	}
	if err := r.wait(ctx, call); err != nil {
		return nil, invalid("unknown_kid")
	}
	return r.find(kid)
}

func (r *remoteKeys) find(kid string) (*rsaKey, error) {
	s := r.set.Load()
	if s == nil {
		return nil, &Error{Code: ErrUnavailable.Code, Reason: "no_keys"}
	}
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, invalid("unknown_kid")
}

// failureBackoff is the least time between fetches made for an expired or
// missing key set, so that a JWKS outage is not hammered by every request.
func (r *remoteKeys) failureBackoff() time.Duration {
	return min(r.cfg.JWKSMinRefresh, time.Second)
}

// start returns the fetch in flight, or starts one unless the last fetch
// started less than gap ago. It returns nil when no fetch may start.
func (r *remoteKeys) start(reason string, now time.Time, gap time.Duration) *fetchCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight != nil {
		return r.inflight
	}
	if !r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < gap {
		return nil
	}
	call := &fetchCall{done: make(chan struct{})}
	r.inflight = call
	r.lastAttempt = now
	go r.run(call, reason)
	return call
}

// wait waits for call, for ctx, or for the fetch timeout, whichever ends first.
func (r *remoteKeys) wait(ctx context.Context, call *fetchCall) error {
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run performs one fetch. It is detached from any request's context: a
// caller that gives up does not cancel the fetch others wait for.
func (r *remoteKeys) run(call *fetchCall, reason string) {
	began := time.Now()
	keys, err := r.fetch()
	r.mu.Lock()
	if err == nil {
		r.install(keys)
	}
	r.lastErr = err
	r.inflight = nil
	r.mu.Unlock()
	call.err = err
	close(call.done)
	if r.cfg.OnJWKSFetch != nil {
		r.cfg.OnJWKSFetch(JWKSFetch{Reason: reason, Keys: len(keys), Duration: time.Since(began), Err: err})
	}
}

// install stores a new key set, keeping the identity of unchanged keys (so
// that their cached tokens stay valid) and retiring keys that left the set.
func (r *remoteKeys) install(keys map[string]*rsaKey) {
	old := r.set.Load()
	if old != nil {
		for kid, k := range keys {
			if o, ok := old.keys[kid]; ok && sameKey(o, k) {
				keys[kid] = o
			}
		}
		for kid, o := range old.keys {
			if k, ok := keys[kid]; !ok || k != o {
				o.retired.Store(true)
			}
		}
	}
	r.set.Store(&keySet{keys: keys, fetchedAt: r.cfg.Now()})
}

func (r *remoteKeys) fetch() (map[string]*rsaKey, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.JWKSTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.JWKSURL, nil)
	if err != nil {
		return nil, &Error{Code: ErrUnavailable.Code, Reason: "jwks_request"}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "clerkgate")
	if r.cfg.SecretKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.cfg.SecretKey)
	}
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &fetchError{reason: "jwks_timeout", msg: "key set fetch timed out"}
		}
		return nil, &fetchError{reason: "jwks_unreachable", msg: "key set endpoint unreachable"}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &fetchError{reason: "jwks_timeout", msg: "key set fetch timed out"}
		}
		return nil, &fetchError{reason: "jwks_unreachable", msg: "key set read failed"}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &fetchError{reason: "jwks_status", msg: fmt.Sprintf("key set endpoint answered %d", resp.StatusCode)}
	}
	if len(body) > maxJWKSBody {
		return nil, &fetchError{reason: "jwks_invalid", msg: "key set answer too large"}
	}
	keys, err := parseJWKS(body, r.cfg.algs)
	if err != nil {
		return nil, &fetchError{reason: "jwks_invalid", msg: err.Error()}
	}
	return keys, nil
}

// fetchError is a failed key-set fetch. It never carries the URL's secret
// or the answer's body.
type fetchError struct{ reason, msg string }

func (e *fetchError) Error() string { return "verify: " + e.msg }

// Unwrap gives the fetch's code (unavailable) and reason to errors.As.
func (e *fetchError) Unwrap() error { return &Error{Code: ErrUnavailable.Code, Reason: e.reason} }

// status describes the key set for readiness checks and metrics.
func (r *remoteKeys) status() KeysStatus {
	s := r.set.Load()
	r.mu.Lock()
	lastErr := r.lastErr
	r.mu.Unlock()
	st := KeysStatus{Source: "jwks"}
	if s != nil {
		st.Keys = len(s.keys)
		st.FetchedAt = s.fetchedAt
		st.Usable = r.usable(r.cfg.Now())
	}
	if lastErr != nil {
		st.LastError = lastErr.Error()
	}
	return st
}
