package httpapi

import (
	"net/http"
	"strings"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// The identity headers of SPEC §7, sent upstream by the proxy and on the
// 200 answers of forward-auth. A header is sent only when it has a value:
// an anonymous caller gets none, a session without an organization no
// X-Clerkgate-Org-*. Machines get X-Clerkgate-Auth: machine with
// X-Clerkgate-Subject, X-Clerkgate-Scopes and X-Clerkgate-Machine-Kind
// instead of the user headers.
const (
	HeaderUserID      = "X-Clerkgate-User-Id"
	HeaderClerkUserID = "X-Clerkgate-Clerk-User-Id"
	HeaderEmail       = "X-Clerkgate-Email"
	HeaderRole        = "X-Clerkgate-Role"
	HeaderPermissions = "X-Clerkgate-Permissions"
	HeaderOrgID       = "X-Clerkgate-Org-Id"
	HeaderOrgRole     = "X-Clerkgate-Org-Role"
	HeaderSessionID   = "X-Clerkgate-Session-Id"
	HeaderAuth        = "X-Clerkgate-Auth"
	HeaderSubject     = "X-Clerkgate-Subject"
	HeaderScopes      = "X-Clerkgate-Scopes"
	HeaderMachineKind = "X-Clerkgate-Machine-Kind"
)

// gatewayPrefix is the prefix of the headers only clerkgate may set,
// lower-case and with "-" for "_".
const gatewayPrefix = "x-clerkgate-"

// isGatewayHeader reports whether a header name is one of clerkgate's once
// lower-cased and with "_" read as "-" (CGI-style servers and some
// frameworks treat X_Clerkgate_Role as X-Clerkgate-Role).
func isGatewayHeader(name string) bool {
	return len(name) >= len(gatewayPrefix) && normalizeHeaderName(name[:len(gatewayPrefix)]) == gatewayPrefix
}

func normalizeHeaderName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// maxSpoofedNames bounds the header names a header_spoofing event lists.
const maxSpoofedNames = 10

// gatewayHeaders returns the names (as received, at most 10, each cut to
// 64 bytes) of the clerkgate headers in h, for a header_spoofing event.
// Their values are never recorded.
func gatewayHeaders(h http.Header) []string {
	var names []string
	for k := range h {
		if isGatewayHeader(k) && len(names) < maxSpoofedNames {
			names = append(names, strings.ToValidUTF8(k[:min(len(k), 64)], "?"))
		}
	}
	return names
}

// removeGatewayHeaders deletes every clerkgate header from h.
func removeGatewayHeaders(h http.Header) {
	for k := range h {
		if isGatewayHeader(k) {
			delete(h, k)
		}
	}
}

// routingHeaders are client headers that other servers use to route, to
// choose the method or to learn the client's address (normalized names).
// They never change what clerkgate matches, and they do not reach the
// upstream, which might believe them. Every X-Forwarded-* header goes too;
// the proxy then sets X-Forwarded-For, -Host and -Proto itself.
var routingHeaders = map[string]bool{
	"x-original-url":         true,
	"x-rewrite-url":          true,
	"x-original-uri":         true,
	"x-original-method":      true,
	"x-http-method-override": true,
	"x-http-method":          true,
	"x-method-override":      true,
	"x-real-ip":              true,
}

// removeRoutingHeaders deletes the routing headers and every X-Forwarded-*
// header from h, in any spelling.
func removeRoutingHeaders(h http.Header) {
	for k := range h {
		n := normalizeHeaderName(k)
		if routingHeaders[n] || strings.HasPrefix(n, "x-forwarded-") {
			delete(h, k)
		}
	}
}

// removeSessionCookie deletes the __session cookie (every one of them) from
// the Cookie headers of h and keeps the other cookies as they were.
func removeSessionCookie(h http.Header) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	var kept []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || strings.TrimSpace(name) == verify.SessionCookie {
				continue
			}
			kept = append(kept, part)
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

// setIdentityHeaders replaces the identity headers of h with p's; a nil p
// (an anonymous caller) leaves none.
func setIdentityHeaders(h http.Header, p *Principal) {
	removeGatewayHeaders(h)
	if p == nil {
		return
	}
	set := func(k, v string) {
		if v != "" && validHeaderValue(v) {
			h[k] = []string{v}
		}
	}
	set(HeaderAuth, p.Kind)
	if p.Kind == PrincipalMachine {
		set(HeaderSubject, p.Subject)
		set(HeaderScopes, strings.Join(p.Scopes, ","))
		set(HeaderMachineKind, p.MachineKind)
		return
	}
	if u := p.User; u != nil {
		set(HeaderUserID, u.ID)
		set(HeaderClerkUserID, u.ClerkUserID) // a legacy user's, once linked
		set(HeaderEmail, u.Email)
	}
	if p.Kind == PrincipalSession {
		set(HeaderClerkUserID, p.Subject) // the token's, also for a user not stored yet
	}
	set(HeaderRole, p.Role)
	set(HeaderPermissions, strings.Join(p.Permissions, ","))
	set(HeaderOrgID, p.OrgID)
	set(HeaderOrgRole, p.OrgRole)
	set(HeaderSessionID, p.SessionID)
}

// validHeaderValue reports whether v can be sent as a header value: no
// control characters but tab (RFC 9110 field-value).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// recordSpoofing records one header_spoofing event for a request that
// carried clerkgate headers.
func (s *server) recordSpoofing(r *http.Request, names []string) {
	s.security.Record(r.Context(), clerkgate.SecurityEvent{
		Kind:      clerkgate.EventHeaderSpoofing,
		IP:        remoteIP(r),
		RequestID: requestID(r),
	}, map[string]any{"headers": names})
}
