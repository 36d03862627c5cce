package clerkemu

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// handleCreateAPIKey answers POST /v1/api_keys: the key with its secret,
// shown this once.
func (e *Emulator) handleCreateAPIKey(r *http.Request, _ []string) (any, error) {
	f, err := readForm(r, "type", "name", "description", "subject", "claims", "scopes", "created_by",
		"seconds_until_expiration")
	if err != nil {
		return nil, err
	}
	var p APIKeyParams
	for _, name := range []string{"name", "subject"} {
		if !f.has(name) || f.isNull(name) {
			return nil, errMissing(name)
		}
	}
	for _, step := range []func() error{
		func() error { _, err := get(f, "type", &p.Type); return err },
		func() error { _, err := get(f, "name", &p.Name); return err },
		func() error { _, err := get(f, "description", &p.Description); return err },
		func() error { _, err := get(f, "subject", &p.Subject); return err },
		func() error { _, err := get(f, "created_by", &p.CreatedBy); return err },
		func() error { _, err := get(f, "scopes", &p.Scopes); return err },
		func() error { p.Claims, _, err = f.object("claims"); return err },
		func() error { p.Expiration, err = secondsParam(f, "seconds_until_expiration"); return err },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if p.Type == "" && f.has("type") && !f.isNull("type") {
		return nil, errValue("type", "type must have 3 to 25 characters.")
	}
	if p.Name == "" {
		return nil, errValue("name", "name must have 3 characters or more, without leading or trailing white space.")
	}
	return e.CreateAPIKey(p)
}

// handleVerifyAPIKey answers POST /v1/api_keys/verify {"secret"}.
func (e *Emulator) handleVerifyAPIKey(r *http.Request, _ []string) (any, error) {
	s := e.machines()
	s.apiKeyVerifies.Add(1)
	secret, err := secretParam(r, "secret")
	if err != nil {
		return nil, err
	}
	now := e.now()
	rec, err := s.verify(kindAPIKey, secret, now)
	if err != nil {
		return nil, err
	}
	return rec.apiKey(now), nil
}

// handleRevokeAPIKey answers POST /v1/api_keys/{id}/revoke.
func (e *Emulator) handleRevokeAPIKey(r *http.Request, args []string) (any, error) {
	reason, err := reasonParam(r)
	if err != nil {
		return nil, err
	}
	rec, now, err := e.machines().revoke(kindAPIKey, args[0], reason, e.now())
	if err != nil {
		return nil, err
	}
	return rec.apiKey(now), nil
}

// handleCreateM2MToken answers POST /v1/m2m_tokens (with 201, see
// withCreated): the token, shown this once. "subject" and "scopes" are
// emulator-only members; Clerk takes both from the machine secret key that
// signs the request.
func (e *Emulator) handleCreateM2MToken(r *http.Request, _ []string) (any, error) {
	f, err := readForm(r, "token_format", "seconds_until_expiration", "claims", "min_remaining_ttl_seconds",
		"subject", "scopes")
	if err != nil {
		return nil, err
	}
	var p M2MTokenParams
	var format string
	var minTTL *int64
	for _, step := range []func() error{
		func() error { _, err := get(f, "token_format", &format); return err },
		func() error { _, err := get(f, "subject", &p.Subject); return err },
		func() error { _, err := get(f, "scopes", &p.Scopes); return err },
		func() error { p.Claims, _, err = f.object("claims"); return err },
		func() error { p.Expiration, err = secondsParam(f, "seconds_until_expiration"); return err },
		func() error { minTTL, err = opt[int64](f, "min_remaining_ttl_seconds"); return err },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	switch format {
	case "", "opaque":
	case "jwt":
		return nil, errValue("token_format", "The emulator supports only opaque M2M tokens.")
	default:
		return nil, errValue("token_format", "token_format must be opaque or jwt.")
	}
	if minTTL != nil {
		lifetime := p.Expiration
		if lifetime == 0 {
			lifetime = defaultM2MTTL
		}
		if *minTTL < 0 || *minTTL >= int64(lifetime/time.Second) {
			err := errValue("min_remaining_ttl_seconds",
				"min_remaining_ttl_seconds must be at least 0 and less than the token's lifetime.")
			err.Status = http.StatusBadRequest
			return nil, err
		}
	}
	return e.CreateM2MToken(p)
}

// handleVerifyM2MToken answers POST /v1/m2m_tokens/verify {"token"}.
func (e *Emulator) handleVerifyM2MToken(r *http.Request, _ []string) (any, error) {
	s := e.machines()
	s.m2mVerifies.Add(1)
	token, err := secretParam(r, "token")
	if err != nil {
		return nil, err
	}
	now := e.now()
	rec, err := s.verify(kindM2M, token, now)
	if err != nil {
		return nil, err
	}
	return rec.m2mToken(now), nil
}

// handleRevokeM2MToken answers POST /v1/m2m_tokens/{id}/revoke.
func (e *Emulator) handleRevokeM2MToken(r *http.Request, args []string) (any, error) {
	reason, err := reasonParam(r)
	if err != nil {
		return nil, err
	}
	rec, now, err := e.machines().revoke(kindM2M, args[0], reason, e.now())
	if err != nil {
		return nil, err
	}
	return rec.m2mToken(now), nil
}

// handleVerifyOAuthToken answers POST
// /v1/oauth_applications/access_tokens/verify {"access_token"} (or the
// deprecated {"secret"}).
func (e *Emulator) handleVerifyOAuthToken(r *http.Request, _ []string) (any, error) {
	s := e.machines()
	s.oauthVerifies.Add(1)
	f, err := readForm(r, "access_token", "secret")
	if err != nil {
		return nil, err
	}
	var token string
	ok, err := get(f, "access_token", &token)
	if err == nil && !ok {
		ok, err = get(f, "secret", &token)
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errMissing("access_token")
	}
	now := e.now()
	rec, err := s.verify(kindOAuth, token, now)
	if err != nil {
		return nil, err
	}
	return rec.oauthToken(now), nil
}

// secretParam reads the one required string member name of a verification
// request.
func secretParam(r *http.Request, name string) (string, error) {
	f, err := readForm(r, name)
	if err != nil {
		return "", err
	}
	var v string
	ok, err := get(f, name, &v)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errMissing(name)
	}
	return v, nil
}

// reasonParam reads a revocation's optional revocation_reason.
func reasonParam(r *http.Request) (*string, error) {
	f, err := readForm(r, "revocation_reason")
	if err != nil {
		return nil, err
	}
	reason, _, err := f.optString("revocation_reason")
	return reason, err
}

// secondsParam reads an optional positive number of seconds (null or absent:
// 0) of at most maxMachineTTL.
func secondsParam(f form, name string) (time.Duration, error) {
	secs, err := opt[float64](f, name)
	if err != nil || secs == nil {
		return 0, err
	}
	if !(*secs > 0) || math.IsInf(*secs, 0) || *secs > maxMachineTTL.Seconds() {
		return 0, errValue(name, name+" must be positive and at most 315360000.")
	}
	return time.Duration(math.Ceil(*secs)) * time.Second, nil
}

// withCreated answers 201 instead of 200 on POST /v1/m2m_tokens, the one
// emulated route Clerk documents as 201 Created.
func withCreated(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Trim(r.URL.EscapedPath(), "/") == "v1/m2m_tokens" {
			w = createdWriter{w}
		}
		h.ServeHTTP(w, r)
	})
}

// createdWriter turns a 200 status into 201.
type createdWriter struct{ http.ResponseWriter }

// WriteHeader writes status, 201 for 200.
func (w createdWriter) WriteHeader(status int) {
	if status == http.StatusOK {
		status = http.StatusCreated
	}
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap gives http.ResponseController the underlying writer.
func (w createdWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
