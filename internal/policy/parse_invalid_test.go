package policy_test

import (
	"strings"
	"testing"

	"github.com/clerkgate/clerkgate/internal/policy"
)

// TestParseInvalid checks that each broken policy is refused with every
// expected "p.yaml:LINE: message" fragment in the one error.
func TestParseInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		src  string
		want []string
	}{
		// Structure and types.
		{"empty", "", []string{"p.yaml: the policy file is empty"}},
		{"comment only", "# nothing\n", []string{"p.yaml: the policy file is empty"}},
		{"syntax", "roles:\n  default: [member\n", []string{"p.yaml:", "invalid YAML"}},
		{"two documents", "upstream: http://a\n---\nupstream: http://b\n", []string{"p.yaml:2: a policy file holds one YAML document"}},
		{"not a mapping", "- path: /x\n", []string{"p.yaml:1: the policy file: must be a mapping"}},
		{"unknown top-level key", "roles: {default: member}\nrolez: {}\n", []string{`p.yaml:2: unknown key "rolez" at the top level`}},
		{"unknown route key", `routes:
  - path: /a
  - path: /b
  - path: /c
    requires: {roles: [admin]}
`, []string{`p.yaml:5: unknown key "requires" in routes[2]`}},
		{"unknown roles key", "roles:\n  default: member\n  fallback: member\n", []string{`p.yaml:3: unknown key "fallback" in roles`}},
		{"unknown require key", "routes:\n  - path: /a\n    require:\n      role: [admin]\n", []string{`p.yaml:4: unknown key "role" in routes[0].require`}},
		{"unknown reverify key", "routes:\n  - path: /a\n    reverify: {max_age: 10m, level: second}\n", []string{`p.yaml:3: unknown key "level" in routes[0].reverify`}},
		{"unknown legacy key", "legacy:\n  algorithm: HS256\n  secret_env: S\n  sunset: 2027-03-31T00:00:00Z\n  audience: x\n", []string{`p.yaml:5: unknown key "audience" in legacy`}},
		{"duplicate key", "upstream: http://a\nadmin_reverify: true\nupstream: http://b\n", []string{`p.yaml:3: key "upstream" given twice at the top level (first at line 1)`}},
		{"duplicate role", "roles: {default: member}\npermissions:\n  member: [\"a:b\"]\n  member: [\"c:d\"]\n", []string{`p.yaml:4: key "member" given twice in permissions (first at line 3)`}},
		{"key not a string", "permissions:\n  7: [\"a:b\"]\n", []string{`p.yaml:2: key 7 in permissions must be a string`}},
		{"alias", "roles:\n  default: &r member\n  metadata_key: *r\n", []string{"p.yaml:3: roles.metadata_key: anchors and aliases are not supported"}},
		{"bool as string", "routes:\n  - path: /a\n    anonymous: \"true\"\n", []string{`p.yaml:3: routes[0].anonymous: must be true or false, not "true"`}},
		{"yes is not a bool", "admin_reverify: yes\n", []string{`p.yaml:1: admin_reverify: must be true or false, not "yes"`}},
		{"number as role", "roles:\n  default: 7\n", []string{"p.yaml:2: roles.default: must be a string, not 7"}},
		{"roles as list", "roles: [member]\n", []string{"p.yaml:1: roles: must be a mapping"}},
		{"routes as mapping", "routes:\n  path: /a\n", []string{"p.yaml:2: routes: must be a list"}},
		{"route as string", "routes:\n  - /a\n", []string{"p.yaml:2: routes[0]: must be a mapping"}},

		// Roles and permissions.
		{"undefined default", "roles:\n  default: guest\n", []string{`p.yaml:2: roles.default: role "guest" is not defined in the built-in permissions`}},
		{"default required", "roles:\n  metadata_key: role\n", []string{"p.yaml:2: roles: default is required"}},
		{"undefined org role target", "roles:\n  default: member\n  org_roles:\n    \"org:admin\": boss\n", []string{`p.yaml:4: roles.org_roles["org:admin"]: role "boss" is not defined`}},
		{"org role key shape", "roles:\n  default: member\n  org_roles:\n    admin: admin\n", []string{`p.yaml:4: roles.org_roles: "admin" is not an organization role`}},
		{"undefined require role", "routes:\n  - path: /a\n    require: {roles: [member, root]}\n", []string{`p.yaml:3: routes[0].require.roles[1]: role "root" is not defined`}},
		{"empty permissions", "roles: {default: member}\npermissions:\n  member: [\"profile:read\"]\n  ghost: []\n", []string{`p.yaml:4: permissions["ghost"]: a role without permissions`}},
		{"null permissions", "roles: {default: member}\npermissions:\n  member:\n", []string{`p.yaml:3: permissions["member"]: a role without permissions`}},
		{"built-in roles need their roles", "permissions:\n  member: [\"profile:read\"]\n", []string{`p.yaml:1: the built-in roles.org_roles: role "admin" is not defined in permissions`}},
		{"role name shape", "roles: {default: member}\npermissions:\n  member: [\"a:b\"]\n  \"bad role\": [\"a:b\"]\n", []string{`p.yaml:4: permissions["bad role"]: "bad role" is not a role name`}},
		{"permission shapes", `roles: {default: member}
permissions:
  member:
    - ""
    - users
    - "users:"
    - ":read"
    - "us*rs:read"
    - "*:read"
    - "users:*:x"
    - "users:read"
    - "users:read"
`, []string{
			`p.yaml:4: permissions["member"][0]: "" is not a permission`,
			`p.yaml:5: permissions["member"][1]: "users" is not a permission`,
			`p.yaml:6: permissions["member"][2]: "users:" is not a permission`,
			`p.yaml:7: permissions["member"][3]: ":read" is not a permission`,
			`p.yaml:8: permissions["member"][4]: "us*rs:read" is not a permission`,
			`p.yaml:9: permissions["member"][5]: "*:read" is not a permission`,
			`p.yaml:10: permissions["member"][6]: "users:*:x" is not a permission`,
			`p.yaml:12: permissions["member"][8]: "users:read" is listed twice`,
		}},
		{"precedence", "roles:\n  default: member\n  precedence: [metadata, session, metadata]\n", []string{
			`p.yaml:3: roles.precedence[1]: "session" is not one of metadata, org, default`,
			`p.yaml:3: roles.precedence[2]: "metadata" is listed twice`,
		}},
		{"empty precedence", "roles:\n  default: member\n  precedence: []\n", []string{"p.yaml:3: roles.precedence: must list at least one"}},
		{"empty metadata key", "roles:\n  default: member\n  metadata_key: \"\"\n", []string{"p.yaml:3: roles.metadata_key: must be a key of public_metadata"}},

		// Routes.
		{"route path required", "routes:\n  - methods: [GET]\n", []string{"p.yaml:2: routes[0]: path is required"}},
		{"route paths", `routes:
  - path: api/x
  - path: /api/**/x
  - path: /api/x?y
  - path: /api/%2e
  - path: /api\x
  - path: /api;x
  - path: /api/../admin
  - path: /api/./x
  - path: /api//x
  - path: /api/
  - path: /api/x*
  - path: "/api/\u0000"
  - path: /api/x#y
  - path: "/api/\uFF0Fadmin"
`, []string{
			`p.yaml:2: routes[0].path: "api/x" must start with /`,
			`p.yaml:3: routes[1].path: "/api/**/x" may have ** only as its last segment`,
			`p.yaml:4: routes[2].path: "/api/x?y" must not contain ?`,
			`p.yaml:5: routes[3].path: "/api/%2e" must not contain`,
			`p.yaml:6: routes[4].path: "/api\\x" must not contain`,
			`p.yaml:7: routes[5].path: "/api;x" must not contain`,
			`p.yaml:8: routes[6].path: "/api/../admin" has a . or .. segment`,
			`p.yaml:9: routes[7].path: "/api/./x" has a . or .. segment`,
			`p.yaml:10: routes[8].path: "/api//x" has an empty segment`,
			`p.yaml:11: routes[9].path: "/api/" must not end with /`,
			`p.yaml:12: routes[10].path: "/api/x*" may have * only as a whole segment`,
			`p.yaml:13: routes[11].path: "/api/\x00" has a segment that contains a control character`,
			`p.yaml:14: routes[12].path: "/api/x#y" must not contain`,
			`p.yaml:15: routes[13].path: "/api/／admin" has a segment that contains U+FF0F`,
		}},
		{"methods", "routes:\n  - path: /a\n    methods: [get, FETCH, GET, GET]\n  - path: /b\n    methods: []\n", []string{
			`p.yaml:3: routes[0].methods[0]: "get" must be upper-case (GET)`,
			`p.yaml:3: routes[0].methods[1]: "FETCH" is not an HTTP method`,
			`p.yaml:3: routes[0].methods[3]: "GET" is listed twice`,
			`p.yaml:5: routes[1].methods: is empty; leave methods out`,
		}},
		{"anonymous with require", "routes:\n  - path: /a\n    anonymous: true\n    require: {roles: [admin]}\n", []string{
			"p.yaml:4: routes[0]: anonymous: true (line 3) cannot be combined with require",
		}},
		{"anonymous with options", "routes:\n  - path: /a\n    anonymous: true\n    machines: true\n    allow_pending: true\n    allow_impersonation: true\n    reverify: {max_age: 5m}\n    strip_credentials: true\n", []string{
			"p.yaml:4: routes[0]: anonymous: true (line 3) cannot be combined with machines",
			"p.yaml:5: routes[0]: anonymous: true (line 3) cannot be combined with allow_pending",
			"p.yaml:6: routes[0]: anonymous: true (line 3) cannot be combined with allow_impersonation",
			"p.yaml:7: routes[0]: anonymous: true (line 3) cannot be combined with reverify",
		}},
		{"require lists", `routes:
  - path: /a
    require:
      roles: []
      permissions: ["users:*", "nope", "*"]
      org_roles: [admin]
`, []string{
			"p.yaml:4: routes[0].require.roles: is empty",
			`p.yaml:5: routes[0].require.permissions[0]: "users:*": a required permission cannot be a wildcard`,
			`p.yaml:5: routes[0].require.permissions[1]: "nope" is not a permission`,
			`p.yaml:5: routes[0].require.permissions[2]: "*": a required permission cannot be a wildcard`,
			`p.yaml:6: routes[0].require.org_roles[0]: "admin" is not an organization role`,
		}},
		{"reverify", `routes:
  - path: /a
    reverify: {max_age: soon}
  - path: /b
    reverify: {max_age: 30s, factor: third}
  - path: /c
    reverify:
      factor: first
  - path: /d
    reverify: {max_age: 90s}
`, []string{
			`p.yaml:3: routes[0].reverify.max_age: "soon" is not a duration`,
			`p.yaml:5: routes[1].reverify.max_age: "30s" must be a whole number of minutes`,
			`p.yaml:5: routes[1].reverify.factor: must be first or second, not "third"`,
			"p.yaml:8: routes[2].reverify: max_age is required",
			`p.yaml:10: routes[3].reverify.max_age: "90s" must be a whole number of minutes`,
		}},
		{"shadowed routes", `routes:
  - path: /api/**
    require: {roles: [member]}
  - path: /api/admin/**
    require: {roles: [admin]}
  - path: /x/*
    methods: [GET, POST]
  - path: /x/y
    methods: [GET]
  - path: /x/y
`, []string{
			"p.yaml:4: routes[1]: can never match: routes[0] (line 2) comes first",
			"p.yaml:8: routes[3]: can never match: routes[2] (line 6) comes first",
		}},

		// Upstream and trusted proxies.
		{"upstream", "upstream: ftp://example.com\n", []string{`p.yaml:1: upstream: "ftp://example.com" must be an http:// or https:// URL`}},
		{"upstream without host", "upstream: http:///x\n", []string{`p.yaml:1: upstream: "http:///x" has no host`}},
		{"upstream with credentials", "upstream: http://u:secret@example.com\n", []string{`p.yaml:1: upstream: "http://u:xxxxx@example.com" must not hold credentials`}},
		{"upstream with query", "upstream: http://example.com/?a=1\n", []string{"must not have a query"}},
		{"trusted proxies", "trusted_proxies:\n  - 10.0.0.1/8\n  - localhost\n  - \"fe80::1%eth0\"\n  - 10.0.0.0/33\n  - 127.0.0.1\n  - 127.0.0.1\n", []string{
			`p.yaml:2: trusted_proxies[0]: "10.0.0.1/8" has bits set after the prefix length (did you mean 10.0.0.0/8?)`,
			`p.yaml:3: trusted_proxies[1]: "localhost" is not an IP address or CIDR range`,
			`p.yaml:4: trusted_proxies[2]: "fe80::1%eth0" is not an IP address`,
			`p.yaml:5: trusted_proxies[3]: "10.0.0.0/33" is not an IP address`,
			`p.yaml:7: trusted_proxies[5]: "127.0.0.1" is listed twice`,
		}},

		// Legacy.
		{"legacy HS256 without secret", "legacy:\n  algorithm: HS256\n  sunset: 2027-03-31T00:00:00Z\n", []string{"p.yaml:2: legacy: HS256 needs secret_env"}},
		{"legacy RS256 without key", "legacy:\n  algorithm: RS256\n  secret_env: S\n  sunset: 2027-03-31T00:00:00Z\n", []string{
			"p.yaml:2: legacy: RS256 needs public_key_file",
			"p.yaml:3: legacy: secret_env is for HS256, not RS256",
		}},
		{"legacy required keys", "legacy:\n  issuer: my-app\n", []string{
			"p.yaml:2: legacy: algorithm is required",
			"p.yaml:2: legacy: sunset is required",
		}},
		{"legacy values", `legacy:
  algorithm: none
  secret_env: "1BAD"
  sunset: 2027-03-31
  user_claim: "a b"
  login_paths: [/auth/login, auth/refresh, /auth/../x, /auth/login]
  migration_guide: docs/migration.md
`, []string{
			`p.yaml:2: legacy.algorithm: must be HS256 or RS256, not "none"`,
			`p.yaml:3: legacy.secret_env: "1BAD" is not an environment variable name`,
			`p.yaml:4: legacy.sunset: must be an RFC 3339 time`,
			`p.yaml:5: legacy.user_claim: "a b" is not a claim name`,
			`p.yaml:6: legacy.login_paths[1]: "auth/refresh" is not a plain canonical path`,
			`p.yaml:6: legacy.login_paths[2]: "/auth/../x" is not a plain canonical path`,
			`p.yaml:6: legacy.login_paths[3]: "/auth/login" is listed twice`,
			`p.yaml:7: legacy.migration_guide: "docs/migration.md" must be an http:// or https:// URL`,
		}},

		// Everything at once.
		{"all problems reported", `roles:
  default: ghost
permissions:
  member: []
routes:
  - path: x
    requires: 1
upstream: gopher://x
`, []string{
			`p.yaml:2: roles.default: role "ghost" is not defined in permissions`,
			`p.yaml:4: permissions["member"]: a role without permissions`,
			`p.yaml:6: routes[0].path: "x" must start with /`,
			`p.yaml:7: unknown key "requires" in routes[0]`,
			`p.yaml:8: upstream: "gopher://x" must be an http:// or https:// URL`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := policy.Parse([]byte(c.src), "p.yaml")
			if err == nil {
				t.Fatalf("Parse accepted:\n%s\n=> %+v", c.src, p)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%s", w, strings.ReplaceAll(err.Error(), "; p.yaml", "\n  p.yaml"))
				}
			}
		})
	}
}
