package clerkemu_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/apikey"
	"github.com/clerk/clerk-sdk-go/v2/m2m_token"

	"github.com/clerkgate/clerkgate/clerkemu"
)

var (
	apiKeyIDForm = regexp.MustCompile(`^ak_[0-9a-f]{32}$`)
	m2mIDForm    = regexp.MustCompile(`^mt_[0-9a-f]{32}$`)
	oauthIDForm  = regexp.MustCompile(`^oat_[0-9a-f]{32}$`)
)

// sdkConfig is an SDK configuration for e's emulator whose answers are
// checked against the description.
func (e *env) sdkConfig() *clerk.ClientConfig {
	return &clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
		HTTPClient: e.http, URL: clerk.String(e.srv.APIURL), Key: clerk.String(e.srv.SecretKey())}}
}

// TestAPIKeysThroughSDK creates, verifies and revokes API keys with the
// official SDK; every answer is checked against the description.
func TestAPIKeysThroughSDK(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: epoch}
	e := newEnv(t, clerkemu.Options{Clock: clk.Now})
	u, err := e.srv.CreateUser(clerkemu.UserParams{Email: "k@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	keys := apikey.NewClient(e.sdkConfig())

	created, err := keys.Create(ctx(), &apikey.CreateParams{
		Name: clerk.String("ci-bot"), Subject: clerk.String(u.ID), Scopes: []string{"read", "write"},
		Claims: json.RawMessage(`{"team":"ops"}`), SecondsUntilExpiration: clerk.Int64(600),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !apiKeyIDForm.MatchString(created.ID) || !strings.HasPrefix(created.Secret, "ak_") ||
		created.Secret == created.ID || created.Subject != u.ID || created.Name != "ci-bot" || created.Type != "api_key" ||
		!slices.Equal(created.Scopes, []string{"read", "write"}) || created.Revoked || created.Expired ||
		created.Expiration == nil || *created.Expiration != epoch.Add(600*time.Second).UnixMilli() ||
		created.CreatedAt != epoch.UnixMilli() || created.LastUsedAt != nil {
		t.Errorf("created %+v", created.APIKey)
	}
	if string(created.Claims) != `{"team":"ops"}` {
		t.Errorf("claims %s", created.Claims)
	}

	before := e.srv.MachineVerifyCalls()
	clk.Advance(time.Second)
	got, err := keys.Verify(ctx(), &apikey.VerifyParams{Secret: created.Secret})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || got.Subject != u.ID || !slices.Equal(got.Scopes, created.Scopes) ||
		got.LastUsedAt == nil || *got.LastUsedAt != epoch.Add(time.Second).UnixMilli() {
		t.Errorf("verified %+v", got)
	}
	if n := e.srv.MachineVerifyCalls() - before; n != 1 {
		t.Errorf("MachineVerifyCalls grew by %d, want 1", n)
	}

	for _, bad := range []string{"ak_unknown", created.ID, "", strings.ToUpper(created.Secret)} {
		_, err := keys.Verify(ctx(), &apikey.VerifyParams{Secret: bad})
		apiError(t, err, http.StatusNotFound, clerkemu.CodeNotFound)
	}
	if st := e.srv.MachineStats(); st.APIKeyVerifies != before+5 || st.M2MTokenVerifies != 0 {
		t.Errorf("stats %+v", st)
	}

	revoked, err := keys.Revoke(ctx(), created.ID, &apikey.RevokeParams{RevocationReason: clerk.String("leaked")})
	if err != nil {
		t.Fatal(err)
	}
	if !revoked.Revoked || revoked.RevocationReason == nil || *revoked.RevocationReason != "leaked" {
		t.Errorf("revoked %+v", revoked)
	}
	_, err = keys.Verify(ctx(), &apikey.VerifyParams{Secret: created.Secret})
	apiError(t, err, http.StatusNotFound, clerkemu.CodeNotFound)
	_, err = keys.Revoke(ctx(), "ak_00000000000000000000000000000000", &apikey.RevokeParams{})
	apiError(t, err, http.StatusNotFound, clerkemu.CodeNotFound)

	// Expiry: valid until its expiration, 404 from then on.
	short, err := e.srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: u.ID, Expiration: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if short.Name != "api key" || short.Expiration == nil || *short.Expiration != clk.Now().Add(2*time.Second).UnixMilli() {
		t.Errorf("short-lived key %+v", short)
	}
	if _, err := keys.Verify(ctx(), &apikey.VerifyParams{Secret: short.Secret}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	_, err = keys.Verify(ctx(), &apikey.VerifyParams{Secret: short.Secret})
	apiError(t, err, http.StatusNotFound, clerkemu.CodeNotFound)

	// A key that never expires.
	forever, err := e.srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: "org_" + strings.Repeat("a", 27), Name: "org key"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(365 * 24 * time.Hour)
	if got, err := keys.Verify(ctx(), &apikey.VerifyParams{Secret: forever.Secret}); err != nil || got.Expiration != nil || got.Expired {
		t.Errorf("forever key: %+v, %v", got, err)
	}
}

// TestAPIKeyCreateValidation checks what POST /v1/api_keys refuses.
func TestAPIKeyCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	sub := "user_" + strings.Repeat("b", 27)
	for _, tc := range []struct {
		body  string
		code  string
		param string
	}{
		{`{"subject":"` + sub + `"}`, clerkemu.CodeParamMissing, "name"},
		{`{"name":"abc"}`, clerkemu.CodeParamMissing, "subject"},
		{`{"name":"abc","subject":"sess_x"}`, clerkemu.CodeParamValueInvalid, "subject"},
		{`{"name":"ab","subject":"` + sub + `"}`, clerkemu.CodeParamValueInvalid, "name"},
		{`{"name":" abc","subject":"` + sub + `"}`, clerkemu.CodeParamValueInvalid, "name"},
		{`{"name":"abc","subject":"` + sub + `","scopes":"read"}`, clerkemu.CodeParamFormatInvalid, "scopes"},
		{`{"name":"abc","subject":"` + sub + `","scopes":[""]}`, clerkemu.CodeParamValueInvalid, "scopes"},
		{`{"name":"abc","subject":"` + sub + `","claims":[1]}`, clerkemu.CodeParamFormatInvalid, "claims"},
		{`{"name":"abc","subject":"` + sub + `","seconds_until_expiration":0}`, clerkemu.CodeParamValueInvalid, "seconds_until_expiration"},
		{`{"name":"abc","subject":"` + sub + `","seconds_until_expiration":-5}`, clerkemu.CodeParamValueInvalid, "seconds_until_expiration"},
		{`{"name":"abc","subject":"` + sub + `","created_by":"org_x"}`, clerkemu.CodeParamValueInvalid, "created_by"},
		{`{"name":"abc","subject":"` + sub + `","type":""}`, clerkemu.CodeParamValueInvalid, "type"},
		{`{"name":"abc","subject":"` + sub + `","secret":"ak_mine"}`, clerkemu.CodeParamUnknown, "secret"},
	} {
		resp := e.do(t, "POST", "/v1/api_keys", tc.body)
		code, param := resp.clerkError(t)
		if resp.status != http.StatusUnprocessableEntity || code != tc.code || param != tc.param {
			t.Errorf("%s: %d %s %s, want 422 %s %s", tc.body, resp.status, code, param, tc.code, tc.param)
		}
	}
	resp := e.do(t, "POST", "/v1/api_keys",
		`{"name":"abc","subject":"`+sub+`","description":null,"claims":null,"created_by":null,"seconds_until_expiration":null}`)
	var k clerkemu.APIKey
	resp.decode(t, &k)
	if resp.status != http.StatusOK || k.Expiration != nil || k.Claims != nil || k.Description != nil ||
		k.Scopes == nil || len(k.Scopes) != 0 || k.Secret == "" {
		t.Errorf("nulls: %d %s", resp.status, resp.body)
	}
	resp = e.do(t, "POST", "/v1/api_keys/verify", `{"secret":"`+k.Secret+`","extra":1}`)
	if code, _ := resp.clerkError(t); resp.status != http.StatusUnprocessableEntity || code != clerkemu.CodeParamUnknown {
		t.Errorf("verify with an unknown member: %d %s", resp.status, resp.body)
	}
	resp = e.do(t, "POST", "/v1/api_keys/verify", `{"secret":"`+k.Secret+`"}`)
	if resp.status != http.StatusOK || strings.Contains(string(resp.body), k.Secret) {
		t.Errorf("verify: %d %s (the secret must not be echoed)", resp.status, resp.body)
	}
}

// TestM2MTokensThroughSDK creates (201), verifies and revokes M2M tokens
// with the official SDK.
func TestM2MTokensThroughSDK(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: epoch}
	e := newEnv(t, clerkemu.Options{Clock: clk.Now})
	tokens := m2m_token.NewClient(e.sdkConfig())

	claims := json.RawMessage(`{"job":"nightly"}`)
	created, err := tokens.Create(ctx(), &m2m_token.CreateParams{Claims: &claims, SecondsUntilExpiration: clerk.Int64(120)})
	if err != nil {
		t.Fatal(err)
	}
	if !m2mIDForm.MatchString(created.ID) || !strings.HasPrefix(created.Token, "mt_") ||
		created.Subject != e.srv.DefaultMachineID() || created.Expiration == nil ||
		*created.Expiration != epoch.Add(2*time.Minute).UnixMilli() || string(created.Claims) != string(claims) {
		t.Errorf("created %+v", created)
	}
	resp := e.do(t, "POST", "/v1/m2m_tokens", `{}`)
	var def clerkemu.M2MToken
	resp.decode(t, &def)
	if resp.status != http.StatusCreated || def.Expiration == nil || *def.Expiration != epoch.Add(time.Hour).UnixMilli() ||
		def.Token == "" || def.Scopes == nil {
		t.Errorf("POST /v1/m2m_tokens {}: %d %s", resp.status, resp.body)
	}

	got, err := tokens.Verify(ctx(), &m2m_token.VerifyParams{Token: created.Token})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || got.Subject != created.Subject || got.Revoked || got.LastUsedAt == nil {
		t.Errorf("verified %+v", got)
	}
	_, err = tokens.Verify(ctx(), &m2m_token.VerifyParams{Token: "mt_" + strings.Repeat("x", 48)})
	apiError(t, err, http.StatusNotFound, clerkemu.CodeNotFound)

	if _, err := tokens.Revoke(ctx(), created.ID, &m2m_token.RevokeParams{}); err != nil {
		t.Fatal(err)
	}
	_, err = tokens.Verify(ctx(), &m2m_token.VerifyParams{Token: created.Token})
	apiError(t, err, http.StatusNotFound, clerkemu.CodeNotFound)

	// Default lifetime: an hour.
	clk.Advance(time.Hour)
	_, err = tokens.Verify(ctx(), &m2m_token.VerifyParams{Token: def.Token})
	apiError(t, err, http.StatusNotFound, clerkemu.CodeNotFound)

	// Emulator-only subject and scopes.
	other := "mch_" + strings.Repeat("c", 27)
	resp = e.do(t, "POST", "/v1/m2m_tokens", `{"subject":"`+other+`","scopes":["`+e.srv.DefaultMachineID()+`"]}`)
	var scoped clerkemu.M2MToken
	resp.decode(t, &scoped)
	if resp.status != http.StatusCreated || scoped.Subject != other || !slices.Equal(scoped.Scopes, []string{e.srv.DefaultMachineID()}) {
		t.Errorf("scoped: %d %s", resp.status, resp.body)
	}
	for _, tc := range []struct{ body, param string }{
		{`{"token_format":"jwt"}`, "token_format"},
		{`{"scopes":["read"]}`, "scopes"},
		{`{"subject":"user_x"}`, "subject"},
		{`{"seconds_until_expiration":0}`, "seconds_until_expiration"},
		{`{"min_remaining_ttl_seconds":3600}`, "min_remaining_ttl_seconds"},
	} {
		resp := e.do(t, "POST", "/v1/m2m_tokens", tc.body)
		if _, param := resp.clerkError(t); resp.status < 400 || resp.status >= 500 || param != tc.param {
			t.Errorf("%s: %d %s", tc.body, resp.status, resp.body)
		}
	}
	if resp := e.do(t, "POST", "/v1/m2m_tokens", `{"min_remaining_ttl_seconds":60}`); resp.status != http.StatusCreated {
		t.Errorf("min_remaining_ttl_seconds 60: %d %s", resp.status, resp.body)
	}
	if st := e.srv.MachineStats(); st.M2MTokenVerifies != 4 || st.APIKeyVerifies != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestOAuthAccessTokens mints tokens with the Go helper and verifies them
// through the Backend API, with access_token and the deprecated secret.
func TestOAuthAccessTokens(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: epoch}
	e := newEnv(t, clerkemu.Options{Clock: clk.Now})
	u, err := e.srv.CreateUser(clerkemu.UserParams{Email: "o@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.srv.CreateOAuthAccessToken(clerkemu.OAuthAccessTokenParams{Subject: u.ID, Scopes: []string{"profile", "email"}})
	if err != nil {
		t.Fatal(err)
	}
	if !oauthIDForm.MatchString(tok.ID) || !strings.HasPrefix(tok.Token, "oat_") || !strings.HasPrefix(tok.ClientID, "client_") ||
		tok.Expiration == nil || *tok.Expiration != epoch.Add(time.Hour).UnixMilli() {
		t.Errorf("created %+v", tok)
	}
	for _, body := range []string{`{"access_token":"` + tok.Token + `"}`, `{"secret":"` + tok.Token + `"}`} {
		resp := e.do(t, "POST", "/v1/oauth_applications/access_tokens/verify", body)
		var got clerkemu.OAuthAccessToken
		resp.decode(t, &got)
		if resp.status != http.StatusOK || got.ID != tok.ID || got.Subject != u.ID || got.ClientID != tok.ClientID ||
			!slices.Equal(got.Scopes, []string{"profile", "email"}) || got.Object != "clerk_idp_oauth_access_token" ||
			strings.Contains(string(resp.body), tok.Token) {
			t.Errorf("verify %s: %d %s", body, resp.status, resp.body)
		}
	}
	resp := e.do(t, "POST", "/v1/oauth_applications/access_tokens/verify", `{}`)
	if code, param := resp.clerkError(t); code != clerkemu.CodeParamMissing || param != "access_token" {
		t.Errorf("no token: %d %s", resp.status, resp.body)
	}
	if _, err := e.srv.RevokeOAuthAccessToken(tok.ID); err != nil {
		t.Fatal(err)
	}
	resp = e.do(t, "POST", "/v1/oauth_applications/access_tokens/verify", `{"access_token":"`+tok.Token+`"}`)
	if code, _ := resp.clerkError(t); resp.status != http.StatusNotFound || code != clerkemu.CodeNotFound {
		t.Errorf("revoked: %d %s", resp.status, resp.body)
	}
	if _, err := e.srv.RevokeOAuthAccessToken(tok.ID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if _, err := e.srv.RevokeAPIKey(tok.ID); err == nil {
		t.Error("RevokeAPIKey revoked an OAuth token")
	}

	short, err := e.srv.CreateOAuthAccessToken(clerkemu.OAuthAccessTokenParams{Subject: u.ID, Expiration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	resp = e.do(t, "POST", "/v1/oauth_applications/access_tokens/verify", `{"access_token":"`+short.Token+`"}`)
	if resp.status != http.StatusNotFound {
		t.Errorf("expired: %d %s", resp.status, resp.body)
	}
	if _, err := e.srv.CreateOAuthAccessToken(clerkemu.OAuthAccessTokenParams{Subject: "org_x"}); err == nil {
		t.Error("an OAuth token for an organization")
	}
	if st := e.srv.MachineStats(); st.OAuthTokenVerifies != 5 {
		t.Errorf("stats %+v", st)
	}
}

// TestMachineVerifyFaults: verification goes through the API faults like
// every other call, and a request a fault stopped is not counted.
func TestMachineVerifyFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	k, err := e.srv.CreateAPIKey(clerkemu.APIKeyParams{Subject: "mch_" + strings.Repeat("d", 27)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetFaults(clerkemu.Faults{API: clerkemu.Fault{Mode: clerkemu.FaultFail, Status: 503}}); err != nil {
		t.Fatal(err)
	}
	status, _ := mustDo(t, e.srv, "POST", "/v1/api_keys/verify", `{"secret":"`+k.Secret+`"}`)
	if status != http.StatusServiceUnavailable || e.srv.MachineVerifyCalls() != 0 {
		t.Errorf("under a fault: %d, %d calls", status, e.srv.MachineVerifyCalls())
	}
	e.srv.ClearFaults()
	if status, _ := mustDo(t, e.srv, "POST", "/v1/api_keys/verify", `{"secret":"`+k.Secret+`"}`); status != http.StatusOK ||
		e.srv.MachineVerifyCalls() != 1 {
		t.Errorf("after the fault: %d, %d calls", status, e.srv.MachineVerifyCalls())
	}
	// A wrong secret key is 401 before the route: not counted either.
	resp := e.do(t, "POST", "/v1/api_keys/verify", `{"secret":"`+k.Secret+`"}`, "Authorization", "Bearer sk_test_wrong")
	if code, _ := resp.clerkError(t); resp.status != http.StatusUnauthorized || code != clerkemu.CodeKeyInvalid ||
		e.srv.MachineVerifyCalls() != 1 {
		t.Errorf("wrong key: %d %s, %d calls", resp.status, resp.body, e.srv.MachineVerifyCalls())
	}
}
