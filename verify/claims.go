package verify

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Claims is the identity in a verified Clerk session token. A *Claims
// returned by a Verifier may be shared by many requests: treat it as read-only.
type Claims struct {
	Issuer          string    // iss: the instance's Frontend API URL
	Subject         string    // sub: the Clerk user id
	SessionID       string    // sid
	AuthorizedParty string    // azp; empty when absent
	ID              string    // jti; empty when absent
	Expiry          time.Time // exp
	NotBefore       time.Time // nbf; zero when absent
	IssuedAt        time.Time // iat; zero when absent
	Version         int       // v: 2 for current tokens, 1 for older ones
	SessionStatus   string    // sts, such as "pending"; empty when absent
	Plan            string    // pla; empty when absent
	Features        []string  // fea entries, such as "o:dashboard"
	Org             *Org      // the active organization; nil when none
	Actor           *Actor    // act: who impersonates the user; nil when nobody
	FactorAge       *FactorAge
	// Raw is the token's whole payload, for claims this type does not name
	// (custom claims of a session-token template). It is kept only when
	// Options.KeepRawClaims is set, since it is most of a cached token's
	// memory.
	Raw json.RawMessage
}

// Org is the active organization of a session.
type Org struct {
	ID          string
	Slug        string
	Role        string   // with the "org:" prefix, such as "org:admin"
	Permissions []string // expanded, such as "org:dashboard:manage"
}

// Actor is the act claim: the admin or agent impersonating the user.
type Actor struct {
	Subject string          // act.sub
	Raw     json.RawMessage // the whole act object
}

// FactorAge is the fva claim: minutes since the first and the second factor
// were last verified; -1 means never.
type FactorAge struct {
	First, Second int
}

// Pending reports whether the session is pending (sts = "pending").
func (c *Claims) Pending() bool { return c.SessionStatus == "pending" }

// wireClaims is the payload as JSON. Time claims are raw so that a quoted
// number is refused, and so is every member of the wrong JSON type.
type wireClaims struct {
	Iss string          `json:"iss"`
	Sub *string         `json:"sub"`
	Sid *string         `json:"sid"`
	Azp string          `json:"azp"`
	Jti string          `json:"jti"`
	Exp json.RawMessage `json:"exp"`
	Nbf json.RawMessage `json:"nbf"`
	Iat json.RawMessage `json:"iat"`
	V   *float64        `json:"v"`
	Sts string          `json:"sts"`
	Pla string          `json:"pla"`
	Fea string          `json:"fea"`
	O   *struct {
		ID  string `json:"id"`
		Slg string `json:"slg"`
		Rol string `json:"rol"`
		Per string `json:"per"`
		Fpm string `json:"fpm"`
	} `json:"o"`
	OrgID          string          `json:"org_id"`
	OrgSlug        string          `json:"org_slug"`
	OrgRole        string          `json:"org_role"`
	OrgPermissions []string        `json:"org_permissions"`
	Act            json.RawMessage `json:"act"`
	Fva            []float64       `json:"fva"`
}

// claimNames are the members wireClaims decodes, which must be spelled
// exactly (encoding/json would match "Sub" to sub).
var claimNames = func() *nameRules {
	r := newNameRules("iss", "sub", "sid", "azp", "jti", "exp", "nbf", "iat", "v", "sts", "pla", "fea", "o",
		"org_id", "org_slug", "org_role", "org_permissions", "act", "fva")
	r.children = map[string]*nameRules{
		"o":   newNameRules("id", "slg", "rol", "per", "fpm"),
		"act": newNameRules("sub"),
	}
	return r
}()

// timeClaim is a numeric date: present or not, in seconds.
type timeClaim struct {
	set bool
	sec float64
}

// Bounds of the times a timeClaim converts to: year 1 and year 9999. A
// numeric date beyond them is valid (SPEC: anything within int64 seconds)
// and is clamped, which keeps comparisons with time.Time right.
const (
	minTimeSec = -62135596800
	maxTimeSec = 253402300799
)

func (t timeClaim) time() time.Time {
	if !t.set {
		return time.Time{}
	}
	sec := min(max(t.sec, minTimeSec), maxTimeSec)
	s, frac := math.Modf(sec)
	return time.Unix(int64(s), int64(frac*1e9)).UTC()
}

// parsedClaims is Claims plus the numeric dates as numbers, for checks.
type parsedClaims struct {
	Claims
	exp, nbf, iat timeClaim
}

// parseClaims decodes a payload. Every failure is token_invalid.
func parseClaims(payload []byte, keepRaw bool) (*parsedClaims, error) {
	if err := checkJSONObject(payload, claimNames); err != nil {
		return nil, err
	}
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, invalid("bad_claims")
	}
	p := &parsedClaims{}
	var err error
	if p.exp, err = numericDate(w.Exp); err != nil {
		return nil, err
	}
	if p.nbf, err = numericDate(w.Nbf); err != nil {
		return nil, err
	}
	if p.iat, err = numericDate(w.Iat); err != nil {
		return nil, err
	}
	if !p.exp.set {
		return nil, invalid("missing_exp")
	}
	if w.Sub == nil || *w.Sub == "" {
		return nil, invalid("missing_sub")
	}
	if w.Sid == nil || *w.Sid == "" {
		return nil, invalid("missing_sid")
	}
	c := &p.Claims
	c.Issuer, c.Subject, c.SessionID = w.Iss, *w.Sub, *w.Sid
	c.AuthorizedParty, c.ID = w.Azp, w.Jti
	c.Expiry, c.NotBefore, c.IssuedAt = p.exp.time(), p.nbf.time(), p.iat.time()
	c.SessionStatus, c.Plan = w.Sts, w.Pla
	c.Version = 1
	if w.V != nil {
		if *w.V != math.Trunc(*w.V) || *w.V < 0 || *w.V > 1000 {
			return nil, invalid("bad_claims")
		}
		c.Version = int(*w.V)
	}
	if w.Fea != "" {
		c.Features = splitList(w.Fea)
	}
	if c.Version >= 2 {
		if w.O != nil && w.O.ID != "" {
			c.Org = &Org{
				ID:          w.O.ID,
				Slug:        w.O.Slg,
				Role:        orgRole(w.O.Rol),
				Permissions: expandOrgPermissions(c.Features, w.O.Per, w.O.Fpm),
			}
		}
	} else if w.OrgID != "" {
		c.Org = &Org{ID: w.OrgID, Slug: w.OrgSlug, Role: orgRole(w.OrgRole), Permissions: w.OrgPermissions}
	}
	if len(w.Act) > 0 && !bytes.Equal(w.Act, []byte("null")) {
		var act struct {
			Sub string `json:"sub"`
		}
		if json.Unmarshal(w.Act, &act) != nil || act.Sub == "" {
			return nil, invalid("bad_claims")
		}
		c.Actor = &Actor{Subject: act.Sub, Raw: w.Act}
	}
	if w.Fva != nil {
		fa := FactorAge{First: -1, Second: -1}
		for i, v := range w.Fva {
			if v != math.Trunc(v) || v < -1 || v > math.MaxInt32 {
				return nil, invalid("bad_claims")
			}
			switch i {
			case 0:
				fa.First = int(v)
			case 1:
				fa.Second = int(v)
			}
		}
		c.FactorAge = &fa
	}
	if keepRaw {
		c.Raw = payload
	}
	return p, nil
}

// numericDate parses a JSON number of seconds. Absent is unset; null, a
// string, a non-finite value or one beyond int64 seconds is invalid.
func numericDate(raw json.RawMessage) (timeClaim, error) {
	if len(raw) == 0 {
		return timeClaim{}, nil
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return timeClaim{}, invalid("bad_time_claim")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f >= math.MaxInt64 || f < math.MinInt64 {
		return timeClaim{}, invalid("bad_time_claim")
	}
	return timeClaim{set: true, sec: f}, nil
}

func orgRole(r string) string {
	if r == "" || strings.HasPrefix(r, "org:") {
		return r
	}
	return "org:" + r
}

func splitList(s string) []string {
	parts := strings.Split(s, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// expandOrgPermissions turns the v2 compact form into permission keys. The
// i-th number of fpm is a bitmask over per (least significant bit = first
// permission) for the i-th organization feature of fea, as Clerk's own SDKs
// read it. Malformed entries grant nothing.
func expandOrgPermissions(features []string, per, fpm string) []string {
	if per == "" || fpm == "" {
		return nil
	}
	perms := splitList(per)
	masks := strings.Split(fpm, ",")
	var out []string
	i := 0
	for _, f := range features {
		scope, name, ok := strings.Cut(f, ":")
		if !ok || name == "" || !strings.Contains(scope, "o") {
			continue
		}
		idx := i
		i++
		if idx >= len(masks) {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(masks[idx]), 10, 64)
		if err != nil || (len(perms) < 64 && mask>>uint(len(perms)) != 0) {
			continue
		}
		for j, p := range perms {
			if j < 64 && mask&(1<<uint(j)) != 0 {
				out = append(out, "org:"+name+":"+p)
			}
		}
	}
	return out
}
