package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/verify"
)

const testWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// postWebhook sends body signed with secret (or unsigned when secret is "")
// and returns the status and the decoded answer.
func postWebhook(t *testing.T, base, secret, msgID string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/webhooks/clerk", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req.Header.Set("svix-id", msgID)
	req.Header.Set("svix-timestamp", fmt.Sprint(now.Unix()))
	if secret != "" {
		wh, err := verify.NewWebhook([]string{secret}, verify.WebhookOptions{})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("svix-signature", wh.Sign(msgID, now, body))
	} else {
		req.Header.Set("svix-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	}
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func event(t *testing.T, typ string, data any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"data": data, "object": "event", "type": typ,
		"timestamp": time.Now().UnixMilli(), "instance_id": "ins_test"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServeWebhooksAndSync(t *testing.T) {
	t.Parallel()
	emu := clerkemu.Start(t, clerkemu.Options{})
	alice, err := emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com", PublicMetadata: map[string]any{"role": "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := emu.CreateUser(clerkemu.UserParams{Email: "bob@example.com", FirstName: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	env := serviceEnv(emu, "sqlite://"+t.TempDir()+"/w.db")
	env["CLERK_WEBHOOK_SIGNING_SECRET"] = testWebhookSecret
	base, _ := startServe(t, env)
	token := func(userID string) string {
		s, err := emu.CreateSession(userID, "")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := emu.SessionToken(s.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	bobTok := token(bob.ID)
	if r := get(t, base+"/auth/me", bearer(bobTok)); r.status != 200 || r.body["first_name"] != "Bob" {
		t.Fatalf("me: %d %v", r.status, r.body)
	}

	// A user.updated from Clerk reaches /auth/me at once.
	u, err := emu.GetUser(bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	raw, _ := json.Marshal(u)
	json.Unmarshal(raw, &data)
	data["first_name"] = "Robert"
	data["updated_at"] = u.UpdatedAt + 1000
	code, out := postWebhook(t, base, testWebhookSecret, "msg_1", event(t, "user.updated", data))
	if code != 200 || out["status"] != "processed" {
		t.Fatalf("webhook: %d %v", code, out)
	}
	if r := get(t, base+"/auth/me", bearer(bobTok)); r.body["first_name"] != "Robert" {
		t.Fatalf("me after update: %v", r.body)
	}
	// The same message again changes nothing; an older version is stale.
	if code, out := postWebhook(t, base, testWebhookSecret, "msg_1", event(t, "user.updated", data)); code != 200 || out["status"] != "duplicate" {
		t.Fatalf("duplicate: %d %v", code, out)
	}
	data["first_name"] = "Old"
	data["updated_at"] = u.UpdatedAt
	if code, out := postWebhook(t, base, testWebhookSecret, "msg_2", event(t, "user.updated", data)); code != 200 || out["status"] != "stale" {
		t.Fatalf("stale: %d %v", code, out)
	}

	// A bad signature is 400 and changes nothing; bad events are 400.
	if code, out := postWebhook(t, base, "", "msg_3", event(t, "user.updated", data)); code != 400 || out["code"] != "webhook_signature_invalid" {
		t.Fatalf("unsigned: %d %v", code, out)
	}
	for i, body := range []string{`not json`, `{"type":"user.updated"}`, `{"type":"user.updated","data":null}`,
		`{"type":"user.updated","data":{"id":7}}`, `{"data":{}}`} {
		if code, out := postWebhook(t, base, testWebhookSecret, fmt.Sprint("msg_bad_", i), []byte(body)); code != 400 || out["code"] != "invalid_request" {
			t.Fatalf("bad event %s: %d %v", body, code, out)
		}
	}
	if code, out := postWebhook(t, base, testWebhookSecret, "msg_unknown", event(t, "email.created", map[string]any{"id": "x"})); code != 200 || out["status"] != "ignored" {
		t.Fatalf("unknown type: %d %v", code, out)
	}

	// session.revoked denies the session at once, cached token included.
	s, err := emu.GetSession(tokenSID(t, bobTok))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := postWebhook(t, base, testWebhookSecret, "msg_rev", event(t, "session.revoked", s)); code != 200 {
		t.Fatalf("session.revoked: %d", code)
	}
	if r := get(t, base+"/auth/me", bearer(bobTok)); r.status != 401 || r.body["code"] != "session_revoked" {
		t.Fatalf("revoked session: %d %v", r.status, r.body)
	}

	// Reconcile: bob is deleted in Clerk; a run started by an admin
	// tombstones him; a member may not start one.
	carol, err := emu.CreateUser(clerkemu.UserParams{Email: "carol@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.DeleteUser(bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CreateUser(clerkemu.UserParams{Email: "dave@example.com"}); err != nil { // never seen by the service
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", base+"/admin/sync", strings.NewReader(`{"dry_run":false}`))
	req.Header.Set("Authorization", "Bearer "+token(carol.ID))
	if resp, err := client(t).Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("member starting a sync: %v %v", resp.StatusCode, err)
	}
	aliceTok := token(alice.ID)
	req, _ = http.NewRequest("POST", base+"/admin/sync", strings.NewReader(`{"nope":1}`))
	req.Header.Set("Authorization", "Bearer "+aliceTok)
	if resp, err := client(t).Do(req); err != nil || resp.StatusCode != 400 {
		t.Fatalf("unknown field: %v %v", resp.StatusCode, err)
	}
	req, _ = http.NewRequest("POST", base+"/admin/sync", nil)
	req.Header.Set("Authorization", "Bearer "+aliceTok)
	resp, err := client(t).Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("start sync: %v %v", resp.StatusCode, err)
	}
	var run map[string]any
	json.NewDecoder(resp.Body).Decode(&run)
	resp.Body.Close()
	deadline := time.Now().Add(20 * time.Second)
	for run["status"] == "running" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		run = get(t, base+"/admin/sync/"+run["id"].(string), bearer(aliceTok)).body
	}
	counts, _ := run["counts"].(map[string]any)
	if run["status"] != "succeeded" || counts["deleted"] != float64(1) || counts["created"] != float64(1) {
		t.Fatalf("sync run %v", run)
	}
	if r := get(t, base+"/admin/sync/sync_nope", bearer(aliceTok)); r.status != 404 {
		t.Fatalf("unknown run: %d", r.status)
	}
}

func TestServeWebhookNotConfigured(t *testing.T) {
	t.Parallel()
	emu := clerkemu.Start(t, clerkemu.Options{})
	base, _ := startServe(t, serviceEnv(emu, "sqlite://"+t.TempDir()+"/w.db"))
	code, out := postWebhook(t, base, testWebhookSecret, "msg_1", event(t, "user.created", map[string]any{}))
	if code != 503 || out["code"] != "webhook_not_configured" {
		t.Fatalf("%d %v", code, out)
	}
}

func TestSyncCommand(t *testing.T) {
	t.Parallel()
	emu := clerkemu.Start(t, clerkemu.Options{})
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if _, err := emu.CreateUser(clerkemu.UserParams{Email: e}); err != nil {
			t.Fatal(err)
		}
	}
	env := serviceEnv(emu, "sqlite://"+t.TempDir()+"/s.db")
	r := runCLI(t, env, "sync", "--dry-run")
	if r.err != nil || !strings.Contains(r.stdout, "dry run") || !strings.Contains(r.stdout, "created=3") ||
		strings.Count(r.stdout, "would create user_") != 3 {
		t.Fatalf("dry run: %v %q", r.err, r.stdout)
	}
	r = runCLI(t, env, "sync")
	if r.err != nil || !strings.Contains(r.stdout, "created=3") || strings.Contains(r.stdout, "would ") {
		t.Fatalf("sync: %v %q", r.err, r.stdout)
	}
	r = runCLI(t, env, "sync")
	if r.err != nil || !strings.Contains(r.stdout, "created=0 updated=0 linked=0 deleted=0 unchanged=3") {
		t.Fatalf("second sync: %v %q", r.err, r.stdout)
	}
}

// tokenSID reads the sid claim of a token without verifying it.
func tokenSID(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sid string `json:"sid"`
	}
	json.Unmarshal(raw, &c)
	return c.Sid
}
