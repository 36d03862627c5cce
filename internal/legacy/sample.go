package legacy

import (
	"sync"
	"time"
)

// Sampler thins out the legacy_token_used security events (SPEC §11): a
// client that still sends legacy tokens would otherwise write one event per
// request. The rule: the first use by a user in each Every (default one
// hour) is recorded, the uses after it within that period only counted;
// the next recorded event carries how many were left out. The metric
// clerkgate_auth_requests_total{method="legacy"} still counts every use.
// A Sampler remembers at most Max users (default 100,000); when full it
// forgets the users whose period has ended, and if none has, it forgets
// them all (so a flood of distinct users records more, never less). It is
// safe for concurrent use; the zero value uses the defaults.
type Sampler struct {
	// Every is the period of one recorded event per user; 0 means an hour.
	Every time.Duration
	// Max bounds the users remembered; 0 means 100,000.
	Max int

	mu   sync.Mutex
	seen map[string]*sampled
}

// sampled is a user's current period.
type sampled struct {
	since   time.Time // when the period's recorded event was
	skipped int       // uses not recorded since
}

// Sample reports whether the use of a legacy token by userID at now is to
// be recorded as a security event, and, when it is, how many uses of that
// user were left out since the last recorded one.
func (s *Sampler) Sample(userID string, now time.Time) (record bool, skipped int) {
	every, limit := s.Every, s.Max
	if every <= 0 {
		every = time.Hour
	}
	if limit <= 0 {
		limit = 100_000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = make(map[string]*sampled)
	}
	if e, ok := s.seen[userID]; ok {
		if now.Sub(e.since) < every && !now.Before(e.since) {
			e.skipped++
			return false, 0
		}
		skipped = e.skipped
		e.since, e.skipped = now, 0
		return true, skipped
	}
	if len(s.seen) >= limit {
		for id, e := range s.seen {
			if now.Sub(e.since) >= every {
				delete(s.seen, id)
			}
		}
		if len(s.seen) >= limit {
			clear(s.seen)
		}
	}
	s.seen[userID] = &sampled{since: now}
	return true, 0
}
