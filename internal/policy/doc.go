// Package policy holds the application's authorization rules: how Clerk
// metadata and organization roles map onto application roles, which
// permissions each role has, and (in proxy mode) which routes need what.
//
// # The policy file
//
// Load and Parse read the YAML policy file of SPEC §5. Every key is
// known: an unknown one, a value of the wrong type (a quoted "true", a
// number where a role goes), a key given twice, an alias (*name), or a
// second YAML document are errors, and all problems are reported at once,
// each as file:line. The accepted keys:
//
//	roles:                        # default: the built-in roles of Default
//	  default: member             # required in a roles section; defined in permissions
//	  metadata_key: role          # default "role"; public_metadata.<key>, a string or a list
//	  org_roles:                  # default none; "org:<name>" -> a role defined in permissions
//	    "org:admin": admin
//	  precedence: [metadata, org, default]   # default as shown; a non-empty subset, no repeats
//	permissions:                  # default: the built-in permissions; role -> non-empty list
//	  admin: ["*"]                # "*", "a:b", "a:b:c", or "a:*" (wildcard as the whole last part)
//	routes:                       # default none: every proxied request is denied
//	  - path: /api/admin/**       # required; see Match
//	    methods: [GET, POST]      # upper-case; default every method; never empty
//	    anonymous: false          # true: no credentials; excludes require, machines,
//	                              #   allow_pending, allow_impersonation and reverify
//	    require:                  # each list optional, none empty; all given lists must hold
//	      roles: [admin]          # any of; defined in permissions
//	      permissions: ["a:b"]    # all of; no wildcards
//	      org_roles: ["org:admin"]  # any of: the active organization's role
//	    machines: false           # Clerk API keys, M2M and OAuth tokens may call it
//	    allow_pending: false      # sessions with status "pending" may call it
//	    allow_impersonation: false  # sessions with an "act" claim may call it
//	    strip_credentials: false  # drop Authorization and the __session cookie upstream
//	    reverify: {max_age: 10m, factor: second}  # whole minutes >= 1m; factor first|second, default second
//	upstream: http://127.0.0.1:9000  # http(s), a host, no credentials, query or fragment
//	trusted_proxies: [127.0.0.1, 10.0.0.0/8]  # addresses and CIDRs; default 127.0.0.0/8 and ::1; [] trusts none
//	admin_reverify: false
//	legacy:                       # SPEC §8; default none
//	  algorithm: HS256            # required: HS256 (needs secret_env) or RS256 (needs public_key_file)
//	  secret_env: LEGACY_JWT_SECRET
//	  public_key_file: legacy.pem # relative to the policy file's directory
//	  issuer: my-app              # optional
//	  user_claim: sub             # default sub
//	  sunset: 2027-03-31T00:00:00Z  # required, RFC 3339
//	  login_paths: [/auth/login, /auth/refresh]  # the default
//	  migration_guide: https://example.com/migration  # optional http(s) URL
//
// A top-level section left empty ("routes:") counts as missing; elsewhere
// a key, once written, needs a value of its type. Role names are letters,
// digits, "_", "." and "-", since they travel in headers.
//
// # Routes
//
// Routes are tried in file order and the first that matches wins (Match);
// a route that an earlier one hides completely is an error, which catches
// a broad rule written above a narrow one. Patterns are matched against
// the path from Canonicalize, segment by segment and case-sensitively:
// "*" is exactly one segment, "**" (last only) any suffix including none,
// and one trailing slash of the request path is ignored.
//
// # Reloading
//
// A Reloader holds the policy in force and replaces it, whole, only with a
// valid file.
package policy
