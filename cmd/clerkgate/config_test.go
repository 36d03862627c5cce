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
