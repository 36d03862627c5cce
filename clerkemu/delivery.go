package clerkemu

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/clerkgate/clerkgate/verify"
)

// Delivery defaults, as Svix.
const (
	defaultWebhookTimeout     = 15 * time.Second
	defaultWebhookConcurrency = 4
	// minDuplicateLag is the least upper bound of a duplicate's lag.
	minDuplicateLag = 50 * time.Millisecond
	// maxReceiverAnswer is how much of a receiver's answer is read, so that
	// the connection can be reused.
	maxReceiverAnswer = 64 << 10
)

// dispatcher turns events into signed webhook deliveries. Each endpoint
// has a scheduler goroutine, which hands the deliveries that are due to a
// few workers; retries go back to the scheduler. Everything but the HTTP
// exchanges happens under mu.
type dispatcher struct {
	e         *Emulator
	client    *http.Client
	transport *http.Transport
	timeout   time.Duration
	scale     float64
	workers   int

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu        sync.Mutex
	closed    bool
	endpoints []*endpoint
	knobs     WebhookKnobs
	rng       *rand.Rand
	stats     WebhookStats
	seq       uint64
}

// message is one event's webhook, the same for every endpoint and attempt.
type message struct {
	id    string // svix-id
	typ   string
	body  []byte
	stale time.Duration // how far in the past svix-timestamp lies
}

// delivery is one message for one endpoint.
type delivery struct {
	msg      *message
	attempts int           // attempts made
	due      time.Time     // when the next attempt is due
	offset   time.Duration // Delay knob: added to the release time of held deliveries
	key      uint64        // ReorderWindow knob: order of release
	seq      uint64        // ties of due, in order of queueing
}

// endpoint is one receiver with its queue.
type endpoint struct {
	d      *dispatcher
	url    string
	signer *verify.Webhook
	wake   chan struct{} // nudges the scheduler; capacity 1
	jobs   chan *delivery

	// Guarded by d.mu.
	queue     deliveryHeap
	held      []*delivery
	releaseAt time.Time
}

// newDispatcher checks the webhook options; it starts nothing.
func newDispatcher(e *Emulator, opts Options) (*dispatcher, error) {
	d := &dispatcher{e: e, timeout: opts.WebhookTimeout, scale: opts.WebhookRetryScale, workers: opts.WebhookConcurrency}
	switch {
	case d.timeout < 0:
		return nil, errors.New("clerkemu: negative WebhookTimeout")
	case d.timeout == 0:
		d.timeout = defaultWebhookTimeout
	}
	switch {
	case math.IsNaN(d.scale) || math.IsInf(d.scale, 0) || d.scale < 0:
		return nil, errors.New("clerkemu: WebhookRetryScale must be a finite number not below 0")
	case d.scale == 0:
		d.scale = 1
	}
	switch {
	case d.workers < 0:
		return nil, errors.New("clerkemu: negative WebhookConcurrency")
	case d.workers == 0:
		d.workers = defaultWebhookConcurrency
	}
	if err := opts.WebhookKnobs.validate(); err != nil {
		return nil, err
	}
	d.setKnobs(opts.WebhookKnobs)
	d.transport = http.DefaultTransport.(*http.Transport).Clone()
	d.client = &http.Client{
		Transport: d.transport,
		// Svix treats a redirect as a failure.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

// setKnobs replaces the knobs and reseeds the generator.
func (d *dispatcher) setKnobs(k WebhookKnobs) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.knobs = k
	d.rng = rand.New(rand.NewPCG(uint64(k.Seed), 0x636c65726b656d75)) // "clerkemu"
}

// addEndpoint starts the goroutines of a new endpoint.
func (d *dispatcher) addEndpoint(url string, signer *verify.Webhook) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	ep := &endpoint{d: d, url: url, signer: signer, wake: make(chan struct{}, 1), jobs: make(chan *delivery)}
	d.endpoints = append(d.endpoints, ep)
	d.wg.Add(1 + d.workers)
	go ep.schedule()
	for range d.workers {
		go ep.work()
	}
	return nil
}

// publish queues the webhook of ev for every endpoint. It never blocks on
// the network.
func (d *dispatcher) publish(ev Event) {
	d.mu.Lock()
	n := len(d.endpoints)
	d.mu.Unlock()
	if n == 0 {
		return
	}
	body, err := d.e.webhookBody(ev)
	if err != nil {
		d.e.log.Error("clerkemu: webhook body", slog.String("type", ev.Type), slog.String("error", err.Error()))
		return
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	k := d.knobs
	msg := &message{id: newID("msg"), typ: ev.Type, body: body, stale: k.StaleTimestamp}
	for _, ep := range d.endpoints {
		first := d.newDelivery(msg, k)
		d.stats.Messages++
		ep.queueNew(first, now)
		if k.DuplicateRate > 0 && d.rng.Float64() < k.DuplicateRate {
			dup := d.newDelivery(msg, k)
			dup.offset = first.offset + time.Duration(1+d.rng.Int64N(int64(max(k.Delay, minDuplicateLag))))
			d.stats.Duplicates++
			ep.queueNew(dup, now)
		}
	}
}

// newDelivery draws a delivery's random delay and release order; the
// caller holds d.mu.
func (d *dispatcher) newDelivery(msg *message, k WebhookKnobs) *delivery {
	dl := &delivery{msg: msg, key: d.rng.Uint64()}
	if k.Delay > 0 {
		dl.offset = time.Duration(d.rng.Int64N(int64(k.Delay) + 1))
	}
	d.stats.Pending++
	return dl
}

// queueNew holds a new delivery (ReorderWindow) or queues it; the caller
// holds d.mu.
func (ep *endpoint) queueNew(dl *delivery, now time.Time) {
	if w := ep.d.knobs.ReorderWindow; w > 0 {
		if len(ep.held) == 0 {
			ep.releaseAt = now.Add(w)
		}
		ep.held = append(ep.held, dl)
	} else {
		dl.due = now.Add(dl.offset)
		ep.push(dl)
	}
	ep.nudge()
}

// push queues a delivery for its due time; the caller holds d.mu.
func (ep *endpoint) push(dl *delivery) {
	ep.d.seq++
	dl.seq = ep.d.seq
	heap.Push(&ep.queue, dl)
}

// nudge wakes the scheduler without blocking.
func (ep *endpoint) nudge() {
	select {
	case ep.wake <- struct{}{}:
	default:
	}
}

// schedule hands due deliveries to the workers, releases held ones when
// their window closes, and sleeps until the next is due.
func (ep *endpoint) schedule() {
	d := ep.d
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, wait := ep.next(time.Now())
		if next != nil {
			select {
			case ep.jobs <- next:
			case <-d.ctx.Done():
				return
			}
			continue
		}
		var tick <-chan time.Time
		if wait >= 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-ep.wake:
		case <-tick:
		case <-d.ctx.Done():
			return
		}
		timer.Stop()
	}
}

// next releases the held deliveries whose window closed and pops the first
// due delivery; without one it returns how long to wait, or -1 for "until
// nudged".
func (ep *endpoint) next(now time.Time) (*delivery, time.Duration) {
	d := ep.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(ep.held) > 0 && !now.Before(ep.releaseAt) {
		slices.SortFunc(ep.held, func(a, b *delivery) int { return cmp.Compare(a.key, b.key) })
		for _, dl := range ep.held {
			dl.due = now.Add(dl.offset)
			ep.push(dl)
		}
		ep.held = nil
	}
	wait := time.Duration(-1)
	if len(ep.queue) > 0 {
		if top := ep.queue[0]; top.due.After(now) {
			wait = top.due.Sub(now)
		} else {
			return heap.Pop(&ep.queue).(*delivery), 0
		}
	}
	if len(ep.held) > 0 {
		if w := ep.releaseAt.Sub(now); wait < 0 || w < wait {
			wait = w
		}
	}
	return nil, wait
}

// work makes the attempts the scheduler hands over.
func (ep *endpoint) work() {
	d := ep.d
	defer d.wg.Done()
	for {
		select {
		case dl := <-ep.jobs:
			status, err := ep.post(dl.msg)
			ep.settle(dl, status, err)
		case <-d.ctx.Done():
			return
		}
	}
}

// settle counts an attempt and queues the retry or gives up.
func (ep *endpoint) settle(dl *delivery, status int, err error) {
	d := ep.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return // counted as dropped
	}
	d.stats.Sent++
	dl.attempts++
	attrs := []any{slog.String("msg_id", dl.msg.id), slog.String("type", dl.msg.typ),
		slog.String("url", redactURL(ep.url)), slog.Int("attempt", dl.attempts)}
	if err == nil && status >= 200 && status < 300 {
		d.stats.Delivered++
		d.stats.Pending--
		d.e.log.Debug("clerkemu webhook delivered", append(attrs, slog.Int("status", status))...)
		return
	}
	d.stats.Failed++
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else {
		attrs = append(attrs, slog.Int("status", status))
	}
	if dl.attempts >= len(schedule) {
		d.stats.GaveUp++
		d.stats.Pending--
		d.e.log.Warn("clerkemu webhook given up", attrs...)
		return
	}
	dl.due = time.Now().Add(time.Duration(float64(schedule[dl.attempts]) * d.scale))
	ep.push(dl)
	ep.nudge()
	d.e.log.Debug("clerkemu webhook attempt failed", attrs...)
}

// post makes one attempt: the body signed now (less the message's
// staleness), POSTed within the timeout. It returns the status.
func (ep *endpoint) post(msg *message) (int, error) {
	d := ep.d
	var ts time.Time // Options.Clock is only ever read under the lock
	_ = d.e.view(func(now time.Time) error { ts = now.Add(-msg.stale); return nil })
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(msg.body))
	if err != nil {
		return 0, err
	}
	h := req.Header
	h.Set("svix-id", msg.id)
	h.Set("svix-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("svix-signature", ep.signer.Sign(msg.id, ts, msg.body))
	h["Content-Type"] = []string{"application/json"}
	h.Set("User-Agent", "Svix-Webhooks/1.0 (clerkemu)")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReceiverAnswer))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// close drops what is pending, stops the goroutines and closes the idle
// connections.
func (d *dispatcher) close() {
	d.once.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.stats.Dropped += d.stats.Pending
		d.stats.Pending = 0
		for _, ep := range d.endpoints {
			ep.queue, ep.held = nil, nil
		}
		d.mu.Unlock()
		d.cancel()
		d.wg.Wait()
		d.transport.CloseIdleConnections()
	})
}

// deliveryHeap orders deliveries by due time, then by queueing order.
type deliveryHeap []*delivery

func (h deliveryHeap) Len() int { return len(h) }
func (h deliveryHeap) Less(i, j int) bool {
	if c := h[i].due.Compare(h[j].due); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h deliveryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deliveryHeap) Push(x any)   { *h = append(*h, x.(*delivery)) }
func (h *deliveryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}
