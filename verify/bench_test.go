package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	clerkjwt "github.com/clerk/clerk-sdk-go/v2/jwt"

	"github.com/clerkgate/clerkgate/verify"
)

// benchToken is a realistic Clerk v2 session token with an active
// organization, valid for an hour.
func benchToken(b *testing.B) (*testKey, string) {
	b.Helper()
	k := mustKey(b, "ins_bench", 0)
	now := time.Now()
	c := goodClaims(now)
	c["exp"] = now.Add(time.Hour).Unix()
	c["sub"] = "user_2NNEqL2nrIRdJ194ndJqAHwEfxC"
	c["sid"] = "sess_2NNEqL2nrIRdJ194ndJqAHwEfxC"
	c["fea"] = "o:dashboard,o:teams"
	c["o"] = map[string]any{"id": "org_2NNEqL2nrIRdJ194ndJqAHwEfxC", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2"}
	return k, k.sign(b, c)
}

// BenchmarkVerify compares, in one run, clerkgate's cached and uncached paths
// with clerk-sdk-go's jwt.Verify on the same token and key (the SDK is given
// the key, so none of the three fetches anything).
func BenchmarkVerify(b *testing.B) {
	k, tok := benchToken(b)
	ctx := context.Background()

	b.Run("clerkgate-cached", func(b *testing.B) {
		v := mustVerifier(b, verify.Options{JWTKey: k.pem(b)})
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clerkgate-cached-parallel", func(b *testing.B) {
		v := mustVerifier(b, verify.Options{JWTKey: k.pem(b)})
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("clerkgate-uncached", func(b *testing.B) {
		v := mustVerifier(b, verify.Options{JWTKey: k.pem(b), CacheSize: -1})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clerk-sdk-go-jwt.Verify", func(b *testing.B) {
		jwk, err := clerk.JSONWebKeyFromPEM(k.pem(b))
		if err != nil {
			b.Fatal(err)
		}
		params := &clerkjwt.VerifyParams{Token: tok, JWK: jwk}
		if _, err := clerkjwt.Verify(ctx, params); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := clerkjwt.Verify(ctx, params); err != nil {
				b.Fatal(err)
			}
		}
	})
}
