package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	clerkgate "github.com/clerkgate/clerkgate"
)

// BenchmarkSaveClerkUser measures SaveClerkUser on the stores open returns
// (one per sub-benchmark, as for Run): inserts of new users and updates to
// newer versions of 1,000 existing users, each sequential and from
// b.RunParallel. Webhook ingestion is measured against these figures.
func BenchmarkSaveClerkUser(b *testing.B, open func(b *testing.B) clerkgate.UserStore) {
	const population = 1000
	insert := func(ctx context.Context, s clerkgate.UserStore, n *atomic.Int64) error {
		_, _, err := s.SaveClerkUser(ctx, newUser(fmt.Sprintf("user_ins_%d", n.Add(1)), 1))
		return err
	}
	update := func(ctx context.Context, s clerkgate.UserStore, n *atomic.Int64) error {
		v := n.Add(1) + 1 // newer than the seeded version 1, and growing
		u := newUser(fmt.Sprintf("user_upd_%d", v%population), v)
		u.FirstName = fmt.Sprintf("v%d", v)
		_, _, err := s.SaveClerkUser(ctx, u)
		return err
	}
	seed := func(b *testing.B, s clerkgate.UserStore) {
		for i := range population {
			if _, _, err := s.SaveClerkUser(b.Context(), newUser(fmt.Sprintf("user_upd_%d", i), 1)); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, op := range []struct {
		name string
		seed bool
		fn   func(context.Context, clerkgate.UserStore, *atomic.Int64) error
	}{
		{"insert", false, insert},
		{"update", true, update},
	} {
		b.Run(op.name+"/sequential", func(b *testing.B) {
			s := open(b)
			if op.seed {
				seed(b, s)
			}
			var n atomic.Int64
			b.ReportAllocs()
			for b.Loop() {
				if err := op.fn(b.Context(), s, &n); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(op.name+"/parallel", func(b *testing.B) {
			s := open(b)
			if op.seed {
				seed(b, s)
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op.fn(b.Context(), s, &n); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSaveWebhookRecord measures SaveWebhookRecord on the stores open
// returns: inserts of new message ids, each sequential and from
// b.RunParallel, and replays of a known id (the insert that does nothing),
// from b.RunParallel. Every webhook delivery costs one of these on top of
// its SaveClerkUser.
func BenchmarkSaveWebhookRecord(b *testing.B, open func(b *testing.B) clerkgate.WebhookStore) {
	record := func(id string) clerkgate.WebhookRecord {
		d := sha256.Sum256([]byte(id))
		return clerkgate.WebhookRecord{MessageID: id, EventType: "user.updated", BodySHA256: d[:]}
	}
	insert := func(ctx context.Context, s clerkgate.WebhookStore, n *atomic.Int64) error {
		ok, err := s.SaveWebhookRecord(ctx, record(fmt.Sprintf("msg_%d", n.Add(1))))
		if err == nil && !ok {
			err = errors.New("a new message id was not inserted")
		}
		return err
	}
	replay := func(ctx context.Context, s clerkgate.WebhookStore, _ *atomic.Int64) error {
		ok, err := s.SaveWebhookRecord(ctx, record("msg_replayed"))
		if err == nil && ok {
			err = errors.New("a known message id was inserted")
		}
		return err
	}
	for _, op := range []struct {
		name     string
		parallel bool
		fn       func(context.Context, clerkgate.WebhookStore, *atomic.Int64) error
	}{
		{"insert/sequential", false, insert},
		{"insert/parallel", true, insert},
		{"replay/parallel", true, replay},
	} {
		b.Run(op.name, func(b *testing.B) {
			s := open(b)
			if _, err := s.SaveWebhookRecord(b.Context(), record("msg_replayed")); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			if !op.parallel {
				for b.Loop() {
					if err := op.fn(b.Context(), s, &n); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op.fn(b.Context(), s, &n); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
