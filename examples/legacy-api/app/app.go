// Package app is an existing API with its own login, as many were before
// Clerk: email and password (bcrypt) give an HS256 JWT whose sub is the
// local user id, a refresh token renews it, and the API's routes accept
// that JWT. It is the "before" of clerkgate's migration guide
// (docs/migration.md) and of its end-to-end test: put clerkgate in front
// (Options.TrustGateway) and the routes read the caller from the
// X-Clerkgate-User-Id header instead, whichever credential the client
// used, legacy token or Clerk session token.
//
//	POST /auth/login     {"email","password"} → {"access_token","refresh_token","expires_in"}
//	POST /auth/refresh   {"refresh_token"}    → the same, a new pair (the old refresh token ends)
//	GET  /api/profile    the caller: {"id","email","first_name","last_name","role","auth"}
//	GET  /healthz        {"status":"ok"}
package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// User is a user of the API's own user table.
type User struct {
	ID           string
	Email        string
	PasswordHash string // bcrypt
	FirstName    string
	LastName     string
	Role         string
}

// Options configures the API.
type Options struct {
	// Secret signs and verifies the API's HS256 tokens.
	Secret []byte
	// Issuer is the tokens' iss; "" means "legacy-api".
	Issuer string
	// TokenTTL is how long an access token lasts; 0 means 15 minutes.
	TokenTTL time.Duration
	// TrustGateway makes /api/* read the caller from X-Clerkgate-User-Id,
	// which clerkgate sets (after removing any the client sent), instead
	// of verifying the API's own token. Only for an API that nothing but
	// clerkgate can reach.
	TrustGateway bool
	// Users are the API's users.
	Users []User
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// api is the running API.
type api struct {
	o       Options
	byID    map[string]User
	byEmail map[string]User
	dummy   string // a digest compared against for unknown addresses

	mu      sync.Mutex
	refresh map[string]refreshToken // by SHA-256 of the token
}

// refreshToken is a stored refresh token.
type refreshToken struct {
	userID  string
	expires time.Time
}

// New returns the API's handler.
func New(o Options) (http.Handler, error) {
	if len(o.Secret) == 0 {
		return nil, errors.New("legacy-api: a token secret is required")
	}
	if o.Issuer == "" {
		o.Issuer = "legacy-api"
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 15 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &api{o: o, byID: map[string]User{}, byEmail: map[string]User{}, refresh: map[string]refreshToken{}}
	cost := bcrypt.DefaultCost
	for _, u := range o.Users {
		if c, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil {
			cost = c
			break
		}
	}
	var pw [16]byte
	rand.Read(pw[:])
	dummy, err := bcrypt.GenerateFromPassword(pw[:], cost)
	if err != nil {
		return nil, err
	}
	a.dummy = string(dummy)
	for _, u := range o.Users {
		a.byID[u.ID] = u
		a.byEmail[strings.ToLower(u.Email)] = u
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login", a.handleLogin)
	mux.HandleFunc("POST /auth/refresh", a.handleRefresh)
	mux.Handle("GET /api/profile", a.authenticated(a.handleProfile))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux, nil
}

// HashPassword returns the bcrypt digest of password, as the API stores it.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// tokens is the answer of login and refresh.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
}

func (a *api) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "send {\"email\",\"password\"}")
		return
	}
	u, ok := a.byEmail[strings.ToLower(in.Email)]
	hash := u.PasswordHash
	if !ok {
		hash = a.dummy // the same work for unknown addresses
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(in.Password)) != nil || !ok {
		writeError(w, http.StatusUnauthorized, "wrong email or password")
		return
	}
	a.issue(w, u.ID)
}

func (a *api) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.RefreshToken == "" {
		writeError(w, http.StatusBadRequest, "send {\"refresh_token\"}")
		return
	}
	key := digest(in.RefreshToken)
	a.mu.Lock()
	rt, ok := a.refresh[key]
	delete(a.refresh, key)
	a.mu.Unlock()
	if !ok || !a.o.Now().Before(rt.expires) {
		writeError(w, http.StatusUnauthorized, "the refresh token is not valid")
		return
	}
	a.issue(w, rt.userID)
}

// issue answers a new access and refresh token for the user id.
func (a *api) issue(w http.ResponseWriter, id string) {
	now := a.o.Now()
	access, err := a.sign(map[string]any{"sub": id, "iss": a.o.Issuer, "iat": now.Unix(), "exp": now.Add(a.o.TokenTTL).Unix()})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	var b [32]byte
	rand.Read(b[:])
	refresh := hex.EncodeToString(b[:])
	a.mu.Lock()
	a.refresh[digest(refresh)] = refreshToken{userID: id, expires: now.Add(30 * 24 * time.Hour)}
	a.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(a.o.TokenTTL.Seconds())})
}

// profile is the answer of GET /api/profile.
type profile struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      string `json:"role"`
	// Auth is how the caller signed in: "token" (the API's own token), or
	// clerkgate's X-Clerkgate-Auth ("legacy", "session").
	Auth string `json:"auth"`
}

func (a *api) handleProfile(w http.ResponseWriter, r *http.Request, u User, auth string) {
	writeJSON(w, http.StatusOK, profile{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Role: u.Role, Auth: auth})
}

// authenticated finds the caller: from clerkgate's headers with
// TrustGateway, else from the API's own bearer token.
func (a *api) authenticated(next func(http.ResponseWriter, *http.Request, User, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, auth := "", "token"
		if a.o.TrustGateway {
			id, auth = r.Header.Get("X-Clerkgate-User-Id"), r.Header.Get("X-Clerkgate-Auth")
		} else {
			var err error
			if id, err = a.verify(r); err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="legacy-api"`)
				writeError(w, http.StatusUnauthorized, "sign in first")
				return
			}
		}
		u, ok := a.byID[id]
		if !ok {
			writeError(w, http.StatusUnauthorized, "unknown user")
			return
		}
		next(w, r, u, auth)
	})
}

// sign makes an HS256 JWT of claims.
func (a *api) sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	in := b64(`{"alg":"HS256","typ":"JWT"}`) + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, a.o.Secret)
	mac.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// verify checks the request's bearer token and returns its sub.
func (a *api) verify(r *http.Request) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(tok, ".")
	if !ok || len(parts) != 3 || parts[0] != b64(`{"alg":"HS256","typ":"JWT"}`) {
		return "", errors.New("no token")
	}
	mac := hmac.New(sha256.New, a.o.Secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return "", errors.New("bad signature")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Sub string `json:"sub"`
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
	}
	if err != nil || json.Unmarshal(payload, &c) != nil || c.Iss != a.o.Issuer || a.o.Now().Unix() >= c.Exp {
		return "", errors.New("invalid claims")
	}
	return c.Sub, nil
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
