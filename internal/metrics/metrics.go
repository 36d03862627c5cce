// Package metrics defines clerkgate's Prometheus series (SPEC §10) on a
// registry of its own, with the Go and process collectors.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/clerkgate/clerkgate/verify"
)

// Metrics holds every series. The zero value is not usable: call New.
type Metrics struct {
	Registry *prometheus.Registry

	AuthRequests        *prometheus.CounterVec
	AuthVerifyDuration  prometheus.Histogram
	JWKSFetches         *prometheus.CounterVec
	ClerkAPIRequests    *prometheus.CounterVec
	ClerkAPIDuration    *prometheus.HistogramVec
	HTTPRequests        *prometheus.CounterVec
	HTTPRequestDuration *prometheus.HistogramVec
	WebhookEvents       *prometheus.CounterVec
	UserSyncLag         prometheus.Histogram
	CacheRequests       *prometheus.CounterVec
	SecurityEvents      *prometheus.CounterVec
	// ProxyUpstreamDuration is the time the upstream took to answer a
	// proxied request (up to its response headers): the series of SPEC
	// §10, without labels, so it is there before the first proxied request;
	// ProxyRouteDuration has the same by policy route.
	ProxyUpstreamDuration prometheus.Histogram
	ProxyRouteDuration    *prometheus.HistogramVec

	// The labelled series of the request path, cached so that a request
	// costs a map read (no allocation, no lock) instead of hashing label
	// values.
	httpCounts   cowMap[httpKey, prometheus.Counter]
	httpDuration cowMap[string, prometheus.Observer]
	authCounts   cowMap[authKey, prometheus.Counter]
	cacheCounts  cowMap[cacheKey, prometheus.Counter]
	proxyLatency cowMap[string, prometheus.Observer]
}

type httpKey struct {
	route string
	code  int
}

type authKey struct{ method, result, reason string }

type cacheKey struct{ cache, result string }

// New registers every series on a new registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		AuthRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkgate_auth_requests_total",
			Help: "Authentication decisions by credential method, result and reason.",
		}, []string{"method", "result", "reason"}),
		AuthVerifyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clerkgate_auth_verify_duration_seconds",
			Help:    "Time to verify a credential, cache hits included.",
			Buckets: []float64{1e-6, 5e-6, 2e-5, 1e-4, 5e-4, 2e-3, 1e-2, .05, .25, 1, 2.5},
		}),
		JWKSFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkgate_jwks_fetches_total",
			Help: "Key-set fetches by result.",
		}, []string{"result"}),
		ClerkAPIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkgate_clerk_api_requests_total",
			Help: "Clerk Backend API calls by operation and HTTP status (0: no answer).",
		}, []string{"operation", "status"}),
		ClerkAPIDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clerkgate_clerk_api_duration_seconds",
			Help:    "Clerk Backend API call duration.",
			Buckets: prometheus.DefBuckets,
		}, []string{"operation"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkgate_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		HTTPRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clerkgate_http_request_duration_seconds",
			Help:    "HTTP request duration by route pattern.",
			Buckets: []float64{1e-4, 5e-4, 1e-3, 5e-3, .01, .05, .1, .5, 1, 5},
		}, []string{"route"}),
		WebhookEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkgate_webhook_events_total",
			Help: "Clerk webhook events by type and result.",
		}, []string{"type", "result"}),
		UserSyncLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clerkgate_user_sync_lag_seconds",
			Help:    "Time from a change in Clerk to the local store.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 15, 60, 300, 3600},
		}),
		CacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkgate_cache_requests_total",
			Help: "Cache lookups by cache (user: the user cache of the request path; machine: verified machine credentials) and result (hit, miss); cache redis_publish, redis_receive and redis_fail count the calls to Redis by result.",
		}, []string{"cache", "result"}),
		SecurityEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkgate_security_events_total",
			Help: "Security events by kind.",
		}, []string{"kind"}),
		ProxyUpstreamDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "clerkgate_proxy_upstream_duration_seconds",
			Help:    "Time the upstream took to answer a proxied request (to its response headers, or the error).",
			Buckets: proxyBuckets,
		}),
		ProxyRouteDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "clerkgate_proxy_upstream_route_duration_seconds",
			Help:    "clerkgate_proxy_upstream_duration_seconds by policy route.",
			Buckets: proxyBuckets,
		}, []string{"route"}),
	}
	r.MustRegister(m.ProxyUpstreamDuration, m.ProxyRouteDuration,
		m.WebhookEvents, m.UserSyncLag, m.SecurityEvents, m.CacheRequests,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.AuthRequests, m.AuthVerifyDuration, m.JWKSFetches,
		m.ClerkAPIRequests, m.ClerkAPIDuration, m.HTTPRequests, m.HTTPRequestDuration,
	)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveHTTP counts one request of a route pattern.
func (m *Metrics) ObserveHTTP(route string, code int, d time.Duration) {
	m.httpCounts.get(httpKey{route, code}, func() prometheus.Counter {
		return m.HTTPRequests.WithLabelValues(route, strconv.Itoa(code))
	}).Inc()
	m.httpDuration.get(route, func() prometheus.Observer {
		return m.HTTPRequestDuration.WithLabelValues(route)
	}).Observe(d.Seconds())
}

// proxyBuckets are the buckets of the upstream's answer time.
var proxyBuckets = []float64{5e-4, 1e-3, 5e-3, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// ObserveProxyUpstream records how long the upstream took for a request of
// the policy route pattern route.
func (m *Metrics) ObserveProxyUpstream(route string, d time.Duration) {
	m.ProxyUpstreamDuration.Observe(d.Seconds())
	m.proxyLatency.get(route, func() prometheus.Observer {
		return m.ProxyRouteDuration.WithLabelValues(route)
	}).Observe(d.Seconds())
}

// ObserveAuth counts one authentication decision.
func (m *Metrics) ObserveAuth(method, result, reason string) {
	m.authCounts.get(authKey{method, result, reason}, func() prometheus.Counter {
		return m.AuthRequests.WithLabelValues(method, result, reason)
	}).Inc()
}

// ObserveCache counts one request of a cache.
func (m *Metrics) ObserveCache(cache, result string) {
	m.cacheCounts.get(cacheKey{cache, result}, func() prometheus.Counter {
		return m.CacheRequests.WithLabelValues(cache, result)
	}).Inc()
}

// CacheLookup returns a function that counts the lookups of cache as hits
// and misses, for the OnCacheLookup hooks of the caches.
func (m *Metrics) CacheLookup(cache string) func(hit bool) {
	return func(hit bool) {
		if hit {
			m.ObserveCache(cache, "hit")
		} else {
			m.ObserveCache(cache, "miss")
		}
	}
}

// cowMap is a copy-on-write map for the few label combinations of the
// request path: reads are one atomic load and a map index, with no lock
// and no allocation; a write (a combination's first use) copies the map.
// The zero value is empty and ready.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex // serializes writers
	m  atomic.Pointer[map[K]V]
}

// get returns k's value, calling create (at most once per key) to make it.
func (c *cowMap[K, V]) get(k K, create func() V) V {
	if m := c.m.Load(); m != nil {
		if v, ok := (*m)[k]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if v, ok := (*old)[k]; ok {
			return v
		}
	}
	next := make(map[K]V, 1+lenOf(old))
	if old != nil {
		for ok, ov := range *old {
			next[ok] = ov
		}
	}
	v := create()
	next[k] = v
	c.m.Store(&next)
	return v
}

func lenOf[K comparable, V any](m *map[K]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
}

// ObserveClerkAPI counts one Backend API call; its signature fits
// clerkapi.Options.Observe.
func (m *Metrics) ObserveClerkAPI(operation string, status int, d time.Duration) {
	m.ClerkAPIRequests.WithLabelValues(operation, strconv.Itoa(status)).Inc()
	m.ClerkAPIDuration.WithLabelValues(operation).Observe(d.Seconds())
}

// ObserveWebhook counts one webhook event.
func (m *Metrics) ObserveWebhook(eventType, result string) {
	m.WebhookEvents.WithLabelValues(eventType, result).Inc()
}

// ObserveSyncLag records the delay of one user change.
func (m *Metrics) ObserveSyncLag(d time.Duration) { m.UserSyncLag.Observe(d.Seconds()) }

// CountSecurityEvent counts one security event.
func (m *Metrics) CountSecurityEvent(kind string) { m.SecurityEvents.WithLabelValues(kind).Inc() }

// ObserveJWKSFetch counts one key-set fetch; it fits verify.Options.OnJWKSFetch.
func (m *Metrics) ObserveJWKSFetch(f verify.JWKSFetch) {
	m.JWKSFetches.WithLabelValues(f.Result()).Inc()
}

// WatchVerifier exports the verifier's cache counters and key state as
// clerkgate_token_cache_requests_total, clerkgate_jwks_keys and
// clerkgate_jwks_age_seconds, read at scrape time.
func (m *Metrics) WatchVerifier(v *verify.Verifier, now func() time.Time) {
	m.Registry.MustRegister(&verifierCollector{v: v, now: now})
}

var (
	tokenCacheDesc = prometheus.NewDesc("clerkgate_token_cache_requests_total",
		"Verified-token cache lookups by result.", []string{"result"}, nil)
	jwksKeysDesc = prometheus.NewDesc("clerkgate_jwks_keys",
		"Usable verification keys.", nil, nil)
	jwksAgeDesc = prometheus.NewDesc("clerkgate_jwks_age_seconds",
		"Seconds since the last successful key-set fetch (0 for a static key).", nil, nil)
)

type verifierCollector struct {
	v   *verify.Verifier
	now func() time.Time
}

func (c *verifierCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tokenCacheDesc
	ch <- jwksKeysDesc
	ch <- jwksAgeDesc
}

func (c *verifierCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.v.Stats()
	ch <- prometheus.MustNewConstMetric(tokenCacheDesc, prometheus.CounterValue, float64(st.CacheHits), "hit")
	ch <- prometheus.MustNewConstMetric(tokenCacheDesc, prometheus.CounterValue, float64(st.CacheMisses), "miss")
	ks := c.v.Keys()
	ch <- prometheus.MustNewConstMetric(jwksKeysDesc, prometheus.GaugeValue, float64(ks.Keys))
	age := 0.0
	if !ks.FetchedAt.IsZero() {
		age = c.now().Sub(ks.FetchedAt).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(jwksAgeDesc, prometheus.GaugeValue, age)
}
