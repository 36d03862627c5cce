// Package httpapi is clerkgate's HTTP API: its own endpoints (/auth/*,
// health, metrics), problem documents with the contract's closed set of
// codes, request ids, access logs and authentication of requests.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/metrics"
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
	// ServeMetrics puts /metrics on this handler (false when
	// CLERKGATE_METRICS_ADDR gives it a listener of its own).
	ServeMetrics bool
	Now          func() time.Time
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
	now      func() time.Time
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
		now:      d.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	mux := newRouter()
	s.routes(mux, d.ServeMetrics)
	return s.observe(mux)
}
