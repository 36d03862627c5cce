package legacy_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
	"github.com/clerkgate/clerkgate/internal/legacy"
	"github.com/clerkgate/clerkgate/internal/policy"
	"github.com/clerkgate/clerkgate/internal/sqlite"
)

// importEnv is a local store, an emulator and a client for it.
type importEnv struct {
	store *sqlite.Store
	emu   *clerkemu.Server
	clerk *clerkapi.Client
}

func newImportEnv(t *testing.T) *importEnv {
	t.Helper()
	s, err := sqlite.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	emu := clerkemu.Start(t, clerkemu.Options{})
	c, err := clerkapi.New(clerkapi.Options{APIURL: emu.URL, SecretKey: emu.SecretKey(), BreakerThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &importEnv{store: s, emu: emu, clerk: c}
}

// local creates a legacy user.
func (e *importEnv) local(t *testing.T, u clerkgate.User) {
	t.Helper()
	if _, err := e.store.CreateLocalUser(t.Context(), &u); err != nil {
		t.Fatalf("CreateLocalUser(%s): %v", u.ID, err)
	}
}

// options are import options for e, recording every outcome in outs.
func (e *importEnv) options(outs *[]legacy.Outcome) legacy.ImportOptions {
	pol := policy.Default()
	return legacy.ImportOptions{
		Store: e.store, Clerk: e.clerk, Policy: func() *policy.Policy { return pol },
		RetryAfter: clerkapi.RetryAfter,
		OnUser:     func(o legacy.Outcome) { *outs = append(*outs, o) },
	}
}

// clerkUsers returns the emulator's users by external id (or by id when
// they have none).
func (e *importEnv) clerkUsers(t *testing.T) map[string]clerkemu.User {
	t.Helper()
	b, err := e.emu.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Users []struct {
			PasswordDigest string        `json:"password_digest"`
			PasswordHasher string        `json:"password_hasher"`
			User           clerkemu.User `json:"user"`
		} `json:"users"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]clerkemu.User{}
	for _, u := range doc.Users {
		key := u.User.ID
		if u.User.ExternalID != nil {
			key = *u.User.ExternalID
		}
		if u.PasswordDigest != "" {
			key += " " + u.PasswordHasher + " " + u.PasswordDigest
		}
		out[key] = u.User
	}
	return out
}

func mustDigest(t *testing.T, password string) string {
	t.Helper()
	d, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(d)
}

func byLocalID(outs []legacy.Outcome) map[string]legacy.Outcome {
	m := map[string]legacy.Outcome{}
	for _, o := range outs {
		m[o.LocalID] = o
	}
	return m
}

func TestImport(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	digest := mustDigest(t, "correct horse")
	e.local(t, clerkgate.User{ID: "1", Email: "ann@example.test", FirstName: "Ann", LastName: "Lee", Role: "admin",
		PasswordDigest: digest, CreatedAt: now.Add(-5 * time.Hour)})
	e.local(t, clerkgate.User{ID: "2", FirstName: "No", LastName: "Email", Role: "member", CreatedAt: now.Add(-4 * time.Hour)})
	e.local(t, clerkgate.User{ID: "3", Email: "banned@example.test", Banned: true, CreatedAt: now.Add(-3 * time.Hour)})
	e.local(t, clerkgate.User{ID: "4", Email: "Signed.Up@example.test", PublicMetadata: json.RawMessage(`{"plan":"pro"}`),
		CreatedAt: now.Add(-2 * time.Hour)})
	e.local(t, clerkgate.User{ID: "5", Email: "taken@example.test", CreatedAt: now.Add(-time.Hour)})
	e.local(t, clerkgate.User{ID: "6", Email: "md5@example.test", PasswordDigest: "5f4dcc3b5aa765d61d8327deb882cf99", CreatedAt: now})
	// Already in Clerk: user 4 signed up on their own (verified address,
	// no external id); taken@ belongs to someone with another external id.
	signedUp, err := e.emu.CreateUser(clerkemu.UserParams{Email: "signed.up@example.test", PublicMetadata: map[string]any{"role": "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.emu.CreateUser(clerkemu.UserParams{Email: "taken@example.test", ExternalID: "crm-77"}); err != nil {
		t.Fatal(err)
	}
	before := len(e.clerkUsers(t))

	// A dry run predicts and changes nothing.
	var outs []legacy.Outcome
	o := e.options(&outs)
	o.DryRun = true
	counts, err := legacy.Import(t.Context(), o)
	if err != nil || counts != (legacy.Counts{Created: 2, Linked: 1, Skipped: 1, Failed: 2}) {
		t.Fatalf("dry run: %v, %v", counts, err)
	}
	if n := len(e.clerkUsers(t)); n != before {
		t.Fatalf("the dry run created %d Clerk users", n-before)
	}
	if users, _, _ := e.store.ListUsers(t.Context(), clerkgate.UserQuery{Unlinked: true}); len(users) != 6 {
		t.Fatalf("the dry run linked users: %d left unlinked", len(users))
	}

	outs = nil
	counts, err = legacy.Import(t.Context(), e.options(&outs))
	if err != nil || counts != (legacy.Counts{Created: 2, Linked: 1, Skipped: 1, Failed: 2}) {
		t.Fatalf("import: %v, %v", counts, err)
	}
	got := byLocalID(outs)
	for id, want := range map[string]string{"1": "created", "2": "created", "3": "skipped", "4": "linked", "5": "failed", "6": "failed"} {
		if got[id].Action != want {
			t.Errorf("user %s: %+v, want %s", id, got[id], want)
		}
	}
	if !strings.Contains(got["5"].Reason, "another Clerk user") || !strings.Contains(got["6"].Reason, "bcrypt") {
		t.Errorf("reasons: 5 %q, 6 %q", got["5"].Reason, got["6"].Reason)
	}
	for _, o := range outs {
		if strings.Contains(o.Reason, "@") || strings.Contains(o.Reason, digest) {
			t.Errorf("outcome %+v shows personal data or the digest", o)
		}
	}

	// In Clerk: user 1 with the digest, verified email, names, role.
	clerk := e.clerkUsers(t)
	ann, ok := clerk["1 bcrypt "+digest]
	if !ok {
		t.Fatalf("user 1 is not in Clerk with its bcrypt digest: %v", slices.Collect(mapKeys(clerk)))
	}
	if len(ann.EmailAddresses) != 1 || ann.EmailAddresses[0].Verification == nil || ann.EmailAddresses[0].Verification.Status != "verified" ||
		*ann.FirstName != "Ann" || *ann.LastName != "Lee" || ann.PublicMetadata["role"] != "admin" {
		t.Errorf("user 1 in Clerk: %+v", ann)
	}
	if u2, ok := clerk["2"]; !ok || u2.PasswordEnabled || len(u2.EmailAddresses) != 0 || u2.PublicMetadata["role"] != nil {
		t.Errorf("user 2 in Clerk: %+v (found %t)", u2, ok)
	}

	// Locally: linked, Clerk's data and roles.
	for id, want := range map[string]struct{ clerkID, role string }{
		"1": {ann.ID, "admin"}, "2": {clerk["2"].ID, "member"}, "4": {signedUp.ID, "admin"},
	} {
		u, err := e.store.UserByID(t.Context(), id)
		if err != nil || u.ClerkUserID != want.clerkID || u.Role != want.role {
			t.Errorf("local user %s: %+v, %v; want Clerk id %s, role %s", id, u, err, want.clerkID, want.role)
		}
	}
	left, _, _ := e.store.ListUsers(t.Context(), clerkgate.UserQuery{Unlinked: true})
	var ids []string
	for _, u := range left {
		ids = append(ids, u.ID)
	}
	if !slices.Equal(ids, []string{"3", "5", "6"}) {
		t.Errorf("unlinked after the import: %v, want [3 5 6]", ids)
	}

	// A second run changes nothing and creates no one twice.
	outs = nil
	counts, err = legacy.Import(t.Context(), e.options(&outs))
	if err != nil || counts != (legacy.Counts{Skipped: 1, Failed: 2}) {
		t.Fatalf("second run: %v, %v", counts, err)
	}
	if n := len(e.clerkUsers(t)); n != before+2 {
		t.Errorf("Clerk holds %d users, want %d", n, before+2)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestImportResumes: a run that created a user in Clerk and stopped before
// linking it is finished by the next run, which links instead of creating.
func TestImportResumes(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	e.local(t, clerkgate.User{ID: "usr_7", Email: "seven@example.test"})
	created, err := e.clerk.CreateUser(t.Context(), &clerkgate.User{ExternalID: "usr_7", Email: "seven@example.test"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var outs []legacy.Outcome
	counts, err := legacy.Import(t.Context(), e.options(&outs))
	if err != nil || counts != (legacy.Counts{Linked: 1}) || outs[0].ClerkUserID != created.ClerkUserID {
		t.Fatalf("resumed run: %v, %v, %+v", counts, err, outs)
	}
	// The email is held by the user created for this very local user:
	// linked too, when its external id is ours.
	e.local(t, clerkgate.User{ID: "usr_8", Email: "eight@example.test"})
	if _, err := e.clerk.CreateUser(t.Context(), &clerkgate.User{ExternalID: "usr_8x", Email: "eight@example.test"}, ""); err != nil {
		t.Fatal(err)
	}
	outs = nil
	if counts, err := legacy.Import(t.Context(), e.options(&outs)); err != nil || counts != (legacy.Counts{Failed: 1}) {
		t.Fatalf("an address held under another external id: %v, %v", counts, err)
	}
}

// TestImportLinkedMeanwhile: a webhook that links the user between the
// creation and the import's own link does not fail the user.
func TestImportLinkedMeanwhile(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	e.local(t, clerkgate.User{ID: "usr_9", Email: "nine@example.test"})
	var outs []legacy.Outcome
	o := e.options(&outs)
	o.Clerk = racingClerk{Clerk: e.clerk, link: func(ctx context.Context, c *clerkgate.User) error {
		_, err := e.store.LinkClerkUser(ctx, "usr_9", c)
		return err
	}}
	counts, err := legacy.Import(t.Context(), o)
	if err != nil || counts != (legacy.Counts{Created: 1}) {
		t.Fatalf("import: %v, %v, %+v", counts, err, outs)
	}
}

// racingClerk links the user itself as soon as it is created, as a
// user.created webhook may.
type racingClerk struct {
	legacy.Clerk
	link func(ctx context.Context, c *clerkgate.User) error
}

func (r racingClerk) CreateUser(ctx context.Context, u *clerkgate.User, hasher string) (*clerkgate.User, error) {
	c, err := r.Clerk.CreateUser(ctx, u, hasher)
	if err == nil {
		err = r.link(ctx, c)
	}
	return c, err
}

// TestImportRateLimited: a 429 from Clerk (the emulator's fault endpoint)
// is waited out for its Retry-After, then the user is tried again.
func TestImportRateLimited(t *testing.T) {
	t.Parallel()
	e := newImportEnv(t)
	e.local(t, clerkgate.User{ID: "usr_1", Email: "one@example.test"})
	e.local(t, clerkgate.User{ID: "usr_2", Email: "two@example.test"})
	setFaults(t, e.emu, `{"api":{"mode":"fail","status":429}}`)

	var mu sync.Mutex
	var waits []time.Duration
	var outs []legacy.Outcome
	o := e.options(&outs)
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		n := len(waits)
		mu.Unlock()
		if n == 3 {
			setFaults(t, e.emu, `{}`)
		}
		return nil
	}
	counts, err := legacy.Import(t.Context(), o)
	if err != nil || counts != (legacy.Counts{Created: 2}) {
		t.Fatalf("import through 429s: %v, %v", counts, err)
	}
	if !slices.Equal(waits, []time.Duration{time.Second, time.Second, time.Second}) {
		t.Errorf("waits %v, want three of the 1 s Retry-After", waits)
	}

	// Bounded: a Clerk that keeps answering 429 ends the run with an error
	// after MaxAttempts, and a long Retry-After is cut to MaxWait.
	e.local(t, clerkgate.User{ID: "usr_3", Email: "three@example.test"})
	setFaults(t, e.emu, `{"api":{"mode":"fail","status":429}}`)
	waits = nil
	o.MaxAttempts = 3
	o.MaxWait = 500 * time.Millisecond
	o.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	counts, err = legacy.Import(t.Context(), o)
	if err == nil || clerkgate.ErrorCode(err) != clerkgate.CodeRateLimited || counts != (legacy.Counts{}) {
		t.Fatalf("import under a lasting 429: %v, %v", counts, err)
	}
	if !slices.Equal(waits, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}) {
		t.Errorf("waits %v, want 2 × MaxWait", waits)
	}

	// The real wait ends with the context.
	o.Sleep = nil
	o.MaxWait = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = legacy.Import(ctx, o)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("import canceled during a wait: %v after %v", err, time.Since(start))
	}
}

// setFaults sets the emulator's faults through its control endpoint.
func setFaults(t *testing.T, emu *clerkemu.Server, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, emu.URL+"/__emulator/faults", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+emu.SecretKey())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("faults: %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("faults: status %d", resp.StatusCode)
	}
}

func TestImportOptionsRequired(t *testing.T) {
	t.Parallel()
	if _, err := legacy.Import(t.Context(), legacy.ImportOptions{}); err == nil {
		t.Fatal("Import without a store and Clerk did not fail")
	}
}
