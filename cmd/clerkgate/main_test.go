package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// result is what one call of run produced.
type result struct {
	stdout, stderr string
	err            error
}

// runCLI calls run with args (without the program name), the given
// environment and fresh buffers.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"clerkgate"}, args...), getenvFrom(env), strings.NewReader(""), &stdout, &stderr)
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// getenvFrom returns a getenv that reads only env: tests never see the
// environment of the machine they run on.
func getenvFrom(env map[string]string) func(string) string {
	return func(key string) string { return env[key] }
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader running at
// the same time.
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

// mustFailOneLine checks that err is an error of one line with the wanted
// exit status and substring.
func mustFailOneLine(t *testing.T, err error, wantCode int, wantSubstr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("run() = nil, want an error containing %q", wantSubstr)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error has more than one line: %q", err)
	}
	if got := exitCode(err); got != wantCode {
		t.Errorf("exitCode(%q) = %d, want %d", err, got, wantCode)
	}
	if !strings.Contains(err.Error(), wantSubstr) {
		t.Errorf("error %q does not contain %q", err, wantSubstr)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"help"}, {"-h"}, {"--help"}, {"help", "help"}} {
		t.Run(strings.Join(append([]string{"args"}, args...), " "), func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, args...)
			if r.err != nil {
				t.Fatalf("run() = %v, want nil", r.err)
			}
			for _, name := range []string{"serve", "dev", "emulator", "migrate", "sync", "import-legacy", "token", "version", "help"} {
				if !strings.Contains(r.stdout, "\n  "+name+" ") {
					t.Errorf("usage does not list %q:\n%s", name, r.stdout)
				}
			}
			for _, line := range strings.Split(r.stdout, "\n") {
				fields := strings.Fields(line)
				if len(fields) == 0 {
					continue
				}
				notYet := strings.HasSuffix(line, "(not available yet)")
				switch fields[0] {
				case "serve", "dev", "migrate", "sync", "import-legacy", "emulator", "token", "version", "help":
					if notYet {
						t.Errorf("line %q is marked not available yet", line)
					}
				}
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
		})
	}
}

func TestCommandHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"emulator", "-h"}, []string{"clerkgate emulator", "--addr", "--secret-key", "--issuer", "--seed", "--webhook-url", "--webhook-secret", "127.0.0.1:8081"}},
		{[]string{"emulator", "--help"}, []string{"clerkgate emulator", "--addr"}},
		{[]string{"help", "emulator"}, []string{"clerkgate emulator", "--addr"}},
		{[]string{"token", "-h"}, []string{"clerkgate token", "--api-url", "--secret-key", "--user", "--org", "--ttl", "1h0m0s"}},
		{[]string{"help", "token"}, []string{"clerkgate token", "--user"}},
		{[]string{"version", "-h"}, []string{"clerkgate version"}},
		{[]string{"help", "serve"}, []string{"clerkgate serve", "--addr", "--database-url", "--no-migrate"}},
		{[]string{"migrate", "-h"}, []string{"clerkgate migrate", "--database-url"}},
		{[]string{"help", "import-legacy"}, []string{"clerkgate import-legacy", "--dry-run", "--password-hasher", "--database-url", "external_id"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, map[string]string{"CLERK_SECRET_KEY": "sk_test_must_not_show"}, tt.args...)
			if r.err != nil {
				t.Fatalf("run() = %v, want nil", r.err)
			}
			for _, want := range tt.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout does not contain %q:\n%s", want, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "sk_test_must_not_show") {
				t.Errorf("usage shows the secret key from the environment:\n%s", r.stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := runCLI(t, nil, "version")
	if r.err != nil {
		t.Fatalf("run() = %v, want nil", r.err)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("version printed %d lines, want 3:\n%s", len(lines), r.stdout)
	}
	if lines[0] != "clerkgate "+version && !strings.HasPrefix(lines[0], "clerkgate v") {
		t.Errorf("line 1 = %q, want %q", lines[0], "clerkgate "+version)
	}
	if !strings.HasPrefix(lines[1], "commit: ") || len(lines[1]) <= len("commit: ") {
		t.Errorf("line 2 = %q, want commit: <revision or unknown>", lines[1])
	}
	if !strings.HasPrefix(lines[2], "go: go") {
		t.Errorf("line 3 = %q, want go: go1...", lines[2])
	}
}

func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		want     string
	}{
		{"unknown command", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate" (run 'clerkgate help'`},
		{"help for unknown command", []string{"help", "frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{"help with two arguments", []string{"help", "token", "emulator"}, nil, 2, "too many arguments"},
		{"emulator bad flag", []string{"emulator", "--nope"}, nil, 2, "emulator: flag provided but not defined: -nope"},
		{"emulator stray argument", []string{"emulator", "extra"}, nil, 2, `unexpected argument "extra"`},
		{"version bad flag", []string{"version", "--short"}, nil, 2, "version: flag provided but not defined"},
		{"token bad flag value", []string{"token", "--ttl", "soon"}, nil, 2, "token: invalid value"},
		{"token no user", []string{"token", "--secret-key", "sk_test_x"}, nil, 1, "--user is required"},
		{"token no key", []string{"token", "--user", "user_1"}, nil, 1, "--secret-key or CLERK_SECRET_KEY is required"},
		{"token bad key", []string{"token", "--user", "user_1", "--secret-key", "pk_test_x"}, nil, 1, "must start with sk_"},
		{"token bad user", []string{"token", "--user", "alice"}, map[string]string{"CLERK_SECRET_KEY": "sk_test_x"}, 1, "--user: must be a user id"},
		{"token short ttl", []string{"token", "--user", "user_1", "--ttl", "10s"}, map[string]string{"CLERK_SECRET_KEY": "sk_test_x"}, 1, "--ttl: 10s is shorter than the minimum of 30s"},
		{"token bad url", []string{"token", "--user", "user_1", "--api-url", "ftp://x"}, map[string]string{"CLERK_SECRET_KEY": "sk_test_x"}, 1, "--api-url (or CLERK_API_URL): not an http(s) URL"},
		{"emulator seed missing", []string{"emulator", "--seed", "users.yaml"}, nil, 1, "--seed users.yaml"},
		{"emulator webhook secret malformed", []string{"emulator", "--webhook-url", "http://127.0.0.1:1/x", "--webhook-secret", "whsec_x"}, nil, 1, "--webhook-secret: must be whsec_ followed by standard base64"},
		{"emulator webhook url alone", []string{"emulator", "--webhook-url", "http://127.0.0.1:1/x"}, nil, 1, "--webhook-url needs --webhook-secret"},
		{"emulator webhook secret alone", []string{"emulator", "--webhook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, nil, 1, "--webhook-secret needs --webhook-url"},
		{"emulator webhook bad url", []string{"emulator", "--webhook-url", "http://127.0.0.1:1/x,ftp://x", "--webhook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, nil, 1, `--webhook-url: "ftp://x" is not an http(s) URL`},
		{"emulator bad key", []string{"emulator", "--secret-key", "nope"}, nil, 1, "--secret-key (or CLERK_SECRET_KEY): must start with sk_"},
		{"emulator bad addr", []string{"emulator", "--addr", "8081"}, nil, 1, `--addr: "8081" is not host:port`},
		{"emulator bad issuer", []string{"emulator", "--issuer", "clerk.example"}, nil, 1, "--issuer"},
		{"emulator bad log level", []string{"emulator"}, map[string]string{"LOG_LEVEL": "loud"}, 1, `LOG_LEVEL: "loud" is not one of`},
		{"emulator bad log format", []string{"emulator"}, map[string]string{"LOG_FORMAT": "xml"}, 1, `LOG_FORMAT: "xml" is not one of`},
	}
	tests = append(tests, []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		want     string
	}{
		{"import-legacy without a key", []string{"import-legacy"}, nil, 1, "CLERK_SECRET_KEY: import-legacy needs the Backend API"},
		{"import-legacy bad hasher", []string{"import-legacy", "--password-hasher", "Bad Hasher"}, map[string]string{"CLERK_SECRET_KEY": "sk_test_x"}, 1, "--password-hasher"},
		{"import-legacy bad database", []string{"import-legacy"}, map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "DATABASE_URL": "mysql://x"}, 1, "DATABASE_URL"},
		{"import-legacy stray argument", []string{"import-legacy", "now"}, nil, 2, `unexpected argument "now"`},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tt.env, tt.args...)
			mustFailOneLine(t, r.err, tt.wantCode, tt.want)
			if strings.Contains(r.err.Error(), "sk_test_x") {
				t.Errorf("error shows the secret key: %q", r.err)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	got := oneLine(errors.New("first\nsecond\r\n  third"))
	if want := "first second third"; got != want {
		t.Errorf("oneLine() = %q, want %q", got, want)
	}
}
