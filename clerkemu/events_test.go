package clerkemu_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// recorder keeps the events an emulator reports.
type recorder struct {
	mu     sync.Mutex
	events []clerkemu.Event
}

func (r *recorder) add(ev clerkemu.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) take() []clerkemu.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func types(evs []clerkemu.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func TestEvents(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	e := newEnv(t, clerkemu.Options{OnEvent: rec.add})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "ev@example.com"})
	org, _ := e.srv.CreateOrganization("Ev", "ev", u.ID)
	s, _ := e.srv.CreateSession(u.ID, org.ID)
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"setup", func() {}, []string{"user.created", "organization.created", "organizationMembership.created", "session.created"}},
		{"token issues no event", func() { _, _ = e.srv.SessionToken(s.ID, 0) }, nil},
		{"metadata", func() { e.do(t, "PATCH", "/v1/users/"+u.ID+"/metadata", `{"public_metadata":{"a":1}}`) }, []string{"user.updated"}},
		{"failed change emits nothing", func() { e.do(t, "POST", "/v1/users", `{"email_address":["ev@example.com"]}`) }, nil},
		{"ban revokes first", func() { _, _ = e.srv.BanUser(u.ID) }, []string{"session.revoked", "user.updated"}},
		{"pending session", func() {
			_, _ = e.srv.UnbanUser(u.ID)
			_, _ = e.srv.CreateSessionWith(clerkemu.SessionParams{UserID: u.ID, Pending: true})
		}, []string{"user.updated", "session.created", "session.pending"}},
		{"delete cascades", func() { _ = e.srv.DeleteUser(u.ID) }, []string{"session.removed", "organizationMembership.deleted", "user.deleted"}},
	}
	for _, st := range steps {
		st.do()
		if got := types(rec.take()); !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: events %v, want %v", st.name, got, st.want)
		}
	}
}

func TestEventDataIsASnapshot(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	e := newEnv(t, clerkemu.Options{OnEvent: rec.add})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "snap@example.com"})
	e.do(t, "PATCH", "/v1/users/"+u.ID+"/metadata", `{"public_metadata":{"v":2}}`)
	evs := rec.take()
	if len(evs) != 2 {
		t.Fatalf("events %v", types(evs))
	}
	created, ok := evs[0].Data.(clerkemu.User)
	updated, ok2 := evs[1].Data.(clerkemu.User)
	if !ok || !ok2 {
		t.Fatalf("data %T %T", evs[0].Data, evs[1].Data)
	}
	if len(created.PublicMetadata) != 0 || fmt.Sprint(updated.PublicMetadata["v"]) != "2" {
		t.Errorf("created %v updated %v", created.PublicMetadata, updated.PublicMetadata)
	}
	deleted := func() any { _ = e.srv.DeleteUser(u.ID); return rec.take()[0].Data }()
	if d, ok := deleted.(clerkemu.DeletedObject); !ok || d.ID != u.ID || !d.Deleted || d.Object != "user" {
		t.Errorf("user.deleted data %#v", deleted)
	}
}

// TestEventHookMayCallBack checks that OnEvent can use the emulator without
// deadlocking, and that the events it causes follow in order.
func TestEventHookMayCallBack(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	var emu *clerkemu.Emulator
	var once sync.Once
	emu, err := clerkemu.New(clerkemu.Options{SigningKey: testKey(), OnEvent: func(ev clerkemu.Event) {
		rec.add(ev)
		if ev.Type == "user.created" {
			once.Do(func() {
				u := ev.Data.(clerkemu.User)
				if _, err := emu.CreateSession(u.ID, ""); err != nil {
					t.Error(err)
				}
			})
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CreateUser(clerkemu.UserParams{}); err != nil {
		t.Fatal(err)
	}
	if got := types(rec.take()); !reflect.DeepEqual(got, []string{"user.created", "session.created"}) {
		t.Errorf("events %v", got)
	}
}

// TestConcurrentUse hammers one emulator from many goroutines; run with
// -race it checks the locking.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	e := newEnv(t, clerkemu.Options{OnEvent: rec.add})
	org, _ := e.srv.CreateOrganization("Busy", "busy", "")
	const workers, each = 8, 5
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				u, err := e.srv.CreateUser(clerkemu.UserParams{Email: fmt.Sprintf("w%d-%d@example.com", w, i)})
				if err != nil {
					t.Error(err)
					return
				}
				if err := e.srv.AddMembership(org.ID, u.ID, "org:member"); err != nil {
					t.Error(err)
				}
				s, err := e.srv.CreateSession(u.ID, org.ID)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := e.srv.SessionToken(s.ID, 0); err != nil {
					t.Error(err)
				}
				if r := e.do(t, "GET", "/v1/users?limit=5&query=example", ""); r.status != 200 {
					t.Errorf("list: %d", r.status)
				}
				if i == 0 && w == 0 {
					if _, err := e.srv.RotateKey(true); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	var count struct {
		TotalCount int `json:"total_count"`
	}
	e.do(t, "GET", "/v1/users/count", "").decode(t, &count)
	if count.TotalCount != workers*each {
		t.Errorf("count %d", count.TotalCount)
	}
	if got, want := len(rec.take()), 1+workers*each*3; got != want {
		t.Errorf("%d events, want %d", got, want)
	}
}

// TestLogsHoldNoSecrets logs every request at debug level and checks that
// neither the secret key nor any token reaches the log.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, clerkemu.Options{Logger: logger})
	u, _ := e.srv.CreateUser(clerkemu.UserParams{Email: "log@example.com"})
	s, _ := e.srv.CreateSession(u.ID, "")
	r := e.do(t, "POST", "/v1/sessions/"+s.ID+"/tokens", "{}")
	var tok struct{ JWT string }
	r.decode(t, &tok)
	e.do(t, "GET", "/v1/users", "", "Authorization", "Bearer sk_test_guess")
	e.do(t, "POST", "/v1/users", `{"password":"hunter2hunter2"}`)
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	if !strings.Contains(out, "clerkemu request") {
		t.Fatalf("nothing logged: %q", out)
	}
	for _, secret := range []string{e.srv.SecretKey(), tok.JWT, strings.Split(tok.JWT, ".")[2], "sk_test_guess", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds a secret: %q", out)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
