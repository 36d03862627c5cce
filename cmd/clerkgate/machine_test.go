package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// A Clerk API key reaches a `machines: true` route as a machine; 1,000
// requests with it cost one verify call at Clerk within the cache period,
// and it is refused where machines are not allowed.
func TestServeMachineCredentials(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(upstream.Close)
	dir := t.TempDir()
	pol := dir + "/p.yaml"
	os.WriteFile(pol, []byte(`
permissions:
  admin: ["*"]
  member: ["profile:read"]
routes:
  - path: /api/machines/**
    machines: true
  - path: /api/**
`), 0o600)
	emu := clerkemu.Start(t, clerkemu.Options{})
	env := serviceEnv(emu, "sqlite://"+dir+"/m.db")
	env["CLERKGATE_POLICY"] = pol
	env["CLERKGATE_UPSTREAM"] = upstream.URL
	env["CLERKGATE_AUTH_FAILURE_LIMIT"] = "0"
	base, _ := startServe(t, env)
	key, err := emu.CreateAPIKey(clerkemu.APIKeyParams{Subject: emu.DefaultMachineID(), Scopes: []string{"reports:read"}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(path, tok string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send("/api/machines/report", key.Secret); code != 200 {
		t.Fatalf("API key on a machines route: %d", code)
	}
	mu.Lock()
	if got.Get("X-Clerkgate-Auth") != "machine" {
		t.Errorf("upstream headers %v", got)
	}
	mu.Unlock()
	before := emu.MachineVerifyCalls()
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if code := send("/api/machines/report", key.Secret); code != 200 {
					t.Errorf("request with the key: %d", code)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := emu.MachineVerifyCalls() - before; n > 1 {
		t.Fatalf("1,000 requests with one API key made %d verify calls", n)
	}
	if code := send("/api/other", key.Secret); code != 401 {
		t.Fatalf("API key where machines are not allowed: %d", code)
	}
	if code := send("/api/machines/report", "ak_doesnotexist00000000000000000000000000000000"); code != 401 {
		t.Fatalf("unknown API key: %d", code)
	}
}
