package policy

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Sources of a role, as named in RoleRules.Precedence.
const (
	SourceMetadata = "metadata"
	SourceOrg      = "org"
	SourceDefault  = "default"
)

// RoleRules maps Clerk data onto an application role.
type RoleRules struct {
	Default     string            // role of a user with no mapping
	MetadataKey string            // public_metadata.<key>: a string or a list of strings
	OrgRoles    map[string]string // active organization role ("org:admin") -> app role
	Precedence  []string          // order of SourceMetadata, SourceOrg, SourceDefault
}

// Policy is the whole policy file. Use Default for the built-in one, Load
// or Parse for a file. A Policy is not modified once built: share it
// between goroutines freely, and swap whole policies (Reloader) instead.
type Policy struct {
	Roles       RoleRules
	Permissions map[string][]string // role -> permissions; "*" = all, "users:*" = prefix

	// Routes are the rules of the proxy and forward-auth, in file order;
	// see Match. None means every proxied request is denied.
	Routes []Route
	// Upstream is the API to protect, or nil (CLERKGATE_UPSTREAM overrides it).
	Upstream *url.URL
	// TrustedProxies may send X-Forwarded-*/X-Original-* headers to
	// forward-auth; see TrustedProxy. Default: loopback only.
	TrustedProxies []netip.Prefix
	// AdminReverify makes the admin endpoints that change users require a
	// second factor within the last 10 minutes.
	AdminReverify bool
	// Legacy is the legacy JWT login of the migration window, or nil.
	Legacy *Legacy
	// Source names where the policy came from: the file name, or "built-in".
	Source string
}

// DefaultTrustedProxies returns the trusted_proxies used when the policy
// does not list any: loopback only (127.0.0.0/8 and ::1).
func DefaultTrustedProxies() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// Default returns the built-in policy of SPEC §5: the roles and
// permissions shown there, no routes, no upstream, no legacy login and
// loopback as the only trusted proxy.
func Default() *Policy {
	return &Policy{
		Roles:          defaultRoles(),
		Permissions:    defaultPermissions(),
		TrustedProxies: DefaultTrustedProxies(),
		Source:         "built-in",
	}
}

func defaultRoles() RoleRules {
	return RoleRules{
		Default:     "member",
		MetadataKey: "role",
		OrgRoles:    map[string]string{"org:admin": "admin", "org:member": "member"},
		Precedence:  []string{SourceMetadata, SourceOrg, SourceDefault},
	}
}

func defaultPermissions() map[string][]string {
	return map[string][]string{
		"admin":  {"*"},
		"member": {"profile:read", "profile:write"},
	}
}

// TrustedProxy reports whether a request from addr may set the forwarded
// headers that forward-auth reads. Only the connection's address counts,
// never X-Forwarded-For and the like. IPv4-mapped IPv6 addresses count as
// IPv4.
func (p *Policy) TrustedProxy(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, pfx := range p.TrustedProxies {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// KnownRole reports whether role has an entry in Permissions.
func (p *Policy) KnownRole(role string) bool {
	_, ok := p.Permissions[role]
	return ok
}

// MetadataRole returns the role that public metadata grants, or "". A list
// grants its first known role. unsafe_metadata never reaches this function:
// only public metadata grants anything.
func (p *Policy) MetadataRole(publicMetadata json.RawMessage) string {
	if len(publicMetadata) == 0 || p.Roles.MetadataKey == "" {
		return ""
	}
	var md map[string]json.RawMessage
	if json.Unmarshal(publicMetadata, &md) != nil {
		return ""
	}
	raw, ok := md[p.Roles.MetadataKey]
	if !ok {
		return ""
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if p.KnownRole(one) {
			return one
		}
		return ""
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, r := range many {
			if p.KnownRole(r) {
				return r
			}
		}
	}
	return ""
}

// StoredRole is the role kept with the local user: it depends only on the
// user (metadata or default), not on a session's active organization.
func (p *Policy) StoredRole(publicMetadata json.RawMessage) string {
	return p.ResolveRole(publicMetadata, "")
}

// ResolveRole applies the precedence to a user's public metadata and the
// role in the session's active organization ("" when none).
func (p *Policy) ResolveRole(publicMetadata json.RawMessage, orgRole string) string {
	return p.ResolveRoleFrom(p.MetadataRole(publicMetadata), orgRole)
}

// ResolveRoleFrom is ResolveRole with the metadata role already extracted
// (MetadataRole), for the request path.
func (p *Policy) ResolveRoleFrom(metadataRole, orgRole string) string {
	for _, src := range p.Roles.Precedence {
		switch src {
		case SourceMetadata:
			if metadataRole != "" {
				return metadataRole
			}
		case SourceOrg:
			if r, ok := p.Roles.OrgRoles[orgRole]; ok && orgRole != "" {
				return r
			}
		case SourceDefault:
			return p.Roles.Default
		}
	}
	return p.Roles.Default
}

// PermissionsFor returns the sorted, de-duplicated permissions of role plus
// the organization permissions of the session (such as "org:teams:read").
//
// The result may share its array with the policy (the usual case of a role
// without organization permissions costs no allocation): read it, never
// write to it; its capacity ends at its length, so appending copies.
func (p *Policy) PermissionsFor(role string, orgPermissions []string) []string {
	base := p.Permissions[role]
	if len(orgPermissions) == 0 && sortedUnique(base) {
		return base[:len(base):len(base)]
	}
	perms := append(slices.Clone(base), orgPermissions...)
	sort.Strings(perms)
	return slices.Compact(perms)
}

// sortedUnique reports whether ss is sorted with no repeats.
func sortedUnique(ss []string) bool {
	for i := 1; i < len(ss); i++ {
		if ss[i-1] >= ss[i] {
			return false
		}
	}
	return true
}

// Allowed reports whether the granted permissions include need: exactly, by
// "*", or by a prefix grant such as "users:*".
func Allowed(granted []string, need string) bool {
	for _, g := range granted {
		if g == need || g == "*" {
			return true
		}
		if prefix, ok := strings.CutSuffix(g, "*"); ok && strings.HasSuffix(prefix, ":") && strings.HasPrefix(need, prefix) {
			return true
		}
	}
	return false
}
