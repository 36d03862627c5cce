package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/sqlite"
)

// MustLegacyStore creates a migrated SQLite store at a fresh path holding
// users, and returns its DATABASE_URL.
func MustLegacyStore(t *testing.T, users ...clerkgate.User) string {
	t.Helper()
	url := "sqlite://" + filepath.Join(t.TempDir(), "legacy.db")
	s, err := sqlite.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if _, err := s.CreateLocalUser(t.Context(), &u); err != nil {
			t.Fatalf("CreateLocalUser(%s): %v", u.ID, err)
		}
	}
	return url
}

// emulatorFaults sets an emulator's faults through /__emulator/faults.
func emulatorFaults(t *testing.T, emu *clerkemu.Server, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, emu.URL+"/__emulator/faults", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+emu.SecretKey())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("faults: %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("faults: status %d", resp.StatusCode)
	}
}

func TestImportLegacyCommand(t *testing.T) {
	t.Parallel()
	digest, err := bcrypt.GenerateFromPassword([]byte("hunter2hunter2"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	db := MustLegacyStore(t,
		clerkgate.User{ID: "1", Email: "ann@example.test", Role: "admin", PasswordDigest: string(digest)},
		clerkgate.User{ID: "2", Email: "bob@example.test"},
		clerkgate.User{ID: "3", Email: "eve@example.test", Banned: true},
	)
	emu := clerkemu.Start(t, clerkemu.Options{})
	env := map[string]string{"CLERK_SECRET_KEY": emu.SecretKey(), "CLERK_API_URL": emu.URL, "DATABASE_URL": db, "LOG_LEVEL": "debug"}

	r := runCLI(t, env, "import-legacy", "--dry-run")
	if r.err != nil || r.stdout != "import-legacy (dry run: nothing changed): created 2, linked 0, skipped 1, failed 0\n" {
		t.Fatalf("dry run: %v, %q", r.err, r.stdout)
	}
	if strings.Contains(r.stderr, string(digest)) || strings.Contains(r.stderr, "@example.test") {
		t.Errorf("the log shows a digest or an email address:\n%s", r.stderr)
	}

	// Clerk answers 429 for a while: the command waits (Retry-After: 1)
	// and goes on.
	emulatorFaults(t, emu, `{"api":{"mode":"fail","status":429}}`)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		emulatorFaults(t, emu, `{}`)
	}()
	start := time.Now()
	r = runCLI(t, env, "import-legacy")
	if r.err != nil || r.stdout != "import-legacy: created 2, linked 0, skipped 1, failed 0\n" {
		t.Fatalf("import: %v, %q\n%s", r.err, r.stdout, r.stderr)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("the import finished in %v: it did not wait out the 429", waited)
	}
	if strings.Contains(r.stderr, string(digest)) || strings.Contains(r.stderr, "@example.test") {
		t.Errorf("the log shows a digest or an email address:\n%s", r.stderr)
	}

	r = runCLI(t, env, "import-legacy")
	if r.err != nil || r.stdout != "import-legacy: created 0, linked 0, skipped 1, failed 0\n" {
		t.Fatalf("second run: %v, %q", r.err, r.stdout)
	}
}

func TestImportLegacyCommandFailures(t *testing.T) {
	t.Parallel()
	db := MustLegacyStore(t, clerkgate.User{ID: "1", Email: "ann@example.test"}, clerkgate.User{ID: "2", Email: "bob@example.test"})
	emu := clerkemu.Start(t, clerkemu.Options{})
	if _, err := emu.CreateUser(clerkemu.UserParams{Email: "bob@example.test", ExternalID: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CLERK_SECRET_KEY": emu.SecretKey(), "CLERK_API_URL": emu.URL, "DATABASE_URL": db}
	r := runCLI(t, env, "import-legacy")
	if r.stdout != "import-legacy: created 1, linked 0, skipped 0, failed 1\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	mustFailOneLine(t, r.err, 1, "1 users could not be imported")
	if !strings.Contains(r.stderr, `"user_id":"2"`) || !strings.Contains(r.stderr, "another Clerk user") {
		t.Errorf("the log does not say which user failed and why:\n%s", r.stderr)
	}

}
