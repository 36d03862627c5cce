package clerkapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/apikey"
	"github.com/clerk/clerk-sdk-go/v2/m2m_token"

	"github.com/clerkgate/clerkgate"
)

// Machine credential kinds (MachineCredential.Kind).
const (
	KindAPIKey     = "api_key"
	KindM2MToken   = "m2m_token"
	KindOAuthToken = "oauth_token"
)

// MaxMachineTokenLength bounds the credentials the Verify* methods send to
// Clerk; longer ones are invalid without a call.
const MaxMachineTokenLength = 4096

// MachineCredential is a machine credential Clerk verified: an API key, an
// M2M token or an OAuth access token.
type MachineCredential struct {
	// ID is Clerk's id of the credential (ak_..., mt_..., oat_...), never
	// the secret itself.
	ID string
	// Kind is KindAPIKey, KindM2MToken or KindOAuthToken.
	Kind string
	// Subject is who the credential acts for: a user_, org_ or mch_ id.
	Subject string
	// Scopes are the credential's scopes; for M2M tokens, the machines
	// (mch_...) it may reach. Never nil.
	Scopes []string
	// ExpiresAt is when the credential expires; zero: never.
	ExpiresAt time.Time
	// Revoked reports that Clerk answered the credential as revoked. The
	// Verify* methods then also return an error, with the credential, so
	// that a caller can forget what it cached under its ID.
	Revoked bool
}

// Machine verification operations: their Options.Observe names, and what
// their errors call the credential.
var (
	opVerifyAPIKey     = operation{"verify_api_key", "API key"}
	opVerifyM2MToken   = operation{"verify_m2m_token", "M2M token"}
	opVerifyOAuthToken = operation{"verify_oauth_token", "OAuth access token"}
)

// VerifyAPIKey verifies an API key secret (ak_...) with POST
// /v1/api_keys/verify. See [Client.VerifyM2MToken] for the errors.
func (c *Client) VerifyAPIKey(ctx context.Context, secret string) (*MachineCredential, error) {
	return c.verifyMachine(ctx, opVerifyAPIKey, secret, func(ctx context.Context) (*machineAnswer, error) {
		k, err := (&apikey.Client{Backend: c.backend}).Verify(ctx, &apikey.VerifyParams{Secret: secret})
		if err != nil {
			return nil, err
		}
		return &machineAnswer{ID: k.ID, Subject: k.Subject, Scopes: k.Scopes, Revoked: k.Revoked,
			Expired: k.Expired, Expiration: k.Expiration}, nil
	})
}

// VerifyM2MToken verifies a machine-to-machine token (mt_...) with POST
// /v1/m2m_tokens/verify.
//
// A token Clerk does not know, or knows as revoked or expired (Clerk
// answers 404 for all three), is a *clerkgate.Error with CodeTokenInvalid;
// an answer that names the credential but says it is revoked is
// CodeTokenInvalid too, and one that says it expired CodeTokenExpired:
// those two return the credential along with the error. A 401 or 403 means
// the service's secret key is wrong and, like a Clerk that cannot be
// reached, is CodeUnavailable; 429 is CodeRateLimited. Neither the token
// nor anything derived from it is ever part of an error.
func (c *Client) VerifyM2MToken(ctx context.Context, token string) (*MachineCredential, error) {
	return c.verifyMachine(ctx, opVerifyM2MToken, token, func(ctx context.Context) (*machineAnswer, error) {
		t, err := (&m2m_token.Client{Backend: c.backend}).Verify(ctx, &m2m_token.VerifyParams{Token: token})
		if err != nil {
			return nil, err
		}
		return &machineAnswer{ID: t.ID, Subject: t.Subject, Scopes: t.Scopes, Revoked: t.Revoked,
			Expired: t.Expired, Expiration: t.Expiration}, nil
	})
}

// VerifyOAuthAccessToken verifies an OAuth access token Clerk issued as an
// identity provider (oat_...) with POST
// /v1/oauth_applications/access_tokens/verify. The SDK has no call for it,
// so it is made directly. See [Client.VerifyM2MToken] for the errors; an
// answer {"active":false} is CodeTokenExpired.
func (c *Client) VerifyOAuthAccessToken(ctx context.Context, token string) (*MachineCredential, error) {
	return c.verifyMachine(ctx, opVerifyOAuthToken, token, func(ctx context.Context) (*machineAnswer, error) {
		req := clerk.NewAPIRequest(http.MethodPost, "/oauth_applications/access_tokens/verify")
		req.SetParams(&oauthVerifyParams{AccessToken: token})
		var a machineAnswer
		if err := c.backend.Call(ctx, req, &a); err != nil {
			return nil, err
		}
		return &a, nil
	})
}

// oauthVerifyParams is the body of an OAuth access token verification.
type oauthVerifyParams struct {
	clerk.APIParams
	AccessToken string `json:"access_token"`
}

// machineAnswer is what the verifications answer, in the members the three
// kinds share. Active is set only by the OAuth verification of a JWT access
// token that is no longer active ({"active":false}).
type machineAnswer struct {
	clerk.APIResource
	ID         string   `json:"id"`
	Subject    string   `json:"subject"`
	Scopes     []string `json:"scopes"`
	Revoked    bool     `json:"revoked"`
	Expired    bool     `json:"expired"`
	Expiration *int64   `json:"expiration"`
	Active     *bool    `json:"active"`
}

// errInactive is the cause of the error for an answer that names no
// credential but says the token is not active.
var errInactive = errors.New("the token is not active")

// verifyMachine runs one verification: the checks on the credential, the
// call, and the mapping of Clerk's answers onto token errors.
func (c *Client) verifyMachine(ctx context.Context, op operation, secret string,
	fn func(context.Context) (*machineAnswer, error)) (*MachineCredential, error) {
	if !plausibleSecret(secret) {
		return nil, &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: "invalid " + op.resource,
			Err: fmt.Errorf("clerk %s: not a credential Clerk could have issued; no call made", op.name)}
	}
	var a *machineAnswer
	err := c.call(ctx, op, func(ctx context.Context) error {
		var err error
		if a, err = fn(ctx); err != nil {
			return err
		}
		if a.Active != nil && !*a.Active && a.ID == "" {
			return nil // checked below: a valid answer for a token that is not active
		}
		if a.ID == "" || a.Subject == "" {
			return errUnexpected("a credential without an id or subject")
		}
		return nil
	})
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			switch apiErr.Status {
			case http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity:
				return nil, &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: "invalid " + op.resource, Err: apiErr}
			}
		}
		return nil, err
	}
	if a.ID == "" {
		return nil, &clerkgate.Error{Code: clerkgate.CodeTokenExpired, Message: op.resource + " expired",
			Err: fmt.Errorf("clerk %s: %w", op.name, errInactive)}
	}
	cred := &MachineCredential{
		ID:        a.ID,
		Kind:      machineKind(op),
		Subject:   a.Subject,
		Scopes:    slices.Clone(a.Scopes),
		ExpiresAt: fromMillis(a.Expiration),
		Revoked:   a.Revoked,
	}
	if cred.Scopes == nil {
		cred.Scopes = []string{}
	}
	switch {
	case a.Revoked:
		return cred, &clerkgate.Error{Code: clerkgate.CodeTokenInvalid, Message: op.resource + " revoked",
			Err: fmt.Errorf("clerk %s: the credential %s is revoked", op.name, clip(a.ID, 100))}
	case a.Expired:
		return cred, &clerkgate.Error{Code: clerkgate.CodeTokenExpired, Message: op.resource + " expired",
			Err: fmt.Errorf("clerk %s: the credential %s expired", op.name, clip(a.ID, 100))}
	}
	return cred, nil
}

// machineKind is the credential kind an operation verifies.
func machineKind(op operation) string {
	switch op {
	case opVerifyAPIKey:
		return KindAPIKey
	case opVerifyM2MToken:
		return KindM2MToken
	default:
		return KindOAuthToken
	}
}

// plausibleSecret reports whether s can be a credential Clerk issued: 1 to
// MaxMachineTokenLength printable ASCII characters without spaces.
// Anything else is not worth a call.
func plausibleSecret(s string) bool {
	if s == "" || len(s) > MaxMachineTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
