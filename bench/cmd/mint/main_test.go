package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clerkgate/clerkgate/clerkemu"
)

func TestMintWritesDistinctTokens(t *testing.T) {
	t.Parallel()
	emu := clerkemu.Start(t, clerkemu.Options{})
	u, err := emu.CreateUser(clerkemu.UserParams{Email: "bench@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "tokens.txt")
	env := map[string]string{"CLERK_API_URL": emu.URL, "CLERK_SECRET_KEY": emu.SecretKey()}
	args := []string{"-user", u.ID, "-n", "40", "-c", "4", "-sessions", "3", "-o", out}
	if err := run(t.Context(), args, func(k string) string { return env[k] }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if strings.Count(l, ".") != 2 || seen[l] {
			t.Fatalf("line %q is not a new JWT", l)
		}
		seen[l] = true
	}
	if len(seen) != 40 {
		t.Errorf("%d tokens, want 40", len(seen))
	}
}

func TestMintRefusesAWrongKey(t *testing.T) {
	t.Parallel()
	emu := clerkemu.Start(t, clerkemu.Options{})
	env := map[string]string{"CLERK_API_URL": emu.URL, "CLERK_SECRET_KEY": "sk_test_wrong"}
	args := []string{"-user", "user_x", "-n", "1", "-o", filepath.Join(t.TempDir(), "t.txt")}
	if err := run(t.Context(), args, func(k string) string { return env[k] }, io.Discard, io.Discard); err == nil {
		t.Fatal("no error with a wrong secret key")
	}
}
