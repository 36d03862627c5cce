package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/user"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// startEmulator runs "clerkgate emulator" on a free port until the test
// ends and returns the KEY=value lines it printed. The cleanup cancels the
// context and checks that run returns nil promptly.
func startEmulator(t *testing.T, env map[string]string, args ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		args := append([]string{"clerkgate", "emulator", "--addr", "127.0.0.1:0"}, args...)
		done <- run(ctx, args, getenvFrom(env), strings.NewReader(""), stdoutW, stderr)
		stdoutW.Close()
	}()
	stopped := false
	t.Cleanup(func() {
		if stopped {
			return
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("emulator run() = %v after cancel, want nil", err)
			}
		case <-time.After(shutdownTimeout + 5*time.Second):
			t.Errorf("emulator run() did not return after cancel")
		}
	})

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	vars := map[string]string{}
	deadline := time.After(30 * time.Second)
	for len(vars) < 4 {
		select {
		case line, ok := <-lines:
			if !ok {
				stopped = true
				t.Fatalf("emulator stopped before it was ready: %v\nstderr:\n%s", <-done, stderr.String())
			}
			k, v, found := strings.Cut(line, "=")
			if !found || v == "" || strings.ContainsAny(line, "\"' ") || strings.HasPrefix(line, "export") {
				t.Fatalf("stdout line %q is not a plain KEY=value line", line)
			}
			vars[k] = v
		case <-deadline:
			t.Fatalf("emulator printed no ready lines in time; stderr:\n%s", stderr.String())
		}
	}
	go func() { // drain: nothing more is expected, but never block the emulator
		for range lines {
		}
	}()
	for _, k := range []string{"CLERK_API_URL", "CLERK_SECRET_KEY", "CLERK_JWT_KEY", "CLERK_ISSUER"} {
		if vars[k] == "" {
			t.Fatalf("emulator did not print %s; got %v", k, vars)
		}
	}
	t.Cleanup(func() {
		if strings.Contains(stderr.String(), vars["CLERK_SECRET_KEY"]) {
			t.Errorf("the secret key reached the log:\n%s", stderr.String())
		}
	})
	return vars
}

func TestEmulatorAndToken(t *testing.T) {
	t.Parallel()
	vars := startEmulator(t, map[string]string{"LOG_FORMAT": "text", "LOG_LEVEL": "debug"})
	apiURL, sk := vars["CLERK_API_URL"], vars["CLERK_SECRET_KEY"]
	if strings.HasSuffix(apiURL, "/v1") || strings.HasSuffix(apiURL, ":0") || !strings.HasPrefix(apiURL, "http://127.0.0.1:") {
		t.Errorf("CLERK_API_URL = %q, want http://127.0.0.1:<bound port> without /v1", apiURL)
	}
	if !strings.HasPrefix(sk, "sk_") {
		t.Errorf("CLERK_SECRET_KEY = %q, want sk_...", sk)
	}
	pub := mustParseJWTKey(t, vars["CLERK_JWT_KEY"])
	ctx := context.Background()

	t.Run("jwks serves the printed key", func(t *testing.T) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+"/v1/jwks", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+sk)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/jwks: status %d, want 200", resp.StatusCode)
		}
		var jwks struct {
			Keys []struct{ Kid, Kty, N, E string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, k := range jwks.Keys {
			n, err := base64.RawURLEncoding.DecodeString(k.N)
			if err == nil && k.Kty == "RSA" && new(big.Int).SetBytes(n).Cmp(pub.N) == 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("no key of GET /v1/jwks is CLERK_JWT_KEY: %+v", jwks.Keys)
		}
	})

	users := user.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
		URL: clerk.String(apiURL + "/v1"), Key: clerk.String(sk),
	}})
	alice, err := users.Create(ctx, &user.CreateParams{EmailAddresses: &[]string{"alice@example.com"}})
	if err != nil {
		t.Fatalf("creating alice: %v", err)
	}
	env := map[string]string{"CLERK_API_URL": apiURL, "CLERK_SECRET_KEY": sk}

	for _, who := range []string{"alice@example.com", alice.ID} {
		t.Run("token for "+who, func(t *testing.T) {
			r := runCLI(t, env, "token", "--user", who, "--ttl", "10m")
			if r.err != nil {
				t.Fatalf("token: %v", r.err)
			}
			if !strings.HasSuffix(r.stdout, "\n") || strings.Count(r.stdout, "\n") != 1 {
				t.Fatalf("stdout = %q, want one JWT and a newline", r.stdout)
			}
			claims := mustVerifyJWT(t, strings.TrimSuffix(r.stdout, "\n"), pub)
			if claims.Sub != alice.ID {
				t.Errorf("sub = %q, want %q", claims.Sub, alice.ID)
			}
			if claims.Iss != vars["CLERK_ISSUER"] {
				t.Errorf("iss = %q, want CLERK_ISSUER %q", claims.Iss, vars["CLERK_ISSUER"])
			}
			if !strings.HasPrefix(claims.Sid, "sess_") {
				t.Errorf("sid = %q, want sess_...", claims.Sid)
			}
			if ttl := time.Duration(claims.Exp-claims.Iat) * time.Second; claims.Iat != 0 && ttl != 10*time.Minute {
				t.Errorf("exp - iat = %s, want the --ttl of 10m", ttl)
			}
		})
	}

	t.Run("flags win over the environment", func(t *testing.T) {
		r := runCLI(t, map[string]string{"CLERK_API_URL": "http://127.0.0.1:1", "CLERK_SECRET_KEY": "sk_test_wrong"},
			"token", "--api-url", apiURL+"/v1/", "--secret-key", sk, "--user", alice.ID)
		if r.err != nil {
			t.Fatalf("token: %v", r.err)
		}
	})

	tokenErrors := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown email", env, []string{"--user", "nobody@example.com"}, "no user has that email address"},
		{"unknown user id", env, []string{"--user", "user_doesnotexist"}, "creating a session: the Backend API answered"},
		{"wrong key", map[string]string{"CLERK_API_URL": apiURL, "CLERK_SECRET_KEY": "sk_test_wrongwrongwrong"}, []string{"--user", alice.ID}, "the Backend API answered 401"},
		{"nothing listening", map[string]string{"CLERK_API_URL": "http://127.0.0.1:1", "CLERK_SECRET_KEY": sk}, []string{"--user", alice.ID}, "cannot reach the Backend API"},
	}
	for _, tt := range tokenErrors {
		t.Run("token error "+tt.name, func(t *testing.T) {
			r := runCLI(t, tt.env, append([]string{"token"}, tt.args...)...)
			mustFailOneLine(t, r.err, 1, tt.want)
			if key := tt.env["CLERK_SECRET_KEY"]; strings.Contains(r.err.Error(), key) {
				t.Errorf("error shows the secret key: %q", r.err)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestTokenWithOrg(t *testing.T) {
	t.Parallel()
	srv := clerkemu.Start(t, clerkemu.Options{})
	alice, err := srv.CreateUser(clerkemu.UserParams{Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := srv.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	acme, err := srv.CreateOrganization("Acme", "acme", alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(srv.PublicKeyPEM()))
	if block == nil {
		t.Fatal("PublicKeyPEM is not PEM")
	}
	pub := mustParseJWTKey(t, base64.StdEncoding.EncodeToString(block.Bytes))
	env := map[string]string{"CLERK_API_URL": srv.URL, "CLERK_SECRET_KEY": srv.SecretKey()}

	r := runCLI(t, env, "token", "--user", "alice@example.com", "--org", acme.ID)
	if r.err != nil {
		t.Fatalf("token --org: %v", r.err)
	}
	c := mustVerifyJWT(t, strings.TrimSuffix(r.stdout, "\n"), pub)
	if c.Sub != alice.ID {
		t.Errorf("sub = %q, want %q", c.Sub, alice.ID)
	}
	if c.O == nil || c.O.ID != acme.ID || c.O.Slg != "acme" {
		t.Errorf("o = %+v, want the organization %s (acme)", c.O, acme.ID)
	}

	r = runCLI(t, env, "token", "--user", "alice@example.com")
	if r.err != nil {
		t.Fatalf("token: %v", r.err)
	}
	if c := mustVerifyJWT(t, strings.TrimSuffix(r.stdout, "\n"), pub); c.O != nil {
		t.Errorf("o = %+v without --org, want none", c.O)
	}

	r = runCLI(t, env, "token", "--user", bob.ID, "--org", acme.ID)
	mustFailOneLine(t, r.err, 1, "creating a session: the Backend API answered")
}

func TestEmulatorSecretKeyFromEnv(t *testing.T) {
	t.Parallel()
	const sk = "sk_test_fromtheenvironment0123456789"
	vars := startEmulator(t, map[string]string{"CLERK_SECRET_KEY": sk})
	if vars["CLERK_SECRET_KEY"] != sk {
		t.Errorf("CLERK_SECRET_KEY = %q, want the one from the environment", vars["CLERK_SECRET_KEY"])
	}
	const flagSK = "sk_test_fromtheflag0123456789"
	vars = startEmulator(t, map[string]string{"CLERK_SECRET_KEY": sk}, "--secret-key", flagSK)
	if vars["CLERK_SECRET_KEY"] != flagSK {
		t.Errorf("CLERK_SECRET_KEY = %q, want the one from --secret-key", vars["CLERK_SECRET_KEY"])
	}
}

func TestEmulatorPortInUse(t *testing.T) {
	t.Parallel()
	vars := startEmulator(t, nil)
	addr := strings.TrimPrefix(vars["CLERK_API_URL"], "http://")
	r := runCLI(t, nil, "emulator", "--addr", addr)
	mustFailOneLine(t, r.err, 1, "emulator: listen tcp")
}

// claims are the claims of a session token the tests look at.
type claims struct {
	Sub, Sid, Iss string
	Exp, Iat      int64
	O             *struct{ ID, Slg, Rol string } // the active organization (v2 tokens)
}

// mustParseJWTKey parses CLERK_JWT_KEY: the base64 body of a PEM public key.
func mustParseJWTKey(t *testing.T, body string) *rsa.PublicKey {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("CLERK_JWT_KEY is not base64: %v", err)
	}
	if key, err := x509.ParsePKIXPublicKey(der); err == nil {
		if rsaKey, ok := key.(*rsa.PublicKey); ok {
			return rsaKey
		}
		t.Fatalf("CLERK_JWT_KEY is a %T, want an RSA key", key)
	}
	key, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		t.Fatalf("CLERK_JWT_KEY is neither PKIX nor PKCS #1: %v", err)
	}
	return key
}

// mustVerifyJWT checks the RS256 signature of jwt with pub and returns its
// claims.
func mustVerifyJWT(t *testing.T, jwt string, pub *rsa.PublicKey) claims {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3: %q", len(parts), jwt)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("the token is not signed by CLERK_JWT_KEY: %v", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var c claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return c
}
