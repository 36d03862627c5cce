// Package legacy verifies the application's own, pre-Clerk tokens during the
// migration window of SPEC §8: the policy's legacy block names one algorithm
// (HS256 with a shared secret, or RS256 with a public key), an optional
// issuer, the claim that holds the local user id and the sunset, after which
// legacy tokens are refused with legacy_token_sunset.
//
// A Verifier tells legacy tokens from Clerk session tokens cheaply
// ([Verifier.IsLegacy]) and verifies them ([Verifier.VerifyLegacy]) with the
// configured algorithm only. It also knows the deprecation headers of
// RFC 8594 and RFC 9745 that responses to legacy requests carry
// ([Verifier.DeprecationHeaders]), and [Sampler] thins out the
// legacy_token_used security events. Nothing here logs, reads the
// environment by itself, or puts a token or a secret into an error.
package legacy

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/verify"
)

// DefaultLeeway is the clock skew allowed on exp, nbf and iat unless
// WithLeeway says otherwise: CLERKGATE_LEEWAY's default.
const DefaultLeeway = 5 * time.Second

// DefaultMigrationGuide is the migration guide the Link header of legacy
// responses points at when the policy names none (legacy.migration_guide):
// SPEC §8 wants a Link on every one of them, and docs/migration.md is
// written for the API consumers who get it.
const DefaultMigrationGuide = "https://github.com/clerkgate/clerkgate/blob/main/docs/migration.md"

// MaxTokenSize is the largest legacy token accepted, in bytes: the same
// bound as for Clerk session tokens.
const MaxTokenSize = verify.MaxTokenSize

// Verifier verifies the legacy tokens of one legacy block. It is safe for
// concurrent use.
type Verifier struct {
	alg      string         // policy.AlgHS256 or policy.AlgRS256
	secret   []byte         // HS256
	pub      *rsa.PublicKey // RS256
	issuer   string         // "" when not checked
	claim    string         // the claim with the local user id
	sunset   time.Time
	guide    string
	paths    []string
	leeway   time.Duration
	now      func() time.Time
	clerkKid func(kid string) bool // nil: Clerk's key ids are not known
	sampler  Sampler               // the legacy_token_used events
}

// Option changes a Verifier made by New.
type Option func(*Verifier)

// WithLeeway sets the clock skew allowed on exp, nbf and iat (CLERKGATE_LEEWAY);
// a negative d means none. The default is DefaultLeeway.
func WithLeeway(d time.Duration) Option {
	return func(v *Verifier) { v.leeway = max(d, 0) }
}

// WithSampling sets the period of SampleUse: one legacy_token_used event
// per user per every (default one hour).
func WithSampling(every time.Duration) Option {
	return func(v *Verifier) { v.sampler.Every = every }
}

// WithClerkKeyIDs tells an RS256 Verifier which key ids Clerk's JWKS uses:
// a token that names one of them is never taken for a legacy token.
func WithClerkKeyIDs(known func(kid string) bool) Option {
	return func(v *Verifier) { v.clerkKid = known }
}

// New returns the Verifier of cfg. HS256 reads its secret from the variable
// cfg.SecretEnv through getenv (an empty or unset variable is an error);
// RS256 reads the PEM public key (RSA, 2048 bits or more) from
// cfg.PublicKeyFile. now is the clock (nil: time.Now). Errors name the
// variable or the file, never the secret.
func New(cfg policy.Legacy, getenv func(string) string, now func() time.Time, opts ...Option) (*Verifier, error) {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{
		alg:    cfg.Algorithm,
		issuer: cfg.Issuer,
		claim:  cfg.UserClaim,
		sunset: cfg.Sunset,
		paths:  slices.Clone(cfg.LoginPaths),
		leeway: DefaultLeeway,
		now:    now,
	}
	if v.claim == "" {
		v.claim = "sub"
	}
	if cfg.MigrationGuide == "" {
		v.guide = DefaultMigrationGuide
	} else {
		u, err := url.Parse(cfg.MigrationGuide)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("legacy: migration_guide must be an http:// or https:// URL")
		}
		v.guide = u.String() // escaped: safe inside <...> of a Link header
	}
	if cfg.Sunset.IsZero() {
		return nil, errors.New("legacy: sunset is required")
	}
	switch cfg.Algorithm {
	case policy.AlgHS256:
		if cfg.SecretEnv == "" {
			return nil, errors.New("legacy: HS256 needs secret_env")
		}
		if getenv == nil {
			getenv = func(string) string { return "" }
		}
		secret := getenv(cfg.SecretEnv)
		if secret == "" {
			return nil, fmt.Errorf("legacy: %s: the HS256 secret is not set", cfg.SecretEnv)
		}
		v.secret = []byte(secret)
	case policy.AlgRS256:
		if cfg.PublicKeyFile == "" {
			return nil, errors.New("legacy: RS256 needs public_key_file")
		}
		pem, err := os.ReadFile(cfg.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("legacy: public_key_file: %w", err)
		}
		if v.pub, err = verify.ParsePublicKey(string(pem)); err != nil {
			return nil, fmt.Errorf("legacy: public_key_file %s: %w", cfg.PublicKeyFile, err)
		}
	default:
		return nil, fmt.Errorf("legacy: algorithm must be HS256 or RS256, not %q", cfg.Algorithm)
	}
	for _, o := range opts {
		o(v)
	}
	return v, nil
}

// Algorithm returns the one algorithm the Verifier accepts.
func (v *Verifier) Algorithm() string { return v.alg }

// Sunset returns the end of the migration window.
func (v *Verifier) Sunset() time.Time { return v.sunset }

// SunsetPassed reports whether the migration window has ended: from the
// sunset instant on, legacy tokens and login paths are refused.
func (v *Verifier) SunsetPassed() bool { return !v.now().Before(v.sunset) }

// MigrationGuide returns the URL of the migration guide:
// legacy.migration_guide, else DefaultMigrationGuide.
func (v *Verifier) MigrationGuide() string { return v.guide }

// LoginPaths returns the legacy login and refresh paths.
func (v *Verifier) LoginPaths() []string { return slices.Clone(v.paths) }

// IsLoginPath reports whether the canonical path p is a legacy login or
// refresh path.
func (v *Verifier) IsLoginPath(p string) bool { return slices.Contains(v.paths, p) }

// ErrSunset is the error of a legacy token, or a legacy login path, after
// the sunset: 401 legacy_token_sunset (the login paths answer it with 410).
var ErrSunset = &clerkgate.Error{
	Code:    clerkgate.CodeLegacyTokenSunset,
	Message: "legacy tokens are no longer accepted: sign in with Clerk and send its session token (see the migration guide)",
}

// VerifyLegacy verifies token as a legacy token and returns the local user
// id it names. After the sunset every token gets ErrSunset, before any
// other check. Otherwise the token must be a compact JWS signed with the
// configured algorithm (a header naming any other, "none" included, is
// refused before the signature is looked at), without "crit", whose claims
// are one JSON object without repeated members: exp is required, exp, nbf
// and iat are checked with the leeway, iss must equal the configured issuer
// when there is one, and the user claim must be a non-empty string or an
// integer (rendered in decimal). Failures are *verify.Error values with the
// codes token_invalid, token_expired or token_not_yet_valid and a short
// reason for metrics; none holds the token.
func (v *Verifier) VerifyLegacy(ctx context.Context, token string) (string, error) {
	if v.SunsetPassed() {
		return "", ErrSunset
	}
	parts, err := split(token)
	if err != nil {
		return "", err
	}
	hdr, err := parseHeader(parts.header)
	if err != nil {
		return "", err
	}
	if hdr.alg != v.alg {
		return "", invalid("alg_not_allowed")
	}
	if err := v.checkSignature(parts); err != nil {
		return "", err
	}
	c, err := parseClaims(parts.payload, v.claim)
	if err != nil {
		return "", err
	}
	if err := v.checkClaims(c); err != nil {
		return "", err
	}
	return c.user, nil
}

// IsLegacy decides, without verifying anything, whether token is to be
// verified as a legacy token rather than as a Clerk session token. Only
// the configured algorithm can make a token legacy; a token of any other
// algorithm goes to Clerk's verification, which refuses it. The rule:
//
//   - HS256: the header's alg is HS256. Clerk never signs with HS256, so no
//     Clerk token is ever taken for a legacy one.
//   - RS256: the header's alg is RS256, its kid is absent or not one of
//     Clerk's (WithClerkKeyIDs; unknown without it), and the payload's iss
//     equals the legacy issuer, or, when no issuer is configured, is
//     absent or has no Clerk shape (verify.ClerkIssuer).
//
// A token too large or not made of three base64url segments is not legacy.
func (v *Verifier) IsLegacy(token string) bool {
	parts, err := split(token)
	if err != nil {
		return false
	}
	hdr, err := peekHeader(parts.header)
	if err != nil || hdr.alg != v.alg {
		return false
	}
	if v.alg == policy.AlgHS256 {
		return true
	}
	if hdr.kid != "" && v.clerkKid != nil && v.clerkKid(hdr.kid) {
		return false
	}
	iss, ok := peekIssuer(parts.payload)
	if !ok {
		return false
	}
	if v.issuer != "" {
		return iss == v.issuer
	}
	return !verify.ClerkIssuer(iss)
}

// SampleUse reports whether a use of a legacy token by the local user id
// at now is to be recorded as a legacy_token_used security event: the
// first use of each user in each hour is (see Sampler), and skipped is the
// number of that user's uses left out since the last one recorded.
func (v *Verifier) SampleUse(id string, now time.Time) (record bool, skipped int) {
	return v.sampler.Sample(id, now)
}

// DeprecationHeaders sets on h the headers of a response to a legacy
// request or a legacy login path: "Deprecation: true" (SPEC §8; RFC 9745),
// "Sunset" with the sunset as an HTTP-date (RFC 8594), and a Link to the
// migration guide (MigrationGuide) with the relation types "deprecation"
// (RFC 9745) and "sunset" (RFC 8594).
func (v *Verifier) DeprecationHeaders(h http.Header) {
	h.Set("Deprecation", "true")
	h.Set("Sunset", v.sunset.UTC().Format(http.TimeFormat))
	h.Set("Link", "<"+v.guide+`>; rel="deprecation", <`+v.guide+`>; rel="sunset"`)
}
