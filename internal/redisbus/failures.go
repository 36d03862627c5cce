package redisbus

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// failScript counts one failure in a fixed window that starts at the first
// failure (KEYS[1], expiring after ARGV[1] ms) and, past ARGV[2] failures,
// blocks the address for ARGV[1] ms (KEYS[2]). It returns {count, 1 when
// this failure started the block, the block's remaining ms or 0}. One
// script, so that a count never lives without its expiry.
var failScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n <= tonumber(ARGV[2]) then return {n, 0, 0} end
local started = 0
if redis.call('SET', KEYS[2], '1', 'PX', ARGV[1], 'NX') then started = 1 end
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 0 then ttl = 0 end
return {n, started, ttl}
`)

// Fail counts one failed authentication from ip against limit per window,
// across every instance, and returns how long ip is now blocked (0: it is
// not) and whether this failure started the block; a block is announced to
// the other instances. While Redis is out of reach it returns
// ErrUnavailable at once, and the caller counts in its own memory.
func (b *Bus) Fail(ctx context.Context, ip string, limit int, window time.Duration) (time.Duration, bool, error) {
	if !b.up.Load() {
		b.o.Observe("fail", "unavailable")
		return 0, false, ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, b.o.Timeout)
	defer cancel()
	ms := max(window.Milliseconds(), 1)
	res, err := failScript.Run(ctx, b.client, []string{b.key("fail", ip), b.key("block", ip)}, ms, limit).Int64Slice()
	if err == nil && len(res) != 3 {
		err = fmt.Errorf("unexpected answer %v", res)
	}
	if err != nil {
		b.o.Observe("fail", "error")
		return 0, false, fmt.Errorf("redis: counting a failed authentication: %w", err)
	}
	b.o.Observe("fail", "ok")
	started, ttl := res[1] == 1, time.Duration(res[2])*time.Millisecond
	if ttl > 0 {
		now := b.o.Now()
		b.blocks.add(ip, now.Add(ttl), now)
		if started {
			b.publish(event{Kind: kindBlock, ID: ip, TTL: ttl.Milliseconds()})
		}
	}
	return ttl, started, nil
}

// Blocked returns how long ip stays blocked by failures counted on any
// instance, as far as this one has heard (0: it is not). It does no I/O.
func (b *Bus) Blocked(ip string, now time.Time) time.Duration {
	return b.blocks.remaining(ip, now)
}

// blockList holds the blocked addresses this instance has heard of.
type blockList struct {
	mu sync.RWMutex
	m  map[string]time.Time // address -> end of its block; expired ones go when it fills
}

const maxBlocked = 100_000

func (l *blockList) add(ip string, until, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]time.Time)
	}
	if len(l.m) >= maxBlocked {
		for k, u := range l.m {
			if !now.Before(u) {
				delete(l.m, k)
			}
		}
		if len(l.m) >= maxBlocked { // a flood of addresses must not grow memory
			clear(l.m)
		}
	}
	if until.After(l.m[ip]) {
		l.m[ip] = until
	}
}

func (l *blockList) remaining(ip string, now time.Time) time.Duration {
	l.mu.RLock()
	until, ok := l.m[ip]
	l.mu.RUnlock()
	if !ok || !now.Before(until) {
		return 0
	}
	return until.Sub(now)
}
