package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/clerkgate/clerkgate/internal/redisbus"
	"github.com/clerkgate/clerkgate/verify"
)

// serviceConfig is the configuration of "serve" (and of the service inside
// "dev"): SPEC §2, one typed struct, built and validated before anything
// starts.
type serviceConfig struct {
	SecretKey         string
	APIURL            string
	JWTKey            string
	AuthorizedParties []string
	Issuer            string
	WebhookSecrets    []string
	Addr              string
	DatabaseURL       string
	RedisURL          string
	RedisPrefix       string // keys and channel in Redis start with it
	PolicyPath        string
	Upstream          string
	Leeway            time.Duration
	Algorithms        []string
	JWKSMinRefresh    time.Duration
	JWKSRefresh       time.Duration
	JWKSMaxStale      time.Duration
	JWKSTimeout       time.Duration
	TokenCacheSize    int
	AuthFailureLimit  int // 0 = off
	AuthFailureWindow time.Duration
	MetricsAddr       string
	NoMigrate         bool
	Log               logConfig
	// Getenv reads the variables the policy file names (legacy.secret_env).
	Getenv func(string) string
}

// Defaults of SPEC §2.
const (
	defaultAPIURL      = "https://api.clerk.com"
	defaultAddr        = "127.0.0.1:8080"
	defaultDatabaseURL = "sqlite://./clerkgate.db"
)

// serviceFlags are the flags "serve" and "dev" share; a flag set on the
// command line wins over its variable.
type serviceFlags struct {
	addr, metricsAddr, databaseURL, redisURL, policy, upstream *string
	noMigrate                                                  *bool
}

func addServiceFlags(fs *flag.FlagSet, defAddr string) *serviceFlags {
	return &serviceFlags{
		addr:        fs.String("addr", "", "listen `address` (default $CLERKGATE_ADDR, else "+defAddr+")"),
		metricsAddr: fs.String("metrics-addr", "", "separate listen `address` for /metrics (default $CLERKGATE_METRICS_ADDR, else the main listener)"),
		databaseURL: fs.String("database-url", "", "postgres://... or sqlite:///path/file.db (default $DATABASE_URL)"),
		redisURL:    fs.String("redis-url", "", "redis://... (default $REDIS_URL; none: an in-process cache)"),
		policy:      fs.String("policy", "", "policy `file` (default $CLERKGATE_POLICY, else the built-in policy)"),
		upstream:    fs.String("upstream", "", "base `URL` of the API to protect (default $CLERKGATE_UPSTREAM)"),
		noMigrate:   fs.Bool("no-migrate", false, "do not apply database migrations at start"),
	}
}

// env reads a variable, letting a non-empty flag value win.
func pick(flagValue *string, getenv func(string) string, name string) string {
	if flagValue != nil && *flagValue != "" {
		return *flagValue
	}
	return strings.TrimSpace(getenv(name))
}

// parseServiceConfig reads the environment and flags. Every problem is
// reported at once, each naming its variable.
func parseServiceConfig(getenv func(string) string, fl *serviceFlags, defAddr string) (serviceConfig, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	cfg := serviceConfig{
		SecretKey: strings.TrimSpace(getenv("CLERK_SECRET_KEY")),
		APIURL:    apiBase(getenv("CLERK_API_URL")),
		JWTKey:    strings.TrimSpace(getenv("CLERK_JWT_KEY")),
		Issuer:    strings.TrimSpace(getenv("CLERK_ISSUER")),
		Getenv:    getenv,
	}
	if cfg.APIURL == "" {
		cfg.APIURL = defaultAPIURL
	}
	if cfg.SecretKey != "" && !strings.HasPrefix(cfg.SecretKey, "sk_") {
		bad("CLERK_SECRET_KEY", "must start with sk_")
	}
	if cfg.SecretKey == "" && cfg.JWTKey == "" {
		bad("CLERK_SECRET_KEY", "required (or set CLERK_JWT_KEY for verification without Backend API calls)")
	}
	if err := checkHTTPURL(cfg.APIURL); err != nil {
		bad("CLERK_API_URL", "%v", err)
	}
	if cfg.JWTKey != "" {
		if _, err := verify.ParsePublicKey(cfg.JWTKey); err != nil {
			bad("CLERK_JWT_KEY", "%v", err)
		}
	}
	if cfg.Issuer != "" {
		if err := checkHTTPURL(cfg.Issuer); err != nil {
			bad("CLERK_ISSUER", "%v", err)
		}
	}
	for _, p := range splitComma(getenv("CLERK_AUTHORIZED_PARTIES")) {
		if err := checkHTTPURL(p); err != nil {
			bad("CLERK_AUTHORIZED_PARTIES", "%q: %v", p, err)
		}
		cfg.AuthorizedParties = append(cfg.AuthorizedParties, p)
	}
	if v := getenv("CLERK_WEBHOOK_SIGNING_SECRET"); strings.TrimSpace(v) != "" {
		cfg.WebhookSecrets = verify.ParseSecrets(v)
		if _, err := verify.NewWebhook(cfg.WebhookSecrets, verify.WebhookOptions{}); err != nil {
			bad("CLERK_WEBHOOK_SIGNING_SECRET", "%v", err)
		}
	}

	cfg.Addr = pick(fl.addr, getenv, "CLERKGATE_ADDR")
	if cfg.Addr == "" {
		cfg.Addr = defAddr
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		bad("CLERKGATE_ADDR", "%q is not host:port", cfg.Addr)
	}
	cfg.MetricsAddr = pick(fl.metricsAddr, getenv, "CLERKGATE_METRICS_ADDR")
	if cfg.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsAddr); err != nil {
			bad("CLERKGATE_METRICS_ADDR", "%q is not host:port", cfg.MetricsAddr)
		}
	}
	cfg.DatabaseURL = pick(fl.databaseURL, getenv, "DATABASE_URL")
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = defaultDatabaseURL
	}
	if err := checkDatabaseURL(cfg.DatabaseURL); err != nil {
		bad("DATABASE_URL", "%v", err)
	}
	cfg.RedisURL = pick(fl.redisURL, getenv, "REDIS_URL")
	if cfg.RedisURL != "" {
		if _, err := redisbus.ParseURL(cfg.RedisURL); err != nil { // its errors never show the password
			bad("REDIS_URL", "%v", err)
		}
	}
	cfg.RedisPrefix = redisbus.DefaultPrefix
	if v := strings.TrimSpace(getenv("CLERKGATE_REDIS_PREFIX")); v != "" {
		if err := redisbus.CheckPrefix(v); err != nil {
			bad("CLERKGATE_REDIS_PREFIX", "%v", err)
		}
		cfg.RedisPrefix = v
	}
	cfg.PolicyPath = pick(fl.policy, getenv, "CLERKGATE_POLICY")
	if cfg.PolicyPath != "" {
		if _, err := os.Stat(cfg.PolicyPath); err != nil {
			bad("CLERKGATE_POLICY", "cannot read the policy file: %v", errors.Unwrap(err))
		}
	}
	cfg.Upstream = pick(fl.upstream, getenv, "CLERKGATE_UPSTREAM")
	if cfg.Upstream != "" {
		if err := checkHTTPURL(cfg.Upstream); err != nil {
			bad("CLERKGATE_UPSTREAM", "%v", err)
		}
	}
	cfg.NoMigrate = fl.noMigrate != nil && *fl.noMigrate

	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"CLERKGATE_LEEWAY", &cfg.Leeway, verify.DefaultLeeway},
		{"CLERKGATE_JWKS_MIN_REFRESH", &cfg.JWKSMinRefresh, verify.DefaultJWKSMinRefresh},
		{"CLERKGATE_JWKS_REFRESH", &cfg.JWKSRefresh, verify.DefaultJWKSRefresh},
		{"CLERKGATE_JWKS_MAX_STALE", &cfg.JWKSMaxStale, verify.DefaultJWKSMaxStale},
		{"CLERKGATE_JWKS_TIMEOUT", &cfg.JWKSTimeout, verify.DefaultJWKSTimeout},
	}
	for _, d := range durations {
		*d.v = d.def
		if v := strings.TrimSpace(getenv(d.name)); v != "" {
			x, err := time.ParseDuration(v)
			switch {
			case err != nil:
				bad(d.name, "%q is not a duration such as 30s or 15m", v)
			case x < 0 || (x == 0 && d.name != "CLERKGATE_LEEWAY"):
				bad(d.name, "must be positive")
			case d.name == "CLERKGATE_LEEWAY" && x > 5*time.Minute:
				bad(d.name, "more than 5m of clock skew is not accepted")
			default:
				*d.v = x
			}
		}
	}
	cfg.Algorithms = []string{"RS256"}
	if v := getenv("CLERKGATE_ALGORITHMS"); strings.TrimSpace(v) != "" {
		// A list: commas, spaces or both separate the entries.
		cfg.Algorithms = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
		for _, a := range cfg.Algorithms {
			if a != "RS256" && a != "RS384" && a != "RS512" {
				bad("CLERKGATE_ALGORITHMS", "%q is not one of RS256, RS384, RS512", a)
			}
		}
	}
	cfg.TokenCacheSize = verify.DefaultCacheSize
	if v := strings.TrimSpace(getenv("CLERKGATE_TOKEN_CACHE_SIZE")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10_000_000 {
			bad("CLERKGATE_TOKEN_CACHE_SIZE", "%q is not a number of entries from 0 to 10000000", v)
		} else {
			cfg.TokenCacheSize = n
		}
	}
	cfg.AuthFailureLimit, cfg.AuthFailureWindow = 20, 60*time.Second
	if v := strings.TrimSpace(getenv("CLERKGATE_AUTH_FAILURE_LIMIT")); v != "" {
		n, w, err := parseRate(v)
		if err != nil {
			bad("CLERKGATE_AUTH_FAILURE_LIMIT", "%v", err)
		} else {
			cfg.AuthFailureLimit, cfg.AuthFailureWindow = n, w
		}
	}
	var logErrs []error
	cfg.Log, logErrs = parseLogConfig(getenv)
	errs = append(errs, logErrs...)
	return cfg, joinErrors("configuration", errs)
}

// parseRate reads "20/60s" (count per window) or "0" (off).
func parseRate(v string) (int, time.Duration, error) {
	if v == "0" {
		return 0, 0, nil
	}
	ns, ws, ok := strings.Cut(v, "/")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("%q is not COUNT/WINDOW such as 20/60s, or 0", v)
	}
	w, err := time.ParseDuration(ws)
	if err != nil || w <= 0 {
		return 0, 0, fmt.Errorf("%q is not COUNT/WINDOW such as 20/60s, or 0", v)
	}
	return n, w, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an http(s) URL")
	}
	return nil
}

func checkDatabaseURL(s string) error {
	switch {
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			return errors.New("not a postgres:// URL")
		}
		return nil
	case strings.HasPrefix(s, "sqlite://"):
		if strings.TrimPrefix(s, "sqlite://") == "" {
			return errors.New("sqlite:// needs a path (sqlite://./clerkgate.db, or sqlite://:memory: for a database in memory)")
		}
		return nil
	}
	return errors.New("must start with postgres:// or sqlite://")
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// LogValue shows the effective configuration with secrets masked.
func (c serviceConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("CLERK_SECRET_KEY", secret(c.SecretKey)),
		slog.String("CLERK_API_URL", c.APIURL),
		slog.Bool("CLERK_JWT_KEY_set", c.JWTKey != ""),
		slog.Any("CLERK_AUTHORIZED_PARTIES", c.AuthorizedParties),
		slog.String("CLERK_ISSUER", c.Issuer),
		slog.Int("CLERK_WEBHOOK_SIGNING_SECRET_count", len(c.WebhookSecrets)),
		slog.String("CLERKGATE_ADDR", c.Addr),
		slog.String("DATABASE_URL", maskURL(c.DatabaseURL)),
		slog.String("REDIS_URL", maskURL(c.RedisURL)),
		slog.String("CLERKGATE_REDIS_PREFIX", c.RedisPrefix),
		slog.String("CLERKGATE_POLICY", c.PolicyPath),
		slog.String("CLERKGATE_UPSTREAM", maskURL(c.Upstream)),
		slog.Duration("CLERKGATE_LEEWAY", c.Leeway),
		slog.Any("CLERKGATE_ALGORITHMS", c.Algorithms),
		slog.Duration("CLERKGATE_JWKS_MIN_REFRESH", c.JWKSMinRefresh),
		slog.Duration("CLERKGATE_JWKS_REFRESH", c.JWKSRefresh),
		slog.Duration("CLERKGATE_JWKS_MAX_STALE", c.JWKSMaxStale),
		slog.Duration("CLERKGATE_JWKS_TIMEOUT", c.JWKSTimeout),
		slog.Int("CLERKGATE_TOKEN_CACHE_SIZE", c.TokenCacheSize),
		slog.String("CLERKGATE_AUTH_FAILURE_LIMIT", rateString(c.AuthFailureLimit, c.AuthFailureWindow)),
		slog.String("CLERKGATE_METRICS_ADDR", c.MetricsAddr),
		slog.Bool("no_migrate", c.NoMigrate),
		slog.String("LOG_LEVEL", c.Log.Level.String()),
		slog.String("LOG_FORMAT", c.Log.Format),
	)
}

func rateString(n int, w time.Duration) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%d/%s", n, w)
}

// maskURL hides a URL's password.
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "****")
		// url.URL escapes the stars; show them as typed.
		return strings.Replace(u.String(), ":%2A%2A%2A%2A@", ":****@", 1)
	}
	return u.String()
}

// apiBase is a Backend API URL as clerkgate takes it: the base without /v1
// (SPEC §2). One given with /v1, as the Go SDK takes it, names the same API
// and is read so.
func apiBase(raw string) string {
	u := strings.TrimRight(strings.TrimSpace(raw), "/")
	return strings.TrimRight(strings.TrimSuffix(u, "/v1"), "/")
}
