package storecheck_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	clerkgate "github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/internal/storecheck"
)

// Text no store can hold alike.
const (
	nul     = "a\x00b"
	badUTF8 = "a\xffb"
)

// Messages of the rules, as clients see them.
const (
	userText       = "user fields must be UTF-8 text without NUL characters"
	userMetadata   = "public metadata is not valid JSON"
	denialText     = "session denial fields must be UTF-8 text without NUL characters"
	membershipText = "membership fields must be UTF-8 text without NUL characters"
	eventText      = "security event fields must be UTF-8 text without NUL characters"
	webhookText    = "webhook record fields must be UTF-8 text without NUL characters"
)

// checkErr fails t unless err is nil when want is empty, or else a
// *clerkgate.Error with CodeInvalidRequest and the message want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	var e *clerkgate.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %#v, want a *clerkgate.Error", err)
	}
	if e.Code != clerkgate.CodeInvalidRequest || e.Message != want || e.Err != nil {
		t.Fatalf("error {Code: %q, Message: %q, Err: %v}, want {Code: %q, Message: %q}",
			e.Code, e.Message, e.Err, clerkgate.CodeInvalidRequest, want)
	}
}

// change is one case of a rule: a change to a value the rule accepts, and
// the message of the refusal (empty when the changed value is accepted).
type change[T any] struct {
	name   string
	change func(*T)
	want   string
}

// runChanges runs check, in parallel subtests, on valid changed by each of
// cases.
func runChanges[T any](t *testing.T, valid T, check func(T) error, cases []change[T]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := valid
			tt.change(&v)
			checkErr(t, check(v), tt.want)
		})
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	err := storecheck.Invalid("limit must be between 1 and 200")
	checkErr(t, err, "limit must be between 1 and 200")
	if got := clerkgate.ErrorCode(err); got != clerkgate.CodeInvalidRequest {
		t.Errorf("ErrorCode = %q, want %q", got, clerkgate.CodeInvalidRequest)
	}
	if got := clerkgate.ErrorMessage(err); got != "limit must be between 1 and 200" {
		t.Errorf("ErrorMessage = %q", got)
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		want bool
	}{
		{"", true},
		{"user_2abc", true},
		{"Zoë 東京 🙂", true},
		{strings.Repeat("x", 1<<16), true},
		{"\x00", false},
		{nul, false},
		{"trailing\x00", false},
		{badUTF8, false},
		{"\xc3", false},         // a truncated sequence
		{"\xed\xa0\x80", false}, // a UTF-16 surrogate
	}
	for _, tt := range tests {
		if got := storecheck.Text(tt.s); got != tt.want {
			t.Errorf("Text(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// validUser is a user that every rule on users accepts (a Clerk one).
var validUser = clerkgate.User{
	ID: "usr_1", ClerkUserID: "user_1", Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
	ImageURL: "https://img.example/a.png", Role: "admin", ExternalID: "legacy-1",
	PublicMetadata: json.RawMessage(`{"role":"admin"}`), ClerkUpdatedAt: 1700000000000,
}

// userFieldCases are the cases of the rules on the fields of every user.
var userFieldCases = []change[clerkgate.User]{
	{"no metadata", func(u *clerkgate.User) { u.PublicMetadata = nil }, ""},
	{"empty optional fields", func(u *clerkgate.User) { u.Email, u.FirstName, u.ImageURL, u.ExternalID = "", "", "", "" }, ""},
	{"metadata not JSON", func(u *clerkgate.User) { u.PublicMetadata = json.RawMessage(`{"a":`) }, userMetadata},
	{"NUL in id", func(u *clerkgate.User) { u.ID = nul }, userText},
	{"NUL in email", func(u *clerkgate.User) { u.Email = nul }, userText},
	{"NUL in first name", func(u *clerkgate.User) { u.FirstName = nul }, userText},
	{"NUL in last name", func(u *clerkgate.User) { u.LastName = nul }, userText},
	{"invalid UTF-8 in image URL", func(u *clerkgate.User) { u.ImageURL = badUTF8 }, userText},
	{"invalid UTF-8 in role", func(u *clerkgate.User) { u.Role = badUTF8 }, userText},
	{"NUL in external id", func(u *clerkgate.User) { u.ExternalID = nul }, userText},
}

func TestUser(t *testing.T) {
	t.Parallel()
	const noID = "a user to save needs a Clerk user id"
	t.Run("nil", func(t *testing.T) {
		t.Parallel()
		checkErr(t, storecheck.User(nil), noID)
	})
	runChanges(t, validUser, func(u clerkgate.User) error { return storecheck.User(&u) }, append([]change[clerkgate.User]{
		{"valid", func(*clerkgate.User) {}, ""},
		{"no Clerk id", func(u *clerkgate.User) { u.ClerkUserID = "" }, noID},
		{"NUL in Clerk id", func(u *clerkgate.User) { u.ClerkUserID = nul }, userText},
		{"password digest is not checked", func(u *clerkgate.User) { u.PasswordDigest = nul }, ""},
	}, userFieldCases...))
}

func TestLocalUser(t *testing.T) {
	t.Parallel()
	const clerk = "a local user has no Clerk id or Clerk version"
	const digest = "the password digest must be UTF-8 text without NUL characters"
	t.Run("nil", func(t *testing.T) {
		t.Parallel()
		checkErr(t, storecheck.LocalUser(nil), "no user to create")
	})
	local := validUser
	local.ClerkUserID, local.ClerkUpdatedAt, local.PasswordDigest = "", 0, "$2a$10$abc"
	runChanges(t, local, func(u clerkgate.User) error { return storecheck.LocalUser(&u) }, append([]change[clerkgate.User]{
		{"valid", func(*clerkgate.User) {}, ""},
		{"no password digest", func(u *clerkgate.User) { u.PasswordDigest = "" }, ""},
		{"a Clerk id", func(u *clerkgate.User) { u.ClerkUserID = "user_1" }, clerk},
		{"a Clerk version", func(u *clerkgate.User) { u.ClerkUpdatedAt = 1 }, clerk},
		{"NUL in password digest", func(u *clerkgate.User) { u.PasswordDigest = nul }, digest},
		{"invalid UTF-8 in password digest", func(u *clerkgate.User) { u.PasswordDigest = badUTF8 }, digest},
		{"digest checked before fields", func(u *clerkgate.User) { u.PasswordDigest, u.Email = nul, nul }, digest},
	}, userFieldCases...))
}

func TestDenial(t *testing.T) {
	t.Parallel()
	valid := clerkgate.SessionDenial{SessionID: "sess_1", ClerkUserID: "user_1", Reason: "logout"}
	runChanges(t, valid, storecheck.Denial, []change[clerkgate.SessionDenial]{
		{"valid", func(*clerkgate.SessionDenial) {}, ""},
		{"session id only", func(d *clerkgate.SessionDenial) { d.ClerkUserID, d.Reason = "", "" }, ""},
		{"no session id", func(d *clerkgate.SessionDenial) { d.SessionID = "" }, "a session denial needs a session id"},
		{"NUL in session id", func(d *clerkgate.SessionDenial) { d.SessionID = nul }, denialText},
		{"NUL in Clerk user id", func(d *clerkgate.SessionDenial) { d.ClerkUserID = nul }, denialText},
		{"invalid UTF-8 in reason", func(d *clerkgate.SessionDenial) { d.Reason = badUTF8 }, denialText},
	})
}

func TestMembership(t *testing.T) {
	t.Parallel()
	const ids = "a membership needs an organization id and a Clerk user id"
	valid := clerkgate.Membership{OrgID: "org_1", ClerkUserID: "user_1", OrgSlug: "acme", Role: "org:admin", ClerkUpdatedAt: 1}
	runChanges(t, valid, storecheck.Membership, []change[clerkgate.Membership]{
		{"valid", func(*clerkgate.Membership) {}, ""},
		{"a tombstone without slug or role", func(m *clerkgate.Membership) { m.OrgSlug, m.Role, m.Deleted = "", "", true }, ""},
		{"no organization id", func(m *clerkgate.Membership) { m.OrgID = "" }, ids},
		{"no Clerk user id", func(m *clerkgate.Membership) { m.ClerkUserID = "" }, ids},
		{"NUL in organization id", func(m *clerkgate.Membership) { m.OrgID = nul }, membershipText},
		{"NUL in Clerk user id", func(m *clerkgate.Membership) { m.ClerkUserID = nul }, membershipText},
		{"invalid UTF-8 in slug", func(m *clerkgate.Membership) { m.OrgSlug = badUTF8 }, membershipText},
		{"NUL in role", func(m *clerkgate.Membership) { m.Role = nul }, membershipText},
	})
}

func TestSecurityEvent(t *testing.T) {
	t.Parallel()
	valid := clerkgate.SecurityEvent{
		ID: "sev_1", Kind: clerkgate.EventAuthFailed, IP: "192.0.2.1", UserID: "user_1", RequestID: "req_1",
		Detail: json.RawMessage(`{"reason":"expired"}`),
	}
	runChanges(t, valid, storecheck.SecurityEvent, []change[clerkgate.SecurityEvent]{
		{"valid", func(*clerkgate.SecurityEvent) {}, ""},
		{"kind only", func(e *clerkgate.SecurityEvent) { *e = clerkgate.SecurityEvent{Kind: "x"} }, ""},
		{"no kind", func(e *clerkgate.SecurityEvent) { e.Kind = "" }, "a security event needs a kind"},
		{"detail not JSON", func(e *clerkgate.SecurityEvent) { e.Detail = json.RawMessage(`{`) }, "security event detail is not valid JSON"},
		{"NUL in id", func(e *clerkgate.SecurityEvent) { e.ID = nul }, eventText},
		{"NUL in kind", func(e *clerkgate.SecurityEvent) { e.Kind = nul }, eventText},
		{"invalid UTF-8 in IP", func(e *clerkgate.SecurityEvent) { e.IP = badUTF8 }, eventText},
		{"NUL in user id", func(e *clerkgate.SecurityEvent) { e.UserID = nul }, eventText},
		{"invalid UTF-8 in request id", func(e *clerkgate.SecurityEvent) { e.RequestID = badUTF8 }, eventText},
	})
}

func TestWebhookRecord(t *testing.T) {
	t.Parallel()
	const digest = "a webhook record needs the SHA-256 digest of the body"
	valid := clerkgate.WebhookRecord{MessageID: "msg_1", EventType: "user.updated", BodySHA256: make([]byte, 32)}
	runChanges(t, valid, storecheck.WebhookRecord, []change[clerkgate.WebhookRecord]{
		{"valid", func(*clerkgate.WebhookRecord) {}, ""},
		{"no event type", func(r *clerkgate.WebhookRecord) { r.EventType = "" }, ""},
		{"no message id", func(r *clerkgate.WebhookRecord) { r.MessageID = "" }, "a webhook record needs a message id"},
		{"no digest", func(r *clerkgate.WebhookRecord) { r.BodySHA256 = nil }, digest},
		{"short digest", func(r *clerkgate.WebhookRecord) { r.BodySHA256 = make([]byte, 31) }, digest},
		{"long digest", func(r *clerkgate.WebhookRecord) { r.BodySHA256 = make([]byte, 33) }, digest},
		{"NUL in message id", func(r *clerkgate.WebhookRecord) { r.MessageID = nul }, webhookText},
		{"invalid UTF-8 in event type", func(r *clerkgate.WebhookRecord) { r.EventType = badUTF8 }, webhookText},
	})
}

func TestLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want int
		bad      bool
	}{
		{0, storecheck.DefaultLimit, false}, {1, 1, false}, {200, 200, false},
		{201, 0, true}, {-1, 0, true},
	} {
		got, err := storecheck.Limit(tt.in)
		if tt.bad {
			checkErr(t, err, "limit must be between 1 and 200")
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Limit(%d) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestNotFoundAndConflict(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		code clerkgate.Code
		msg  string
	}{
		{storecheck.UserNotFound(), clerkgate.CodeNotFound, "user not found"},
		{storecheck.NotFound("webhook message not found"), clerkgate.CodeNotFound, "webhook message not found"},
		{storecheck.Conflict("taken"), clerkgate.CodeConflict, "taken"},
	} {
		if clerkgate.ErrorCode(tt.err) != tt.code || clerkgate.ErrorMessage(tt.err) != tt.msg {
			t.Errorf("%v: code %q, message %q; want %q, %q", tt.err, clerkgate.ErrorCode(tt.err),
				clerkgate.ErrorMessage(tt.err), tt.code, tt.msg)
		}
	}
}

func TestOneUnlinked(t *testing.T) {
	t.Parallel()
	a, b := &clerkgate.User{ID: "usr_a"}, &clerkgate.User{ID: "usr_b"}
	if u, err := storecheck.OneUnlinked([]*clerkgate.User{a}); u != a || err != nil {
		t.Errorf("one: %v, %v", u, err)
	}
	if _, err := storecheck.OneUnlinked(nil); clerkgate.ErrorCode(err) != clerkgate.CodeNotFound {
		t.Errorf("none: %v, want not_found", err)
	}
	if _, err := storecheck.OneUnlinked([]*clerkgate.User{a, b}); clerkgate.ErrorCode(err) != clerkgate.CodeConflict {
		t.Errorf("two: %v, want conflict", err)
	}
}
