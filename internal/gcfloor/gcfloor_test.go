package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		live, floor, base, want uint64
	}{
		{0, 32 * mib, 100, 800}, // no collection yet: the runtime's minimum, scaled to the floor
		{1, 32 * mib, 100, 800},
		{1 * mib, 32 * mib, 100, 800},
		{4 * mib, 32 * mib, 100, 700},
		{8 * mib, 32 * mib, 100, 300},
		{15 * mib, 32 * mib, 100, 113}, // just below
		{16 * mib, 32 * mib, 100, 100}, // the goal is the floor already
		{64 * mib, 32 * mib, 100, 100}, // above the floor
		{4 * mib, 32 * mib, 300, 700},  // a higher base
		{10 * mib, 32 * mib, 300, 300}, // base reaches the floor
		{1 * mib, 2 * mib, 100, 100},   // a floor under the runtime's minimum changes nothing
	} {
		if got := percentFor(tt.live, tt.floor, tt.base); got != tt.want {
			t.Errorf("percentFor(%d, %d, %d) = %d, want %d", tt.live, tt.floor, tt.base, got, tt.want)
		}
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitGOGC collects until GOGC satisfies ok (the tuner runs after a
// collection, in the finalizer goroutine), or fails after 5 s.
func waitGOGC(t *testing.T, what string, ok func(uint64) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(gogc()) {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d, want %s", gogc(), what)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

var keep []byte

func TestStart(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const floor = 256 << 20
	stop := Start(floor, 100)
	second := Start(1, 100) // shares the first
	// A small live heap: GOGC goes up so the goal is about the floor.
	waitGOGC(t, "well above 100", func(p uint64) bool { return p > 1000 })
	// The goal is the floor, not beyond (the runtime's minimum goal scales
	// with GOGC).
	runtime.GC()
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(goal)
	if g := goal[0].Value.Uint64(); g < floor/2 || g > floor+floor/8 {
		t.Fatalf("heap goal %d MiB with a small heap, want about the floor, %d MiB", g>>20, floor>>20)
	}
	// A live heap past the floor's half: back to base.
	keep = make([]byte, 200<<20)
	for i := range keep {
		if i%4096 == 0 {
			keep[i] = 1
		}
	}
	waitGOGC(t, "100 with a large live heap", func(p uint64) bool { return p == 100 })
	keep = nil
	waitGOGC(t, "up again once the heap is small", func(p uint64) bool { return p > 1000 })
	second()
	second() // twice is once
	if gogc() == 100 {
		t.Fatal("stopping the second user stopped the tuner")
	}
	stop()
	if gogc() != 100 {
		t.Fatalf("GOGC %d after the last stop, want the base", gogc())
	}
	// Stopped: collections leave GOGC alone.
	for range 3 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if gogc() != 100 {
		t.Fatalf("GOGC %d after stop and collections, want 100", gogc())
	}
}
