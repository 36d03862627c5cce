package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// TestRun starts the program as main does, against the emulator's
// Backend API, and uses it with a real token.
func TestRun(t *testing.T) {
	t.Parallel()
	emu := clerkemu.Start(t, clerkemu.Options{})
	u, err := emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com"})
	must(t, err)
	s, err := emu.CreateSession(u.ID, "")
	must(t, err)
	tok, err := emu.SessionToken(s.ID, time.Minute)
	must(t, err)

	env := map[string]string{"CLERK_API_URL": emu.URL, "CLERK_SECRET_KEY": emu.SecretKey(), "NOTES_ADDR": "127.0.0.1:9"}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"notes", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, &stdout, &stderr)
	}()
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no listening line; stdout %q, stderr %q", stdout.String(), stderr.String())
		}
		if line, ok := strings.CutPrefix(stdout.String(), "notes: listening on "); ok {
			base = strings.TrimSpace(line)
		}
		time.Sleep(10 * time.Millisecond)
	}

	req, _ := http.NewRequest("POST", base+"/notes", strings.NewReader(`{"title":"from run"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 || !strings.Contains(string(body), `"title":"from run"`) {
		t.Errorf("POST /notes: %d %s", res.StatusCode, body)
	}
	res, err = http.Get(base + "/notes")
	must(t, err)
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("GET /notes without a token: %d", res.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if strings.Contains(stderr.String(), tok) || strings.Contains(stderr.String(), emu.SecretKey()) {
		t.Errorf("the log holds a secret:\n%s", stderr.String())
	}
}

// TestConfig checks the configuration problems run reports before
// starting.
func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // substrings of the error; none: valid
	}{
		{"nothing", nil, nil, []string{"set CLERK_JWT_KEY, or CLERK_SECRET_KEY"}},
		{"secret key", map[string]string{"CLERK_SECRET_KEY": "sk_test_x"}, nil, nil},
		{"bad secret key", map[string]string{"CLERK_SECRET_KEY": "pk_test_x"}, nil, []string{"CLERK_SECRET_KEY does not start with sk_"}},
		{"bad API URL", map[string]string{"CLERK_SECRET_KEY": "sk_x", "CLERK_API_URL": "ftp://x"}, nil, []string{"CLERK_API_URL"}},
		{"bad address", map[string]string{"CLERK_SECRET_KEY": "sk_x", "NOTES_ADDR": "nowhere"}, nil, []string{"NOTES_ADDR"}},
		{"flag wins", map[string]string{"CLERK_SECRET_KEY": "sk_x", "NOTES_ADDR": "nowhere"}, []string{"-addr", "127.0.0.1:0"}, nil},
		{"all at once", map[string]string{"NOTES_ADDR": "nowhere"}, nil, []string{"NOTES_ADDR", "CLERK_JWT_KEY"}},
		{"unknown flag", map[string]string{"CLERK_SECRET_KEY": "sk_x"}, []string{"-port", "1"}, []string{"-port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadConfig(append([]string{"notes"}, tt.args...), func(k string) string { return tt.env[k] }, io.Discard)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("loadConfig = %v", err)
				}
				if cfg.verify.JWKSURL != "https://api.clerk.com/v1/jwks" && tt.env["CLERK_API_URL"] == "" {
					t.Errorf("JWKSURL = %q", cfg.verify.JWKSURL)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("loadConfig = %v, want an error with %q", err, w)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
