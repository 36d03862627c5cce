package clerkemu

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Role is an organization role a membership can hold.
type Role struct {
	// Key is the role as Clerk names it, e.g. "org:admin".
	Key string
	// Name is the human name, e.g. "Admin" (a membership's role_name).
	Name string
	// Permissions are "org:<feature>:<permission>" keys. System permissions
	// ("org:sys_...") appear in memberships but, as at Clerk, not in session
	// tokens; the others are encoded in the tokens' fea, o.per and o.fpm.
	Permissions []string
}

// DefaultRoles returns the roles an emulator has unless Options.Roles says
// otherwise: "org:admin" with every permission of the features "dashboard"
// and "teams" ("manage" and "read") and "org:member" with "read" on both,
// each with Clerk's system permissions. An admin's token thus carries
// fea "o:dashboard,o:teams", o.per "manage,read" and o.fpm "3,3"; a member's
// o.per "read" and o.fpm "1,1".
func DefaultRoles() []Role {
	return []Role{
		{Key: "org:admin", Name: "Admin", Permissions: []string{
			"org:sys_profile:manage", "org:sys_profile:delete",
			"org:sys_memberships:read", "org:sys_memberships:manage",
			"org:sys_domains:read", "org:sys_domains:manage",
			"org:dashboard:manage", "org:dashboard:read",
			"org:teams:manage", "org:teams:read",
		}},
		{Key: "org:member", Name: "Member", Permissions: []string{
			"org:sys_memberships:read",
			"org:dashboard:read", "org:teams:read",
		}},
	}
}

// creatorRole is the role an organization's creator gets: "org:admin", or
// the first role listed when there is none; "" for no roles at all.
func creatorRole(roles []Role) string {
	for _, r := range roles {
		if r.Key == "org:admin" {
			return r.Key
		}
	}
	if len(roles) > 0 {
		return roles[0].Key
	}
	return ""
}

// indexRoles validates roles and indexes them by key.
func indexRoles(roles []Role) (map[string]Role, error) {
	m := make(map[string]Role, len(roles))
	for _, r := range roles {
		if r.Key == "" || strings.ContainsAny(r.Key, ", ") {
			return nil, fmt.Errorf("clerkemu: invalid role key %q", r.Key)
		}
		if _, dup := m[r.Key]; dup {
			return nil, fmt.Errorf("clerkemu: role %q defined twice", r.Key)
		}
		for _, p := range r.Permissions {
			parts := strings.Split(p, ":")
			if len(parts) != 3 || parts[0] != "org" || parts[1] == "" || parts[2] == "" || strings.ContainsAny(p, ", ") {
				return nil, fmt.Errorf("clerkemu: role %q: invalid permission %q, want org:<feature>:<permission>", r.Key, p)
			}
		}
		r.Permissions = slices.Clone(r.Permissions)
		if r.Name == "" {
			r.Name = r.Key
		}
		m[r.Key] = r
	}
	return m, nil
}

// featureClaims encodes a role's non-system permissions as Clerk's v2 token
// does: fea lists the features ("o:<feature>"), per the permission names,
// and the i-th number of fpm is a bitmask over per (least significant bit =
// first permission) for the i-th feature. Features and names are sorted.
func featureClaims(perms []string) (fea, per, fpm string) {
	byFeature := map[string][]string{}
	var names []string
	for _, p := range perms {
		parts := strings.Split(p, ":")
		if len(parts) != 3 || strings.HasPrefix(parts[1], "sys_") {
			continue
		}
		byFeature[parts[1]] = append(byFeature[parts[1]], parts[2])
		if !slices.Contains(names, parts[2]) {
			names = append(names, parts[2])
		}
	}
	slices.Sort(names)
	features := make([]string, 0, len(byFeature))
	for f := range byFeature {
		features = append(features, f)
	}
	slices.Sort(features)
	feas := make([]string, len(features))
	masks := make([]string, len(features))
	for i, f := range features {
		feas[i] = "o:" + f
		mask := 0
		for _, n := range byFeature[f] {
			mask |= 1 << slices.Index(names, n)
		}
		masks[i] = strconv.Itoa(mask)
	}
	return strings.Join(feas, ","), strings.Join(names, ","), strings.Join(masks, ",")
}
