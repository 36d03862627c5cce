package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	clerkgate "github.com/clerkgate/clerkgate"
)

// membershipTests are the tests of clerkgate.MembershipStore.
var membershipTests = []test{
	{"MembershipSaveAndList", testMembershipSaveAndList},
	{"MembershipVersions", testMembershipVersions},
	{"MembershipDeleteThenOlderCreate", testMembershipDeleteThenCreate},
	{"MembershipDeleteLive", testMembershipDeleteLive},
	{"MembershipInvalid", testMembershipInvalid},
	{"ConcurrentMembershipVersions", testConcurrentMembershipVersions},
}

// membership returns a live membership of clerkID in org at version.
func membership(org, clerkID string, version int64) clerkgate.Membership {
	return clerkgate.Membership{
		OrgID:          org,
		OrgSlug:        "slug-" + org,
		ClerkUserID:    clerkID,
		Role:           "org:member",
		ClerkUpdatedAt: version,
	}
}

// ended returns the tombstone of a membership at version.
func ended(org, clerkID string, version int64) clerkgate.Membership {
	m := membership(org, clerkID, version)
	m.Deleted = true
	return m
}

// mustSaveMembership saves m, fails t on error and reports whether the row
// changed.
func mustSaveMembership(t testing.TB, s Store, m clerkgate.Membership) bool {
	t.Helper()
	changed, err := s.SaveMembership(t.Context(), m)
	if err != nil {
		t.Fatalf("SaveMembership(%s %s v%d deleted=%v): %v", m.OrgID, m.ClerkUserID, m.ClerkUpdatedAt, m.Deleted, err)
	}
	return changed
}

// wantMemberships fails t unless the live memberships of clerkID are want.
func wantMemberships(t testing.TB, s Store, clerkID string, want ...clerkgate.Membership) {
	t.Helper()
	got, err := s.Memberships(t.Context(), clerkID, false)
	if err != nil {
		t.Fatalf("Memberships(%s): %v", clerkID, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Memberships(%s) = %+v, want %+v", clerkID, got, want)
	}
}

// wantChanged fails t unless a save reported changed as want.
func wantChanged(t testing.TB, what string, changed, want bool) {
	t.Helper()
	if changed != want {
		t.Fatalf("%s: changed = %v, want %v", what, changed, want)
	}
}

func testMembershipSaveAndList(t *testing.T, s Store) {
	wantMemberships(t, s, "user_m")
	b := membership("org_b", "user_m", 1)
	a := membership("org_a", "user_m", 2)
	a.Role = "org:admin"
	for _, m := range []clerkgate.Membership{b, a, membership("org_a", "user_other", 1), ended("org_c", "user_m", 1)} {
		wantChanged(t, "first save of "+m.OrgID, mustSaveMembership(t, s, m), true)
	}
	wantMemberships(t, s, "user_m", a, b) // by organization id
	wantMemberships(t, s, "user_other", membership("org_a", "user_other", 1))
	wantMemberships(t, s, "user_nobody")
	wantMemberships(t, s, "")
	wantMemberships(t, s, "user_\x00")
}

func testMembershipVersions(t *testing.T, s Store) {
	m := membership("org_v", "user_v", 5)
	wantChanged(t, "v5", mustSaveMembership(t, s, m), true)

	old := membership("org_v", "user_v", 3)
	old.Role = "org:admin"
	wantChanged(t, "older v3", mustSaveMembership(t, s, old), false)
	wantMemberships(t, s, "user_v", m)

	wantChanged(t, "replay of v5", mustSaveMembership(t, s, m), false)
	tie := m
	tie.Role, tie.OrgSlug = "org:admin", "renamed"
	wantChanged(t, "v5 with new content", mustSaveMembership(t, s, tie), true)
	wantMemberships(t, s, "user_v", tie)

	newer := membership("org_v", "user_v", 6)
	wantChanged(t, "v6", mustSaveMembership(t, s, newer), true)
	wantMemberships(t, s, "user_v", newer)
}

// testMembershipDeleteThenCreate: a deletion that arrives before the
// membership was ever seen is kept as a tombstone with its version; older
// and equal versions of a create lose to it, a newer one (Clerk memberships
// can be re-created) revives the membership.
func testMembershipDeleteThenCreate(t *testing.T, s Store) {
	wantChanged(t, "deletion of an unknown membership", mustSaveMembership(t, s, ended("org_d", "user_d", 5)), true)
	wantMemberships(t, s, "user_d")
	wantChanged(t, "older create v3", mustSaveMembership(t, s, membership("org_d", "user_d", 3)), false)
	wantMemberships(t, s, "user_d")
	wantChanged(t, "create at the deletion's version", mustSaveMembership(t, s, membership("org_d", "user_d", 5)), false)
	wantMemberships(t, s, "user_d")
	wantChanged(t, "replay of the deletion", mustSaveMembership(t, s, ended("org_d", "user_d", 5)), false)

	revived := membership("org_d", "user_d", 6)
	wantChanged(t, "newer create v6", mustSaveMembership(t, s, revived), true)
	wantMemberships(t, s, "user_d", revived)
}

func testMembershipDeleteLive(t *testing.T, s Store) {
	// A newer deletion ends a live membership; older and equal creates
	// arriving later do not bring it back.
	mustSaveMembership(t, s, membership("org_1", "user_l", 3))
	wantChanged(t, "deletion v4", mustSaveMembership(t, s, ended("org_1", "user_l", 4)), true)
	wantMemberships(t, s, "user_l")
	wantChanged(t, "create v4 after the deletion v4", mustSaveMembership(t, s, membership("org_1", "user_l", 4)), false)
	wantChanged(t, "create v3 after the deletion v4", mustSaveMembership(t, s, membership("org_1", "user_l", 3)), false)
	wantMemberships(t, s, "user_l")

	// At equal versions the deletion wins, in either order.
	mustSaveMembership(t, s, membership("org_2", "user_l", 7))
	wantChanged(t, "deletion at the live version", mustSaveMembership(t, s, ended("org_2", "user_l", 7)), true)
	wantMemberships(t, s, "user_l")

	// An older deletion loses to a newer live membership.
	live := membership("org_3", "user_l", 7)
	mustSaveMembership(t, s, live)
	wantChanged(t, "older deletion", mustSaveMembership(t, s, ended("org_3", "user_l", 6)), false)
	wantMemberships(t, s, "user_l", live)

	// With includeDeleted the tombstones come too, with their versions.
	all, err := s.Memberships(t.Context(), "user_l", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || !all[0].Deleted || all[0].ClerkUpdatedAt != 4 || !all[1].Deleted || all[2].Deleted {
		t.Fatalf("Memberships with tombstones = %+v", all)
	}
}

func testMembershipInvalid(t *testing.T, s Store) {
	for name, m := range map[string]clerkgate.Membership{
		"no organization": membership("", "user_i", 1),
		"no user":         membership("org_i", "", 1),
		"NUL":             membership("org_\x00", "user_i", 1),
		"invalid UTF-8":   func() clerkgate.Membership { m := membership("org_i", "user_i", 1); m.Role = "\xff"; return m }(),
	} {
		changed, err := s.SaveMembership(t.Context(), m)
		if code := clerkgate.ErrorCode(err); code != clerkgate.CodeInvalidRequest || changed {
			t.Errorf("%s: %v, %v (code %q), want invalid_request", name, changed, err, code)
		}
	}
	wantMemberships(t, s, "user_i")
}

// testConcurrentMembershipVersions saves 50 versions of two memberships in
// random order from 10 goroutines: each ends at its newest version, the
// second one deleted.
func testConcurrentMembershipVersions(t *testing.T, s Store) {
	const versions, workers = 50, 10
	var all []clerkgate.Membership
	for v := int64(1); v <= versions; v++ {
		m := membership("org_race", "user_race", v)
		m.Role = fmt.Sprintf("org:v%d", v)
		all = append(all, m, membership("org_race_del", "user_race", v))
	}
	all[len(all)-1].Deleted = true
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })

	next := make(chan clerkgate.Membership)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for m := range next {
				changed, err := s.SaveMembership(t.Context(), m)
				if err != nil {
					t.Errorf("SaveMembership v%d: %v", m.ClerkUpdatedAt, err)
				}
				if m.ClerkUpdatedAt == versions && !changed {
					t.Errorf("save of the newest version of %s reported changed=false", m.OrgID)
				}
			}
		})
	}
	for _, m := range all {
		next <- m
	}
	close(next)
	wg.Wait()
	want := membership("org_race", "user_race", versions)
	want.Role = fmt.Sprintf("org:v%d", versions)
	wantMemberships(t, s, "user_race", want)
}
