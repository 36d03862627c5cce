package policy_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/clerkgate/clerkgate/internal/policy"
)

// writeFile writes a policy file in a temporary directory.
func writeFile(tb testing.TB, path, src string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestReloader(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, "routes: [{path: /v1/**}]\n")
	r, err := policy.NewReloader(path)
	if err != nil {
		t.Fatal(err)
	}
	first := r.Current()
	if _, ok := first.Match("GET", "/v1/x"); !ok || r.Path() != path {
		t.Fatalf("first policy %+v", first.Routes)
	}

	// A valid file is swapped in.
	writeFile(t, path, "routes: [{path: /v2/**}]\n")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	second := r.Current()
	if _, ok := second.Match("GET", "/v2/x"); !ok || second == first {
		t.Fatalf("reload did not swap: %+v", second.Routes)
	}
	if _, ok := first.Match("GET", "/v1/x"); !ok {
		t.Fatal("the old policy changed under its holder")
	}

	// An invalid file is reported, and the policy in force stays.
	writeFile(t, path, "routes: [{path: /v3/**, requires: {}}]\n")
	err = r.Reload()
	var perr *policy.Error
	if !errors.As(err, &perr) || perr.Problems[0].Line != 1 {
		t.Fatalf("Reload of a bad file: %v", err)
	}
	if r.Current() != second {
		t.Fatal("a bad file replaced the policy")
	}

	// So does a missing file.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil || r.Current() != second {
		t.Fatalf("Reload of a missing file: %v", err)
	}
}

func TestReloaderBuiltIn(t *testing.T) {
	t.Parallel()
	r, err := policy.NewReloader("")
	if err != nil {
		t.Fatal(err)
	}
	p := r.Current()
	if p.Source != "built-in" || p.Roles.Default != "member" {
		t.Fatalf("built-in policy %+v", p)
	}
	if err := r.Reload(); err != nil || r.Current() != p {
		t.Fatalf("Reload without a file: %v", err)
	}
}

func TestNewReloaderRefusesBadFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, "roles: {default: ghost}\n")
	if _, err := policy.NewReloader(path); err == nil {
		t.Fatal("NewReloader accepted a bad file")
	}
}

// TestReloaderConcurrent runs readers against reloads under -race.
func TestReloaderConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, "routes: [{path: /**}]\n")
	r, err := policy.NewReloader(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if _, ok := r.Current().Match("GET", "/x"); !ok {
					t.Error("no match while reloading")
					return
				}
			}
		})
	}
	for range 20 {
		if err := r.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
