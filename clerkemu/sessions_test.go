package clerkemu_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
	"github.com/clerk/clerk-sdk-go/v2/jwt"
	"github.com/clerk/clerk-sdk-go/v2/session"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// decodeJWT returns a token's header and claims without verifying it.
func decodeJWT(tb testing.TB, tok string) (header, claims map[string]any) {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			tb.Fatalf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			tb.Fatalf("part %d: %v", i, err)
		}
	}
	return header, claims
}

// fetchKey returns the JWKS entry with kid, fetched through the SDK.
func (e *env) fetchKey(tb testing.TB, kid string) *clerk.JSONWebKey {
	tb.Helper()
	set, err := e.jwks.Get(ctx(), &jwks.GetParams{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.KeyID == kid {
			return k
		}
	}
	tb.Fatalf("kid %s not in the JWKS", kid)
	return nil
}

func TestSessionsAndTokensThroughSDK(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: epoch}
	e := newEnv(t, clerkemu.Options{Clock: clk.Now})
	u, err := e.srv.CreateUser(clerkemu.UserParams{Email: "s@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.sessions.Create(ctx(), &session.CreateParams{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.ID, "sess_") || !strings.HasPrefix(s.ClientID, "client_") || s.Status != "active" ||
		s.UserID != u.ID || s.CreatedAt != epoch.UnixMilli() || s.ExpireAt <= s.CreatedAt || s.AbandonAt < s.ExpireAt {
		t.Errorf("session %+v", s)
	}
	if got, err := e.sessions.Get(ctx(), s.ID); err != nil || got.ID != s.ID {
		t.Errorf("get: %v %+v", err, got)
	}
	if u2, _ := e.srv.GetUser(u.ID); u2.LastSignInAt == nil || *u2.LastSignInAt != epoch.UnixMilli() {
		t.Errorf("last_sign_in_at %v", u2.LastSignInAt)
	}

	tok, err := e.sessions.CreateToken(ctx(), &session.CreateTokenParams{ID: s.ID, ExpiresInSeconds: clerk.Int64(600)})
	if err != nil || tok.Object != "token" {
		t.Fatalf("token: %v %+v", err, tok)
	}
	header, _ := decodeJWT(t, tok.JWT)
	key := e.fetchKey(t, header["kid"].(string))
	claims, err := jwt.Verify(ctx(), &jwt.VerifyParams{Token: tok.JWT, JWK: key, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != u.ID || claims.SessionID != s.ID || claims.Issuer != e.srv.Issuer() {
		t.Errorf("claims sub %q sid %q iss %q", claims.Subject, claims.SessionID, claims.Issuer)
	}
	if *claims.Expiry-*claims.IssuedAt != 600 || *claims.IssuedAt != epoch.Unix() {
		t.Errorf("iat %d exp %d", *claims.IssuedAt, *claims.Expiry)
	}
	if claims.ActiveOrganizationID != "" {
		t.Errorf("org claims without an org: %+v", claims.Claims)
	}
	// The SDK verifies the same token with the PEM the instance publishes.
	pemKey, err := clerk.JSONWebKeyFromPEM(e.srv.PublicKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Verify(ctx(), &jwt.VerifyParams{Token: tok.JWT, JWK: pemKey, Clock: clk}); err != nil {
		t.Errorf("verify with PEM: %v", err)
	}
	// ...and refuses it once it has expired.
	clk.Advance(601 * time.Second)
	if _, err := jwt.Verify(ctx(), &jwt.VerifyParams{Token: tok.JWT, JWK: key, Clock: clk}); err == nil {
		t.Error("an expired token verified")
	}

	list, err := e.sessions.List(ctx(), &session.ListParams{UserID: clerk.String(u.ID)})
	if err != nil || list.TotalCount != 1 || len(list.Sessions) != 1 || list.Sessions[0].ID != s.ID {
		t.Fatalf("list: %v %+v", err, list)
	}

	revoked, err := e.sessions.Revoke(ctx(), &session.RevokeParams{ID: s.ID})
	if err != nil || revoked.Status != "revoked" {
		t.Fatalf("revoke: %v %+v", err, revoked)
	}
	_, err = e.sessions.CreateToken(ctx(), &session.CreateTokenParams{ID: s.ID})
	apiError(t, err, http.StatusNotFound, "resource_not_found")
	for status, n := range map[string]int64{"revoked": 1, "active": 0} {
		list, err := e.sessions.List(ctx(), &session.ListParams{UserID: clerk.String(u.ID), Status: clerk.String(status)})
		if err != nil || list.TotalCount != n {
			t.Errorf("list status=%s: %v %+v", status, err, list)
		}
	}
	_, err = e.sessions.Get(ctx(), "sess_missing")
	apiError(t, err, http.StatusNotFound, "resource_not_found")
	_, err = e.sessions.Create(ctx(), &session.CreateParams{UserID: "user_missing"})
	apiError(t, err, http.StatusNotFound, "resource_not_found")
}

func TestSessionTokenShape(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: epoch}
	e := newEnv(t, clerkemu.Options{Clock: clk.Now, TokenTTL: 90 * time.Second})
	admin, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "admin@example.com"})
	member, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "member@example.com"})
	org, err := e.srv.CreateOrganization("Acme Inc", "acme", admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddMembership(org.ID, member.ID, "org:member"); err != nil {
		t.Fatal(err)
	}
	jtiRE := regexp.MustCompile(`^[0-9a-f]{20}$`)

	tests := []struct {
		name     string
		create   string // POST /v1/sessions body; %u is the user id
		userID   string
		wantO    map[string]any
		wantFea  string
		wantPerm []string
		extra    map[string]any // other claims expected
	}{
		{name: "no organization", create: `{"user_id":"%u"}`, userID: admin.ID},
		{name: "admin of the active org", create: `{"user_id":"%u","active_organization_id":"` + org.ID + `"}`, userID: admin.ID,
			wantO:    map[string]any{"id": org.ID, "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,3"},
			wantFea:  "o:dashboard,o:teams",
			wantPerm: []string{"org:dashboard:manage", "org:dashboard:read", "org:teams:manage", "org:teams:read"}},
		{name: "member of the active org", create: `{"user_id":"%u","active_organization_id":"` + org.ID + `"}`, userID: member.ID,
			wantO:    map[string]any{"id": org.ID, "slg": "acme", "rol": "member", "per": "read", "fpm": "1,1"},
			wantFea:  "o:dashboard,o:teams",
			wantPerm: []string{"org:dashboard:read", "org:teams:read"}},
		{name: "pending", create: `{"user_id":"%u","status":"pending"}`, userID: member.ID,
			extra: map[string]any{"sts": "pending"}},
		{name: "impersonated, with azp", create: `{"user_id":"%u","actor":{"sub":"` + admin.ID + `"},"azp":"https://app.example.com"}`,
			userID: member.ID, extra: map[string]any{"act": map[string]any{"sub": admin.ID}, "azp": "https://app.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "POST", "/v1/sessions", strings.ReplaceAll(tt.create, "%u", tt.userID))
			var s clerkemu.Session
			r.decode(t, &s)
			if r.status != 200 {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			r = e.do(t, "POST", "/v1/sessions/"+s.ID+"/tokens", "null")
			var tok struct{ Object, JWT string }
			r.decode(t, &tok)
			header, claims := decodeJWT(t, tok.JWT)
			if !reflect.DeepEqual(header, map[string]any{"alg": "RS256", "kid": e.srv.KeyID(), "typ": "JWT"}) {
				t.Errorf("header %v", header)
			}
			iat := float64(epoch.Unix())
			want := map[string]any{
				"iss": e.srv.Issuer(), "sub": tt.userID, "sid": s.ID, "iat": iat, "exp": iat + 90, "nbf": iat - 5,
				"v": float64(2), "fva": []any{float64(0), float64(-1)}, "jti": claims["jti"],
			}
			if tt.wantO != nil {
				want["o"], want["fea"] = tt.wantO, tt.wantFea
			}
			for k, v := range tt.extra {
				want[k] = v
			}
			if !reflect.DeepEqual(claims, want) {
				t.Errorf("claims\n got %v\nwant %v", claims, want)
			}
			if jti, _ := claims["jti"].(string); !jtiRE.MatchString(jti) {
				t.Errorf("jti %q", jti)
			}
			got, err := jwt.Verify(ctx(), &jwt.VerifyParams{Token: tok.JWT, JWK: e.fetchKey(t, e.srv.KeyID()), Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantO == nil {
				if got.ActiveOrganizationID != "" || got.Version != 1 {
					t.Errorf("SDK org %q version %d", got.ActiveOrganizationID, got.Version)
				}
				return
			}
			perms := slices.Clone(got.ActiveOrganizationPermissions)
			slices.Sort(perms)
			if got.ActiveOrganizationID != org.ID || got.ActiveOrganizationSlug != "acme" ||
				got.ActiveOrganizationRole != "org:"+tt.wantO["rol"].(string) || !reflect.DeepEqual(perms, tt.wantPerm) {
				t.Errorf("SDK reads org %q slug %q role %q perms %v", got.ActiveOrganizationID,
					got.ActiveOrganizationSlug, got.ActiveOrganizationRole, perms)
			}
		})
	}

	t.Run("fva counts minutes since sign-in", func(t *testing.T) {
		c2 := &fixedClock{t: epoch}
		e2 := newEnv(t, clerkemu.Options{Clock: c2.Now})
		u, _ := e2.srv.CreateUser(clerkemu.UserParams{})
		s, _ := e2.srv.CreateSession(u.ID, "")
		c2.Advance(90*time.Minute + 30*time.Second)
		tok, err := e2.srv.SessionToken(s.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, claims := decodeJWT(t, tok)
		if !reflect.DeepEqual(claims["fva"], []any{float64(90), float64(-1)}) || claims["exp"].(float64)-claims["iat"].(float64) != 60 {
			t.Errorf("fva %v, lifetime %v", claims["fva"], claims["exp"].(float64)-claims["iat"].(float64))
		}
		// Past the session lifetime the session reads as expired and issues no tokens.
		c2.Advance(8 * 24 * time.Hour)
		if got, _ := e2.srv.GetSession(s.ID); got.Status != "expired" {
			t.Errorf("status %q after 8 days", got.Status)
		}
		if _, err := e2.srv.SessionToken(s.ID, 0); err == nil {
			t.Error("an expired session issued a token")
		}
	})

	t.Run("membership removed drops the o claim", func(t *testing.T) {
		s, err := e.srv.CreateSession(member.ID, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.RemoveMembership(org.ID, member.ID); err != nil {
			t.Fatal(err)
		}
		tok, _ := e.srv.SessionToken(s.ID, 0)
		if _, claims := decodeJWT(t, tok); claims["o"] != nil || claims["fea"] != nil {
			t.Errorf("o %v fea %v after the membership ended", claims["o"], claims["fea"])
		}
	})
}

func TestSessionRequestRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "r@example.com"})
	outsider, _ := e.srv.CreateUser(clerkemu.UserParams{})
	org, _ := e.srv.CreateOrganization("Org", "", u.ID)
	s, _ := e.srv.CreateSession(u.ID, "")
	ended, _ := e.srv.CreateSession(u.ID, "")
	if _, err := e.srv.RevokeSession(ended.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		code, param              string
	}{
		{"no user_id", "POST", "/v1/sessions", `{}`, 422, "form_param_missing", "user_id"},
		{"unknown user", "POST", "/v1/sessions", `{"user_id":"user_nope"}`, 404, "resource_not_found", ""},
		{"unknown org", "POST", "/v1/sessions", `{"user_id":"` + u.ID + `","active_organization_id":"org_nope"}`, 404, "resource_not_found", ""},
		{"not a member", "POST", "/v1/sessions", `{"user_id":"` + outsider.ID + `","active_organization_id":"` + org.ID + `"}`, 422, "form_param_value_invalid", "active_organization_id"},
		{"bad status", "POST", "/v1/sessions", `{"user_id":"` + u.ID + `","status":"revoked"}`, 422, "form_param_value_invalid", "status"},
		{"list without user or client", "GET", "/v1/sessions", "", 422, "form_param_missing", "user_id"},
		{"list with bad status", "GET", "/v1/sessions?user_id=" + u.ID + "&status=zombie", "", 422, "form_param_value_invalid", "status"},
		{"ttl too short", "POST", "/v1/sessions/" + s.ID + "/tokens", `{"expires_in_seconds":29}`, 422, "form_param_value_invalid", "expires_in_seconds"},
		{"ttl too long", "POST", "/v1/sessions/" + s.ID + "/tokens", `{"expires_in_seconds":315360001}`, 422, "form_param_value_invalid", "expires_in_seconds"},
		{"ttl not an integer", "POST", "/v1/sessions/" + s.ID + "/tokens", `{"expires_in_seconds":"60"}`, 422, "form_param_format_invalid", "expires_in_seconds"},
		{"ttl fractional", "POST", "/v1/sessions/" + s.ID + "/tokens", `{"expires_in_seconds":60.5}`, 422, "form_param_format_invalid", "expires_in_seconds"},
		{"token of a revoked session", "POST", "/v1/sessions/" + ended.ID + "/tokens", `{}`, 404, "resource_not_found", ""},
		{"token of an unknown session", "POST", "/v1/sessions/sess_nope/tokens", ``, 404, "resource_not_found", ""},
		{"template token", "POST", "/v1/sessions/" + s.ID + "/tokens/supabase", `null`, 404, "resource_not_found", ""},
		{"revoke unknown", "POST", "/v1/sessions/sess_nope/revoke", `null`, 404, "resource_not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.method, tt.path, tt.body)
			code, param := r.clerkError(t)
			if r.status != tt.status || code != tt.code || param != tt.param {
				t.Errorf("%d %s (param %q), want %d %s (param %q)", r.status, code, param, tt.status, tt.code, tt.param)
			}
		})
	}

	t.Run("token lifetime bounds are inclusive", func(t *testing.T) {
		for _, secs := range []int{30, 315360000} {
			r := e.do(t, "POST", "/v1/sessions/"+s.ID+"/tokens", `{"expires_in_seconds":`+itoa(secs)+`}`)
			var tok struct{ JWT string }
			r.decode(t, &tok)
			_, claims := decodeJWT(t, tok.JWT)
			if got := claims["exp"].(float64) - claims["iat"].(float64); got != float64(secs) {
				t.Errorf("lifetime %v, want %d", got, secs)
			}
		}
	})

	t.Run("plain array without paginated", func(t *testing.T) {
		r := e.do(t, "GET", "/v1/sessions?user_id="+u.ID+"&limit=1", "")
		var list []clerkemu.Session
		r.decode(t, &list)
		if len(list) != 1 || list[0].ID != ended.ID {
			t.Errorf("got %s, want the newest session first", r.body)
		}
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
