package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"
)

func (s *server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type checkResult struct {
	Status    string  `json:"status"` // "ok" or "fail"
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

type readiness struct {
	Status string                 `json:"status"` // ready, degraded, unavailable
	Checks map[string]checkResult `json:"checks"`
}

// readyTimeout bounds each readiness check.
const readyTimeout = 2 * time.Second

func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	res := readiness{Status: "ready", Checks: make(map[string]checkResult, len(s.checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range s.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			start := time.Now()
			err := c.Run(ctx)
			cr := checkResult{Status: "ok", LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				cr.Status, cr.Error = "fail", err.Error()
				switch {
				case c.Critical:
					res.Status = "unavailable"
				case res.Status == "ready":
					res.Status = "degraded"
				}
			}
			res.Checks[c.Name] = cr
		}()
	}
	wg.Wait()
	status := http.StatusOK
	if res.Status == "unavailable" {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, res)
}
