package clerkemu

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
)

// userFilter is the filter part of GET /v1/users and /v1/users/count: values
// of one parameter are alternatives, different parameters must all match.
type userFilter struct {
	emails, externalIDs, usernames []string
	include, exclude               []string // user_id, with + and - prefixes
	orgInclude, orgExclude         []string // organization_id, likewise
	query, emailQuery, nameQuery   string
	usernameQuery                  string
	banned                         *bool
	bounds                         []userBound
}

// userBound is one of the *_before / *_after parameters (ms).
type userBound struct {
	field  func(*User) *int64
	before bool
	value  int64
}

const maxListValues = 100

// parseUserFilter reads the filter parameters.
func parseUserFilter(q url.Values) (userFilter, error) {
	var f userFilter
	for _, p := range []struct {
		name string
		dst  *[]string
	}{{"email_address", &f.emails}, {"external_id", &f.externalIDs}, {"username", &f.usernames}} {
		vs := q[p.name]
		if len(vs) > maxListValues {
			return f, errValue(p.name, p.name+" accepts up to 100 values.")
		}
		for _, v := range vs {
			if p.name != "external_id" {
				v = strings.ToLower(v)
			}
			*p.dst = append(*p.dst, v)
		}
	}
	for _, p := range []struct {
		name     string
		inc, exc *[]string
	}{{"user_id", &f.include, &f.exclude}, {"organization_id", &f.orgInclude, &f.orgExclude}} {
		vs := q[p.name]
		if len(vs) > maxListValues {
			return f, errValue(p.name, p.name+" accepts up to 100 values.")
		}
		for _, v := range vs {
			switch {
			case strings.HasPrefix(v, "-"):
				*p.exc = append(*p.exc, v[1:])
			case strings.HasPrefix(v, "+"), strings.HasPrefix(v, " "):
				*p.inc = append(*p.inc, v[1:])
			default:
				*p.inc = append(*p.inc, v)
			}
		}
	}
	f.query = strings.ToLower(q.Get("query"))
	f.emailQuery = strings.ToLower(q.Get("email_address_query"))
	f.nameQuery = strings.ToLower(q.Get("name_query"))
	f.usernameQuery = strings.ToLower(q.Get("username_query"))
	if b, ok, err := queryBool(q, "banned"); err != nil {
		return f, err
	} else if ok {
		f.banned = &b
	}
	created := func(u *User) *int64 { return &u.CreatedAt }
	lastActive := func(u *User) *int64 { return u.LastActiveAt }
	lastSignIn := func(u *User) *int64 { return u.LastSignInAt }
	for _, b := range []struct {
		name   string
		field  func(*User) *int64
		before bool
	}{
		{"created_at_before", created, true}, {"created_at_after", created, false},
		{"last_active_at_before", lastActive, true}, {"last_active_at_after", lastActive, false},
		{"last_active_at_since", lastActive, false},
		{"last_sign_in_at_before", lastSignIn, true}, {"last_sign_in_at_after", lastSignIn, false},
	} {
		v, ok, err := queryInt64(q, b.name)
		if err != nil {
			return f, err
		}
		if ok {
			f.bounds = append(f.bounds, userBound{field: b.field, before: b.before, value: v})
		}
	}
	return f, nil
}

// match reports whether the user passes the filter; the caller holds the
// lock (organization filters read memberships).
func (e *Emulator) matchUser(f *userFilter, u *User) bool {
	if len(f.include) > 0 && !slices.Contains(f.include, u.ID) || slices.Contains(f.exclude, u.ID) {
		return false
	}
	if len(f.externalIDs) > 0 && (u.ExternalID == nil || !slices.Contains(f.externalIDs, *u.ExternalID)) {
		return false
	}
	if len(f.usernames) > 0 && (u.Username == nil || !slices.Contains(f.usernames, *u.Username)) {
		return false
	}
	if len(f.emails) > 0 && !slices.ContainsFunc(u.EmailAddresses, func(a EmailAddress) bool {
		return slices.Contains(f.emails, a.EmailAddress)
	}) {
		return false
	}
	if f.banned != nil && u.Banned != *f.banned {
		return false
	}
	if len(f.orgInclude) > 0 && !slices.ContainsFunc(f.orgInclude, func(org string) bool { return e.isMember(org, u.ID) }) {
		return false
	}
	if slices.ContainsFunc(f.orgExclude, func(org string) bool { return e.isMember(org, u.ID) }) {
		return false
	}
	name := strings.ToLower(deref(u.FirstName) + " " + deref(u.LastName))
	username := strings.ToLower(deref(u.Username))
	emailHas := func(sub string) bool {
		return slices.ContainsFunc(u.EmailAddresses, func(a EmailAddress) bool { return strings.Contains(a.EmailAddress, sub) })
	}
	if f.emailQuery != "" && !emailHas(f.emailQuery) ||
		f.nameQuery != "" && !strings.Contains(name, f.nameQuery) ||
		f.usernameQuery != "" && !strings.Contains(username, f.usernameQuery) {
		return false
	}
	if f.query != "" && !emailHas(f.query) && !strings.Contains(name, f.query) &&
		!strings.Contains(username, f.query) && !strings.Contains(strings.ToLower(u.ID), f.query) {
		return false
	}
	for _, b := range f.bounds {
		v := b.field(u)
		if v == nil || b.before && *v >= b.value || !b.before && *v <= b.value {
			return false
		}
	}
	return true
}

// userOrderFields are the order_by fields GET /v1/users accepts.
func userOrderFields() []string {
	return []string{"created_at", "updated_at", "email_address", "web3wallet", "first_name", "last_name",
		"phone_number", "username", "last_active_at", "last_sign_in_at"}
}

// sortUsers orders records by field.
func sortUsers(recs []*userRecord, field string, desc bool) {
	slices.SortFunc(recs, userCompare(field, desc))
}

// userCompare orders users by field; ties keep creation order in the same
// direction, so pages never repeat or skip a user.
func userCompare(field string, desc bool) func(a, b *userRecord) int {
	key := func(r *userRecord) (int64, string) {
		u := &r.u
		switch field {
		case "created_at":
			return u.CreatedAt, ""
		case "updated_at":
			return u.UpdatedAt, ""
		case "last_active_at":
			return derefInt(u.LastActiveAt), ""
		case "last_sign_in_at":
			return derefInt(u.LastSignInAt), ""
		case "email_address":
			return 0, u.PrimaryEmail()
		case "first_name":
			return 0, strings.ToLower(deref(u.FirstName))
		case "last_name":
			return 0, strings.ToLower(deref(u.LastName))
		case "username":
			return 0, deref(u.Username)
		}
		return 0, "" // phone_number, web3wallet: the emulator has none
	}
	return func(a, b *userRecord) int {
		an, as := key(a)
		bn, bs := key(b)
		c := cmp.Or(cmp.Compare(an, bn), cmp.Compare(as, bs), cmp.Compare(a.seq, b.seq))
		if desc {
			return -c
		}
		return c
	}
}

// listUsers returns the matching users in order; the caller holds the lock.
func (e *Emulator) listUsers(f *userFilter, field string, desc bool) []*userRecord {
	recs := make([]*userRecord, 0, len(e.users))
	for _, r := range e.users {
		if e.matchUser(f, &r.u) {
			recs = append(recs, r)
		}
	}
	sortUsers(recs, field, desc)
	return recs
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}
