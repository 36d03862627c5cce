package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/httpapi"
	"github.com/clerkgate/clerkgate/internal/redisbus"
	"github.com/clerkgate/clerkgate/internal/usersync"
	"github.com/clerkgate/clerkgate/verify"
)

// With REDIS_URL, instances share what each learns (SPEC §12): a session
// denied here is denied on every instance at once, a user changed here is
// read again from the store everywhere, and the per-address failure limit
// is counted across them. Without Redis, or while it is out of reach, each
// instance serves from its own memory as it does without it: denials meet
// through the database poll (pollDenials), users through the user cache's
// expiry.

// openRedis prepares the connection to Redis when REDIS_URL is set; the
// service's identity and deny list must exist. It connects in run.
func (s *service) openRedis() error {
	if s.cfg.RedisURL == "" {
		return nil
	}
	bus, err := redisbus.Open(redisbus.Options{
		URL:             s.cfg.RedisURL,
		Prefix:          s.cfg.RedisPrefix,
		OnSessionDenied: s.deny.DenySession,
		OnUserChanged:   s.identity.Forget,
		OnResync:        s.resync,
		OnState:         s.redisState,
		Observe:         func(op, result string) { s.metrics.ObserveCache("redis_"+op, result) },
	})
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	s.bus = bus
	return nil
}

// syncHooks are what the syncer tells of its writes: the in-process deny
// list and user cache, and with Redis the other instances.
func (s *service) syncHooks() (usersync.Denier, func(*clerkgate.User), func(clerkgate.Membership)) {
	if s.bus == nil {
		return s.deny, s.identity.Updated, s.identity.MembershipChanged
	}
	bus := s.bus
	return sharedDenier{s.deny, bus},
		func(u *clerkgate.User) {
			s.identity.Updated(u)
			bus.UserChanged(u.ClerkUserID)
		},
		func(m clerkgate.Membership) {
			s.identity.MembershipChanged(m)
			bus.UserChanged(m.ClerkUserID)
		}
}

// sharedDenier denies sessions in this process and announces them to the
// other instances. Bans and deletions need no announcement: the user
// change that carries them makes the others read the user again.
type sharedDenier struct {
	*verify.MemoryDenyList
	bus *redisbus.Bus
}

func (d sharedDenier) DenySession(sessionID string, until time.Time) {
	d.MemoryDenyList.DenySession(sessionID, until)
	d.bus.DenySession(sessionID, until)
}

// sharedFailures is the shared failure count, or nil without Redis.
func (s *service) sharedFailures() httpapi.SharedFailures {
	if s.bus == nil {
		return nil // not a nil *Bus in the interface
	}
	return s.bus
}

// cacheCheck is the readiness check "cache": the in-process cache is always
// there; Redis out of reach makes the service degraded, not unavailable.
func (s *service) cacheCheck(context.Context) error {
	if s.bus == nil {
		return nil
	}
	return s.bus.Err()
}

// resync follows a (re)subscription, or another instance's lost
// publications: user changes may have been missed, so the user cache starts
// afresh; the recent denials are read again at once rather than at the next
// poll (the poll, which does not depend on Redis, has them anyway).
func (s *service) resync() {
	s.identity.Reset()
	go func() {
		ctx, cancel := context.WithTimeout(s.runCtx, 10*time.Second)
		defer cancel()
		if err := s.loadDenials(ctx, time.Now().Add(-2*denialPollInterval)); err != nil && ctx.Err() == nil {
			s.log.Warn("reading session denials failed", slog.String("error", err.Error()))
		}
	}()
}

func (s *service) redisState(up bool, err error) {
	if up {
		s.log.Info("redis connected: session denials, user changes and the failure limit are shared")
		return
	}
	s.log.Warn("redis unreachable: serving from this instance's memory until it is back",
		slog.String("error", err.Error()))
}

// startRedis connects to Redis in the background until ctx ends.
func (s *service) startRedis(ctx context.Context) {
	if s.bus != nil {
		s.bus.Start(ctx)
	}
}

func (s *service) closeRedis() {
	if s.bus != nil {
		s.bus.Close()
	}
}
