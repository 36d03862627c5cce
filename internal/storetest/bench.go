package storetest

import (
	"context"
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
