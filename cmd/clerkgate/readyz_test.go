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
