package clerkemu_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// webhookSpecPath is Clerk's description of its webhook events.
var webhookSpecPath = filepath.Join("..", "..", "shared", "clerk", "webhooks-2025-04-15.yml")

// webhookSpec is the loaded description, nil when the file is absent.
var webhookSpec = sync.OnceValues(func() (*openapi3.T, error) {
	if _, err := os.Stat(webhookSpecPath); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	doc, err := openapi3.NewLoader().LoadFromFile(webhookSpecPath)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", webhookSpecPath, err)
	}
	return doc, nil
})

// checkWebhookSchema validates a webhook body against the description: the
// envelope against WebhookEventPayload and data against the component the
// event type's operation names. The description's SessionEventPayload is an
// allOf of Session (additionalProperties: false) and {user}, which nothing
// can satisfy, so a session's data is checked as Session without "user",
// and "user" as User.
func checkWebhookSchema(tb testing.TB, body []byte) {
	tb.Helper()
	doc, err := webhookSpec()
	if err != nil {
		tb.Fatal(err)
	}
	if doc == nil {
		return // TestWebhookSpecPresent reports it
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		tb.Fatalf("webhook body is not JSON: %v", err)
	}
	typ, _ := env["type"].(string)
	schemas := doc.Components.Schemas
	if err := schemas["WebhookEventPayload"].Value.VisitJSON(env, schemaOpts()...); err != nil {
		tb.Errorf("%s: envelope does not match WebhookEventPayload: %s", typ, brief(err))
	}
	data, _ := env["data"].(map[string]any)
	check := func(name string, v any) {
		tb.Helper()
		if err := schemas[name].Value.VisitJSON(v, schemaOpts()...); err != nil {
			tb.Errorf("%s: data does not match %s: %s", typ, name, brief(err))
		}
	}
	kind, verb, _ := strings.Cut(typ, ".")
	switch {
	case kind == "session":
		sess := maps.Clone(data)
		delete(sess, "user")
		check("Session", sess)
		check("User", data["user"])
	case verb == "deleted" && (kind == "user" || kind == "organization"):
		check("DeletedObject", data)
	case kind == "user":
		check("User", data)
	case kind == "organization":
		check("Organization", data)
	case kind == "organizationMembership":
		check("OrganizationMembership", data)
	default:
		tb.Errorf("no schema for event type %q", typ)
	}
}

func TestWebhookSpecPresent(t *testing.T) {
	doc, err := webhookSpec()
	if err != nil {
		t.Fatal(err)
	}
	if doc == nil {
		t.Skipf("%s is absent: webhook bodies are not checked against it", webhookSpecPath)
	}
}

// TestWebhookEvents makes every kind of change, through the Backend API and
// the Go helpers, and checks that each sends the right event, in order,
// with the right envelope and data, signed so that both verify and the
// official Svix library accept it.
func TestWebhookEvents(t *testing.T) {
	t.Parallel()
	e, rc := hookEnv(t, clerkemu.Options{WebhookConcurrency: 1}, nil)
	const ua = "webhook-events-test/1.0"
	api := func(method, path, body string) rawResponse {
		t.Helper()
		r := e.do(t, method, path, body, "User-Agent", ua)
		if r.status != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
		}
		return r
	}
	var u, bob clerkemu.User
	api("POST", "/v1/users", `{"email_address":["hook@example.com"],"first_name":"Hook"}`).decode(t, &u)
	api("PATCH", "/v1/users/"+u.ID, `{"last_name":"Shot"}`)
	b, err := e.srv.CreateUser(clerkemu.UserParams{Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	bob = *b
	var org clerkemu.Organization
	api("POST", "/v1/organizations", `{"name":"Hooks","created_by":"`+u.ID+`"}`).decode(t, &org)
	if err := e.srv.AddMembership(org.ID, bob.ID, "org:member"); err != nil {
		t.Fatal(err)
	}
	api("PATCH", "/v1/organizations/"+org.ID+"/memberships/"+bob.ID, `{"role":"org:admin"}`)
	api("PATCH", "/v1/organizations/"+org.ID, `{"name":"Hooks Inc"}`)
	s1, _ := e.srv.CreateSession(u.ID, org.ID)
	if _, err := e.srv.EndSession(s1.ID); err != nil {
		t.Fatal(err)
	}
	var s2 clerkemu.Session
	api("POST", "/v1/sessions", `{"user_id":"`+bob.ID+`"}`).decode(t, &s2)
	api("POST", "/v1/sessions/"+s2.ID+"/revoke", "")
	s3, _ := e.srv.CreateSession(bob.ID, "")
	if err := e.srv.RemoveMembership(org.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	api("DELETE", "/v1/users/"+bob.ID, "")
	api("DELETE", "/v1/organizations/"+org.ID, "")
	if err := e.srv.DeleteUser(u.ID); err != nil {
		t.Fatal(err)
	}
	waitWebhooks(t, e.srv.Emulator)

	want := []struct {
		typ  string
		id   string // data.id
		http bool   // made through the Backend API
	}{
		{"user.created", u.ID, true},
		{"user.updated", u.ID, true},
		{"user.created", bob.ID, false},
		{"organization.created", org.ID, true},
		{"organizationMembership.created", "", true},
		{"organizationMembership.created", "", false},
		{"organizationMembership.updated", "", true},
		{"organization.updated", org.ID, true},
		{"session.created", s1.ID, false},
		{"session.ended", s1.ID, false},
		{"session.created", s2.ID, true},
		{"session.revoked", s2.ID, true},
		{"session.created", s3.ID, false},
		{"organizationMembership.deleted", "", false},
		{"session.removed", s3.ID, true},
		{"user.deleted", bob.ID, true},
		{"organizationMembership.deleted", "", true},
		{"organization.deleted", org.ID, true},
		{"user.deleted", u.ID, false},
	}
	got := rc.deliveries()
	var types []string
	for _, d := range got {
		types = append(types, d.event(t).Type)
	}
	var wantTypes []string
	for _, w := range want {
		wantTypes = append(wantTypes, w.typ)
	}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Fatalf("events\n got %v\nwant %v", types, wantTypes)
	}

	ours := mustVerifier(t, nil)
	theirs, err := svix.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	start := time.Now().Add(-time.Minute).UnixMilli()
	for i, d := range got {
		w := want[i]
		ev := d.event(t)
		t.Run(strconv.Itoa(i)+"_"+w.typ, func(t *testing.T) {
			checkWebhookSchema(t, d.body)
			if id, err := ours.Verify(d.header, d.body); err != nil || id != d.id() {
				t.Errorf("verify: %q, %v", id, err)
			}
			if err := theirs.Verify(d.body, d.header); err != nil {
				t.Errorf("svix: %v", err)
			}
			if ids[d.id()] || !strings.HasPrefix(d.id(), "msg_") {
				t.Errorf("svix-id %q is malformed or not unique", d.id())
			}
			ids[d.id()] = true
			if ct := d.header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !strings.HasPrefix(string(d.body), `{"data":{`) {
				t.Errorf("body does not start with data: %.40s", d.body)
			}
			if ev.Object != "event" || ev.InstanceID != e.srv.InstanceID() || !strings.HasPrefix(ev.InstanceID, "ins_") {
				t.Errorf("object %q instance %q (want %q)", ev.Object, ev.InstanceID, e.srv.InstanceID())
			}
			if ev.Timestamp < start || ev.Timestamp > time.Now().UnixMilli() {
				t.Errorf("timestamp %d is not the time of the change in ms", ev.Timestamp)
			}
			hr := ev.EventAttributes.HTTPRequest
			if w.http && (hr.ClientIP != "127.0.0.1" || hr.UserAgent != ua) || !w.http && (hr.ClientIP != "" || hr.UserAgent != "") {
				t.Errorf("http_request %+v (through the API: %v)", hr, w.http)
			}
			if w.id != "" && ev.Data["id"] != w.id {
				t.Errorf("data.id %v, want %s", ev.Data["id"], w.id)
			}
			checkEventData(t, w.typ, ev.Data)
		})
	}
}

// checkEventData checks the shape of data for its type.
func checkEventData(t *testing.T, typ string, data map[string]any) {
	t.Helper()
	kind, verb, _ := strings.Cut(typ, ".")
	switch {
	case typ == "user.deleted":
		if len(data) != 3 || data["object"] != "user" || data["deleted"] != true {
			t.Errorf("user.deleted data %v, want object, id and deleted only", data)
		}
	case kind == "session":
		user, _ := data["user"].(map[string]any)
		if data["object"] != "session" || user["id"] != data["user_id"] || user["object"] != "user" {
			t.Errorf("session data without its user: %v", data)
		}
		if want := verb; verb != "created" && data["status"] != want {
			t.Errorf("status %v, want %s", data["status"], want)
		}
	case kind == "organizationMembership":
		org, _ := data["organization"].(map[string]any)
		pud, _ := data["public_user_data"].(map[string]any)
		if data["object"] != "organization_membership" || org["id"] == nil || pud["user_id"] == nil || data["role"] == nil {
			t.Errorf("membership data is not a full membership: %v", data)
		}
	case typ == "organization.deleted":
		if data["object"] != "organization" || data["deleted"] != true {
			t.Errorf("organization.deleted data %v", data)
		}
	case kind == "user":
		if _, ok := data["private_metadata"]; !ok || data["object"] != "user" {
			t.Errorf("user data is not a full user: %v", data)
		}
	}
}

// TestWebhookEventData checks the Go values OnEvent gets for sessions, and
// that they encode as the webhooks do.
func TestWebhookEventData(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	e := newEnv(t, clerkemu.Options{OnEvent: rec.add})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "data@example.com"})
	s, _ := e.srv.CreateSessionWith(clerkemu.SessionParams{UserID: u.ID, Pending: true})
	e.do(t, "POST", "/v1/sessions/"+s.ID+"/revoke", "", "User-Agent", "ua-test")
	evs := rec.take()
	if got := types(evs); !reflect.DeepEqual(got, []string{"user.created", "session.created", "session.pending", "session.revoked"}) {
		t.Fatalf("events %v", got)
	}
	pending, ok := evs[2].Data.(clerkemu.SessionEvent)
	if !ok || pending.User.ID != u.ID || pending.Status != clerkemu.StatusPending || len(pending.Tasks) != 1 {
		t.Fatalf("session.pending data %#v", evs[2].Data)
	}
	if evs[2].Request != (clerkemu.EventRequest{}) || evs[3].Request.UserAgent != "ua-test" || evs[3].Request.ClientIP != "127.0.0.1" {
		t.Errorf("requests %+v %+v", evs[2].Request, evs[3].Request)
	}
	b, err := json.Marshal(evs[3].Data)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if _, has := m["tasks"]; has || m["user"] == nil || m["status"] != "revoked" {
		t.Errorf("session.revoked data %s", b)
	}
	b, _ = json.Marshal(evs[2].Data)
	if !strings.Contains(string(b), `"tasks":[{"key":"choose-organization"}]`) {
		t.Errorf("session.pending data lost its tasks: %s", b)
	}
	if !slices.Equal([]string{evs[0].Data.(clerkemu.User).ID}, []string{u.ID}) {
		t.Errorf("user.created data %#v", evs[0].Data)
	}
}
