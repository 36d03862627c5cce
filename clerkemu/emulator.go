package clerkemu

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configures an [Emulator]. The zero value works.
type Options struct {
	// SecretKey is the Backend API key every /v1 request must present as
	// "Authorization: Bearer <key>". Empty means a generated "sk_test_" key.
	SecretKey string
	// Name is the instance name; empty means "clerkgate".
	Name string
	// Issuer is the iss claim of session tokens. Empty means
	// "https://clerk." + Name + ".emulator". The Go SDK's jwt.Verify accepts
	// only issuers that start with "https://clerk.".
	Issuer string
	// Clock returns the current time; nil means time.Now. It also dates
	// webhooks (the body's timestamp and svix-timestamp); the delays of
	// their delivery run on the real time.
	Clock func() time.Time
	// Logger receives one debug line per request (method, route, status).
	// Nil discards. Secrets and tokens are never logged.
	Logger *slog.Logger
	// TokenTTL is the default lifetime of session tokens; 0 means 60s.
	TokenTTL time.Duration
	// SigningKey is the initial RSA signing key (2048 bits or more,
	// exponent 65537). Nil means a fresh RSA-2048 key. Tests that start many
	// emulators can share one key to save the key generation.
	SigningKey *rsa.PrivateKey
	// Roles are the organization roles memberships may hold, with their
	// permissions. Nil means [DefaultRoles]. An organization's creator gets
	// "org:admin", or the first role listed when there is no such role.
	Roles []Role
	// State, when not empty, is a document written by [Emulator.Snapshot]:
	// New restores the instance from it, with its secret key, signing keys,
	// users, organizations, memberships and sessions. SecretKey, Name and
	// Issuer may then be empty or equal to the state's, and SigningKey must
	// be nil. Roles must still hold every role a membership has. A restore
	// is not a change: it emits no events. See [LoadFile].
	State []byte
	// OnEvent, when set, is called once for every change, in the order of
	// the changes, after the change is stored and outside the emulator's
	// lock. It may call the emulator's methods; events those calls cause are
	// delivered after it returns. Webhooks (below) are sent from the same
	// stream of events.
	OnEvent func(Event)

	// Webhooks are the endpoints every event is sent to, Svix-signed, from
	// the start; [Emulator.AddWebhookEndpoint] adds more. An emulator with
	// endpoints runs goroutines: [Emulator.Close] (or [Server.Close]) stops
	// them. Endpoints are configuration: snapshots do not hold them.
	Webhooks []WebhookEndpoint
	// WebhookTimeout bounds each delivery attempt; 0 means 15s, as Svix.
	WebhookTimeout time.Duration
	// WebhookRetryScale multiplies the delays of the retry schedule (see
	// [WebhookSchedule]); 0 means 1, e.g. 0.001 turns 5 minutes into 300ms.
	WebhookRetryScale float64
	// WebhookConcurrency is the number of deliveries in flight at once per
	// endpoint; 0 means 4. With 1 the order of first attempts follows the
	// order of the events, knobs aside.
	WebhookConcurrency int
	// WebhookKnobs disturb deliveries (duplicates, reordering, delays, stale
	// timestamps) for tests; the zero value sends every message once, as
	// soon as possible. [Emulator.SetWebhookKnobs] changes them later.
	WebhookKnobs WebhookKnobs
	// WebhookClient sends the deliveries; nil means a client of the
	// emulator's own that Close shuts down. Its Timeout, when set, adds to
	// WebhookTimeout; redirects are never followed.
	WebhookClient *http.Client
}

// Emulator is an in-memory Clerk instance. It serves the Backend API through
// ServeHTTP and offers Go helpers with the same effect. Create one with
// [New]; it is safe for concurrent use.
type Emulator struct {
	secretKey string
	name      string
	issuer    string
	now       func() time.Time
	log       *slog.Logger
	tokenTTL  time.Duration
	roles     map[string]Role
	// creatorRole is given to an organization's creator.
	creatorRole string
	onEvent     func(Event)
	handler     http.Handler

	mu          sync.Mutex
	keys        keyring
	seq         uint64
	users       map[string]*userRecord
	sessions    map[string]*sessionRecord
	orgs        map[string]*orgRecord
	memberships map[string]*membershipRecord
	outbox      []Event
	// unflushed counts the events recorded but not yet handed to OnEvent
	// and the webhook dispatcher.
	unflushed int

	dispatchMu sync.Mutex // held while OnEvent runs

	machineOnce  sync.Once
	machineStore *machineStore // API keys, M2M and OAuth tokens; see machines

	instanceID string
	hooks      *dispatcher
	faults     faultState
}

// New returns an emulator configured by opts, restored from opts.State
// when it is set.
func New(opts Options) (*Emulator, error) {
	var st *stateDoc
	if len(opts.State) > 0 {
		var err error
		if st, err = decodeState(opts.State); err != nil {
			return nil, err
		}
		if err := st.applyTo(&opts); err != nil {
			return nil, err
		}
	}
	e := &Emulator{
		secretKey:   opts.SecretKey,
		name:        opts.Name,
		issuer:      opts.Issuer,
		now:         opts.Clock,
		log:         opts.Logger,
		tokenTTL:    opts.TokenTTL,
		onEvent:     opts.OnEvent,
		users:       make(map[string]*userRecord),
		sessions:    make(map[string]*sessionRecord),
		orgs:        make(map[string]*orgRecord),
		memberships: make(map[string]*membershipRecord),
	}
	if e.secretKey == "" {
		e.secretKey = "sk_test_" + randomString(40)
	}
	if strings.ContainsAny(e.secretKey, " \t\r\n") {
		return nil, errors.New("clerkemu: secret key must not contain white space")
	}
	if e.name == "" {
		e.name = "clerkgate"
	}
	if e.issuer == "" {
		e.issuer = "https://clerk." + e.name + ".emulator"
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.tokenTTL < 0 {
		return nil, fmt.Errorf("clerkemu: negative token TTL %s", e.tokenTTL)
	}
	if e.tokenTTL == 0 {
		e.tokenTTL = 60 * time.Second
	}
	e.instanceID = deriveInstanceID(e.secretKey)
	var err error
	if e.hooks, err = newDispatcher(e, opts); err != nil {
		return nil, err // before the key generation, which is slow
	}
	roles := opts.Roles
	if roles == nil {
		roles = DefaultRoles()
	}
	if e.roles, err = indexRoles(roles); err != nil {
		return nil, err
	}
	e.creatorRole = creatorRole(roles)
	if st != nil {
		err = e.restore(st)
	} else {
		err = e.keys.init(opts.SigningKey)
	}
	if err != nil {
		return nil, err
	}
	e.handler = e.routes()
	for _, ep := range opts.Webhooks {
		if err := e.AddWebhookEndpoint(ep.URL, ep.Secret); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// SecretKey returns the Backend API secret key of the instance.
func (e *Emulator) SecretKey() string { return e.secretKey }

// Issuer returns the iss claim of the instance's session tokens.
func (e *Emulator) Issuer() string { return e.issuer }

// Name returns the instance name.
func (e *Emulator) Name() string { return e.name }

// update runs fn under the lock with a fresh transaction, then delivers the
// events fn recorded. It is for changes made by Go helpers.
func (e *Emulator) update(fn func(tx *tx) error) error {
	return e.updateFrom(EventRequest{}, fn)
}

// updateFrom is update for a change made by a Backend API request: the
// events carry its attributes.
func (e *Emulator) updateFrom(from EventRequest, fn func(tx *tx) error) error {
	e.mu.Lock()
	t := &tx{e: e, now: e.now(), from: from}
	err := fn(t)
	if err == nil {
		e.outbox = append(e.outbox, t.events...)
		e.unflushed += len(t.events)
	}
	e.mu.Unlock()
	if err == nil && len(t.events) > 0 {
		e.flush()
	}
	return err
}

// view runs fn under the lock, for reads.
func (e *Emulator) view(fn func(now time.Time) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fn(e.now())
}

// flush delivers queued events in order to OnEvent and the webhook
// dispatcher. A flush that finds another one running leaves the work to it,
// so OnEvent may cause further events without deadlocking.
func (e *Emulator) flush() {
	for {
		if !e.dispatchMu.TryLock() {
			return
		}
		for {
			e.mu.Lock()
			batch := e.outbox
			e.outbox = nil
			e.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, ev := range batch {
				if e.onEvent != nil {
					e.onEvent(ev)
				}
				e.hooks.publish(ev)
			}
			e.mu.Lock()
			e.unflushed -= len(batch)
			e.mu.Unlock()
		}
		e.dispatchMu.Unlock()
		e.mu.Lock()
		empty := len(e.outbox) == 0
		e.mu.Unlock()
		if empty {
			return
		}
	}
}

// tx is one change in progress, under the emulator's lock.
type tx struct {
	e      *Emulator
	now    time.Time
	from   EventRequest
	events []Event
}

// emit records an event; data must already be a snapshot.
func (t *tx) emit(typ string, data any) {
	t.events = append(t.events, Event{Type: typ, Data: data, Time: t.now, Request: t.from})
}

// nextSeq returns a strictly increasing number that orders records created
// within the same millisecond.
func (e *Emulator) nextSeq() uint64 {
	e.seq++
	return e.seq
}

// millis is a Unix time in milliseconds, the unit of Clerk's resources.
func millis(t time.Time) int64 { return t.UnixMilli() }

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns a Clerk-style id: a type prefix and 27 random base62
// characters, like "user_2Nf...".
func newID(prefix string) string { return prefix + "_" + randomString(27) }

// validID reports whether id is prefix, "_" and 1 to 64 characters of
// idAlphabet: the ids the emulator makes, and the fixed ids seed files and
// state documents may hold.
func validID(prefix, id string) bool {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || rest == "" || len(rest) > 64 {
		return false
	}
	return strings.Trim(rest, idAlphabet) == ""
}

// randomString returns n random characters of idAlphabet.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails; it crashes the program instead
	for i := range b {
		// 256 % 62 != 0 gives a small bias, irrelevant for ids.
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}
