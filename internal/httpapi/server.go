// Package httpapi is clerkgate's HTTP API: its own endpoints (/auth/*,
// health, metrics), problem documents with the contract's closed set of
// codes, request ids, access logs and authentication of requests.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/metrics"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/security"
	"github.com/clerkgate/clerkgate/internal/usersync"
	"github.com/clerkgate/clerkgate/verify"
)

// Body limits of SPEC §3.
const (
	MaxBodyBytes = 1 << 20
)

// Check is one readiness check. A failed critical check makes the service
// unavailable (503); any other failed check makes it degraded (200).
type Check struct {
	Name     string
	Critical bool
	Run      func(ctx context.Context) error
}

// Deps are what the server needs. Metrics may be nil.
type Deps struct {
	Logger   *slog.Logger
	Verifier *verify.Verifier
	Identity *identity.Service
	Metrics  *metrics.Metrics
	Checks   []Check
	// Webhook checks webhook signatures; nil answers 503
	// webhook_not_configured.
	Webhook  *verify.Webhook
	Syncer   *usersync.Syncer
	Runs     *usersync.Runs // nil without a Backend API
	Security *security.Recorder
	// Clerk is the Backend API; nil without a secret key.
	Clerk Clerk
	// Store is the user store, for the admin API.
	Store clerkgate.UserStore
	// Events lists security events.
	Events clerkgate.SecurityEventStore
	// Policy returns the current policy; nil means policy.Default().
	Policy func() *policy.Policy
	// AuthFailureLimit failed authentications per IP per
	// AuthFailureWindow answer 429 afterwards; 0 is off.
	AuthFailureLimit  int
	AuthFailureWindow time.Duration
	// SharedFailures, when set, counts those failures across instances.
	SharedFailures SharedFailures
	// ServeMetrics puts /metrics on this handler (false when
	// CLERKGATE_METRICS_ADDR gives it a listener of its own).
	ServeMetrics bool
	Now          func() time.Time

	// Upstream is the API to protect (CLERKGATE_UPSTREAM); it wins over the
	// policy's upstream. With neither, there is no reverse proxy and
	// unknown paths are 404. See proxy.go.
	Upstream *url.URL
	// UpstreamTimeout bounds the wait for the upstream's response headers
	// (not the body, which may stream for ever); 0 means 60 s.
	UpstreamTimeout time.Duration
	// Machines verifies Clerk machine credentials on routes with
	// machines: true; nil turns machine credentials off.
	Machines MachineVerifier
	// Legacy verifies the application's legacy tokens during a migration
	// window; nil turns legacy tokens off.
	Legacy LegacyVerifier
	// AccessLog, when set, receives the access-log lines already formatted
	// as slog's JSON handler would (LOG_FORMAT=json), which is much cheaper
	// than a slog record per request; Logger still decides whether info
	// lines are wanted. nil: access lines go through Logger.
	AccessLog io.Writer
}

type server struct {
	log      *slog.Logger
	verifier *verify.Verifier
	identity *identity.Service
	metrics  *metrics.Metrics
	checks   []Check
	webhook  *verify.Webhook
	syncer   *usersync.Syncer
	runs     *usersync.Runs
	security *security.Recorder
	clerk    Clerk
	store    clerkgate.UserStore
	events   clerkgate.SecurityEventStore
	policy   func() *policy.Policy
	limiter  *failureLimiter
	kidFlood floodCounter // unknown_kid_flood
	roleMu   sync.Mutex
	now      func() time.Time
	upstream *url.URL        // Deps.Upstream
	proxy    *proxy          // answers the paths the service does not own
	machines MachineVerifier // nil: off
	legacy   LegacyVerifier  // nil: off
	// accessLog is Deps.AccessLog.
	accessLog io.Writer
}

// NewServer returns the service's HTTP handler.
func NewServer(d Deps) http.Handler {
	s := &server{
		log:      d.Logger,
		verifier: d.Verifier,
		identity: d.Identity,
		metrics:  d.Metrics,
		checks:   d.Checks,
		webhook:  d.Webhook,
		syncer:   d.Syncer,
		runs:     d.Runs,
		security: d.Security,
		clerk:    d.Clerk,
		store:    d.Store,
		events:   d.Events,
		policy:   d.Policy,
		limiter:  newFailureLimiter(d.AuthFailureLimit, d.AuthFailureWindow, d.SharedFailures),
		now:      d.Now,
		upstream: d.Upstream,
		machines: d.Machines,
		legacy:   d.Legacy,

		accessLog: d.AccessLog,
	}
	if s.policy == nil {
		def := policy.Default()
		s.policy = func() *policy.Policy { return def }
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.legacy != nil {
		s.legacy = notingLegacy{s.legacy} // legacyWindow learns who used a legacy token
	}
	s.proxy = newProxy(s, d.UpstreamTimeout)
	mux := newRouter()
	s.routes(mux, d.ServeMetrics)
	s.proxy.owns = mux.owns
	return s.observe(s.legacyWindow(mux))
}
