package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/jackc/pgx/v5"
)

// Group commit of webhook user events. Each event must be durable before
// its sender hears 2xx, so each costs a commit, and a commit waits for the
// write-ahead log to reach the disk: with one transaction per event, a
// burst of webhooks is bound by the disk's flushes, not by work. Events
// that arrive while a commit is under way therefore wait for the next
// one, and each transaction carries every event waiting then (up to
// maxEventBatch): the same statements, pipelined, one flush for all.
// Nobody hears 2xx before the transaction holding their event committed.
//
// A batch that fails as a whole (a concurrent save of the same message,
// a lost connection) commits nothing, and each of its events is run again
// on its own, where its error, if any, is its own.
//
// Deadlocks: every transaction that writes user rows for events locks them
// in ascending Clerk user id (a batch is sorted so; every other statement
// locks one user row), and a message's record is written only by a
// transaction holding its user's row, so waits never form a cycle.

const (
	maxEventBatch   = 64
	maxEventBatches = 2                // batches under way at once
	eventBatchLimit = 15 * time.Second // one batch's time, whoever waits for it
)

// errBatchFailed tells a waiting event that its batch committed nothing.
var errBatchFailed = errors.New("postgres: event batch failed")

// pendingEvent is one event waiting for a batch.
type pendingEvent struct {
	userID, messageID string
	args              []any
	done              chan struct{}
	// Set before done closes: the stored row when the statement wrote
	// the event; nil with a nil err when it wrote nothing (the caller
	// asks saveUserEvent why); errBatchFailed when the batch failed.
	user *clerkgate.User
	prev *clerkgate.UserPrevious
	err  error
}

// eventBatcher queues events for batches and runs the batches.
type eventBatcher struct {
	s       *Store
	mu      sync.Mutex
	queue   []*pendingEvent
	running int // batches under way (goroutines of run)

	// For tests: transactions of several events, and those that failed.
	shared, failed atomic.Int64
}

// change runs changeUserEvent for args in the next batch and waits for
// it: the stored row if the event was written, nil if not,
// errBatchFailed if its batch failed, or ctx's error (the event may then
// still be written, as when a connection breaks after a commit).
func (b *eventBatcher) change(ctx context.Context, userID, messageID string, args []any) (*clerkgate.User, *clerkgate.UserPrevious, error) {
	p := &pendingEvent{userID: userID, messageID: messageID, args: args, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.running < maxEventBatches {
		b.running++
		go b.run()
	}
	b.mu.Unlock()
	select {
	case <-p.done:
		return p.user, p.prev, p.err
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// run takes batches off the queue until it is empty.
func (b *eventBatcher) run() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxEventBatch)
		if n == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		batch := slices.Clone(b.queue[:n])
		b.queue = append(b.queue[:0], b.queue[n:]...)
		b.mu.Unlock()
		b.execute(batch)
	}
}

// execute writes one batch and hands each event its outcome.
func (b *eventBatcher) execute(batch []*pendingEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), eventBatchLimit)
	defer cancel()
	if len(batch) == 1 { // nothing to share: the statement alone, as ever
		p := batch[0]
		p.user, p.prev, p.err = b.s.changeOne(ctx, p.args)
		close(p.done)
		return
	}
	// A message twice in one batch would be a unique violation that
	// fails the whole batch: the second goes on its own, after.
	seen := make(map[string]bool, len(batch))
	var alone []*pendingEvent
	var group []*pendingEvent
	for _, p := range batch {
		if seen[p.messageID] {
			alone = append(alone, p)
			continue
		}
		seen[p.messageID] = true
		group = append(group, p)
	}
	slices.SortStableFunc(group, func(x, y *pendingEvent) int { return cmp.Compare(x.userID, y.userID) })
	users, prevs, err := b.s.changeMany(ctx, group)
	b.shared.Add(1)
	if err != nil {
		b.failed.Add(1)
	}
	for i, p := range group {
		if err != nil {
			p.err = errBatchFailed
		} else {
			p.user, p.prev = users[i], prevs[i]
		}
		close(p.done)
	}
	for _, p := range alone {
		p.err = errBatchFailed
		close(p.done)
	}
}

// changeOne runs changeUserEvent on its own: the stored row and what it
// held before, or nils when it wrote nothing.
func (s *Store) changeOne(ctx context.Context, args []any) (*clerkgate.User, *clerkgate.UserPrevious, error) {
	return scanChange(s.pool.QueryRow(ctx, changeUserEvent, args...))
}

// scanChange reads the row of changeUserEvent: the stored user and what it
// held before (changeUserEvent changes neither role nor ban); nils when the
// statement wrote nothing.
func scanChange(row pgx.Row) (*clerkgate.User, *clerkgate.UserPrevious, error) {
	u, err := scanUser(row)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	return u, &clerkgate.UserPrevious{Role: u.Role, Banned: u.Banned}, nil
}

// changeMany runs changeUserEvent for each event in one transaction, its
// statements pipelined: the stored rows and what they held before (nil
// where a statement wrote nothing), or an error when the transaction did
// not commit.
func (s *Store) changeMany(ctx context.Context, group []*pendingEvent) ([]*clerkgate.User, []*clerkgate.UserPrevious, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // after Commit, a no-op
	var pb pgx.Batch
	for _, p := range group {
		pb.Queue(changeUserEvent, p.args...)
	}
	results := tx.SendBatch(ctx, &pb)
	users := make([]*clerkgate.User, len(group))
	prevs := make([]*clerkgate.UserPrevious, len(group))
	for i := range group {
		u, prev, err := scanChange(results.QueryRow())
		if err != nil {
			results.Close()
			return nil, nil, err
		}
		users[i], prevs[i] = u, prev
	}
	if err := results.Close(); err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, err
	}
	return users, prevs, nil
}
