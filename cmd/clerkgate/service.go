package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
	"github.com/clerkgate/clerkgate/internal/gcfloor"
	"github.com/clerkgate/clerkgate/internal/httpapi"
	"github.com/clerkgate/clerkgate/internal/identity"
	"github.com/clerkgate/clerkgate/internal/legacy"
	"github.com/clerkgate/clerkgate/internal/machine"
	"github.com/clerkgate/clerkgate/internal/metrics"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/redisbus"
	"github.com/clerkgate/clerkgate/internal/security"
	"github.com/clerkgate/clerkgate/internal/usersync"
	"github.com/clerkgate/clerkgate/verify"
)

// service is the running clerkgate service: what "serve" and "dev" start.
type service struct {
	cfg      serviceConfig
	log      *slog.Logger
	store    store
	verifier *verify.Verifier
	clerk    *clerkapi.Client // nil without a secret key
	identity *identity.Service
	policies *policy.Reloader
	metrics  *metrics.Metrics
	deny     *verify.MemoryDenyList
	bus      *redisbus.Bus // nil without REDIS_URL
	security *security.Recorder
	syncer   *usersync.Syncer
	handler  http.Handler
	// runCtx ends with the service; background work (reconcile runs,
	// denial polling) hangs off it.
	runCtx    context.Context
	runCancel context.CancelFunc
}

// newService opens the store (migrating it unless told not to) and builds
// every component. Nothing listens yet.
//
// accessLog, when not nil, is where the HTTP server writes its access-log
// lines directly (see accessWriter); nil sends them through log.
func newService(ctx context.Context, cfg serviceConfig, log *slog.Logger, accessLog io.Writer) (_ *service, err error) {
	s := &service{cfg: cfg, log: log, metrics: metrics.New(), deny: &verify.MemoryDenyList{}}
	if s.policies, err = policy.NewReloader(cfg.PolicyPath); err != nil {
		return nil, fmt.Errorf("CLERKGATE_POLICY: %w", err)
	}
	s.runCtx, s.runCancel = context.WithCancel(context.WithoutCancel(ctx))
	s.store, err = openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer func() {
		if err != nil {
			s.closeRedis()
			s.store.Close()
		}
	}()
	if !cfg.NoMigrate {
		if err := s.store.Migrate(ctx); err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
	}
	if cfg.SecretKey != "" {
		s.clerk, err = clerkapi.New(clerkapi.Options{
			APIURL:    cfg.APIURL,
			SecretKey: cfg.SecretKey,
			Observe:   s.metrics.ObserveClerkAPI,
		})
		if err != nil {
			return nil, fmt.Errorf("CLERK_SECRET_KEY: %w", err)
		}
	}
	vo := verify.Options{
		JWTKey:            cfg.JWTKey,
		Issuer:            cfg.Issuer,
		AuthorizedParties: cfg.AuthorizedParties,
		Algorithms:        cfg.Algorithms,
		Leeway:            cfg.Leeway,
		JWKSMinRefresh:    cfg.JWKSMinRefresh,
		JWKSRefresh:       cfg.JWKSRefresh,
		JWKSMaxStale:      cfg.JWKSMaxStale,
		JWKSTimeout:       cfg.JWKSTimeout,
		CacheSize:         cfg.TokenCacheSize,
		DenyList:          s.deny,
		OnJWKSFetch:       s.observeJWKSFetch,
	}
	if cfg.Leeway == 0 {
		vo.Leeway = -1 // explicitly none
	}
	if cfg.TokenCacheSize == 0 {
		vo.CacheSize = -1
	}
	if cfg.JWTKey == "" {
		vo.JWKSURL = cfg.APIURL + "/v1/jwks"
		vo.SecretKey = cfg.SecretKey
	}
	if s.verifier, err = verify.New(vo); err != nil {
		return nil, err
	}
	s.metrics.WatchVerifier(s.verifier, time.Now)
	io := identity.Options{Store: s.store, PolicyFunc: s.policies.Current,
		Memberships: func(ctx context.Context, id string) ([]clerkgate.Membership, error) {
			return s.store.Memberships(ctx, id, true)
		},
		// s.syncer is made below, before any request.
		Save: func(ctx context.Context, u *clerkgate.User) (*clerkgate.User, error) {
			return s.syncer.StoreSeenUser(ctx, u)
		},
		OnCacheLookup: s.metrics.CacheLookup("user"),
	}
	if s.clerk != nil {
		io.Clerk = identity.FetcherFunc(func(ctx context.Context, id string) (*clerkgate.User, error) {
			u, _, err := s.clerk.GetUser(ctx, id)
			return u, err
		})
	}
	if s.identity, err = identity.New(io); err != nil {
		return nil, err
	}
	if err := s.openRedis(); err != nil {
		return nil, err
	}
	denier, onUser, onMembership := s.syncHooks()
	s.security = security.New(s.store, log, s.metrics.CountSecurityEvent)
	s.syncer = usersync.New(usersync.Options{
		Store:        s.store,
		PolicyFunc:   s.policies.Current,
		Denier:       denier,
		Security:     s.security,
		OnUser:       onUser,
		OnMembership: onMembership,
		Fetch:        s.fetchUser,
		Observe:      s.metrics.ObserveWebhook,
		ObserveLag:   s.metrics.ObserveSyncLag,
	})
	if err := s.loadDenials(ctx, time.Time{}); err != nil {
		return nil, fmt.Errorf("loading session denials: %w", err)
	}
	deps := httpapi.Deps{
		Logger:            log,
		AccessLog:         accessLog,
		Verifier:          s.verifier,
		Identity:          s.identity,
		Metrics:           s.metrics,
		Checks:            s.checks(),
		Syncer:            s.syncer,
		Security:          s.security,
		Store:             s.store,
		Events:            s.store,
		Policy:            s.policies.Current,
		AuthFailureLimit:  cfg.AuthFailureLimit,
		AuthFailureWindow: cfg.AuthFailureWindow,
		SharedFailures:    s.sharedFailures(),
		ServeMetrics:      cfg.MetricsAddr == "",
	}
	if cfg.Upstream != "" { // CLERKGATE_UPSTREAM wins over the policy's upstream
		if deps.Upstream, err = url.Parse(cfg.Upstream); err != nil {
			return nil, fmt.Errorf("CLERKGATE_UPSTREAM: %w", err)
		}
	}
	if s.policies.Current().Legacy != nil {
		if deps.Legacy, err = s.legacyVerifier(); err != nil {
			return nil, fmt.Errorf("CLERKGATE_POLICY: %w", err)
		}
	}
	if len(cfg.WebhookSecrets) > 0 {
		if deps.Webhook, err = verify.NewWebhook(cfg.WebhookSecrets, verify.WebhookOptions{}); err != nil {
			return nil, fmt.Errorf("CLERK_WEBHOOK_SIGNING_SECRET: %w", err)
		}
	}
	if s.clerk != nil {
		mv, err := machine.New(machine.Options{Client: s.clerk, OnCacheLookup: s.metrics.CacheLookup("machine")})
		if err != nil {
			return nil, err
		}
		deps.Machines = machine.Adapter[httpapi.Machine]{Verifier: mv, Convert: func(m machine.Machine) httpapi.Machine { return httpapi.Machine(m) }}
		deps.Clerk = s.clerk // only when set: a nil *Client in the interface would not be nil
		deps.Runs = usersync.NewRuns(s.runCtx, s.syncer, s.reconcileClerk())
	}
	s.handler = httpapi.NewServer(deps)
	return s, nil
}

// legacyVerifier verifies the legacy tokens of the policy's legacy block
// (SPEC §8), following policy reloads: a changed block is used from the
// reload on, a removed one turns legacy tokens off. Adding a legacy block
// to a policy that had none takes a restart.
func (s *service) legacyVerifier() (*legacy.Follower, error) {
	build := func(l policy.Legacy) (*legacy.Verifier, error) {
		return legacy.New(l, s.cfg.Getenv, time.Now, legacy.WithLeeway(s.cfg.Leeway))
	}
	return legacy.NewFollower(s.policies.Current, build, func(err error) {
		s.log.Error("the reloaded policy's legacy block cannot be used; the previous one stays in force",
			slog.String("error", err.Error()))
	})
}

// fetchUser reads a user from Clerk; without a Backend API it is nil.
func (s *service) fetchUser(ctx context.Context, id string) (*clerkgate.User, error) {
	if s.clerk == nil {
		return nil, errors.New("no Backend API configured")
	}
	u, _, err := s.clerk.GetUser(ctx, id)
	return u, err
}

// reconcileClerk adapts the Backend API client to usersync.Clerk.
func (s *service) reconcileClerk() usersync.Clerk { return clerkLister{s.clerk} }

type clerkLister struct{ *clerkapi.Client }

func (c clerkLister) GetUser(ctx context.Context, id string) (*clerkgate.User, error) {
	u, _, err := c.Client.GetUser(ctx, id)
	return u, err
}

// loadDenials copies the stored session denials created since since into
// the in-process deny list, and returns when it read up to.
func (s *service) loadDenials(ctx context.Context, since time.Time) error {
	ds, err := s.store.SessionDenials(ctx, time.Now(), since)
	if err != nil {
		return err
	}
	for _, d := range ds {
		s.deny.DenySession(d.SessionID, d.Until)
	}
	return nil
}

// denialPollInterval is how often an instance reads denials that other
// instances stored (without Redis, the store is how they meet; with it,
// the store is the durable backstop).
const denialPollInterval = 2 * time.Second

// pollDenials keeps the deny list in step with the store until ctx ends.
func (s *service) pollDenials(ctx context.Context) {
	t := time.NewTicker(denialPollInterval)
	defer t.Stop()
	since := time.Now().Add(-time.Minute)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := time.Now().Add(-denialPollInterval) // overlap: a slow writer's row is not missed
		if err := s.loadDenials(ctx, since); err != nil {
			s.log.Warn("reading session denials failed", slog.String("error", err.Error()))
			continue
		}
		since = next
	}
}

func (s *service) observeJWKSFetch(f verify.JWKSFetch) {
	s.metrics.ObserveJWKSFetch(f)
	if f.Err != nil {
		s.log.Warn("JWKS fetch failed", slog.String("reason", f.Reason), slog.String("error", f.Err.Error()))
	} else {
		s.log.Debug("JWKS fetched", slog.String("reason", f.Reason), slog.Int("keys", f.Keys),
			slog.Duration("duration", f.Duration))
	}
}

// checks are the readiness checks of SPEC §3.
func (s *service) checks() []httpapi.Check {
	checks := []httpapi.Check{
		{Name: "database", Critical: true, Run: s.store.Ping},
		{Name: "cache", Run: s.cacheCheck},
		{Name: "clerk_jwks", Critical: true, Run: func(context.Context) error {
			ks := s.verifier.Keys()
			if !ks.Usable {
				if ks.LastError != "" {
					return errors.New("no usable verification key: " + ks.LastError)
				}
				return errors.New("no usable verification key yet")
			}
			return nil
		}},
	}
	if s.clerk != nil {
		checks = append(checks, httpapi.Check{Name: "clerk_api", Run: cachedCheck(10*time.Second, s.pingClerkAPI)})
	} else {
		// Without a secret key (CLERK_JWT_KEY alone) nothing needs the
		// Backend API: the check is there, as SPEC §3 shapes /readyz, and
		// never fails.
		checks = append(checks, httpapi.Check{Name: "clerk_api", Run: func(context.Context) error { return nil }})
	}
	return checks
}

// pingClerkAPI checks that the Backend API answers and accepts the secret
// key with one small call that is not the JWKS: the key set has a check of
// its own (clerk_jwks), and an API that serves keys but nothing else must
// make the service degraded (SPEC §3).
func (s *service) pingClerkAPI(ctx context.Context) error {
	_, err := s.clerk.ListUsers(ctx, 1, 0)
	return err
}

// cachedCheck runs check at most once per period, so that probes do not
// turn into a load on Clerk.
func cachedCheck(period time.Duration, check func(context.Context) error) func(context.Context) error {
	var mu sync.Mutex
	var last time.Time
	var lastErr error
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if !last.IsZero() && time.Since(last) < period {
			return lastErr
		}
		lastErr = check(ctx)
		if lastErr != nil {
			lastErr = errors.New(clerkgate.ErrorMessage(lastErr))
		}
		last = time.Now()
		return lastErr
	}
}

// gcHeapFloor is the least heap goal of a running service (package
// gcfloor), unless GOGC is set.
const gcHeapFloor = 32 << 20

// run serves on ln (and on metricsLn when set) until ctx ends, then shuts
// down gracefully within shutdownTimeout.
func (s *service) run(ctx context.Context, ln, metricsLn net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A heap goal of at least gcHeapFloor while the live heap is small:
	// fewer collections under load (docs/performance.md). An operator's
	// GOGC is left alone.
	if _, set := os.LookupEnv("GOGC"); !set {
		defer gcfloor.Start(gcHeapFloor, 100)()
	}
	s.verifier.Start(ctx)
	s.startRedis(ctx)
	go s.pollDenials(ctx)
	go s.reloadOnSIGHUP(ctx)
	servers := []*http.Server{s.httpServer(s.handler)}
	listeners := []net.Listener{ln}
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.metrics.Handler())
		servers = append(servers, s.httpServer(mux))
		listeners = append(listeners, metricsLn)
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	var err error
	select {
	case err = <-errc:
		err = fmt.Errorf("listener: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer scancel()
	for _, srv := range servers {
		if serr := srv.Shutdown(sctx); serr != nil {
			srv.Close()
		}
	}
	return err
}

func (s *service) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// reloadOnSIGHUP re-reads the policy file on SIGHUP; an invalid file is
// logged and the policy in force stays.
func (s *service) reloadOnSIGHUP(ctx context.Context) {
	if s.policies.Path() == "" {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if err := s.policies.Reload(); err != nil {
			s.log.Error("policy reload failed; the previous policy stays in force", slog.String("error", err.Error()))
			continue
		}
		s.identity.Reset()
		s.log.Info("policy reloaded", slog.String("file", s.policies.Path()))
	}
}

// close releases the store, Redis and the Backend API client.
func (s *service) close() {
	s.runCancel()
	s.closeRedis()
	if s.clerk != nil {
		s.clerk.Close()
	}
	s.store.Close()
}
