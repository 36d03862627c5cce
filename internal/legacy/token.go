package legacy

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// invalid is a token_invalid failure with a short reason.
func invalid(reason string) error {
	return &verify.Error{Code: clerkgate.CodeTokenInvalid, Reason: "legacy_" + reason}
}

// segments are the three parts of a compact JWS, still encoded.
type segments struct {
	header, payload, signature string
}

// signingInput is what the signature covers.
func (s segments) signingInput() string { return s.header + "." + s.payload }

// split cuts token into its three segments.
func split(token string) (segments, error) {
	if token == "" || len(token) > MaxTokenSize {
		return segments{}, invalid("size")
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") || h == "" || p == "" || sig == "" {
		return segments{}, invalid("malformed")
	}
	return segments{h, p, sig}, nil
}

// decodeSegment decodes canonical base64url: no padding, no '+' or '/', no
// white space, no stray bits.
func decodeSegment(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, invalid("bad_base64")
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, invalid("bad_base64")
	}
	return b, nil
}

// header is the part of a JOSE header that matters here.
type header struct {
	alg string
	kid string
}

// peekHeader reads alg and kid without judging anything else.
func peekHeader(seg string) (header, error) {
	b, err := decodeSegment(seg)
	if err != nil {
		return header{}, err
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(b, &h) != nil {
		return header{}, invalid("bad_header")
	}
	return header{alg: h.Alg, kid: h.Kid}, nil
}

// parseHeader reads the header strictly: one JSON object without repeated
// members, alg a string, typ (when present) "JWT", no crit. The jku, x5u,
// jwk and x5c members are never followed: the key is the configured one.
func parseHeader(seg string) (header, error) {
	b, err := decodeSegment(seg)
	if err != nil {
		return header{}, err
	}
	m, err := decodeObject(b)
	if err != nil {
		return header{}, invalid("bad_header")
	}
	if _, ok := m["crit"]; ok {
		return header{}, invalid("crit")
	}
	var h header
	if json.Unmarshal(m["alg"], &h.alg) != nil || h.alg == "" {
		return header{}, invalid("bad_header")
	}
	if raw, ok := m["typ"]; ok {
		var typ string
		if json.Unmarshal(raw, &typ) != nil || !strings.EqualFold(typ, "JWT") {
			return header{}, invalid("bad_typ")
		}
	}
	if raw, ok := m["kid"]; ok && json.Unmarshal(raw, &h.kid) != nil {
		return header{}, invalid("bad_header")
	}
	return h, nil
}

// peekIssuer reads the payload's iss without verifying anything: "" when
// absent; ok is false when the payload is not a JSON object or iss is not
// a string.
func peekIssuer(seg string) (iss string, ok bool) {
	b, err := decodeSegment(seg)
	if err != nil {
		return "", false
	}
	var c struct {
		Iss *string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return "", false
	}
	if c.Iss == nil {
		return "", true
	}
	return *c.Iss, true
}

// checkSignature verifies the signature with the configured key, in
// constant time for HS256.
func (v *Verifier) checkSignature(s segments) error {
	sig, err := decodeSegment(s.signature)
	if err != nil {
		return err
	}
	switch {
	case v.secret != nil:
		mac := hmac.New(sha256.New, v.secret)
		io.WriteString(mac, s.signingInput())
		if !hmac.Equal(mac.Sum(nil), sig) {
			return invalid("bad_signature")
		}
	case v.pub != nil:
		if len(sig) != v.pub.Size() {
			return invalid("bad_signature")
		}
		sum := sha256.Sum256([]byte(s.signingInput()))
		if rsa.VerifyPKCS1v15(v.pub, crypto.SHA256, sum[:], sig) != nil {
			return invalid("bad_signature")
		}
	default:
		return invalid("no_key")
	}
	return nil
}

// claims are the verified claims that matter here.
type claims struct {
	exp            time.Time
	nbf, iat       time.Time
	hasNbf, hasIat bool
	iss            *string // nil when absent
	user           string
}

// maxUserID bounds the length of the local user id a token may carry.
const maxUserID = 256

// decimal is the JSON form of an integer: what a numeric user id may be.
var decimal = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// parseClaims reads the payload: one JSON object without repeated members;
// exp a number (required), nbf and iat numbers when present, iss a string
// when present, and the user claim a non-empty string or an integer.
func parseClaims(seg, userClaim string) (*claims, error) {
	b, err := decodeSegment(seg)
	if err != nil {
		return nil, err
	}
	m, err := decodeObject(b)
	if err != nil {
		return nil, invalid("bad_claims")
	}
	c := &claims{}
	raw, ok := m["exp"]
	if !ok {
		return nil, invalid("no_exp")
	}
	if c.exp, err = numericDate(raw); err != nil {
		return nil, err
	}
	if raw, ok := m["nbf"]; ok {
		if c.nbf, err = numericDate(raw); err != nil {
			return nil, err
		}
		c.hasNbf = true
	}
	if raw, ok := m["iat"]; ok {
		if c.iat, err = numericDate(raw); err != nil {
			return nil, err
		}
		c.hasIat = true
	}
	if raw, ok := m["iss"]; ok {
		var iss string
		if json.Unmarshal(raw, &iss) != nil {
			return nil, invalid("bad_issuer")
		}
		c.iss = &iss
	}
	if c.user, err = userID(m[userClaim]); err != nil {
		return nil, err
	}
	return c, nil
}

// userID reads the user claim: a non-empty string of at most maxUserID
// bytes without control characters, or an integer, rendered in decimal.
func userID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", invalid("no_user")
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" || len(s) > maxUserID || !utf8.ValidString(s) ||
			strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", invalid("bad_user")
		}
		return s, nil
	}
	if s := string(raw); len(s) <= maxUserID && decimal.MatchString(s) {
		return s, nil
	}
	return "", invalid("bad_user")
}

// numericDate reads a JSON number of seconds since the epoch (fractions
// allowed) within the range of time.Time's int64 seconds.
func numericDate(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return time.Time{}, invalid("bad_time")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f >= math.MaxInt64 || f < math.MinInt64 {
		return time.Time{}, invalid("bad_time")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// checkClaims applies the time and issuer rules.
func (v *Verifier) checkClaims(c *claims) error {
	now := v.now()
	if now.After(c.exp.Add(v.leeway)) {
		return &verify.Error{Code: clerkgate.CodeTokenExpired, Reason: "legacy_expired"}
	}
	if c.hasNbf && c.nbf.After(now.Add(v.leeway)) || c.hasIat && c.iat.After(now.Add(v.leeway)) {
		return &verify.Error{Code: clerkgate.CodeTokenNotYetValid, Reason: "legacy_not_yet_valid"}
	}
	if v.issuer != "" && (c.iss == nil || *c.iss != v.issuer) {
		return invalid("bad_issuer")
	}
	return nil
}

// errJSON is the cause of a payload or header that is not one JSON
// object without repeated member names.
var errJSON = errors.New("not one JSON object without repeated member names")

// decodeObject decodes b, which must be exactly one JSON object in which no
// object (at any depth) repeats a member name, into its members.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	if err := noRepeatedNames(b); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errJSON
	}
	return m, nil
}

// noRepeatedNames walks the tokens of b and fails on a repeated member
// name, on anything but one object, and on trailing data.
func noRepeatedNames(b []byte) error {
	type frame struct {
		object  bool
		wantKey bool
		names   map[string]bool
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*frame
	started := false
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 || !started {
				return errJSON
			}
			return nil
		}
		if err != nil {
			return errJSON
		}
		if len(stack) == 0 {
			if started || tok != json.Delim('{') {
				return errJSON // a second value, or not an object
			}
			started = true
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			top := stack[n-1]
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			name, ok := tok.(string)
			if !ok || top.names[name] {
				return errJSON
			}
			top.names[name] = true
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true, names: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}
