package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/httpapi"
	"github.com/clerkgate/clerkgate/internal/legacy"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/security"
)

// keptEvents is a SecurityEventStore that keeps what it is given.
type keptEvents struct {
	clerkgate.SecurityEventStore // only SaveSecurityEvent is called
	mu                           sync.Mutex
	events                       []clerkgate.SecurityEvent
}

func (k *keptEvents) SaveSecurityEvent(_ context.Context, e clerkgate.SecurityEvent) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.events = append(k.events, e)
	return nil
}

// legacyUses returns the user id and path_pattern of each
// legacy_token_used event kept so far, and forgets them.
func (k *keptEvents) legacyUses(t *testing.T) [][2]string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	var out [][2]string
	for _, e := range k.events {
		if e.Kind != clerkgate.EventLegacyTokenUsed {
			continue
		}
		var d struct {
			PathPattern string `json:"path_pattern"`
		}
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatalf("detail %s: %v", e.Detail, err)
		}
		out = append(out, [2]string{e.UserID, d.PathPattern})
	}
	k.events = nil
	return out
}

// A legacy token used through the proxy is a legacy_token_used event, as
// on the service's own endpoints (fakeLegacy is no LegacyWindow: every use
// is recorded), with the route's pattern; a refused one is not.
func TestLegacyUseRecorded(t *testing.T) {
	t.Parallel()
	kept := &keptEvents{}
	f := newHookFixture(t, func(d *httpapi.Deps) { d.Security = security.New(kept, nil, nil) })
	tok := "legacy." + f.admin.ID
	for _, c := range []struct {
		path   string
		status int
		want   [][2]string
	}{
		{"/staff/x", 200, [][2]string{{f.admin.ID, "/staff/**"}}}, // proxied
		{"/auth/me", 200, [][2]string{{f.admin.ID, "GET /auth/me"}}},
		{"/rv/x", 403, [][2]string{{f.admin.ID, "/rv/**"}}}, // verified, then refused 403: still a use
	} {
		if a := f.get(t, c.path, tok); a.status != c.status {
			t.Fatalf("%s with a legacy token: %d, want %d", c.path, a.status, c.status)
		}
		if got := kept.legacyUses(t); len(got) != 1 || got[0] != c.want[0] {
			t.Errorf("%s: legacy_token_used events %v, want %v", c.path, got, c.want)
		}
	}
	for _, bad := range []string{"legacy." + f.banned.ID, "legacy.sunset"} { // 401: no use
		if a := f.get(t, "/staff/x", bad); a.status != 401 {
			t.Fatalf("/staff/x with %s: %d", bad, a.status)
		}
		if got := kept.legacyUses(t); len(got) != 0 {
			t.Errorf("/staff/x with %s: legacy_token_used events %v", bad, got)
		}
	}
}

// The old login and refresh paths go to the upstream during the window
// even when no policy route names them (SPEC §8: "unchanged", with the
// deprecation headers), in proxy mode and in forward-auth alike; other
// unrouted paths stay 403.
func TestLegacyLoginPathWithoutRoute(t *testing.T) {
	t.Parallel()
	lv, err := legacy.New(policy.Legacy{Algorithm: policy.AlgHS256, SecretEnv: "S",
		Sunset: time.Now().Add(time.Hour), LoginPaths: []string{"/auth/login", "/auth/refresh"}},
		func(string) string { return "legacy-secret" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newHookFixture(t, func(d *httpapi.Deps) { d.Legacy = lv })
	pol, err := policy.Parse([]byte("routes:\n  - path: /api/**\n"), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.pol.Store(pol)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/auth/login", 200},
		{"POST", "/auth/refresh", 200},
		{"POST", "/auth/other", 403},
	} {
		resp, err := http.Post(f.url+c.path, "application/json", strings.NewReader(`{"email":"a@example.com"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		if c.status == 200 && resp.Header.Get("Deprecation") != "true" {
			t.Errorf("%s %s: no Deprecation header", c.method, c.path)
		}
	}
	req, _ := http.NewRequest("GET", f.url+"/auth/verify", nil)
	req.Header.Set("X-Forwarded-Method", "POST")
	req.Header.Set("X-Forwarded-Uri", "/auth/login")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("forward-auth about the old login: %d, want 200", resp.StatusCode)
	}
}
