package usersync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/clerkgate/clerkgate"
)

// Runs starts reconcile runs in the background, one at a time per process,
// and remembers the latest ones for their progress.
type Runs struct {
	syncer *Syncer
	clerk  Clerk
	ctx    context.Context // the service's lifetime: ends runs on shutdown

	mu     sync.Mutex
	runs   map[string]*Run
	order  []string
	active string
}

// maxRuns is how many finished runs are remembered.
const maxRuns = 20

// NewRuns returns a run manager whose runs end with ctx.
func NewRuns(ctx context.Context, s *Syncer, clerk Clerk) *Runs {
	return &Runs{syncer: s, clerk: clerk, ctx: ctx, runs: map[string]*Run{}}
}

// Start begins a run. A run already going is CodeConflict.
func (r *Runs) Start(dryRun bool) (Run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active != "" {
		return Run{}, &clerkgate.Error{Code: clerkgate.CodeConflict, Message: "a reconcile run is already going: " + r.active}
	}
	var b [8]byte
	rand.Read(b[:])
	run := &Run{ID: "sync_" + hex.EncodeToString(b[:]), Status: "running", DryRun: dryRun, StartedAt: r.syncer.o.Now().UTC()}
	r.runs[run.ID] = run
	r.order = append(r.order, run.ID)
	if len(r.order) > maxRuns {
		delete(r.runs, r.order[0])
		r.order = r.order[1:]
	}
	r.active = run.ID
	go r.execute(run.ID, dryRun)
	return *run, nil
}

func (r *Runs) execute(id string, dryRun bool) {
	counts, err := r.syncer.Reconcile(r.ctx, r.clerk, ReconcileOptions{
		DryRun: dryRun,
		Progress: func(c Counts) {
			r.mu.Lock()
			if run, ok := r.runs[id]; ok {
				run.Counts = c
			}
			r.mu.Unlock()
		},
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active = ""
	run, ok := r.runs[id]
	if !ok {
		return
	}
	run.Counts = counts
	run.FinishedAt = time.Now().UTC()
	run.Status = "succeeded"
	if err != nil {
		run.Status = "failed"
		run.Error = clerkgate.ErrorMessage(err)
	}
}

// Get returns a run by id.
func (r *Runs) Get(id string) (Run, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run, ok := r.runs[id]
	if !ok {
		return Run{}, false
	}
	return *run, true
}
