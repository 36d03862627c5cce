package policy_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clerkgate/clerkgate/internal/policy"
)

// refused marks a path that Canonicalize must refuse.
const refused = "<refused>"

// canonicalCases are raw request paths and their canonical form. Most are
// attempts to reach /admin past a rule for it.
var canonicalCases = []struct{ raw, want string }{
	// Plain paths.
	{"/", "/"},
	{"/api/x", "/api/x"},
	{"/api/x/", "/api/x/"},
	{"/a+b", "/a+b"},
	{"/a%20b", "/a b"},
	{"/a b", "/a b"},
	{"/caf%C3%A9", "/café"},
	{"/café", "/café"},
	{"/...", "/..."},
	{"/x/.../y", "/x/.../y"},
	{"/a.b/c..d", "/a.b/c..d"},
	{"/@x/:y/~z/!$&'()*,=", "/@x/:y/~z/!$&'()*,="},

	// Query and fragment.
	{"/api/x?y=1", "/api/x"},
	{"/api/x#frag", "/api/x"},
	{"/api/x?a=/../../admin", "/api/x"},
	{"/api/x/?", "/api/x/"},
	{"/?x", "/"},

	// Repeated slashes.
	{"//admin", "/admin"},
	{"///admin//x", "/admin/x"},
	{"/admin//", "/admin/"},
	{"//", "/"},
	{"/a//../b", "/b"},

	// Dot segments.
	{"/./admin", "/admin"},
	{"/api/../admin", "/admin"},
	{"/api/./../admin", "/admin"},
	{"/admin/.", "/admin/"},
	{"/admin/..", "/"},
	{"/admin/x/..", "/admin/"},
	{"/a/b/../../admin/", "/admin/"},

	// Percent-encoding, decoded once.
	{"/%61dmin", "/admin"},
	{"/%61%64%6D%69%6E", "/admin"},
	{"/api/%2e%2e/admin", "/admin"},
	{"/api/%2E%2E/admin", "/admin"},
	{"/api/.%2e/admin", "/admin"},
	{"/api/%2e./admin", "/admin"},
	{"/api/%2e/admin", "/api/admin"},
	{"/admin%2e", "/admin."},
	{"/a/b/%2e%2e/%2e%2e/c", "/c"},

	// Case and lookalikes: kept as they are (another path, not /admin).
	{"/API/admin", "/API/admin"},
	{"/ADMIN", "/ADMIN"},
	{"/аdmin", "/аdmin"}, // Cyrillic а
	{"/%D0%B0dmin", "/аdmin"},
	{"/admin\u200b", "/admin\u200b"}, // zero-width space

	// Not a path.
	{"", refused},
	{"admin", refused},
	{"*", refused},
	{"?x", refused},
	{"%2fadmin", refused},

	// .. above the root.
	{"/..", refused},
	{"/../admin", refused},
	{"/api/../../admin", refused},
	{"/%2e%2e/admin", refused},
	{"/api/%2e%2e/%2e%2e/admin", refused},
	{"/.%2e", refused},

	// Encoded slash and backslash, backslash at all.
	{"/api%2fadmin", refused},
	{"/api%2Fadmin", refused},
	{"/api/%2f/admin", refused},
	{"/api/..%2fadmin", refused},
	{"/api%5cadmin", refused},
	{"/api%5Cadmin", refused},
	{`/api\admin`, refused},
	{`/api/..\admin`, refused},

	// Semicolons (matrix parameters, Tomcat's "..;").
	{"/admin;x", refused},
	{"/admin;jsessionid=1", refused},
	{"/api/..;/admin", refused},
	{"/admin%3b", refused},
	{"/admin%3Bx", refused},

	// Double encoding: a literal % after the one decoding.
	{"/a%252fb", refused},
	{"/%252e%252e/admin", refused},
	{"/api/%252e%252e/admin", refused},
	{"/100%25", refused},

	// Encoded query and fragment delimiters.
	{"/admin%3fx=1", refused},
	{"/admin%23x", refused},

	// Malformed escapes.
	{"/a%", refused},
	{"/a%2", refused},
	{"/a%zz", refused},
	{"/a%%32f", refused},
	{"/%u002e%u002e/admin", refused},
	{"/a%g0", refused},

	// Control characters, NUL included.
	{"/admin%00", refused},
	{"/admin%00.json", refused},
	{"/a%0d%0aSet-Cookie:x", refused},
	{"/a%09", refused},
	{"/a\x00", refused},
	{"/a\t", refused},
	{"/a%7f", refused},
	{"/a%c2%85", refused}, // NEL, a C1 control

	// Invalid UTF-8, overlong forms included.
	{"/%c0%af", refused},
	{"/%c0%ae%c0%ae/admin", refused},
	{"/%e0%80%af", refused},
	{"/%f0%80%80%af", refused},
	{"/%ed%a0%80", refused}, // a surrogate
	{"/%ff", refused},
	{"/\xff", refused},
	{"/%c3", refused},

	// Characters that normalization turns into delimiters.
	{"/api%ef%bc%8f..%ef%bc%8fadmin", refused}, // fullwidth solidus
	{"/%ef%bc%8e%ef%bc%8e/admin", refused},     // fullwidth full stops
	{"/\uFF0E\uFF0E/admin", refused},
	{"/api\u2215admin", refused}, // division slash
	{"/\u2024\u2024/admin", refused},
	{"/\u2025/admin", refused},
	{"/api\uFE68admin", refused}, // small reverse solidus
	{"/admin\uFF1Bx", refused},   // fullwidth semicolon
	{"/admin\u037Ex", refused},   // Greek question mark, NFKC ;
}

func TestCanonicalize(t *testing.T) {
	t.Parallel()
	if len(canonicalCases) < 40 {
		t.Fatalf("only %d cases", len(canonicalCases))
	}
	seen := make(map[string]bool)
	for _, c := range canonicalCases {
		if seen[c.raw] {
			t.Errorf("case %q twice", c.raw)
		}
		seen[c.raw] = true
		got, err := policy.Canonicalize(c.raw)
		switch {
		case c.want == refused && err == nil:
			t.Errorf("Canonicalize(%q) = %q, want refused", c.raw, got)
		case c.want == refused && !errors.Is(err, policy.ErrAmbiguousPath):
			t.Errorf("Canonicalize(%q) error %v does not wrap ErrAmbiguousPath", c.raw, err)
		case c.want != refused && err != nil:
			t.Errorf("Canonicalize(%q): %v, want %q", c.raw, err, c.want)
		case c.want != refused && got != c.want:
			t.Errorf("Canonicalize(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
}

// checkCanonical fails unless out is a canonical path.
func checkCanonical(t *testing.T, raw, out string) {
	t.Helper()
	again, err := policy.Canonicalize(out)
	if err != nil || again != out {
		t.Fatalf("Canonicalize(%q) = %q, but Canonicalize(%q) = %q, %v", raw, out, out, again, err)
	}
	if !strings.HasPrefix(out, "/") || !utf8.ValidString(out) {
		t.Fatalf("Canonicalize(%q) = %q: not a path", raw, out)
	}
	for _, bad := range []string{"//", "/./", "/../", "%", "?", "#", `\`, ";", "\x00"} {
		if strings.Contains(out, bad) {
			t.Fatalf("Canonicalize(%q) = %q holds %q", raw, out, bad)
		}
	}
	if strings.HasSuffix(out, "/.") || strings.HasSuffix(out, "/..") {
		t.Fatalf("Canonicalize(%q) = %q ends in a dot segment", raw, out)
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, c := range canonicalCases {
		f.Add(c.raw)
	}
	p := mustParse(f, "routes: [{path: /api/*/x}, {path: /a/**}, {path: /*}]")
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := policy.Canonicalize(raw)
		if err != nil {
			if !errors.Is(err, policy.ErrAmbiguousPath) {
				t.Fatalf("Canonicalize(%q): %v does not wrap ErrAmbiguousPath", raw, err)
			}
			return
		}
		checkCanonical(t, raw, out)
		p.Match("GET", out)
	})
}
