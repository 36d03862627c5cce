package policy

import (
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	// roleName is an application role. The characters are limited because
	// roles travel in headers (X-Clerkgate-Role) and in comma-separated lists.
	roleName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// orgRoleKey is a Clerk organization role key such as "org:admin".
	orgRoleKey = regexp.MustCompile(`^org:[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// permPart is one ":"-separated part of a permission.
	permPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// roles reads the roles section. Within it, default is required; an
// omitted metadata_key is "role", omitted org_roles map nothing and an
// omitted precedence is [metadata, org, default].
func (b *builder) roles(n *yaml.Node, path string) {
	rr := RoleRules{
		MetadataKey: "role",
		OrgRoles:    map[string]string{},
		Precedence:  []string{SourceMetadata, SourceOrg, SourceDefault},
	}
	hasDefault := false
	b.mapping(n, path, map[string]field{
		"default": func(v *yaml.Node, p string) {
			hasDefault = true
			if s, ok := b.str(v, p); ok && b.checkRoleName(v, p, s) {
				rr.Default = s
				b.roleRefs = append(b.roleRefs, roleRef{s, v.Line, p})
			}
		},
		"metadata_key": func(v *yaml.Node, p string) {
			if s, ok := b.str(v, p); ok {
				if strings.TrimSpace(s) != s || s == "" {
					b.add(v.Line, "%s: must be a key of public_metadata, not %q (leave metadata out of precedence to ignore metadata)", p, s)
				}
				rr.MetadataKey = s
			}
		},
		"org_roles": func(v *yaml.Node, p string) {
			if isNull(v) {
				return
			}
			for _, e := range b.pairs(v, p) {
				ep := entry(p, e.name)
				if !orgRoleKey.MatchString(e.name) {
					b.add(e.key.Line, "%s: %q is not an organization role such as \"org:admin\"", p, e.name)
					continue
				}
				if s, ok := b.str(e.val, ep); ok && b.checkRoleName(e.val, ep, s) {
					rr.OrgRoles[e.name] = s
					b.roleRefs = append(b.roleRefs, roleRef{s, e.val.Line, ep})
				}
			}
		},
		"precedence": func(v *yaml.Node, p string) {
			vals, nodes := b.strs(v, p)
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				b.add(v.Line, "%s: must list at least one of metadata, org, default", p)
			}
			rr.Precedence = vals
			for i, s := range vals {
				switch {
				case s != SourceMetadata && s != SourceOrg && s != SourceDefault:
					b.add(nodes[i].Line, "%s: %q is not one of metadata, org, default", index(p, i), s)
				case slices.Index(vals, s) < i:
					b.add(nodes[i].Line, "%s: %q is listed twice", index(p, i), s)
				}
			}
		},
	})
	if n.Kind == yaml.MappingNode && !hasDefault {
		b.add(n.Line, "%s: default is required (the role of a user with no mapping)", path)
	}
	b.p.Roles = rr
}

// checkRoleName reports a role name of the wrong shape.
func (b *builder) checkRoleName(n *yaml.Node, path, role string) bool {
	if !roleName.MatchString(role) {
		b.add(n.Line, "%s: %q is not a role name (letters, digits, _ . -)", path, role)
		return false
	}
	return true
}

// permissions reads the permissions section: role -> non-empty list.
func (b *builder) permissions(n *yaml.Node, path string) {
	perms := make(map[string][]string)
	for _, e := range b.pairs(n, path) {
		ep := entry(path, e.name)
		if !b.checkRoleName(e.key, ep, e.name) {
			continue
		}
		if isNull(e.val) || e.val.Kind == yaml.SequenceNode && len(e.val.Content) == 0 {
			b.add(e.val.Line, "%s: a role without permissions (give it at least one)", ep)
			perms[e.name] = nil
			continue
		}
		vals, nodes := b.strs(e.val, ep)
		for i, s := range vals {
			switch {
			case !validPermission(s, true):
				b.add(nodes[i].Line, "%s: %q is not a permission (\"*\", \"name:action\" or \"name:*\")", index(ep, i), s)
			case slices.Index(vals, s) < i:
				b.add(nodes[i].Line, "%s: %q is listed twice", index(ep, i), s)
			}
		}
		// Sorted as PermissionsFor answers them, which then needs no copy.
		perms[e.name] = slices.Sorted(slices.Values(vals))
	}
	b.p.Permissions = perms
}

// validPermission reports whether s is a permission: two or more parts
// separated by ":" ("profile:read", "org:teams:read"), or with wildcard,
// "*" alone or as the whole last part ("users:*").
func validPermission(s string, wildcard bool) bool {
	if s == "*" {
		return wildcard
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 {
		return false
	}
	for i, part := range parts {
		if part == "*" && wildcard && i == len(parts)-1 {
			continue
		}
		if !permPart.MatchString(part) {
			return false
		}
	}
	return true
}
