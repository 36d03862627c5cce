package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// startDev runs "clerkgate dev" on free ports with dataDir until stop is
// called, and returns the KEY=value lines it printed and the hint line.
func startDev(t *testing.T, dataDir string) (vars map[string]string, hint string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"clerkgate", "dev", "--addr", "127.0.0.1:0", "--clerk-addr", "127.0.0.1:0", "--data-dir", dataDir},
			getenvFrom(nil), strings.NewReader(""), stdoutW, stderr)
		stdoutW.Close()
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dev run() = %v after cancel", err)
			}
		case <-time.After(shutdownTimeout + 5*time.Second):
			t.Errorf("dev run() did not return after cancel")
		}
	}
	t.Cleanup(stop)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdoutR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	vars = map[string]string{}
	deadline := time.After(60 * time.Second)
	for hint == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("dev stopped before it was ready\n%s", stderr.String())
			}
			if strings.HasPrefix(line, "#") {
				hint = line
				continue
			}
			k, v, found := strings.Cut(line, "=")
			if !found || v == "" || strings.ContainsAny(line, "\"' ") || strings.HasPrefix(line, "export") {
				t.Fatalf("stdout line %q is not a plain KEY=value line", line)
			}
			vars[k] = v
		case <-deadline:
			t.Fatalf("dev printed no ready lines in time:\n%s", stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return vars, hint, stop
}

func TestDev(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vars, hint, stop := startDev(t, dir)
	for _, k := range []string{"CLERKGATE_URL", "CLERK_API_URL", "CLERK_SECRET_KEY", "CLERK_WEBHOOK_SIGNING_SECRET", "TOKEN_ALICE", "TOKEN_BOB"} {
		if vars[k] == "" {
			t.Fatalf("dev did not print %s: %v", k, vars)
		}
	}
	if strings.HasSuffix(vars["CLERK_API_URL"], "/v1") || !strings.Contains(hint, "curl") {
		t.Fatalf("CLERK_API_URL %q, hint %q", vars["CLERK_API_URL"], hint)
	}
	me := func(url, tok string) map[string]any {
		t.Helper()
		r := get(t, url+"/auth/me", bearer(tok))
		if r.status != 200 {
			t.Fatalf("/auth/me: %d %v", r.status, r.body)
		}
		return r.body
	}
	alice := me(vars["CLERKGATE_URL"], vars["TOKEN_ALICE"])
	bob := me(vars["CLERKGATE_URL"], vars["TOKEN_BOB"])
	if alice["role"] != "admin" || alice["email"] != "alice@example.com" || bob["role"] != "member" {
		t.Fatalf("alice %v\nbob %v", alice, bob)
	}
	if o, _ := alice["org"].(map[string]any); o == nil || o["slug"] != "acme" || o["role"] != "org:admin" {
		t.Fatalf("alice org %v", alice["org"])
	}
	if o, _ := bob["org"].(map[string]any); o == nil || o["role"] != "org:member" {
		t.Fatalf("bob org %v", bob["org"])
	}
	// A change made through the emulator's Backend API reaches the service
	// by webhook.
	code, out, _ := do(t, "POST", vars["CLERK_API_URL"]+"/v1/users", vars["CLERK_SECRET_KEY"], `{"email_address":["carol@example.com"],"first_name":"Carol"}`)
	if code != 200 {
		t.Fatalf("create carol: %d %v", code, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, list, _ := do(t, "GET", vars["CLERKGATE_URL"]+"/admin/users?query=carol", vars["TOKEN_ALICE"], "")
		if data, _ := list["data"].([]any); len(data) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("carol never reached the service: %v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()

	// A restart reuses the database and the emulator: old tokens still
	// work, users keep their local ids, nothing is seeded twice.
	vars2, _, _ := startDev(t, dir)
	if vars2["CLERK_SECRET_KEY"] != vars["CLERK_SECRET_KEY"] {
		t.Fatal("the emulator's secret key changed across a restart")
	}
	again := me(vars2["CLERKGATE_URL"], vars["TOKEN_ALICE"])
	if again["id"] != alice["id"] || again["clerk_user_id"] != alice["clerk_user_id"] {
		t.Fatalf("alice after restart %v, before %v", again, alice)
	}
	r := get(t, vars2["CLERK_API_URL"]+"/v1/users/count", bearer(vars2["CLERK_SECRET_KEY"]))
	if r.status != 200 || r.body["total_count"] != float64(3) {
		t.Fatalf("emulator users after restart: %d %v", r.status, r.body)
	}
}
