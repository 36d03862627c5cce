package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/verify"
)

func TestSmokeJWKSAndStatic(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	srv := newJWKSServer(t, k.jwk("RS256"))
	now := time.Now()
	claims := goodClaims(now)
	claims["v"] = 2
	claims["fea"] = "o:dashboard,o:teams"
	claims["o"] = map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2"}
	tok := k.sign(t, claims)
	for _, opts := range []verify.Options{{JWKSURL: srv.URL}, {JWTKey: k.pem(t)}} {
		v, err := verify.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			c, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if c.Subject != "user_123" || c.Org == nil || c.Org.Role != "org:admin" {
				t.Fatalf("claims %+v", c)
			}
			want := []string{"org:dashboard:manage", "org:dashboard:read", "org:teams:read"}
			if len(c.Org.Permissions) != 3 || c.Org.Permissions[0] != want[0] || c.Org.Permissions[1] != want[1] || c.Org.Permissions[2] != want[2] {
				t.Fatalf("perms %v", c.Org.Permissions)
			}
		}
		if st := v.Stats(); st.CacheHits != 1 || st.CacheMisses != 1 {
			t.Fatalf("stats %+v", st)
		}
	}
}

// Without KeepRawClaims the payload is not kept: cached tokens cost less.
func TestRawClaimsOnlyWhenKept(t *testing.T) {
	t.Parallel()
	k := mustKey(t, "kid1", 0)
	tok := k.sign(t, goodClaims(time.Now()))
	for _, keep := range []bool{false, true} {
		v, err := verify.New(verify.Options{JWTKey: k.pem(t), KeepRawClaims: keep})
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if (c.Raw != nil) != keep {
			t.Fatalf("KeepRawClaims %v: Raw %q", keep, c.Raw)
		}
	}
}
