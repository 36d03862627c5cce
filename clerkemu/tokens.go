package clerkemu

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Bounds of expires_in_seconds on POST /v1/sessions/{id}/tokens.
const (
	minTokenTTL = 30 * time.Second
	maxTokenTTL = 315360000 * time.Second // ten years
)

// nbfSkew is how long before iat a session token becomes valid.
const nbfSkew = 5 * time.Second

// sessionClaims are the claims of a Clerk v2 session token, in Clerk's
// (alphabetical) order.
type sessionClaims struct {
	Act map[string]any `json:"act,omitempty"`
	Azp string         `json:"azp,omitempty"`
	Exp int64          `json:"exp"`
	Fea string         `json:"fea,omitempty"`
	Fva [2]int64       `json:"fva"`
	Iat int64          `json:"iat"`
	Iss string         `json:"iss"`
	Jti string         `json:"jti"`
	Nbf int64          `json:"nbf"`
	O   *orgClaim      `json:"o,omitempty"`
	Sid string         `json:"sid"`
	Sts string         `json:"sts,omitempty"`
	Sub string         `json:"sub"`
	V   int            `json:"v"`
}

// orgClaim is the o claim: the active organization.
type orgClaim struct {
	Fpm string `json:"fpm"`
	ID  string `json:"id"`
	Per string `json:"per"`
	Rol string `json:"rol"`
	Slg string `json:"slg"`
}

// SessionToken returns a session token for a live (active or pending)
// session, signed with the current key, as POST /v1/sessions/{id}/tokens
// does. ttl 0 means Options.TokenTTL.
func (e *Emulator) SessionToken(sessionID string, ttl time.Duration) (string, error) {
	if ttl == 0 {
		ttl = e.tokenTTL
	}
	if ttl < time.Second {
		return "", errValue("expires_in_seconds", "expires_in_seconds must be positive.")
	}
	return e.sessionToken(sessionID, ttl)
}

// sessionToken builds the claims under the lock and signs outside it.
func (e *Emulator) sessionToken(sessionID string, ttl time.Duration) (string, error) {
	var claims sessionClaims
	var key signingKey
	err := e.update(func(t *tx) error {
		rec, err := e.session(sessionID)
		if err != nil {
			return err
		}
		if !rec.live(t.now) {
			return errNotFound("Session " + sessionID + " is " + rec.statusAt(t.now) + "; tokens are issued only for active and pending sessions.")
		}
		claims = e.claimsFor(rec, t.now, ttl)
		key = e.keys.current
		rec.s.LastActiveAt = millis(t.now)
		if u, ok := e.users[rec.s.UserID]; ok {
			u.u.LastActiveAt = ptr(millis(t.now))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("clerkemu: encode claims: %w", err)
	}
	return signJWT(key, map[string]any{"alg": "RS256", "kid": key.kid, "typ": "JWT"}, payload)
}

// claimsFor builds a session's token claims; the caller holds the lock.
func (e *Emulator) claimsFor(rec *sessionRecord, now time.Time, ttl time.Duration) sessionClaims {
	iat := now.Unix()
	c := sessionClaims{
		Act: cloneActor(rec.s.Actor),
		Azp: rec.azp,
		Exp: iat + int64(ttl/time.Second),
		Fva: [2]int64{int64(now.Sub(time.UnixMilli(rec.s.CreatedAt)) / time.Minute), -1},
		Iat: iat,
		Iss: e.issuer,
		Jti: newJTI(),
		Nbf: iat - int64(nbfSkew/time.Second),
		Sid: rec.s.ID,
		Sub: rec.s.UserID,
		V:   2,
	}
	if c.Fva[0] < 0 {
		c.Fva[0] = 0
	}
	if rec.statusAt(now) == StatusPending {
		c.Sts = StatusPending
	}
	if rec.s.LastActiveOrganizationID != nil {
		orgID := *rec.s.LastActiveOrganizationID
		org, okOrg := e.orgs[orgID]
		m := e.membership(orgID, rec.s.UserID)
		if okOrg && m != nil {
			fea, per, fpm := featureClaims(e.roles[m.role].Permissions)
			c.Fea = fea
			c.O = &orgClaim{ID: orgID, Slg: org.o.Slug, Rol: strings.TrimPrefix(m.role, "org:"), Per: per, Fpm: fpm}
		}
	}
	return c
}

func cloneActor(a map[string]any) map[string]any {
	if a == nil {
		return nil
	}
	return cloneMap(a)
}

// newJTI returns a random token id of 20 hex digits, like Clerk's.
func newJTI() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Sign signs arbitrary claims with the current key (RS256), for tests that
// need tokens Clerk would never issue: expired, not yet valid, without sub,
// with a foreign issuer, and so on. The header is {"alg":"RS256","kid":
// <current kid>,"typ":"JWT"}; members of header are added or replace those,
// and a member whose value is nil is removed (e.g. {"kid": nil}). The
// signature is always RS256 whatever header["alg"] says.
func (e *Emulator) Sign(claims map[string]any, header map[string]any) (string, error) {
	key := e.signer()
	h := map[string]any{"alg": "RS256", "kid": key.kid, "typ": "JWT"}
	for k, v := range header {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	if claims == nil {
		claims = map[string]any{}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("clerkemu: encode claims: %w", err)
	}
	return signJWT(key, h, payload)
}

// signJWT assembles and signs a compact JWS with RSASSA-PKCS1-v1_5 SHA-256.
func signJWT(key signingKey, header map[string]any, payload []byte) (string, error) {
	hdr, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("clerkemu: encode header: %w", err)
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(hdr) + "." + enc.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(nil, key.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("clerkemu: sign token: %w", err)
	}
	return signingInput + "." + enc.EncodeToString(sig), nil
}
