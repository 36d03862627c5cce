// Package gcfloor keeps the Go heap's collection goal from falling below a
// floor while the live heap is small.
//
// With GOGC=100 the runtime collects whenever the heap has doubled. A
// service whose live heap is a few MiB and which allocates a few KiB per
// request then collects dozens of times a second under load, at a mostly
// fixed cost per cycle (stacks, globals, the sweep): about 5% of a core at
// 45,000 requests a second here. Raising GOGC while the live heap is small
// keeps the goal at the floor; once the live heap passes the floor's
// reach, GOGC is back at its base and the heap grows as it would without
// this package. The cost is memory that the process may hold anyway under
// load: up to the floor, no more.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

var (
	mu      sync.Mutex
	running *tuner
	users   int
)

type tuner struct {
	floor, base uint64
	stopped     atomic.Bool
	sample      []metrics.Sample
	percent     uint64 // the GOGC last set
}

// Start keeps the heap goal at floor bytes or more while the live heap
// times (1 + base/100) is below it; above, GOGC is base. It is
// process-wide: a second Start while one runs shares it (the first floor
// and base stay), and the last stop sets GOGC back to base.
func Start(floor uint64, base int) (stop func()) {
	mu.Lock()
	defer mu.Unlock()
	if running == nil {
		t := &tuner{floor: floor, base: uint64(max(base, 1)), percent: uint64(max(base, 1)),
			sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
		running = t
		t.adjustLocked()
		t.arm()
	}
	users++
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if users--; users == 0 {
				running.stopped.Store(true)
				debug.SetGCPercent(int(running.base))
				running = nil
			}
		})
	}
}

// sentinel is garbage whose finalizer runs once after each collection.
// It holds a pointer so that it is not one of the tiny allocations a
// finalizer may never run for.
type sentinel struct{ t *tuner }

func (t *tuner) arm() {
	runtime.SetFinalizer(&sentinel{t: t}, func(s *sentinel) {
		if s.t.stopped.Load() {
			return
		}
		s.t.adjust()
		s.t.arm()
	})
}

// adjust sets GOGC so that the goal, live × (1 + GOGC/100), is the floor,
// or base when that is less.
func (t *tuner) adjust() {
	mu.Lock()
	defer mu.Unlock()
	if !t.stopped.Load() {
		t.adjustLocked()
	}
}

// adjustLocked is adjust with mu held.
func (t *tuner) adjustLocked() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := percentFor(t.sample[0].Value.Uint64(), t.floor, t.base)
	// A move within an eighth of the last value is not worth a call, but
	// the way back to base always is.
	if p == t.percent || (p != t.base && p > t.percent-t.percent/8 && p < t.percent+t.percent/8) {
		return
	}
	debug.SetGCPercent(int(p))
	t.percent = p
}

// runtimeHeapMinimum is the runtime's least heap goal at GOGC=100; it
// scales with GOGC (4 MiB × GOGC/100, as the Go GC guide says), so a GOGC
// above floor/runtimeHeapMinimum × 100 would put the goal past the floor
// even for an empty heap.
const runtimeHeapMinimum = 4 << 20

// percentFor is the GOGC that puts the goal of a live heap at floor, never
// under base.
func percentFor(live, floor, base uint64) uint64 {
	if live+live*base/100 >= floor {
		return base
	}
	p := floor * 100 / runtimeHeapMinimum
	if live > 0 {
		p = min(p, floor*100/live-100)
	}
	return max(p, base)
}
