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
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/user"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/verify"
)

// startEmulator runs "clerkgate emulator" on a free port until the test
// ends and returns the KEY=value lines it printed. The cleanup cancels the
// context and checks that run returns nil promptly.
func startEmulator(t *testing.T, env map[string]string, args ...string) map[string]string {
	t.Helper()
	vars, _ := startStoppableEmulator(t, env, args...)
	return vars
}

// startStoppableEmulator is startEmulator that also returns a function
// that stops the emulator at once (cancels its context and checks that run
// returns nil), for tests that restart it.
func startStoppableEmulator(t *testing.T, env map[string]string, args ...string) (vars map[string]string, stop func()) {
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
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("emulator run() = %v after cancel, want nil", err)
			}
		case <-time.After(shutdownTimeout + 5*time.Second):
			t.Errorf("emulator run() did not return after cancel")
		}
	}
	t.Cleanup(stop)

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	vars = map[string]string{}
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
	return vars, stop
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

// apiCall sends one request to the Backend API of the emulator that
// printed vars, checks for a 200 and decodes the answer into v (if not nil).
func apiCall(t *testing.T, vars map[string]string, method, path, body string, v any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, vars["CLERK_API_URL"]+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+vars["CLERK_SECRET_KEY"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, raw)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// writeFile writes content to name in a new temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const testSeed = `users:
  - email: alice@example.com
    first_name: Alice
    public_metadata: {role: admin}
  - {email: bob@example.com, id: user_bob}
organizations:
  - name: Acme
    slug: acme
    members:
      - {email: alice@example.com, role: org:admin}
      - {email: bob@example.com, role: org:member}
`

// seededUser is the part of a seeded user the tests look at.
type seededUser struct {
	ID             string         `json:"id"`
	FirstName      *string        `json:"first_name"`
	PublicMetadata map[string]any `json:"public_metadata"`
}

func TestEmulatorSeed(t *testing.T) {
	t.Parallel()
	vars := startEmulator(t, nil, "--seed", writeFile(t, "seed.yaml", testSeed))

	var users []seededUser
	apiCall(t, vars, "GET", "/v1/users?email_address=alice@example.com", "", &users)
	if len(users) != 1 || users[0].FirstName == nil || *users[0].FirstName != "Alice" || users[0].PublicMetadata["role"] != "admin" {
		t.Fatalf("alice: %+v", users)
	}
	var bob seededUser
	apiCall(t, vars, "GET", "/v1/users/user_bob", "", &bob)
	var members struct {
		Data []struct {
			Role           string `json:"role"`
			PublicUserData struct {
				UserID string `json:"user_id"`
			} `json:"public_user_data"`
		} `json:"data"`
	}
	apiCall(t, vars, "GET", "/v1/organizations/acme/memberships?order_by=created_at", "", &members)
	if len(members.Data) != 2 || members.Data[0].Role != "org:admin" || members.Data[0].PublicUserData.UserID != users[0].ID ||
		members.Data[1].Role != "org:member" || members.Data[1].PublicUserData.UserID != "user_bob" {
		t.Errorf("acme memberships: %+v", members.Data)
	}
}

func TestEmulatorSeedAndStateErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	badKey := writeFile(t, "seed.yaml", "users:\n  - emial: a@example.com\n")
	badMember := writeFile(t, "seed.yaml", "organizations:\n  - name: A\n    members: [{email: carol@example.com}]\n")
	empty := writeFile(t, "state.json", "")
	garbage := writeFile(t, "state.json", `{"version":1,`)
	otherKey := filepath.Join(t.TempDir(), "state.json")
	emu, err := clerkemu.New(clerkemu.Options{SecretKey: "sk_test_in_the_state"})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.SaveFile(otherKey); err != nil {
		t.Fatal(err)
	}
	noDir := filepath.Join(t.TempDir(), "missing", "state.json")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"seed missing", []string{"--seed", missing}, "emulator: --seed " + missing + ": no such file or directory"},
		{"seed unknown key", []string{"--seed", badKey}, "emulator: --seed " + badKey + `: clerkemu: seed: line 2: unknown key "emial" in a user`},
		{"seed unknown member", []string{"--seed", badMember}, "--seed " + badMember + ": clerkemu: seed: line 3: organizations[0].members[0]: no user has the email carol@example.com"},
		{"state empty", []string{"--state", empty}, "emulator: --state " + empty + ": empty file, not a state"},
		{"state damaged", []string{"--state", garbage}, "emulator: --state " + garbage + ": clerkemu: state is not a JSON object (truncated or damaged?)"},
		{"state of another key", []string{"--state", otherKey, "--secret-key", "sk_test_on_the_command_line"}, "--state " + otherKey + ": clerkemu: the secret key (Options.SecretKey) differs from the state's"},
		{"state directory missing", []string{"--state", noDir}, "emulator: saving --state " + noDir + ": clerkemu: save state: open "},
		{"everything at once", []string{"--seed", missing, "--state", empty, "--addr", "x"}, `--addr: "x" is not host:port; --seed ` + missing + ": no such file or directory; --state " + empty + ": empty file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, nil, append([]string{"emulator", "--addr", "127.0.0.1:0"}, tt.args...)...)
			mustFailOneLine(t, r.err, 1, tt.want)
			if strings.Contains(r.err.Error(), "sk_test_") {
				t.Errorf("error shows a secret key: %q", r.err)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestEmulatorState(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state.json")
	seed := writeFile(t, "seed.yaml", testSeed)
	first, stop := startStoppableEmulator(t, nil, "--state", state, "--seed", seed)

	var carol seededUser
	apiCall(t, first, "POST", "/v1/users", `{"email_address":["carol@example.com"],"first_name":"Carol"}`, &carol)
	var sess struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	apiCall(t, first, "POST", "/v1/sessions", `{"user_id":"`+carol.ID+`"}`, &sess)
	var tok struct {
		JWT string `json:"jwt"`
	}
	apiCall(t, first, "POST", "/v1/sessions/"+sess.ID+"/tokens", `{"expires_in_seconds":3600}`, &tok)
	stop()
	if fi, err := os.Stat(state); err != nil {
		t.Fatalf("no state file after shutdown: %v", err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}

	second := startEmulator(t, nil, "--state", state, "--seed", seed)
	for _, k := range []string{"CLERK_SECRET_KEY", "CLERK_JWT_KEY", "CLERK_ISSUER"} {
		if second[k] != first[k] {
			t.Errorf("%s changed across the restart", k)
		}
	}
	var got seededUser
	apiCall(t, second, "GET", "/v1/users/"+carol.ID, "", &got)
	if got.FirstName == nil || *got.FirstName != "Carol" {
		t.Errorf("carol after the restart: %+v", got)
	}
	apiCall(t, second, "GET", "/v1/sessions/"+sess.ID, "", &sess)
	if sess.Status != "active" {
		t.Errorf("session status %q after the restart, want active", sess.Status)
	}
	var count struct {
		TotalCount int `json:"total_count"`
	}
	apiCall(t, second, "GET", "/v1/users/count", "", &count)
	if count.TotalCount != 3 {
		t.Errorf("%d users after seeding twice, want 3 (alice, bob, carol)", count.TotalCount)
	}

	// The token from the first run verifies with the second run's JWKS.
	header, _, _ := strings.Cut(tok.JWT, ".")
	rawHeader, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(rawHeader, &h); err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []struct{ Kid, N, E string }
	}
	apiCall(t, second, "GET", "/v1/jwks", "", &jwks)
	var pub *rsa.PublicKey
	for _, k := range jwks.Keys {
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if k.Kid == h.Kid && errN == nil && errE == nil {
			pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	if pub == nil {
		t.Fatalf("kid %s of the first run's token is not in the second run's JWKS %+v", h.Kid, jwks.Keys)
	}
	if c := mustVerifyJWT(t, tok.JWT, pub); c.Sub != carol.ID || c.Sid != sess.ID {
		t.Errorf("claims %+v", c)
	}
}

// TestEmulatorWebhooks runs "clerkgate emulator" with two --webhook-url
// receivers (one flag, comma-separated, and a repeated flag) and checks
// that a POST /v1/users reaches each as a user.created webhook that
// verify accepts.
func TestEmulatorWebhooks(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	type hook struct {
		header http.Header
		body   []byte
	}
	got := make(chan hook, 16)
	receiver := func() string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			got <- hook{header: r.Header.Clone(), body: body}
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/webhooks/clerk"
	}
	a, b, c := receiver(), receiver(), receiver()
	vars := startEmulator(t, nil, "--webhook-url", a+","+b, "--webhook-url", c, "--webhook-secret", secret)

	req, err := http.NewRequest(http.MethodPost, vars["CLERK_API_URL"]+"/v1/users", strings.NewReader(`{"email_address":["hook@example.com"]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+vars["CLERK_SECRET_KEY"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/users: %d %v", resp.StatusCode, err)
	}

	w, err := verify.NewWebhook([]string{secret}, verify.WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for range 3 {
		var h hook
		select {
		case h = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("no webhook arrived")
		}
		id, err := w.Verify(h.header, h.body)
		if err != nil {
			t.Fatalf("webhook does not verify: %v", err)
		}
		ids[id]++
		var ev struct {
			Type string `json:"type"`
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(h.body, &ev); err != nil || ev.Type != "user.created" || ev.Data.ID != created.ID {
			t.Errorf("webhook %s: %v, want user.created of %s", h.body, err, created.ID)
		}
	}
	if len(ids) != 1 {
		t.Errorf("svix-ids %v: want the same message at every endpoint", ids)
	}
}
