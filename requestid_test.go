package clerkgate

import (
	"regexp"
	"strings"
	"testing"
)

func TestRequestIDOrNew(t *testing.T) {
	for _, sent := range []string{"abc", "req-1.2_3:4", strings.Repeat("a", 128)} {
		if got := RequestIDOrNew(sent); got != sent {
			t.Errorf("RequestIDOrNew(%q) = %q, want it echoed", sent, got)
		}
	}
	fresh := regexp.MustCompile(`^[0-9a-f]{24}$`)
	seen := map[string]bool{}
	for _, sent := range []string{"", "a b", "x\ny", "é", strings.Repeat("a", 129), "<script>", "a/b"} {
		got := RequestIDOrNew(sent)
		if !fresh.MatchString(got) {
			t.Errorf("RequestIDOrNew(%q) = %q, want 24 new hex digits", sent, got)
		}
		if seen[got] {
			t.Errorf("RequestIDOrNew(%q) = %q, given before", sent, got)
		}
		seen[got] = true
	}
	// Every position varies: no digit is stuck (a shift or mask slip would
	// leave one constant).
	var differs [24]bool
	first := RequestIDOrNew("")
	for range 200 {
		id := RequestIDOrNew("")
		for i := range differs {
			differs[i] = differs[i] || id[i] != first[i]
		}
	}
	for i, d := range differs {
		if !d {
			t.Errorf("digit %d of new request ids never changes", i)
		}
	}
}
