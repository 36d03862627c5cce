// Package clerkapi is clerkgate's client of the Clerk Backend API, built on
// the official SDK github.com/clerk/clerk-sdk-go/v2.
//
// Every Client has its own configuration: its own SDK backend (base URL,
// secret key, HTTP client and connection pool). The SDK's package globals
// (clerk.SetKey, clerk.SetBackend) are never touched, so two services in one
// process share neither keys nor caches.
//
// On top of the SDK the Client adds what a service needs: a timeout on every
// call, errors with the contract codes of package clerkgate (see
// [Client.GetUser] and [APIError] for the mapping), the Retry-After of a 429
// answer, a small circuit breaker that fails fast while Clerk is down, a
// bound on response sizes, and a hook for metrics ([Options.Observe]).
// Errors never contain the secret key, tokens, response bodies or user data.
package clerkapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	"github.com/clerk/clerk-sdk-go/v2/session"
	"github.com/clerk/clerk-sdk-go/v2/user"

	"github.com/clerkgate/clerkgate"
)

// DefaultAPIURL is Clerk's Backend API, without the /v1 version segment.
const DefaultAPIURL = "https://api.clerk.com"

// Defaults of Options.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = 10 * time.Second
	// MaxResponseBytes bounds every response body; a page of 500 users is
	// far below it.
	MaxResponseBytes = 16 << 20
)

// Options configures a Client. Only SecretKey is required.
type Options struct {
	// APIURL is the base URL of the Backend API without the /v1 version
	// segment (a trailing "/v1" is tolerated); "" means DefaultAPIURL.
	APIURL string
	// SecretKey is the instance's secret key (sk_...). It is checked only
	// for the "sk_" prefix.
	SecretKey string
	// HTTPClient makes the requests; nil means the Client's own client with
	// bounded connection pools that does not follow redirects. A given
	// client is copied, not modified: the Client wraps its transport.
	HTTPClient *http.Client
	// Timeout bounds each call, body included; 0 means DefaultTimeout.
	Timeout time.Duration
	// Observe, when set, is called once per call with the operation name
	// ("get_user", "list_users", "update_user_metadata", "ban_user",
	// "unban_user", "delete_user", "get_session", "list_sessions",
	// "revoke_session", "create_session_token", "get_jwks"), the HTTP
	// status Clerk answered (0: no answer: a connection error, a timeout,
	// or the circuit breaker failing fast) and the call's duration. It feeds
	// clerkgate_clerk_api_requests_total and
	// clerkgate_clerk_api_duration_seconds; it must be safe for concurrent
	// use and quick.
	Observe func(operation string, status int, d time.Duration)
	// BreakerThreshold is the number of consecutive calls without a usable
	// answer (connection errors, timeouts, 5xx, unreadable bodies; never a
	// 4xx) after which calls fail fast for BreakerCooldown. 0 means
	// DefaultBreakerThreshold; a negative value turns the breaker off.
	BreakerThreshold int
	// BreakerCooldown is how long calls fail fast once the breaker opened;
	// after it one call probes Clerk. 0 means DefaultBreakerCooldown.
	BreakerCooldown time.Duration
}

// Client calls the Clerk Backend API. It is safe for concurrent use.
type Client struct {
	backend  clerk.Backend
	users    *user.Client
	sessions *session.Client
	jwks     *jwks.Client
	http     *http.Client
	ownHTTP  bool
	timeout  time.Duration
	observe  func(string, int, time.Duration)
	breaker  *breaker
}

// New returns a Client configured by o, or an error naming what is wrong
// with o (never the key itself).
func New(o Options) (*Client, error) {
	if o.SecretKey == "" {
		return nil, errors.New("clerkapi: the secret key is missing")
	}
	if !strings.HasPrefix(o.SecretKey, "sk_") {
		return nil, errors.New(`clerkapi: the secret key does not start with "sk_"`)
	}
	if strings.ContainsAny(o.SecretKey, " \t\r\n") {
		return nil, errors.New("clerkapi: the secret key contains white space")
	}
	base, err := apiBase(o.APIURL)
	if err != nil {
		return nil, err
	}
	if o.Timeout < 0 {
		return nil, errors.New("clerkapi: the timeout is negative")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.BreakerCooldown < 0 {
		return nil, errors.New("clerkapi: the breaker cool-down is negative")
	}

	c := &Client{timeout: o.Timeout, observe: o.Observe}
	if o.HTTPClient == nil {
		c.http, c.ownHTTP = newHTTPClient(), true
	} else {
		hc := *o.HTTPClient
		c.http = &hc
	}
	c.http.Transport = &recordingTransport{base: c.http.Transport, max: MaxResponseBytes}

	c.backend = clerk.NewBackend(&clerk.BackendConfig{
		URL:        clerk.String(base + "/v1"),
		Key:        clerk.String(o.SecretKey),
		HTTPClient: c.http,
	})
	c.users = &user.Client{Backend: c.backend}
	c.sessions = &session.Client{Backend: c.backend}
	c.jwks = &jwks.Client{Backend: c.backend}

	threshold := o.BreakerThreshold
	if threshold == 0 {
		threshold = DefaultBreakerThreshold
	}
	if threshold > 0 {
		cooldown := o.BreakerCooldown
		if cooldown == 0 {
			cooldown = DefaultBreakerCooldown
		}
		c.breaker = newBreaker(threshold, cooldown, time.Now)
	}
	return c, nil
}

// apiBase validates the base URL and returns it without a trailing slash or
// /v1 segment.
func apiBase(raw string) (string, error) {
	if raw == "" {
		return DefaultAPIURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("clerkapi: the API URL must be an absolute http(s) URL without credentials, query or fragment")
	}
	s := strings.TrimRight(u.String(), "/")
	s = strings.TrimSuffix(s, "/v1")
	return s, nil
}

// newHTTPClient returns the Client's own HTTP client: bounded pools,
// handshake limits, no redirects (the Backend API never redirects, and a
// redirect must not carry the secret key elsewhere). Call timeouts come from
// the context of each call.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 64
	t.MaxIdleConnsPerHost = 32
	t.MaxConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("redirect refused")
		},
	}
}

// Close releases the idle connections of the Client's own HTTP client. A
// client given in Options.HTTPClient is left alone. The Client must not be
// used afterwards.
func (c *Client) Close() {
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
}

// Ping checks that the Backend API answers and accepts the secret key, with
// one cheap call (GET /v1/jwks). It is meant for readiness checks.
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, opGetJWKS, func(ctx context.Context) error {
		set, err := c.jwks.Get(ctx, &jwks.GetParams{})
		if err != nil {
			return err
		}
		if len(set.Keys) == 0 {
			return errUnexpected("a key set without keys")
		}
		return nil
	})
}

// operation names one kind of call: its metric label and the resource a 404
// is about.
type operation struct {
	name     string
	resource string
}

var (
	opGetUser            = operation{"get_user", "user"}
	opListUsers          = operation{"list_users", "user"}
	opUpdateUserMetadata = operation{"update_user_metadata", "user"}
	opBanUser            = operation{"ban_user", "user"}
	opUnbanUser          = operation{"unban_user", "user"}
	opDeleteUser         = operation{"delete_user", "user"}
	opGetSession         = operation{"get_session", "session"}
	opListSessions       = operation{"list_sessions", "user"}
	opRevokeSession      = operation{"revoke_session", "session"}
	opCreateSessionToken = operation{"create_session_token", "session"}
	opGetJWKS            = operation{"get_jwks", "key set"}
)

// call runs one Backend API call: the breaker, the timeout, the status
// recording, Observe and the error mapping.
func (c *Client) call(ctx context.Context, op operation, fn func(context.Context) error) error {
	start := time.Now()
	ok, probe := c.breaker.allow()
	if !ok {
		c.observeCall(op, 0, time.Since(start))
		return &clerkgate.Error{Code: clerkgate.CodeUnavailable, Message: "Clerk API unavailable",
			Err: fmt.Errorf("clerk %s: %w", op.name, ErrBreakerOpen)}
	}
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rec := &record{}
	err := fn(withRecord(callCtx, rec))
	status := rec.Status()
	c.observeCall(op, status, time.Since(start))

	if err == nil {
		c.breaker.done(probe, outcomeAnswered)
		return nil
	}
	out, mapped := mapError(op, err, status, ctx.Err() != nil)
	c.breaker.done(probe, out)
	return mapped
}

func (c *Client) observeCall(op operation, status int, d time.Duration) {
	if c.observe != nil {
		c.observe(op.name, status, d)
	}
}
