package redisbus

import (
	"context"
	"encoding/json"
	"time"
)

// Kinds of event.
const (
	kindSession = "session" // a session denied: ID, Until
	kindUser    = "user"    // a user stored anew: ID
	kindResync  = "resync"  // the sender could not publish everything
	kindBlock   = "block"   // an address blocked by the failure limit: ID, TTL
)

// message is what goes on the channel: the events of one sender, batched.
type message struct {
	Origin string  `json:"o"`
	Events []event `json:"e"`
}

type event struct {
	Kind  string `json:"k"`
	ID    string `json:"id,omitempty"`
	Until int64  `json:"until,omitempty"` // Unix ms; 0: for ever
	TTL   int64  `json:"ttl,omitempty"`   // ms
}

const (
	queueSize  = 4096
	maxBatch   = 256
	maxPayload = 1 << 20
	maxIDLen   = 256
	maxBlock   = 24 * time.Hour
)

// DenySession tells the other instances that a session is denied until
// until (zero: for ever). It does not wait: a denial that cannot be
// published reaches them through the database.
func (b *Bus) DenySession(sessionID string, until time.Time) {
	ev := event{Kind: kindSession, ID: sessionID}
	if !until.IsZero() {
		ev.Until = until.UnixMilli()
	}
	b.publish(ev)
}

// UserChanged tells the other instances to forget what they cached of a
// user. It does not wait.
func (b *Bus) UserChanged(clerkUserID string) {
	if clerkUserID != "" {
		b.publish(event{Kind: kindUser, ID: clerkUserID})
	}
}

// publish queues ev for the publisher; a full queue drops it, and the other
// instances are asked to resync once Redis takes messages again.
func (b *Bus) publish(ev event) {
	select {
	case b.queue <- ev:
	default:
		b.dropped.Store(true)
		b.o.Observe("publish", "dropped")
	}
}

// publisher sends queued events in batches until ctx ends. While Redis is
// out of reach it drops them and remembers to ask for a resync.
func (b *Bus) publisher(ctx context.Context) {
	batch := make([]event, 0, maxBatch)
	retry := time.NewTicker(b.o.RetryInterval) // a resync owed after a failed publish
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			b.flush()
			return
		case ev := <-b.queue:
			batch = append(batch, ev)
		case <-b.wake:
		case <-retry.C:
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case ev := <-b.queue:
				batch = append(batch, ev)
			default:
				break fill
			}
		}
		if !b.up.Load() {
			if len(batch) > 0 {
				b.dropped.Store(true)
				b.o.Observe("publish", "unavailable")
			}
			batch = batch[:0]
			continue
		}
		resync := b.dropped.Swap(false)
		if resync {
			batch = append(batch, event{Kind: kindResync})
		}
		if len(batch) == 0 {
			continue
		}
		if err := b.send(ctx, batch); err != nil {
			b.dropped.Store(true)
			b.o.Observe("publish", "error")
		} else {
			b.o.Observe("publish", "ok")
		}
		batch = batch[:0]
	}
}

// flush publishes what is still queued when the Bus stops (a command that
// ends right after its changes), within one Timeout.
func (b *Bus) flush() {
	var batch []event
	for len(batch) < maxBatch {
		select {
		case ev := <-b.queue:
			batch = append(batch, ev)
			continue
		default:
		}
		break
	}
	if b.dropped.Load() || len(b.queue) > 0 {
		batch = append(batch, event{Kind: kindResync})
	}
	if len(batch) == 0 || !b.up.Load() {
		return
	}
	if err := b.send(context.Background(), batch); err != nil {
		b.o.Observe("publish", "error")
	} else {
		b.o.Observe("publish", "ok")
	}
}

func (b *Bus) send(ctx context.Context, events []event) error {
	payload, err := json.Marshal(message{Origin: b.origin, Events: events})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.o.Timeout)
	defer cancel()
	return b.client.Publish(ctx, b.channel, payload).Err()
}

// dispatch applies a message from the channel. Anything malformed is
// counted and ignored; events of unknown kinds are ignored (a newer
// instance may send them).
func (b *Bus) dispatch(payload string) {
	var m message
	if len(payload) > maxPayload || json.Unmarshal([]byte(payload), &m) != nil || m.Origin == "" {
		b.o.Observe("receive", "invalid")
		return
	}
	if m.Origin == b.origin {
		return
	}
	b.o.Observe("receive", "ok")
	now := b.o.Now()
	for _, ev := range m.Events {
		if len(ev.ID) > maxIDLen {
			continue
		}
		switch ev.Kind {
		case kindSession:
			if ev.ID == "" || ev.Until < 0 || b.o.OnSessionDenied == nil {
				continue
			}
			var until time.Time
			if ev.Until > 0 {
				until = time.UnixMilli(ev.Until)
			}
			b.o.OnSessionDenied(ev.ID, until)
		case kindUser:
			if ev.ID != "" && b.o.OnUserChanged != nil {
				b.o.OnUserChanged(ev.ID)
			}
		case kindResync:
			if b.o.OnResync != nil {
				b.o.OnResync()
			}
		case kindBlock:
			ttl := time.Duration(ev.TTL) * time.Millisecond
			if ev.ID != "" && ttl > 0 && ttl <= maxBlock {
				b.blocks.add(ev.ID, now.Add(ttl), now)
			}
		}
	}
}
