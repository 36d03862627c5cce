package main

import (
	"path/filepath"
	"testing"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// TestReadyzClerkAPIDown: with the Backend API down but the key set
// reachable, /readyz is 200 degraded and its clerk_api check fails (SPEC §3:
// "Degraded (200): ... Clerk API unreachable but keys cached"). The JWKS
// answering must not make the Backend API look healthy.
func TestReadyzClerkAPIDown(t *testing.T) {
	t.Parallel()
	emu := clerkemu.Start(t, clerkemu.Options{})
	if err := emu.SetFaults(clerkemu.Faults{API: clerkemu.Fault{Mode: clerkemu.FaultDown}}); err != nil {
		t.Fatal(err)
	}
	base, _ := startServe(t, serviceEnv(emu, "sqlite://"+filepath.Join(t.TempDir(), "cg.db")))
	r := get(t, base+"/readyz", nil)
	checks, _ := r.body["checks"].(map[string]any)
	api, _ := checks["clerk_api"].(map[string]any)
	jwks, _ := checks["clerk_jwks"].(map[string]any)
	if r.status != 200 || r.body["status"] != "degraded" || api["status"] != "fail" || jwks["status"] != "ok" {
		t.Fatalf("readyz with the Backend API down: %d %v, want 200 degraded with clerk_api failing", r.status, r.body)
	}
	if e, _ := api["error"].(string); e == "" {
		t.Errorf("the failing clerk_api check has no error: %v", api)
	}
}

// TestReadyzWithoutBackendAPI: with CLERK_JWT_KEY and no secret key, /readyz
// still has the four checks of SPEC §3; clerk_api is not needed and so not
// failing.
func TestReadyzWithoutBackendAPI(t *testing.T) {
	t.Parallel()
	emu := clerkemu.Start(t, clerkemu.Options{})
	base, _ := startServe(t, map[string]string{
		"CLERK_JWT_KEY": emu.PublicKeyPEM(),
		"DATABASE_URL":  "sqlite://" + filepath.Join(t.TempDir(), "cg.db"),
	})
	r := get(t, base+"/readyz", nil)
	checks, _ := r.body["checks"].(map[string]any)
	if r.status != 200 || r.body["status"] != "ready" {
		t.Fatalf("readyz: %d %v, want 200 ready", r.status, r.body)
	}
	for _, name := range []string{"database", "cache", "clerk_jwks", "clerk_api"} {
		c, _ := checks[name].(map[string]any)
		if c["status"] != "ok" {
			t.Errorf("check %s: %v, want status ok", name, c)
		}
		if _, ok := c["latency_ms"].(float64); !ok {
			t.Errorf("check %s has no latency_ms: %v", name, c)
		}
	}
}
