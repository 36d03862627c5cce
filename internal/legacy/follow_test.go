package legacy_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/legacy"
	"github.com/clerkgate/clerkgate/internal/policy"
)

func TestFollower(t *testing.T) {
	t.Parallel()
	var cur atomic.Pointer[policy.Policy]
	withLegacy := func(edit func(*policy.Legacy)) *policy.Policy {
		p := policy.Default()
		l := hsConfig()
		if edit != nil {
			edit(&l)
		}
		p.Legacy = &l
		return p
	}
	cur.Store(withLegacy(nil))
	var failures []error
	build := func(l policy.Legacy) (*legacy.Verifier, error) {
		return legacy.New(l, getenv, func() time.Time { return now })
	}
	f, err := legacy.NewFollower(cur.Load, build, func(err error) { failures = append(failures, err) })
	if err != nil {
		t.Fatal(err)
	}
	tok := signHS(hsHeader, claims(nil), []byte(secret))
	if !f.IsLegacy(tok) || !f.IsLoginPath("/auth/login") || f.SunsetPassed() {
		t.Fatal("the follower does not follow the first policy")
	}
	if id, err := f.VerifyLegacy(t.Context(), tok); err != nil || id != "42" {
		t.Fatalf("VerifyLegacy = %q, %v", id, err)
	}
	h := http.Header{}
	f.DeprecationHeaders(h)
	if h.Get("Sunset") == "" {
		t.Error("no Sunset header")
	}
	if rec, _ := f.SampleUse("42", now); !rec {
		t.Error("the first use is not sampled")
	}

	// A reload that moves the sunset into the past.
	cur.Store(withLegacy(func(l *policy.Legacy) { l.Sunset = now.Add(-time.Hour) }))
	if _, err := f.VerifyLegacy(t.Context(), tok); clerkgate.ErrorCode(err) != clerkgate.CodeLegacyTokenSunset || !f.SunsetPassed() {
		t.Fatalf("after a reload with a past sunset: %v", err)
	}
	// A reload whose block cannot be built keeps the previous verifier.
	cur.Store(withLegacy(func(l *policy.Legacy) { l.SecretEnv = "UNSET" }))
	if !f.IsLegacy(tok) || !f.SunsetPassed() || len(failures) != 1 {
		t.Fatalf("after a broken reload: legacy %t, sunset passed %t, failures %v", f.IsLegacy(tok), f.SunsetPassed(), failures)
	}
	f.IsLegacy(tok)
	if len(failures) != 1 {
		t.Errorf("a broken block is reported %d times, want once", len(failures))
	}
	// The block removed: nothing is legacy, login paths are not special.
	cur.Store(policy.Default())
	if f.IsLegacy(tok) || f.IsLoginPath("/auth/login") {
		t.Fatal("the follower still sees a legacy block")
	}
	if _, err := f.VerifyLegacy(t.Context(), tok); !errors.Is(err, legacy.ErrSunset) {
		t.Fatalf("VerifyLegacy without a block: %v", err)
	}
	h = http.Header{}
	f.DeprecationHeaders(h)
	if len(h) != 0 {
		t.Errorf("headers without a block: %v", h)
	}

	// A first policy whose block cannot be built is an error.
	cur.Store(withLegacy(func(l *policy.Legacy) { l.SecretEnv = "UNSET" }))
	if _, err := legacy.NewFollower(cur.Load, build, nil); err == nil {
		t.Fatal("NewFollower with a broken block did not fail")
	}
}
