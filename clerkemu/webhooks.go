package clerkemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"time"

	"github.com/clerkgate/clerkgate/verify"
)

// ErrClosed is returned by the webhook methods of an emulator that was
// closed.
var ErrClosed = errors.New("clerkemu: emulator is closed")

// WebhookEndpoint is a URL the emulator sends its webhooks to and the secret
// that signs them. Formatting or logging it never shows the secret.
type WebhookEndpoint struct {
	// URL is an absolute http or https URL.
	URL string
	// Secret is the Svix signing secret, "whsec_" followed by standard
	// base64 (the bare base64 part is accepted too, as Svix's libraries do).
	Secret string
}

// String returns the URL and hides the secret.
func (ep WebhookEndpoint) String() string { return "webhook endpoint " + redactURL(ep.URL) }

// LogValue implements slog.LogValuer: the URL without query, no secret.
func (ep WebhookEndpoint) LogValue() slog.Value { return slog.StringValue(redactURL(ep.URL)) }

// schedule is Svix's: the first attempt at once, each later one that long
// after the previous attempt failed.
var schedule = [...]time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// WebhookSchedule returns Svix's delivery schedule, which the emulator
// follows: element i is the delay before attempt i+1, counted from the
// failure of attempt i: at once, then 5s, 5m, 30m, 2h, 5h, 10h and 10h.
// After the eighth attempt fails the message is given up. The delays are
// multiplied by [Options.WebhookRetryScale].
func WebhookSchedule() []time.Duration { return slices.Clone(schedule[:]) }

// WebhookKnobs make webhook delivery as unruly as Svix may be, for tests of
// receivers. Random choices come from a generator seeded with Seed, drawn
// in the order of the events, so a given Seed and sequence of events gives
// the same choices (the timing of the network aside). Knobs apply to the
// messages queued after they are set.
type WebhookKnobs struct {
	// DuplicateRate is the probability, from 0 to 1, that a message is
	// delivered twice: a second delivery of the same message (same svix-id,
	// same body, its own retries) follows the first by a random lag of up
	// to max(Delay, 50ms).
	DuplicateRate float64
	// ReorderWindow, when positive, holds messages: the first message held
	// opens a window of this length, and when it closes the messages held
	// are released in a random order. With WebhookConcurrency 1 they then
	// arrive in that order.
	ReorderWindow time.Duration
	// Delay is the maximum of a random latency added before each message's
	// first attempt (after its release, with ReorderWindow).
	Delay time.Duration
	// StaleTimestamp signs messages with an svix-timestamp this far in the
	// past (the signature is valid; receivers with Svix's 5 minute
	// tolerance reject it when it is over 5 minutes).
	StaleTimestamp time.Duration
	// Seed seeds the random choices; every value, 0 included, is a seed.
	Seed int64
}

// validate reports the first knob out of range.
func (k WebhookKnobs) validate() error {
	switch {
	case math.IsNaN(k.DuplicateRate) || k.DuplicateRate < 0 || k.DuplicateRate > 1:
		return errors.New("clerkemu: webhook DuplicateRate must be between 0 and 1")
	case k.ReorderWindow < 0 || k.Delay < 0 || k.StaleTimestamp < 0:
		return errors.New("clerkemu: webhook ReorderWindow, Delay and StaleTimestamp must not be negative")
	}
	return nil
}

// WebhookStats counts deliveries over all endpoints since the start. A
// delivery is one message for one endpoint; a duplicate is a delivery of
// its own. Once every delivery is settled (see [Emulator.WaitWebhooks]),
// Messages + Duplicates = Delivered + GaveUp + Dropped.
type WebhookStats struct {
	// Messages is the number of deliveries queued for events: one per event
	// and endpoint.
	Messages int
	// Duplicates is the number of extra deliveries DuplicateRate queued.
	Duplicates int
	// Sent is the number of attempts (POST requests) made.
	Sent int
	// Delivered is the number of deliveries acknowledged with a 2xx status
	// within the timeout.
	Delivered int
	// Failed is the number of attempts that failed: another status, a
	// timeout or a connection error.
	Failed int
	// Pending is the number of deliveries not yet settled: held, waiting
	// for their first attempt or a retry, or in flight.
	Pending int
	// GaveUp is the number of deliveries abandoned after the last attempt
	// of the schedule failed.
	GaveUp int
	// Dropped is the number of deliveries still pending at Close.
	Dropped int
}

// AddWebhookEndpoint sends the webhooks of the events from now on to url as
// well, signed with secret (see [WebhookEndpoint]). The same URL may be
// added twice; it then gets every message twice.
func (e *Emulator) AddWebhookEndpoint(url, secret string) error {
	if err := checkWebhookURL(url); err != nil {
		return err
	}
	signer, err := verify.NewWebhook([]string{secret}, verify.WebhookOptions{})
	if err != nil {
		return errors.New("clerkemu: webhook secret must be \"whsec_\" followed by standard base64")
	}
	return e.hooks.addEndpoint(url, signer)
}

// checkWebhookURL accepts absolute http and https URLs.
func checkWebhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("clerkemu: webhook URL %q is not an absolute http(s) URL", redactURL(s))
	}
	return nil
}

// redactURL returns u without user info, query and fragment, where secrets
// may hide.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(malformed URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// SetWebhookKnobs replaces the knobs (see [WebhookKnobs]) for the messages
// queued from now on and reseeds the random choices.
func (e *Emulator) SetWebhookKnobs(k WebhookKnobs) error {
	if err := k.validate(); err != nil {
		return err
	}
	e.hooks.setKnobs(k)
	return nil
}

// WebhookStats returns the delivery counters.
func (e *Emulator) WebhookStats() WebhookStats {
	d := e.hooks
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// WaitWebhooks waits until every event of the changes made before the call
// is settled: delivered, given up, or dropped by Close. A receiver that
// keeps failing makes it wait for the whole (scaled) schedule. It returns
// ctx's error when ctx ends first. Like http.Server.Shutdown it polls, at
// most every 20ms.
func (e *Emulator) WaitWebhooks(ctx context.Context) error {
	for pause := time.Millisecond; !e.webhooksSettled(); pause = min(2*pause, 20*time.Millisecond) {
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
	return nil
}

// webhooksSettled reports whether every recorded event was handed to the
// dispatcher and every delivery is settled.
func (e *Emulator) webhooksSettled() bool {
	e.mu.Lock()
	unflushed := e.unflushed
	e.mu.Unlock()
	if unflushed > 0 {
		return false
	}
	d := e.hooks
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed || d.stats.Pending == 0
}

// Close stops webhook delivery: it drops the deliveries still pending
// (counted in [WebhookStats].Dropped; call [Emulator.WaitWebhooks] first to
// let them finish), aborts those in flight and waits for the delivery
// goroutines to end. The emulator keeps serving and changing its state, but
// sends no more webhooks. Close is safe to call more than once; an emulator
// without webhook endpoints needs no Close.
func (e *Emulator) Close() { e.hooks.close() }
