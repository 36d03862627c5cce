package clerkapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/clerkapi"
)

// bcryptDigest is a bcrypt digest of "correct horse battery staple".
const bcryptDigest = "$2a$10$8K1p/a0dL1LXMIgoEDFrwOfMQbLgtnOoKsWc.6U6H0llP3puzeKHe"

// storedPassword returns the digest and hasher the emulator keeps for the
// user with Clerk id id.
func storedPassword(t *testing.T, srv *clerkemu.Server, id string) (digest, hasher string) {
	t.Helper()
	b, err := srv.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	var doc struct {
		Users []struct {
			PasswordDigest string `json:"password_digest"`
			PasswordHasher string `json:"password_hasher"`
			User           struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, u := range doc.Users {
		if u.User.ID == id {
			return u.PasswordDigest, u.PasswordHasher
		}
	}
	t.Fatalf("user %s is not in the emulator", id)
	return "", ""
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	u, err := c.CreateUser(t.Context(), &clerkgate.User{
		ExternalID: "legacy-1", Email: "Ann@Example.test", FirstName: "Ann", LastName: "Lee",
		PublicMetadata: json.RawMessage(`{"role":"admin"}`), PasswordDigest: bcryptDigest,
	}, "bcrypt")
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if !strings.HasPrefix(u.ClerkUserID, "user_") || u.ExternalID != "legacy-1" || u.Email != "ann@example.test" ||
		!u.EmailVerified || u.FirstName != "Ann" || u.LastName != "Lee" || string(u.PublicMetadata) != `{"role":"admin"}` {
		t.Errorf("created %+v", u)
	}
	if d, h := storedPassword(t, srv, u.ClerkUserID); d != bcryptDigest || h != "bcrypt" {
		t.Errorf("the emulator keeps digest %q with hasher %q", d, h)
	}

	// Without a digest, the password requirement is skipped.
	bare, err := c.CreateUser(t.Context(), &clerkgate.User{ExternalID: "legacy-2"}, "bcrypt")
	if err != nil {
		t.Fatalf("CreateUser without email or password: %v", err)
	}
	if d, _ := storedPassword(t, srv, bare.ClerkUserID); d != "" || bare.Email != "" {
		t.Errorf("a user without a digest has digest %q, email %q", d, bare.Email)
	}

	// Lookups.
	for name, tc := range map[string]struct {
		find func() ([]*clerkgate.User, error)
		want []string
	}{
		"by external id":         {func() ([]*clerkgate.User, error) { return c.UsersByExternalID(t.Context(), "legacy-1") }, []string{u.ClerkUserID}},
		"by unknown external id": {func() ([]*clerkgate.User, error) { return c.UsersByExternalID(t.Context(), "legacy-9") }, nil},
		"by empty external id":   {func() ([]*clerkgate.User, error) { return c.UsersByExternalID(t.Context(), "") }, nil},
		"by email":               {func() ([]*clerkgate.User, error) { return c.UsersByEmail(t.Context(), "ann@example.test") }, []string{u.ClerkUserID}},
		"by unknown email":       {func() ([]*clerkgate.User, error) { return c.UsersByEmail(t.Context(), "bob@example.test") }, nil},
		"by an id with a query":  {func() ([]*clerkgate.User, error) { return c.UsersByExternalID(t.Context(), "legacy-1&limit=500") }, nil},
	} {
		got, err := tc.find()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var ids []string
		for _, g := range got {
			ids = append(ids, g.ClerkUserID)
		}
		if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", name, ids, tc.want)
		}
	}

	// Identifiers taken.
	for name, dup := range map[string]*clerkgate.User{
		"email":       {ExternalID: "legacy-3", Email: "ann@example.test"},
		"external id": {ExternalID: "legacy-1", Email: "new@example.test"},
	} {
		_, err := c.CreateUser(t.Context(), dup, "bcrypt")
		if clerkgate.ErrorCode(err) != clerkgate.CodeInvalidRequest || !clerkapi.IsIdentifierExists(err) {
			t.Errorf("%s taken: %v, want invalid_request with %s", name, err, clerkapi.CodeIdentifierExists)
		}
	}
}

func TestCreateUserInvalid(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	for name, tc := range map[string]struct {
		u      *clerkgate.User
		hasher string
	}{
		"nil":                   {nil, "bcrypt"},
		"digest without hasher": {&clerkgate.User{PasswordDigest: bcryptDigest}, ""},
		"metadata not object":   {&clerkgate.User{PublicMetadata: json.RawMessage(`[1]`)}, "bcrypt"},
		"unknown hasher":        {&clerkgate.User{PasswordDigest: bcryptDigest}, "rot13"},
	} {
		_, err := c.CreateUser(t.Context(), tc.u, tc.hasher)
		if clerkgate.ErrorCode(err) != clerkgate.CodeInvalidRequest {
			t.Errorf("%s: %v, want invalid_request", name, err)
		}
		if err != nil && strings.Contains(err.Error(), bcryptDigest) {
			t.Errorf("%s: the error shows the digest", name)
		}
	}
	var n int
	b, _ := srv.Snapshot()
	var doc struct{ Users []json.RawMessage }
	json.Unmarshal(b, &doc)
	if n = len(doc.Users); n != 0 {
		t.Errorf("%d users created by invalid requests", n)
	}
}

func TestCreateUserRateLimited(t *testing.T) {
	t.Parallel()
	srv, c := MustEmulator(t)
	if err := srv.SetFaults(clerkemu.Faults{API: clerkemu.Fault{Mode: clerkemu.FaultFail, Status: http.StatusTooManyRequests}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateUser(t.Context(), &clerkgate.User{ExternalID: "x"}, "bcrypt")
	wait, limited := clerkapi.RetryAfter(err)
	if clerkgate.ErrorCode(err) != clerkgate.CodeRateLimited || !limited || wait != time.Second {
		t.Fatalf("CreateUser under a 429: %v (retry after %v, %t)", err, wait, limited)
	}
	if _, err := c.UsersByEmail(t.Context(), "a@example.test"); clerkgate.ErrorCode(err) != clerkgate.CodeRateLimited {
		t.Fatalf("UsersByEmail under a 429: %v", err)
	}
	if _, limited := clerkapi.RetryAfter(clerkgate.Errorf(clerkgate.CodeUnavailable, "x")); limited {
		t.Error("RetryAfter of another error reports a 429")
	}
}
