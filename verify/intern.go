package verify

import "sync"

// The verified-token cache holds up to DefaultCacheSize claims, and most of
// their strings repeat: the issuer and authorized party are the instance's,
// the subject a user's, the session id that of every token the session
// refreshed, the organization's id, slug and role its members'. interner
// keeps one copy of each, so that a cached token costs its own fields
// only. It is used when a token is verified (a cache miss), never on a hit.

// maxInterned bounds the interner; when it is full it starts again empty
// (the strings handed out stay valid, they are just no longer shared).
const maxInterned = 1 << 16

type interner struct {
	mu sync.Mutex
	m  map[string]string
}

// intern returns s, or an earlier string equal to it.
func (in *interner) intern(s string) string {
	if s == "" {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.m[s]; ok {
		return v
	}
	if in.m == nil || len(in.m) >= maxInterned {
		in.m = make(map[string]string)
	}
	in.m[s] = s
	return s
}

// internClaims replaces c's repeating strings by shared copies.
func (in *interner) internClaims(c *Claims) {
	c.Issuer = in.intern(c.Issuer)
	c.Subject = in.intern(c.Subject)
	c.SessionID = in.intern(c.SessionID)
	c.AuthorizedParty = in.intern(c.AuthorizedParty)
	c.SessionStatus = in.intern(c.SessionStatus)
	c.Plan = in.intern(c.Plan)
	for i, f := range c.Features {
		c.Features[i] = in.intern(f)
	}
	if o := c.Org; o != nil {
		o.ID, o.Slug, o.Role = in.intern(o.ID), in.intern(o.Slug), in.intern(o.Role)
		for i, p := range o.Permissions {
			o.Permissions[i] = in.intern(p)
		}
	}
}
