package storetest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	clerkgate "github.com/clerkgate/clerkgate"
)

// listAll follows the cursors of q to the end and returns every user seen
// and the size of each page.
func listAll(t *testing.T, s clerkgate.UserStore, q clerkgate.UserQuery) (ids []string, pages []int) {
	t.Helper()
	for range 1000 {
		users, next, err := s.ListUsers(t.Context(), q)
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", q, err)
		}
		pages = append(pages, len(users))
		for _, u := range users {
			ids = append(ids, u.ClerkUserID)
		}
		if next == "" {
			return ids, pages
		}
		q.Cursor = next
	}
	t.Fatal("ListUsers never ended")
	return nil, nil
}

// clerkIDs returns "user_<prefix><i>" for i in 0..n-1.
func clerkIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user_%s%02d", prefix, i)
	}
	return out
}

func testListEmpty(t *testing.T, s clerkgate.UserStore) {
	users, next, err := s.ListUsers(t.Context(), clerkgate.UserQuery{})
	if err != nil || len(users) != 0 || next != "" {
		t.Fatalf("ListUsers of an empty store = %d users, %q, %v", len(users), next, err)
	}
}

func testListPages(t *testing.T, s clerkgate.UserStore) {
	want := clerkIDs("page", 7)
	order := rand.Perm(len(want)) // insert out of creation order
	for _, i := range order {
		u := newUser(want[i], 1)
		u.CreatedAt = base.Add(time.Duration(i) * time.Second)
		mustSave(t, s, u)
	}
	ids, pages := listAll(t, s, clerkgate.UserQuery{Limit: 3})
	if !slices.Equal(ids, want) || !slices.Equal(pages, []int{3, 3, 1}) {
		t.Fatalf("pages %v of %v, want [3 3 1] of %v", pages, ids, want)
	}
	// A page that ends exactly at the last row has no next cursor.
	ids, pages = listAll(t, s, clerkgate.UserQuery{Limit: 7})
	if !slices.Equal(ids, want) || len(pages) != 1 {
		t.Fatalf("one full page = %v in pages %v, want %v in one page", ids, pages, want)
	}
}

func testListPagesSameCreatedAt(t *testing.T, s clerkgate.UserStore) {
	want := clerkIDs("same", 8)
	byID := map[string]string{}
	for _, c := range want {
		u := newUser(c, 1)
		u.CreatedAt = base
		saved, _ := mustSave(t, s, u)
		byID[saved.ID] = c
	}
	ids, pages := listAll(t, s, clerkgate.UserQuery{Limit: 3})
	if !slices.Equal(pages, []int{3, 3, 2}) {
		t.Fatalf("pages %v, want [3 3 2]", pages)
	}
	// Ties on created_at are ordered by id.
	localIDs := make([]string, 0, len(byID))
	for id := range byID {
		localIDs = append(localIDs, id)
	}
	slices.Sort(localIDs)
	for i, id := range localIDs {
		if ids[i] != byID[id] {
			t.Fatalf("order %v is not by id", ids)
		}
	}
}

func testListFilters(t *testing.T, s clerkgate.UserStore) {
	people := []struct{ clerkID, email, first, last, role string }{
		{"user_ann", "Ann.Lee@Example.test", "Ann", "Lee", "admin"},
		{"user_bob", "bob@example.test", "Bob", "MARTIN", "member"},
		{"user_cat", "cat@other.test", "Catherine", "Annex", "member"},
		{"user_dan", "dan@other.test", "Dan", "Brown", "viewer"},
	}
	for i, p := range people {
		u := newUser(p.clerkID, 1)
		u.Email, u.FirstName, u.LastName, u.Role = p.email, p.first, p.last, p.role
		u.CreatedAt = base.Add(time.Duration(i) * time.Second)
		mustSave(t, s, u)
	}
	mustSave(t, s, tombstone("user_dan", 2, base))

	tests := []struct {
		q    clerkgate.UserQuery
		want []string
	}{
		{clerkgate.UserQuery{}, []string{"user_ann", "user_bob", "user_cat"}},
		{clerkgate.UserQuery{IncludeDeleted: true}, []string{"user_ann", "user_bob", "user_cat", "user_dan"}},
		{clerkgate.UserQuery{Query: "ann"}, []string{"user_ann", "user_cat"}}, // first name and last name
		{clerkgate.UserQuery{Query: "ANN.LEE"}, []string{"user_ann"}},         // email, case-insensitive
		{clerkgate.UserQuery{Query: "martin"}, []string{"user_bob"}},          // last name, case-insensitive
		{clerkgate.UserQuery{Query: "@OTHER"}, []string{"user_cat"}},          // the tombstone has no email
		{clerkgate.UserQuery{Query: "example.test"}, []string{"user_ann", "user_bob"}},
		{clerkgate.UserQuery{Query: "nobody"}, nil},
		{clerkgate.UserQuery{Role: "member"}, []string{"user_bob", "user_cat"}},
		{clerkgate.UserQuery{Role: "Member"}, nil}, // roles are exact
		{clerkgate.UserQuery{Role: "viewer"}, nil},
		{clerkgate.UserQuery{Role: "", IncludeDeleted: true, Query: "user_"}, nil}, // ids are not searched
		{clerkgate.UserQuery{Role: "member", Query: "cat"}, []string{"user_cat"}},
		{clerkgate.UserQuery{Role: "member", Query: "ann", Limit: 1}, []string{"user_cat"}},
	}
	for _, tc := range tests {
		ids, _ := listAll(t, s, tc.q)
		if !slices.Equal(ids, tc.want) {
			t.Errorf("ListUsers(%+v) = %v, want %v", tc.q, ids, tc.want)
		}
	}
}

func testListLikeEscaping(t *testing.T, s clerkgate.UserStore) {
	emails := map[string]string{
		"user_pct":   "100%sure@example.test",
		"user_under": "a_b@example.test",
		"user_plain": "axb@example.test",
		"user_bs":    `back\slash@example.test`,
	}
	for c, e := range emails {
		u := newUser(c, 1)
		u.Email, u.FirstName, u.LastName = e, "F", "L"
		mustSave(t, s, u)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"%", []string{"user_pct"}},
		{"0%s", []string{"user_pct"}},
		{"_", []string{"user_under"}},
		{"a_b", []string{"user_under"}},
		{`\`, []string{"user_bs"}},
		{`\s`, []string{"user_bs"}},
		{"%%", nil},
		{"a%b", nil},
		{"'", nil},
	} {
		ids, _ := listAll(t, s, clerkgate.UserQuery{Query: tc.query})
		slices.Sort(ids)
		if !slices.Equal(ids, tc.want) {
			t.Errorf("Query %q = %v, want %v", tc.query, ids, tc.want)
		}
	}
}

func testListLimits(t *testing.T, s clerkgate.UserStore) {
	for _, limit := range []int{-1, 201, 1 << 30} {
		_, _, err := s.ListUsers(t.Context(), clerkgate.UserQuery{Limit: limit})
		wantCode(t, err, clerkgate.CodeInvalidRequest)
	}
	ids := clerkIDs("lim", 51)
	for _, c := range ids {
		mustSave(t, s, newUser(c, 1))
	}
	users, next, err := s.ListUsers(t.Context(), clerkgate.UserQuery{})
	if err != nil || len(users) != 50 || next == "" {
		t.Fatalf("default limit: %d users, next %q, %v; want 50 and a cursor", len(users), next, err)
	}
	users, next, err = s.ListUsers(t.Context(), clerkgate.UserQuery{Limit: 200})
	if err != nil || len(users) != 51 || next != "" {
		t.Fatalf("limit 200: %d users, next %q, %v; want 51 and no cursor", len(users), next, err)
	}
	users, _, err = s.ListUsers(t.Context(), clerkgate.UserQuery{Limit: 1})
	if err != nil || len(users) != 1 {
		t.Fatalf("limit 1: %d users, %v", len(users), err)
	}
}

func testListBadCursor(t *testing.T, s clerkgate.UserStore) {
	mustSave(t, s, newUser("user_cur", 1))
	// Garbage for any cursor that carries a position (a time and an id)
	// as base64url text, as the cursors of clerkgate's stores do.
	b64 := base64.RawURLEncoding.EncodeToString
	for _, c := range []string{
		"garbage!",
		"%%%",
		"====",
		b64([]byte("no-separator")),
		b64([]byte("abc:usr_x")),
		b64([]byte("1:")),
		b64([]byte(":usr_x")),
		b64([]byte("99999999999999999999999:usr_x")),
		b64([]byte("9223372036854775807:usr_x")),
		b64([]byte("-9223372036854775808:usr_x")),
		b64([]byte("1:usr_\x00")),
		b64([]byte("1:\xff")),
		base64.StdEncoding.EncodeToString([]byte("1:usr_x")) + "==",
		strings.Repeat("A", 10_000),
		"\x00",
		"' OR 1=1 --",
	} {
		users, next, err := s.ListUsers(t.Context(), clerkgate.UserQuery{Cursor: c})
		if clerkgate.ErrorCode(err) != clerkgate.CodeInvalidRequest {
			t.Errorf("cursor %.40q: %d users, %q, %v; want invalid_request", c, len(users), next, err)
		}
	}
}
