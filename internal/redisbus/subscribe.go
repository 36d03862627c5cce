package redisbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// subscribe keeps a subscription to the channel until ctx ends: each time
// one stands it calls OnResync (whatever was published while there was none
// is lost), and each time one breaks it waits RetryInterval and tries again.
func (b *Bus) subscribe(ctx context.Context) {
	for {
		err := b.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		b.setDown(err)
		t := time.NewTimer(b.o.RetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listen subscribes once and dispatches messages until the connection
// fails or stays silent through a ping.
func (b *Bus) listen(ctx context.Context) error {
	ps := b.client.Subscribe(ctx) // no channel yet: no I/O
	defer ps.Close()
	sctx, cancel := context.WithTimeout(ctx, b.o.Timeout)
	err := ps.Subscribe(sctx, b.channel)
	cancel()
	if err != nil {
		return fmt.Errorf("subscribing: %w", err)
	}
	msg, err := ps.ReceiveTimeout(ctx, max(b.o.Timeout, 2*b.o.PingInterval))
	if err != nil {
		return fmt.Errorf("subscribing: %w", err)
	}
	if s, ok := msg.(*redis.Subscription); !ok || s.Kind != "subscribe" {
		return fmt.Errorf("subscribing: unexpected answer %T", msg)
	}
	b.subscribed()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, b.o.PingInterval)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case isTimeout(err) && !pinged:
			pctx, cancel := context.WithTimeout(ctx, b.o.Timeout)
			err := ps.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			pinged = true
			continue
		case isTimeout(err):
			return errors.New("no answer to a ping")
		default:
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			b.dispatch(m.Payload)
		case *redis.Subscription:
			// The client reconnected and subscribed again by itself:
			// messages may have been missed in between.
			if m.Kind == "subscribe" {
				b.subscribed()
			}
		}
	}
}

// subscribed records a subscription that stands and tells the caller to
// resync.
func (b *Bus) subscribed() {
	b.setUp()
	if b.o.OnResync != nil {
		b.o.OnResync()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
