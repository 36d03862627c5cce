package policy

import (
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// Legacy is the policy's legacy block (SPEC §8): the application's old
// tokens accepted during a migration window. The policy package only
// parses and checks it; the key itself is read by the caller.
type Legacy struct {
	// Algorithm is exactly "HS256" or "RS256"; tokens with any other
	// algorithm are refused.
	Algorithm string
	// SecretEnv names the environment variable holding the HS256 secret.
	SecretEnv string
	// PublicKeyFile is the PEM file of the RS256 public key. Load makes a
	// relative path relative to the policy file's directory.
	PublicKeyFile string
	// Issuer is the expected "iss" claim; "" means not checked.
	Issuer string
	// UserClaim is the claim holding the local user id (default "sub").
	UserClaim string
	// Sunset ends the window: afterwards legacy tokens and login paths get
	// 401/410 legacy_token_sunset.
	Sunset time.Time
	// LoginPaths are the old login and refresh endpoints (canonical paths;
	// default /auth/login and /auth/refresh).
	LoginPaths []string
	// MigrationGuide is the URL of the Link header sent with legacy
	// responses, or "" when none is configured.
	MigrationGuide string
}

// Legacy token algorithms.
const (
	AlgHS256 = "HS256"
	AlgRS256 = "RS256"
)

var (
	envName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	claimName = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
)

// legacy reads the legacy block.
func (r *reader) legacy(n *yaml.Node, path string) *Legacy {
	l := &Legacy{UserClaim: "sub", LoginPaths: []string{"/auth/login", "/auth/refresh"}}
	var algLine, sunsetLine int
	var secretNode, keyNode *yaml.Node
	r.mapping(n, path, map[string]field{
		"algorithm": func(v *yaml.Node, p string) {
			algLine = v.Line
			if s, ok := r.str(v, p); ok {
				if s != AlgHS256 && s != AlgRS256 {
					r.add(v.Line, "%s: must be HS256 or RS256, not %q", p, s)
				}
				l.Algorithm = s
			}
		},
		"secret_env": func(v *yaml.Node, p string) {
			secretNode = v
			if s, ok := r.str(v, p); ok {
				if !envName.MatchString(s) {
					r.add(v.Line, "%s: %q is not an environment variable name", p, s)
				}
				l.SecretEnv = s
			}
		},
		"public_key_file": func(v *yaml.Node, p string) {
			keyNode = v
			if s, ok := r.str(v, p); ok {
				if s == "" {
					r.add(v.Line, "%s: must not be empty", p)
				}
				l.PublicKeyFile = s
			}
		},
		"issuer": func(v *yaml.Node, p string) {
			if s, ok := r.str(v, p); ok {
				l.Issuer = s
			}
		},
		"user_claim": func(v *yaml.Node, p string) {
			if s, ok := r.str(v, p); ok {
				if !claimName.MatchString(s) {
					r.add(v.Line, "%s: %q is not a claim name", p, s)
				}
				l.UserClaim = s
			}
		},
		"sunset": func(v *yaml.Node, p string) {
			sunsetLine = v.Line
			if !r.kind(v, p, yaml.ScalarNode) {
				return
			}
			t, err := time.Parse(time.RFC3339, v.Value)
			if err != nil || (v.ShortTag() != "!!str" && v.ShortTag() != "!!timestamp") {
				r.add(v.Line, "%s: must be an RFC 3339 time such as 2027-03-31T00:00:00Z, not %q", p, v.Value)
				return
			}
			l.Sunset = t
		},
		"login_paths": func(v *yaml.Node, p string) {
			paths, nodes := r.strs(v, p)
			l.LoginPaths = paths
			for i, lp := range paths {
				if c, err := Canonicalize(lp); err != nil || c != lp || len(lp) > 1 && lp[len(lp)-1] == '/' {
					r.add(nodes[i].Line, "%s: %q is not a plain canonical path such as /auth/login", index(p, i), lp)
				} else if slices.Index(paths, lp) < i {
					r.add(nodes[i].Line, "%s: %q is listed twice", index(p, i), lp)
				}
			}
		},
		"migration_guide": func(v *yaml.Node, p string) {
			if s, ok := r.str(v, p); ok {
				if _, err := httpURL(s); err != nil {
					r.add(v.Line, "%s: %v", p, err)
				}
				l.MigrationGuide = s
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if algLine == 0 {
		r.add(n.Line, "%s: algorithm is required (HS256 or RS256)", path)
	}
	if sunsetLine == 0 {
		r.add(n.Line, "%s: sunset is required (the end of the migration window, RFC 3339)", path)
	}
	switch l.Algorithm {
	case AlgHS256:
		if secretNode == nil {
			r.add(algLine, "%s: HS256 needs secret_env", path)
		}
		if keyNode != nil {
			r.add(keyNode.Line, "%s: public_key_file is for RS256, not HS256", path)
		}
	case AlgRS256:
		if keyNode == nil {
			r.add(algLine, "%s: RS256 needs public_key_file", path)
		}
		if secretNode != nil {
			r.add(secretNode.Line, "%s: secret_env is for HS256, not RS256", path)
		}
	}
	return l
}

// resolveFiles makes the legacy key file relative to the policy file's
// directory dir.
func (l *Legacy) resolveFiles(dir string) {
	if l != nil && l.PublicKeyFile != "" && !filepath.IsAbs(l.PublicKeyFile) {
		l.PublicKeyFile = filepath.Join(dir, l.PublicKeyFile)
	}
}
