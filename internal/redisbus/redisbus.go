// Package redisbus shares what one clerkgate instance learns with the other
// instances through Redis (SPEC §12): session denials and user changes go out
// on one pub/sub channel, and failed authentications are counted in keys that
// expire (SPEC §11).
//
// Redis is a fast path, never the only one. The caller keeps its in-process
// state, the database stays the durable record, and while Redis is out of
// reach every call returns at once (ErrUnavailable, or a dropped
// publication) so that the caller goes on from its own memory. When the
// subscription comes back, OnResync tells the caller that events may have
// been missed, and the instances that could not publish ask every other one
// to resync.
//
// What arrives from Redis can only make an instance stricter (deny a session,
// block an address) or make it read the store again (forget a user): a
// message never grants anything.
package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ErrUnavailable is returned while Redis is out of reach.
var ErrUnavailable = errors.New("redis is unreachable")

// Defaults of Options.
const (
	DefaultPrefix        = "clerkgate:"
	DefaultTimeout       = 250 * time.Millisecond
	DefaultPingInterval  = time.Second
	DefaultRetryInterval = 500 * time.Millisecond
)

// Options configures a Bus. URL is required; every callback may be nil.
type Options struct {
	// URL is redis://[user:password@]host[:port][/db] or rediss://...
	URL string
	// Prefix starts every key and the channel, so that several deployments
	// can share one Redis. Empty means DefaultPrefix.
	Prefix string
	// Timeout bounds each Redis call made on behalf of a request or a
	// publication (and the dial). 0 means DefaultTimeout.
	Timeout time.Duration
	// PingInterval is how long the subscription may stay silent before it
	// is pinged; a ping unanswered for as long ends it. 0 means
	// DefaultPingInterval.
	PingInterval time.Duration
	// RetryInterval is the wait before subscribing again after a failure.
	// 0 means DefaultRetryInterval.
	RetryInterval time.Duration

	// OnSessionDenied is told of a session another instance denied (zero
	// until: for ever).
	OnSessionDenied func(sessionID string, until time.Time)
	// OnUserChanged is told of a user another instance stored anew.
	OnUserChanged func(clerkUserID string)
	// OnResync is told that events may have been missed: after every
	// (re)subscription, and when another instance could not publish some.
	OnResync func()
	// OnState is told of each change between reachable and unreachable,
	// and of the first failure when Redis is unreachable from the start.
	OnState func(up bool, err error)
	// Observe counts Redis operations: op is publish, receive or fail;
	// result is ok, error, unavailable, dropped or invalid.
	Observe func(op, result string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Bus is one instance's connection to the others. Open it, Start it, Close
// it. Its methods are safe for concurrent use.
type Bus struct {
	o       Options
	client  *redis.Client
	origin  string // this instance, so that it ignores its own messages
	channel string

	up       atomic.Bool
	reported atomic.Bool // OnState was told that it is down
	mu       sync.Mutex
	lastErr  error // why it is down

	queue   chan event
	wake    chan struct{}
	dropped atomic.Bool // some event could not be published: ask for a resync
	blocks  blockList

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open checks o and prepares a Bus; nothing connects before Start.
func Open(o Options) (*Bus, error) {
	opt, err := ParseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if err := CheckPrefix(o.Prefix); err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observe == nil {
		o.Observe = func(string, string) {}
	}
	// Short timeouts and no retries: a request never waits long on Redis,
	// it falls back on memory instead.
	opt.DialTimeout = max(2*o.Timeout, 500*time.Millisecond)
	opt.DialerRetries = 1
	opt.ReadTimeout = o.Timeout
	opt.WriteTimeout = o.Timeout
	opt.PoolTimeout = o.Timeout
	opt.MaxRetries = -1
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	quietRedisLogs()
	var id [8]byte
	_, _ = rand.Read(id[:])
	b := &Bus{
		o:       o,
		client:  redis.NewClient(opt),
		origin:  hex.EncodeToString(id[:]),
		channel: o.Prefix + "events",
		queue:   make(chan event, queueSize),
		wake:    make(chan struct{}, 1),
		lastErr: errors.New("not connected yet"),
	}
	return b, nil
}

// Start subscribes and publishes in the background until ctx ends or Close.
func (b *Bus) Start(ctx context.Context) {
	ctx, b.cancel = context.WithCancel(ctx)
	b.wg.Add(2)
	go func() { defer b.wg.Done(); b.subscribe(ctx) }()
	go func() { defer b.wg.Done(); b.publisher(ctx) }()
}

// Close stops the background work and closes the connections.
func (b *Bus) Close() error {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	return b.client.Close()
}

// Err is nil while the subscription stands, and otherwise says why not.
func (b *Bus) Err() error {
	if b.up.Load() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Errorf("%w: %v", ErrUnavailable, b.lastErr)
}

// setUp records a subscription that stands.
func (b *Bus) setUp() {
	if b.up.Swap(true) {
		return
	}
	b.reported.Store(false)
	if b.o.OnState != nil {
		b.o.OnState(true, nil)
	}
	select { // the publisher may owe the others a resync
	case b.wake <- struct{}{}:
	default:
	}
}

// setDown records why the subscription ended, or could not begin.
func (b *Bus) setDown(err error) {
	if err == nil {
		err = errors.New("subscription ended")
	}
	b.mu.Lock()
	b.lastErr = err
	b.mu.Unlock()
	b.up.Store(false)
	if !b.reported.Swap(true) && b.o.OnState != nil {
		b.o.OnState(false, err)
	}
}

func (b *Bus) key(kind, id string) string { return b.o.Prefix + kind + ":" + id }

var quietOnce sync.Once

// quietRedisLogs silences the client library's own logger, which writes to
// standard error: the Bus reports its state through OnState instead.
func quietRedisLogs() {
	quietOnce.Do(func() { redis.SetLogger(quietLogger{}) })
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
