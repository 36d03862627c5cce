package httpapi

import (
	"net/http"
	"testing"
)

func TestIsGatewayHeader(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"X-Clerkgate-Role":      true,
		"x-clerkgate-role":      true,
		"X-CLERKGATE-ROLE":      true,
		"X_Clerkgate_Role":      true,
		"X_clerkgate-user_id":   true,
		"X-Clerkgate-":          true,
		"X-Clerkgate":           false,
		"X-Clerkgateway-Role":   false,
		"X-Clerk-Gate-Role":     false,
		"Clerkgate-Role":        false,
		"X-Forwarded-Clerkgate": false,
	} {
		if got := isGatewayHeader(name); got != want {
			t.Errorf("isGatewayHeader(%q) = %v", name, got)
		}
	}
}

func TestRemoveSessionCookie(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []string
		want []string
	}{
		{[]string{"__session=abc"}, nil},
		{[]string{"a=1; __session=abc; b=2"}, []string{"a=1; b=2"}},
		{[]string{"a=1", "__session=abc"}, []string{"a=1"}},
		{[]string{"__session=x; __session=y; __session_suffix=z"}, []string{"__session_suffix=z"}},
		{[]string{" __session = abc ;; theme=dark"}, []string{"theme=dark"}},
		{[]string{"__Session=abc"}, []string{"__Session=abc"}}, // cookie names are case-sensitive
	} {
		h := http.Header{"Cookie": c.in}
		removeSessionCookie(h)
		if got := h["Cookie"]; len(got) != len(c.want) || (len(got) == 1 && got[0] != c.want[0]) {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRemoveRoutingHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	for _, k := range []string{"X-Original-URL", "X_Original_URL", "X-Rewrite-Url", "X-Forwarded-Prefix", "X-Forwarded-Uri",
		"X-Original-Uri", "X-Http-Method-Override", "X-Forwarded-Host", "X-Real-Ip", "Accept", "X-Custom"} {
		h[k] = []string{"v"}
	}
	removeRoutingHeaders(h)
	if len(h) != 2 || h.Get("Accept") == "" || h.Get("X-Custom") == "" {
		t.Fatalf("left %v", h)
	}
}

func TestForwarded(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		h    http.Header
		want string
		ok   bool
	}{
		{http.Header{"X-Forwarded-Uri": {"/a"}}, "/a", true},
		{http.Header{"X-Original-Uri": {"/b"}}, "/b", true},
		{http.Header{"X-Forwarded-Uri": {"/a"}, "X-Original-Uri": {"/a"}}, "/a", true},
		{http.Header{"X-Forwarded-Uri": {"/a"}, "X-Original-Uri": {"/b"}}, "", false},
		{http.Header{"X-Forwarded-Uri": {"/a", "/a"}}, "", false},
		{http.Header{}, "", false},
	} {
		got, err := forwarded(c.h, "X-Forwarded-Uri", "X-Original-Uri")
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("%v: %q %v", c.h, got, err)
		}
	}
}

func TestForwardedClientIP(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		xff  []string
		want string
	}{
		{nil, "127.0.0.1"},
		{[]string{"203.0.113.9"}, "203.0.113.9"},
		{[]string{"10.0.0.1, 203.0.113.9"}, "203.0.113.9"},
		{[]string{"1.2.3.4", "198.51.100.7"}, "198.51.100.7"},
		{[]string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{[]string{"garbage"}, "127.0.0.1"},
	} {
		r := &http.Request{RemoteAddr: "127.0.0.1:5555", Header: http.Header{"X-Forwarded-For": c.xff}}
		if got := forwardedClientIP(r); got != c.want {
			t.Errorf("%q: %q, want %q", c.xff, got, c.want)
		}
	}
}
