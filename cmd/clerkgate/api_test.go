package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// do sends a request with an optional bearer token and JSON body and
// returns the status and decoded body.
func do(t *testing.T, method, url, tok, body string) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %q", method, url, raw)
		}
	}
	return resp.StatusCode, out, resp.Header
}

type apiFixture struct {
	emu  *clerkemu.Server
	base string
}

func (f *apiFixture) token(t *testing.T, userID string) string {
	t.Helper()
	s, err := f.emu.CreateSession(userID, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.emu.SessionToken(s.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newAPIFixture(t *testing.T, extra map[string]string) *apiFixture {
	t.Helper()
	f := &apiFixture{emu: clerkemu.Start(t, clerkemu.Options{})}
	env := serviceEnv(f.emu, "sqlite://"+t.TempDir()+"/api.db")
	for k, v := range extra {
		env[k] = v
	}
	f.base, _ = startServe(t, env)
	return f
}

func TestAuthSessionEndpoints(t *testing.T) {
	t.Parallel()
	f := newAPIFixture(t, nil)
	bob, _ := f.emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})
	eve, _ := f.emu.CreateUser(clerkemu.UserParams{Email: "eve@example.com"})
	bob1, bob2 := f.token(t, bob.ID), f.token(t, bob.ID)
	eveTok := f.token(t, eve.ID)

	code, out, _ := do(t, "GET", f.base+"/auth/sessions", bob1, "")
	data, _ := out["data"].([]any)
	if code != 200 || len(data) != 2 {
		t.Fatalf("sessions: %d %v", code, out)
	}
	// Eve cannot revoke, or even see, Bob's session: the same 404 as none.
	bobSID := tokenSID(t, bob2)
	if code, out, _ := do(t, "DELETE", f.base+"/auth/sessions/"+bobSID, eveTok, ""); code != 404 || out["code"] != "not_found" {
		t.Fatalf("eve revoking bob's session: %d %v", code, out)
	}
	if code, _, _ := do(t, "DELETE", f.base+"/auth/sessions/sess_doesnotexist", eveTok, ""); code != 404 {
		t.Fatalf("unknown session: %d", code)
	}
	if code, _, _ := do(t, "GET", f.base+"/auth/me", bob2, ""); code != 200 {
		t.Fatalf("bob2 after eve's attempt: %d", code)
	}
	// Bob revokes his second session: its token stops at once.
	if code, _, _ := do(t, "DELETE", f.base+"/auth/sessions/"+bobSID, bob1, ""); code != 204 {
		t.Fatalf("revoke own session: %d", code)
	}
	if code, out, _ := do(t, "GET", f.base+"/auth/me", bob2, ""); code != 401 || out["code"] != "session_revoked" {
		t.Fatalf("revoked session: %d %v", code, out)
	}
	if s, _ := f.emu.GetSession(bobSID); s.Status != "revoked" {
		t.Fatalf("Clerk session status %q", s.Status)
	}
	// A fresh token for the current session.
	code, out, _ = do(t, "POST", f.base+"/auth/token", bob1, "")
	if code != 200 || out["jwt"] == nil || out["expires_at"] == nil {
		t.Fatalf("token: %d %v", code, out)
	}
	if code, _, _ := do(t, "GET", f.base+"/auth/me", out["jwt"].(string), ""); code != 200 {
		t.Fatalf("fresh token: %d", code)
	}
	// Logout ends the session, the fresh token of it included.
	if code, _, _ := do(t, "POST", f.base+"/auth/logout", bob1, ""); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	for _, tok := range []string{bob1, out["jwt"].(string)} {
		if code, out, _ := do(t, "GET", f.base+"/auth/me", tok, ""); code != 401 || out["code"] != "session_revoked" {
			t.Fatalf("after logout: %d %v", code, out)
		}
	}
}

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	f := newAPIFixture(t, nil)
	alice, _ := f.emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com", FirstName: "Alice", PublicMetadata: map[string]any{"role": "admin"}})
	bob, _ := f.emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com", FirstName: "Bob"})
	aliceTok, bobTok := f.token(t, alice.ID), f.token(t, bob.ID)
	do(t, "GET", f.base+"/auth/me", bobTok, "") // bob becomes known locally

	if code, out, _ := do(t, "GET", f.base+"/admin/users", bobTok, ""); code != 403 || out["code"] != "forbidden" {
		t.Fatalf("member listing users: %d %v", code, out)
	}
	code, out, _ := do(t, "GET", f.base+"/admin/users?query=BOB", aliceTok, "")
	data, _ := out["data"].([]any)
	if code != 200 || len(data) != 1 || data[0].(map[string]any)["clerk_user_id"] != bob.ID {
		t.Fatalf("search: %d %v", code, out)
	}
	local := data[0].(map[string]any)["id"].(string)
	for _, id := range []string{local, bob.ID} {
		if code, out, _ := do(t, "GET", f.base+"/admin/users/"+id, aliceTok, ""); code != 200 || out["email"] != "bob@example.com" {
			t.Fatalf("get %s: %d %v", id, code, out)
		}
	}
	if code, _, _ := do(t, "GET", f.base+"/admin/users?limit=500", aliceTok, ""); code != 422 {
		t.Fatalf("limit 500: %d", code)
	}
	if code, _, _ := do(t, "GET", f.base+"/admin/users?cursor=garbage!", aliceTok, ""); code != 422 {
		t.Fatalf("bad cursor: %d", code)
	}
	// Roles: unknown → 422, unknown field → 400, promote then demote.
	if code, _, _ := do(t, "PATCH", f.base+"/admin/users/"+local, aliceTok, `{"role":"wizard"}`); code != 422 {
		t.Fatalf("unknown role: %d", code)
	}
	if code, out, _ := do(t, "PATCH", f.base+"/admin/users/"+local, aliceTok, `{"role":"admin","x":1}`); code != 400 || !strings.Contains(out["detail"].(string), "x") {
		t.Fatalf("unknown field: %d %v", code, out)
	}
	if code, out, _ := do(t, "PATCH", f.base+"/admin/users/"+local, aliceTok, `{"role":"admin"}`); code != 200 || out["role"] != "admin" {
		t.Fatalf("promote: %d %v", code, out)
	}
	if u, _ := f.emu.GetUser(bob.ID); u.PublicMetadata["role"] != "admin" {
		t.Fatalf("Clerk metadata %v", u.PublicMetadata)
	}
	if _, out, _ := do(t, "GET", f.base+"/auth/me", bobTok, ""); out["role"] != "admin" {
		t.Fatalf("bob's role after promotion: %v", out["role"])
	}
	if code, _, _ := do(t, "PATCH", f.base+"/admin/users/"+local, aliceTok, `{"role":"member"}`); code != 200 {
		t.Fatalf("demote bob: %d", code)
	}
	// Alice is now the last admin: she cannot demote or delete herself.
	if code, out, _ := do(t, "PATCH", f.base+"/admin/users/"+alice.ID, aliceTok, `{"role":"member"}`); code != 409 || out["code"] != "conflict" {
		t.Fatalf("last admin: %d %v", code, out)
	}
	if code, _, _ := do(t, "DELETE", f.base+"/admin/users/"+alice.ID, aliceTok, ""); code != 409 {
		t.Fatalf("delete last admin: %d", code)
	}
	// Ban stops bob's sessions at once; unban lets new tokens in.
	if code, out, _ := do(t, "POST", f.base+"/admin/users/"+local+"/ban", aliceTok, ""); code != 200 || out["banned"] != true {
		t.Fatalf("ban: %d %v", code, out)
	}
	if code, out, _ := do(t, "GET", f.base+"/auth/me", bobTok, ""); code != 401 || out["code"] != "session_revoked" {
		t.Fatalf("banned bob: %d %v", code, out)
	}
	if code, _, _ := do(t, "POST", f.base+"/admin/users/"+local+"/unban", aliceTok, ""); code != 200 {
		t.Fatalf("unban: %d", code)
	}
	if code, _, _ := do(t, "GET", f.base+"/auth/me", f.token(t, bob.ID), ""); code != 200 {
		t.Fatalf("unbanned bob: %d", code)
	}
	// Delete goes through Clerk; the local row stays as an erased tombstone.
	if code, _, _ := do(t, "DELETE", f.base+"/admin/users/"+local, aliceTok, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if _, err := f.emu.GetUser(bob.ID); err == nil {
		t.Fatal("bob still in Clerk")
	}
	code, out, _ = do(t, "GET", f.base+"/admin/users/"+local, aliceTok, "")
	if code != 200 || out["deleted_at"] == nil || out["email"] != "" {
		t.Fatalf("tombstone: %d %v", code, out)
	}
	if code, _, _ := do(t, "GET", f.base+"/admin/users/usr_nobody", aliceTok, ""); code != 404 {
		t.Fatalf("unknown user: %d", code)
	}
	// The security events of all that.
	code, out, _ = do(t, "GET", f.base+"/admin/security-events?limit=200", aliceTok, "")
	kinds := map[string]int{}
	for _, e := range out["data"].([]any) {
		kinds[e.(map[string]any)["kind"].(string)]++
	}
	if code != 200 || kinds["role_changed"] < 2 || kinds["user_banned"] != 1 || kinds["user_deleted"] != 1 || kinds["admin_action"] < 3 ||
		kinds["token_replay_after_revoke"] != 1 {
		t.Fatalf("security events: %d %v", code, kinds)
	}
	if code, _, _ := do(t, "GET", f.base+"/admin/security-events?since=yesterday", aliceTok, ""); code != 422 {
		t.Fatalf("bad since: %d", code)
	}
}

// TestUnknownKidFlood: tokens whose key id the key set does not have,
// many within a minute, are one unknown_kid_flood event (SPEC §11).
func TestUnknownKidFlood(t *testing.T) {
	t.Parallel()
	f := newAPIFixture(t, map[string]string{"CLERKGATE_AUTH_FAILURE_LIMIT": "1000/60s"})
	alice, _ := f.emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com", PublicMetadata: map[string]any{"role": "admin"}})
	aliceTok := f.token(t, alice.ID)
	parts := strings.SplitN(f.token(t, alice.ID), ".", 2)
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"ins_not_a_key","typ":"JWT"}`)) + "." + parts[1]
	for i := range 30 {
		if code, out, _ := do(t, "GET", f.base+"/auth/me", forged, ""); code != 401 || out["code"] != "token_invalid" {
			t.Fatalf("forged token %d: %d %v", i, code, out)
		}
	}
	code, out, _ := do(t, "GET", f.base+"/admin/security-events?kind=unknown_kid_flood&limit=200", aliceTok, "")
	if data, _ := out["data"].([]any); code != 200 || len(data) != 1 {
		t.Fatalf("unknown_kid_flood events: %d %v", code, out)
	}
}

func TestAuthFailureLimit(t *testing.T) {
	t.Parallel()
	f := newAPIFixture(t, map[string]string{"CLERKGATE_AUTH_FAILURE_LIMIT": "3/60s"})
	bob, _ := f.emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})
	good := f.token(t, bob.ID)
	for i := 0; i < 3; i++ {
		if code, _, _ := do(t, "GET", f.base+"/auth/me", "not.a.token", ""); code != 401 {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	code, out, _ := do(t, "GET", f.base+"/auth/me", "not.a.token", "")
	if code != 401 {
		t.Fatalf("4th failure: %d %v", code, out)
	}
	code, out, h := do(t, "GET", f.base+"/auth/me", good, "")
	if code != 429 || out["code"] != "rate_limited" || h.Get("Retry-After") == "" {
		t.Fatalf("blocked address: %d %v %v", code, out, h)
	}
	// Credentials-free requests are not attempts and health stays open.
	if code, _, _ := do(t, "GET", f.base+"/healthz", "", ""); code != 200 {
		t.Fatalf("healthz while blocked: %d", code)
	}
}

func TestAdminReverify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pol := dir + "/p.yaml"
	os.WriteFile(pol, []byte("admin_reverify: true\n"), 0o600)
	f := newAPIFixture(t, map[string]string{"CLERKGATE_POLICY": pol})
	alice, _ := f.emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com", PublicMetadata: map[string]any{"role": "admin"}})
	bob, _ := f.emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})
	now := time.Now()
	sign := func(fva []int) string {
		s, _ := f.emu.CreateSession(alice.ID, "")
		tok, err := f.emu.Sign(map[string]any{"iss": f.emu.Issuer(), "sub": alice.ID, "sid": s.ID, "v": 2,
			"iat": now.Unix(), "nbf": now.Unix() - 5, "exp": now.Add(time.Minute).Unix(), "fva": fva}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	stale, fresh := sign([]int{30, -1}), sign([]int{30, 2})
	if code, _, _ := do(t, "GET", f.base+"/admin/users", stale, ""); code != 200 {
		t.Fatalf("reading needs no reverification: %d", code)
	}
	code, out, _ := do(t, "POST", f.base+"/admin/users/"+bob.ID+"/ban", stale, "")
	hint, _ := out["clerk_error"].(map[string]any)
	if code != 403 || out["code"] != "reverification_required" || hint["reason"] != "reverification-error" {
		t.Fatalf("stale second factor: %d %v", code, out)
	}
	do(t, "GET", f.base+"/auth/me", f.token(t, bob.ID), "")
	if code, out, _ := do(t, "POST", f.base+"/admin/users/"+bob.ID+"/ban", fresh, ""); code != 200 {
		t.Fatalf("fresh second factor: %d %v", code, out)
	}
}
