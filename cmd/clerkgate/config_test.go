package main

import (
	"slices"
	"testing"
)

// TestAlgorithmsList: CLERKGATE_ALGORITHMS is a list; commas, spaces or
// both separate its entries.
func TestAlgorithmsList(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"RS256,RS384", "RS256 RS384", "RS256, RS384", " RS256 ,RS384 "} {
		env := map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "CLERKGATE_ALGORITHMS": v}
		cfg, err := parseServiceConfig(getenvFrom(env), &serviceFlags{}, defaultAddr)
		if err != nil {
			t.Errorf("CLERKGATE_ALGORITHMS=%q: %v", v, err)
			continue
		}
		if want := []string{"RS256", "RS384"}; !slices.Equal(cfg.Algorithms, want) {
			t.Errorf("CLERKGATE_ALGORITHMS=%q: %v, want %v", v, cfg.Algorithms, want)
		}
	}
}

// TestAPIURLWithV1: CLERK_API_URL is the base without /v1; one given with
// it (as the Go SDK takes it) names the same API.
func TestAPIURLWithV1(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"http://127.0.0.1:9000", "http://127.0.0.1:9000/", "http://127.0.0.1:9000/v1", " http://127.0.0.1:9000/v1/ "} {
		env := map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "CLERK_API_URL": v}
		cfg, err := parseServiceConfig(getenvFrom(env), &serviceFlags{}, defaultAddr)
		if err != nil || cfg.APIURL != "http://127.0.0.1:9000" {
			t.Errorf("CLERK_API_URL=%q: %q, %v; want http://127.0.0.1:9000", v, cfg.APIURL, err)
		}
	}
	env := map[string]string{"CLERK_SECRET_KEY": "sk_test_x", "CLERK_API_URL": "ftp://example.com/v1"}
	if _, err := parseServiceConfig(getenvFrom(env), &serviceFlags{}, defaultAddr); err == nil {
		t.Error("an ftp URL was taken")
	}
}
