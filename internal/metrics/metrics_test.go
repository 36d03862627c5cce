package metrics

import (
	"sync"
	"testing"
	"time"
)

// The request-path series are cached per label combination; concurrent
// first uses must neither lose a count nor make two series.
func TestObserveConcurrently(t *testing.T) {
	m := New()
	routes := []string{"GET /auth/me", "unmatched", "POST /webhooks/clerk"}
	codes := []int{200, 401, 503}
	const workers, each = 8, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, c := routes[(w+i)%len(routes)], codes[i%len(codes)]
				m.ObserveHTTP(r, c, time.Millisecond)
				m.ObserveAuth("session", "ok", "")
				m.ObserveProxyUpstream(r, time.Millisecond)
			}
		}()
	}
	wg.Wait()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	sums := map[string]float64{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			series[f.GetName()]++
			switch {
			case mt.GetCounter() != nil:
				sums[f.GetName()] += mt.GetCounter().GetValue()
			case mt.GetHistogram() != nil:
				sums[f.GetName()] += float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	n := float64(workers * each)
	for name, want := range map[string]struct {
		series int
		sum    float64
	}{
		"clerkgate_http_requests_total":                   {len(routes) * len(codes), n},
		"clerkgate_http_request_duration_seconds":         {len(routes), n},
		"clerkgate_auth_requests_total":                   {1, n},
		"clerkgate_proxy_upstream_duration_seconds":       {1, n},
		"clerkgate_proxy_upstream_route_duration_seconds": {len(routes), n},
	} {
		if series[name] != want.series || sums[name] != want.sum {
			t.Errorf("%s: %d series counting %v, want %d counting %v", name, series[name], sums[name], want.series, want.sum)
		}
	}
}
