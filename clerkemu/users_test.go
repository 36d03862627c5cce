package clerkemu_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	"github.com/clerk/clerk-sdk-go/v2/session"
	"github.com/clerk/clerk-sdk-go/v2/user"

	"github.com/clerkgate/clerkgate/clerkemu"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rawJSON(s string) *json.RawMessage {
	m := json.RawMessage(s)
	return &m
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(tb testing.TB, got []byte, want string) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		tb.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("got %s, want %s", got, want)
	}
}

func TestUserLifecycleThroughSDK(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: epoch}
	e := newEnv(t, clerkemu.Options{Clock: clk.Now})

	u, err := e.users.Create(ctx(), &user.CreateParams{
		EmailAddresses: &[]string{"Alice@Example.com", "alice.work@example.com"},
		FirstName:      clerk.String("Alice"),
		LastName:       clerk.String("Liddell"),
		ExternalID:     clerk.String("legacy-42"),
		Password:       clerk.String("correct horse battery"),
		PublicMetadata: rawJSON(`{"role":"admin","n":12345678901234567890}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.ID, "user_") || u.Object != "user" {
		t.Errorf("id %q object %q", u.ID, u.Object)
	}
	if len(u.EmailAddresses) != 2 || u.EmailAddresses[0].EmailAddress != "alice@example.com" {
		t.Fatalf("emails %+v", u.EmailAddresses)
	}
	ea := u.EmailAddresses[0]
	if !strings.HasPrefix(ea.ID, "idn_") || u.PrimaryEmailAddressID == nil || *u.PrimaryEmailAddressID != ea.ID {
		t.Errorf("primary email id %v, first email %q", u.PrimaryEmailAddressID, ea.ID)
	}
	if ea.Verification == nil || ea.Verification.Status != "verified" || ea.Verification.Strategy != "admin" {
		t.Errorf("verification %+v", ea.Verification)
	}
	if !u.PasswordEnabled || u.ExternalID == nil || *u.ExternalID != "legacy-42" || *u.FirstName != "Alice" {
		t.Errorf("user %+v", u)
	}
	if u.CreatedAt != epoch.UnixMilli() || u.UpdatedAt != epoch.UnixMilli() {
		t.Errorf("created_at %d updated_at %d, want %d (ms)", u.CreatedAt, u.UpdatedAt, epoch.UnixMilli())
	}
	jsonEqual(t, u.PublicMetadata, `{"role":"admin","n":12345678901234567890}`)
	if !strings.Contains(string(u.PublicMetadata), "12345678901234567890") {
		t.Errorf("large number not kept exactly: %s", u.PublicMetadata)
	}

	got, err := e.users.Get(ctx(), u.ID)
	if err != nil || got.ID != u.ID || got.PrimaryEmailAddressID == nil {
		t.Fatalf("get: %v %+v", err, got)
	}

	clk.Advance(time.Minute)
	upd, err := e.users.Update(ctx(), u.ID, &user.UpdateParams{FirstName: clerk.String("Alicia"), Username: clerk.String("alicia")})
	if err != nil {
		t.Fatal(err)
	}
	if *upd.FirstName != "Alicia" || *upd.Username != "alicia" || upd.UpdatedAt != epoch.Add(time.Minute).UnixMilli() {
		t.Errorf("after update: first %q username %v updated_at %d", *upd.FirstName, upd.Username, upd.UpdatedAt)
	}

	// The SDK sends metadata in Update through PUT /users/{id}/metadata.
	//lint:ignore SA1019 this drives the SDK's deprecated metadata path on purpose.
	upd, err = e.users.Update(ctx(), u.ID, &user.UpdateParams{LastName: clerk.String("L."), PrivateMetadata: rawJSON(`{"k":"v"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if *upd.LastName != "L." {
		t.Errorf("last name %q", *upd.LastName)
	}
	jsonEqual(t, upd.PrivateMetadata, `{"k":"v"}`)
	jsonEqual(t, upd.PublicMetadata, `{"role":"admin","n":12345678901234567890}`)

	// PATCH metadata merges deeply; null removes a key at any level.
	_, err = e.users.ReplaceMetadata(ctx(), u.ID, &user.ReplaceMetadataParams{
		PublicMetadata: rawJSON(`{"a":{"b":1,"c":2},"d":1,"keep":[1,2]}`)})
	if err != nil {
		t.Fatal(err)
	}
	upd, err = e.users.UpdateMetadata(ctx(), u.ID, &user.UpdateMetadataParams{
		PublicMetadata: rawJSON(`{"a":{"b":null,"e":{"f":3}},"d":null,"g":"h"}`),
		UnsafeMetadata: rawJSON(`{"theme":"dark"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, upd.PublicMetadata, `{"a":{"c":2,"e":{"f":3}},"keep":[1,2],"g":"h"}`)
	jsonEqual(t, upd.UnsafeMetadata, `{"theme":"dark"}`)
	jsonEqual(t, upd.PrivateMetadata, `{"k":"v"}`)

	// PUT replaces each given object and leaves the others alone.
	upd, err = e.users.ReplaceMetadata(ctx(), u.ID, &user.ReplaceMetadataParams{PublicMetadata: rawJSON(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, upd.PublicMetadata, `{}`)
	jsonEqual(t, upd.UnsafeMetadata, `{"theme":"dark"}`)

	// Ban revokes the user's sessions; unban, lock and unlock flip flags.
	s, err := e.sessions.Create(ctx(), &session.CreateParams{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	banned, err := e.users.Ban(ctx(), u.ID)
	if err != nil || !banned.Banned {
		t.Fatalf("ban: %v %+v", err, banned)
	}
	if s2, err := e.sessions.Get(ctx(), s.ID); err != nil || s2.Status != "revoked" {
		t.Errorf("session after ban: %v %+v", err, s2)
	}
	if _, err := e.sessions.Create(ctx(), &session.CreateParams{UserID: u.ID}); err == nil {
		t.Error("a banned user got a session")
	}
	for _, step := range []struct {
		name         string
		call         func(string) (*clerk.User, error)
		banned, lock bool
	}{
		{"unban", func(id string) (*clerk.User, error) { return e.users.Unban(ctx(), id) }, false, false},
		{"lock", func(id string) (*clerk.User, error) { return e.users.Lock(ctx(), id) }, false, true},
		{"unlock", func(id string) (*clerk.User, error) { return e.users.Unlock(ctx(), id) }, false, false},
	} {
		got, err := step.call(u.ID)
		if err != nil || got.Banned != step.banned || got.Locked != step.lock {
			t.Errorf("%s: %v banned=%v locked=%v", step.name, err, got.Banned, got.Locked)
		}
	}

	s, err = e.sessions.Create(ctx(), &session.CreateParams{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	del, err := e.users.Delete(ctx(), u.ID)
	if err != nil || del.Object != "user" || del.ID != u.ID || !del.Deleted {
		t.Fatalf("delete: %v %+v", err, del)
	}
	_, err = e.users.Get(ctx(), u.ID)
	apiError(t, err, http.StatusNotFound, "resource_not_found")
	_, err = e.sessions.Get(ctx(), s.ID)
	apiError(t, err, http.StatusNotFound, "resource_not_found")
	_, err = e.users.Delete(ctx(), u.ID)
	apiError(t, err, http.StatusNotFound, "resource_not_found")
}

func TestUserListAndCount(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: epoch}
	e := newEnv(t, clerkemu.Options{Clock: clk.Now})
	specs := []clerkemu.UserParams{
		{Email: "ann@example.com", FirstName: "Ann", LastName: "Archer", ExternalID: "ext-1"},
		{Email: "bob@example.com", FirstName: "Bob", LastName: "Baker", Username: "bobby"},
		{Email: "cid@corp.example", FirstName: "Cid", LastName: "Archer"},
		{Email: "dee@corp.example", FirstName: "Dee"},
		{Email: "eve@example.com", FirstName: "Eve", ExternalID: "ext-5"},
	}
	ids := make([]string, len(specs))
	for i, p := range specs {
		if i == 3 {
			// Same millisecond as the previous user: order must stay stable.
		} else {
			clk.Advance(time.Second)
		}
		u, err := e.srv.CreateUser(p)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = u.ID
	}
	if _, err := e.srv.BanUser(ids[4]); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if _, err := e.users.Update(ctx(), ids[0], &user.UpdateParams{FirstName: clerk.String("Anne")}); err != nil {
		t.Fatal(err)
	}
	pick := func(idx ...int) []string {
		out := []string{}
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	tests := []struct {
		name  string
		p     user.ListParams
		want  []string
		total int64
	}{
		{"default newest first", user.ListParams{}, pick(4, 3, 2, 1, 0), 5},
		{"oldest first", user.ListParams{OrderBy: clerk.String("created_at")}, pick(0, 1, 2, 3, 4), 5},
		{"explicit plus", user.ListParams{OrderBy: clerk.String("+created_at")}, pick(0, 1, 2, 3, 4), 5},
		{"updated_at desc", user.ListParams{OrderBy: clerk.String("-updated_at")}, pick(0, 4, 3, 2, 1), 5},
		{"by last name", user.ListParams{OrderBy: clerk.String("last_name")}, pick(3, 4, 0, 2, 1), 5},
		{"page", user.ListParams{ListParams: clerk.ListParams{Limit: clerk.Int64(2), Offset: clerk.Int64(1)}}, pick(3, 2), 5},
		{"offset past end", user.ListParams{ListParams: clerk.ListParams{Offset: clerk.Int64(9)}}, pick(), 5},
		{"emails, case-insensitive", user.ListParams{EmailAddresses: []string{"BOB@example.com", "cid@corp.example", "nobody@x.io"}}, pick(2, 1), 2},
		{"user ids", user.ListParams{UserIDs: []string{ids[0], ids[3]}}, pick(3, 0), 2},
		{"user id exclusion", user.ListParams{UserIDs: []string{"-" + ids[0], "-" + ids[1]}}, pick(4, 3, 2), 3},
		{"external ids", user.ListParams{ExternalIDs: []string{"ext-1", "ext-5"}}, pick(4, 0), 2},
		{"usernames", user.ListParams{Usernames: []string{"bobby"}}, pick(1), 1},
		{"query on name", user.ListParams{Query: clerk.String("archer")}, pick(2, 0), 2},
		{"query on email", user.ListParams{Query: clerk.String("corp.EXAMPLE")}, pick(3, 2), 2},
		{"query on id", user.ListParams{Query: clerk.String(ids[1][5:])}, pick(1), 1},
		{"banned", user.ListParams{Banned: clerk.Bool(true)}, pick(4), 1},
		{"not banned", user.ListParams{Banned: clerk.Bool(false), ListParams: clerk.ListParams{Limit: clerk.Int64(1)}}, pick(3), 4},
		{"filters combine", user.ListParams{Query: clerk.String("example.com"), ExternalIDs: []string{"ext-1", "ext-9"}}, pick(0), 1},
		{"created after", user.ListParams{CreatedAtAfter: clerk.Int64(epoch.Add(2 * time.Second).UnixMilli()), OrderBy: clerk.String("created_at")}, pick(2, 3, 4), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.users.List(ctx(), &tt.p)
			if err != nil {
				t.Fatal(err)
			}
			gotIDs := []string{}
			for _, u := range got.Users {
				gotIDs = append(gotIDs, u.ID)
			}
			if !reflect.DeepEqual(gotIDs, tt.want) || got.TotalCount != tt.total {
				t.Errorf("got %v (total %d), want %v (total %d)", gotIDs, got.TotalCount, tt.want, tt.total)
			}
		})
	}

	t.Run("starting_after walks every user once", func(t *testing.T) {
		var seen []string
		cursor := ""
		for range 10 {
			path := "/v1/users?limit=2&order_by=created_at"
			if cursor != "" {
				path += "&starting_after=" + cursor
			}
			r := e.do(t, "GET", path, "")
			var page []clerkemu.User
			r.decode(t, &page)
			for _, u := range page {
				seen = append(seen, u.ID)
			}
			if len(page) < 2 {
				break
			}
			cursor = page[len(page)-1].ID
		}
		if !reflect.DeepEqual(seen, pick(0, 1, 2, 3, 4)) {
			t.Errorf("walk %v, want %v", seen, pick(0, 1, 2, 3, 4))
		}
		r := e.do(t, "GET", "/v1/users?order_by=first_name&starting_after="+ids[0], "")
		if code, param := r.clerkError(t); r.status != 422 || param != "starting_after" {
			t.Errorf("starting_after with order_by=first_name: %d %s %s", r.status, code, param)
		}
	})

	t.Run("count", func(t *testing.T) {
		r := e.do(t, "GET", "/v1/users/count?query=archer", "")
		jsonEqual(t, r.body, `{"object":"total_count","total_count":2}`)
		n, err := e.users.Count(ctx(), &user.ListParams{EmailAddresses: []string{"ann@example.com", "eve@example.com"}})
		if err != nil || n.Object != "total_count" || n.TotalCount != 2 {
			t.Errorf("sdk count: %v %+v", err, n)
		}
	})
}

func TestCreateUserRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	if _, err := e.srv.CreateUser(clerkemu.UserParams{Email: "taken@example.com", ExternalID: "x1", Username: "taken"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body   string
		status       int
		code, param  string
		allowSuccess bool
	}{
		{"duplicate email, other case", `{"email_address":["TAKEN@example.com"]}`, 422, "form_identifier_exists", "email_address", false},
		{"duplicate email in request", `{"email_address":["a@example.com","A@example.com"]}`, 422, "form_identifier_exists", "email_address", false},
		{"invalid email", `{"email_address":["not-an-email"]}`, 422, "form_param_format_invalid", "email_address", false},
		{"email as string", `{"email_address":"x@example.com"}`, 422, "form_param_format_invalid", "email_address", false},
		{"duplicate external id", `{"external_id":"x1"}`, 422, "form_identifier_exists", "external_id", false},
		{"duplicate username", `{"username":"TAKEN"}`, 422, "form_identifier_exists", "username", false},
		{"short username", `{"username":"ab"}`, 422, "form_param_format_invalid", "username", false},
		{"short password", `{"password":"short"}`, 422, "form_password_length_too_short", "password", false},
		{"digest without hasher", `{"password_digest":"$2a$10$abc"}`, 422, "form_param_missing", "password_hasher", false},
		{"unknown hasher", `{"password_digest":"x","password_hasher":"rot13"}`, 422, "form_param_value_invalid", "password_hasher", false},
		{"metadata not an object", `{"public_metadata":[1]}`, 422, "form_param_format_invalid", "public_metadata", false},
		{"name not a string", `{"first_name":7}`, 422, "form_param_format_invalid", "first_name", false},
		{"unknown member", `{"email_addresses":["x@example.com"]}`, 422, "form_param_unknown", "email_addresses", false},
		{"bad created_at", `{"created_at":"yesterday"}`, 422, "form_param_format_invalid", "created_at", false},
		{"phone numbers unsupported", `{"phone_number":["+15555550100"]}`, 422, "form_param_value_invalid", "phone_number", false},
		{"skip checks allows short password", `{"password":"short","skip_password_checks":true}`, 200, "", "", true},
		{"digest import", `{"password_digest":"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy","password_hasher":"bcrypt"}`, 200, "", "", true},
		{"nulls are absent", `{"first_name":null,"public_metadata":null,"email_address":null}`, 200, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "POST", "/v1/users", tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.allowSuccess {
				var u clerkemu.User
				r.decode(t, &u)
				if u.ID == "" {
					t.Errorf("no user in %s", r.body)
				}
				return
			}
			code, param := r.clerkError(t)
			if code != tt.code || param != tt.param {
				t.Errorf("error %s (param %q), want %s (param %q)", code, param, tt.code, tt.param)
			}
		})
	}
}

func TestPatchUserMetadataDependsOnAPIVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, clerkemu.Options{})
	u, err := e.srv.CreateUser(clerkemu.UserParams{PublicMetadata: map[string]any{"a": 1, "b": 2}})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "PATCH", "/v1/users/"+u.ID, `{"public_metadata":{"a":3}}`, "Clerk-API-Version", "2026-05-12")
	if code, param := r.clerkError(t); r.status != 422 || code != "form_param_unknown" || param != "public_metadata" {
		t.Errorf("2026-05-12: %d %s %s", r.status, code, param)
	}
	// Older API versions replaced the whole object on PATCH /users/{id}.
	r = e.do(t, "PATCH", "/v1/users/"+u.ID, `{"public_metadata":{"a":3}}`, "Clerk-API-Version", "2025-11-10")
	var got clerkemu.User
	r.decode(t, &got)
	if !reflect.DeepEqual(got.PublicMetadata, map[string]any{"a": float64(3)}) {
		t.Errorf("2025-11-10: public_metadata %v", got.PublicMetadata)
	}
	// A null clears a nullable field; absent members stay.
	r = e.do(t, "PATCH", "/v1/users/"+u.ID, `{"first_name":"Zed","last_name":"Q"}`)
	r = e.do(t, "PATCH", "/v1/users/"+u.ID, `{"first_name":null}`)
	r.decode(t, &got)
	if got.FirstName != nil || got.LastName == nil || *got.LastName != "Q" {
		t.Errorf("after null first_name: first %v last %v", got.FirstName, got.LastName)
	}
}

func TestUserSnapshotsAreCopies(t *testing.T) {
	t.Parallel()
	e, err := clerkemu.New(clerkemu.Options{SigningKey: testKey()})
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{"nested": map[string]any{"x": 1}}
	u, err := e.CreateUser(clerkemu.UserParams{Email: "c@example.com", PublicMetadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	meta["nested"].(map[string]any)["x"] = 2
	u.PublicMetadata["nested"].(map[string]any)["x"] = 3
	u.EmailAddresses[0].EmailAddress = "changed@example.com"
	again, err := e.GetUser(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.PrimaryEmail() != "c@example.com" {
		t.Errorf("email %q", again.PrimaryEmail())
	}
	if x := again.PublicMetadata["nested"].(map[string]any)["x"]; x != json.Number("1") {
		t.Errorf("metadata changed through a copy: %v", x)
	}
}
