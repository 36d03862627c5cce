package verify_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// The examples stand in for a Clerk instance: one RSA key, a key set that
// serves it, and session tokens signed with it.

var exampleKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// exampleToken returns a session token of user_2abc, session sess_2xyz,
// changed by name/value pairs.
func exampleToken(kv ...any) string {
	now := time.Now()
	claims := map[string]any{
		"iss": "https://clerk.example.com", "sub": "user_2abc", "sid": "sess_2xyz",
		"iat": now.Unix(), "nbf": now.Unix() - 5, "exp": now.Unix() + 60, "v": 2,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		claims[kv[i].(string)] = kv[i+1]
	}
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "ins_example", "typ": "JWT"})
	pl, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(hdr) + "." + enc.EncodeToString(pl)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, exampleKey(), crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

// exampleBackendAPI serves GET /v1/jwks as Clerk's Backend API does: only to
// the instance's secret key.
func exampleBackendAPI(secretKey string) *httptest.Server {
	pub := exampleKey().PublicKey
	set := map[string]any{"keys": []map[string]string{{
		"use": "sig", "kty": "RSA", "kid": "ins_example", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/jwks" || r.Header.Get("Authorization") != "Bearer "+secretKey {
			http.Error(w, `{"errors":[{"code":"authentication_invalid"}]}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	}))
}

// examplePEM is the instance's public key as the Clerk Dashboard shows it
// (CLERK_JWT_KEY).
func examplePEM() string {
	der, err := x509.MarshalPKIXPublicKey(&exampleKey().PublicKey)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// A Verifier that fetches the instance's keys from the Backend API with the
// secret key, keeps them fresh in the background, and checks a token.
func ExampleNew() {
	api := exampleBackendAPI("sk_test_example") // https://api.clerk.com in production
	defer api.Close()

	v, err := verify.New(verify.Options{
		JWKSURL:   api.URL + "/v1/jwks",
		SecretKey: "sk_test_example", // CLERK_SECRET_KEY
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	v.Start(ctx) // fetch the key set now, then refresh it until ctx ends

	claims, err := v.Verify(ctx, exampleToken())
	if err != nil {
		fmt.Println("rejected:", clerkgate.ErrorCode(err))
		return
	}
	fmt.Println(claims.Subject, claims.SessionID)
	// Output: user_2abc sess_2xyz
}

// With CLERK_JWT_KEY there is one key and no network call at all. Issuer,
// when set, is the only iss accepted (CLERK_ISSUER).
func ExampleNew_staticKey() {
	v, err := verify.New(verify.Options{
		JWTKey: examplePEM(), // CLERK_JWT_KEY
		Issuer: "https://clerk.example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok := exampleToken("o", map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": "read", "fpm": "1"}, "fea", "o:reports")
	claims, err := v.Verify(context.Background(), tok)
	if err != nil {
		fmt.Println("rejected:", clerkgate.ErrorCode(err))
		return
	}
	fmt.Println(claims.Subject, claims.Org.Slug, claims.Org.Role, claims.Org.Permissions)

	expired := exampleToken("exp", time.Now().Add(-time.Hour).Unix())
	_, err = v.Verify(context.Background(), expired)
	fmt.Println(clerkgate.ErrorCode(err))
	// Output:
	// user_2abc acme org:admin [org:reports:read]
	// token_expired
}

// A handler that takes the token from the Authorization header or the
// __session cookie and answers failures with their contract code.
func ExampleVerifier_VerifyRequest() {
	v, err := verify.New(verify.Options{JWTKey: examplePEM()})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := v.VerifyRequest(r, verify.Policy{})
		if err != nil {
			code := clerkgate.ErrorCode(err)
			if code.Status() == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="example"`)
			}
			http.Error(w, string(code), code.Status())
			return
		}
		fmt.Fprintf(w, "hello %s\n", claims.Subject)
	})

	for _, set := range []func(r *http.Request){
		func(r *http.Request) {},
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+exampleToken()) },
		func(r *http.Request) { r.AddCookie(&http.Cookie{Name: verify.SessionCookie, Value: exampleToken()}) },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+exampleToken("sts", "pending")) },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer not.a.token") },
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		set(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Body.String())
	}
	// Output:
	// 401 unauthenticated
	// 200 hello user_2abc
	// 200 hello user_2abc
	// 401 session_pending
	// 401 token_invalid
}

// A deny list cuts a session or a user off at once, even for a token that
// was verified (and cached) a moment before: feed it from logouts,
// session.revoked webhooks and bans.
func ExampleMemoryDenyList() {
	deny := &verify.MemoryDenyList{}
	v, err := verify.New(verify.Options{JWTKey: examplePEM(), DenyList: deny})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	tok := exampleToken()
	_, err = v.Verify(ctx, tok)
	fmt.Println("before:", err)

	// Logout: deny the session until its last token has expired anyway.
	deny.DenySession("sess_2xyz", time.Now().Add(2*time.Minute))
	_, err = v.Verify(ctx, tok)
	fmt.Println("after logout:", clerkgate.ErrorCode(err))

	// A ban holds every session of the user until lifted.
	deny.DenyUser("user_2abc")
	_, err = v.Verify(ctx, exampleToken("sid", "sess_other"))
	fmt.Println("banned:", clerkgate.ErrorCode(err))
	deny.AllowUser("user_2abc")
	_, err = v.Verify(ctx, exampleToken("sid", "sess_other"))
	fmt.Println("unbanned:", err)
	// Output:
	// before: <nil>
	// after logout: session_revoked
	// banned: session_revoked
	// unbanned: <nil>
}
