package verify_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate"
	"github.com/clerkgate/clerkgate/verify"
)

// fuzzCodes are the codes Verify may answer when its key set is healthy.
var fuzzCodes = map[clerkgate.Code]bool{
	clerkgate.CodeTokenInvalid:     true,
	clerkgate.CodeTokenExpired:     true,
	clerkgate.CodeTokenNotYetValid: true,
	clerkgate.CodeSessionPending:   true,
	clerkgate.CodeSessionRevoked:   true,
}

// fuzzAnswer checks the shape of one answer: exactly one of claims and
// error, and an error that is a *verify.Error with a contract code.
func fuzzAnswer(t *testing.T, c *verify.Claims, err error) {
	t.Helper()
	if (c == nil) == (err == nil) {
		t.Fatalf("claims %v and error %v: want exactly one", c, err)
	}
	if err == nil {
		return
	}
	var ve *verify.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %T (%v) is not a *verify.Error", err, err)
	}
	code := clerkgate.ErrorCode(err)
	if !code.Valid() || !fuzzCodes[code] {
		t.Fatalf("code %q (%v) is not one Verify may answer", code, err)
	}
	if !errors.Is(err, &verify.Error{Code: code}) {
		t.Fatalf("errors.Is(%v, code %s) is false", err, code)
	}
}

// FuzzParse feeds arbitrary strings to a static-key and a key-set verifier.
// Neither may panic, every answer has the contract's shape, and nothing is
// ever accepted but a token this test signed: the fuzzer must not forge.
func FuzzParse(f *testing.F) {
	now := time.Unix(1_750_000_000, 0).UTC()
	clock := func() time.Time { return now }
	k := mustKey(f, "kid1", 0)
	srv := newJWKSServer(f, k.jwk("RS256"))
	static, err := verify.New(verify.Options{JWTKey: k.pem(f), Now: clock, CacheSize: 64})
	if err != nil {
		f.Fatal(err)
	}
	jwks, err := verify.New(verify.Options{JWKSURL: srv.URL, Now: clock})
	if err != nil {
		f.Fatal(err)
	}
	if err := jwks.Refresh(context.Background()); err != nil {
		f.Fatal(err)
	}

	// signed holds every token signed with the real key: the only strings
	// either verifier may accept.
	signed := map[string]bool{}
	sign := func(hdr, claims map[string]any) string {
		tok := rejJWT(f, k, hdr, claims)
		signed[tok] = true
		return tok
	}
	c := func(kv ...any) map[string]any { return rejWith(goodClaims(now), kv...) }
	good := sign(rejHdr("kid1"), c())
	seeds := []string{
		good,
		sign(rejHdr("kid1"), c("v", 2, "fea", "o:dashboard,o:teams", "o", map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2"})),
		sign(rejHdr("kid1"), c("v", rejDel{}, "org_id", "org_1", "org_role", "admin", "org_permissions", []string{"org:a:read"})),
		sign(rejHdr("kid1"), c("act", map[string]any{"sub": "user_admin"})),
		sign(rejHdr("other"), c()),                    // the static verifier accepts any kid
		sign(rejHdr("kid1", "typ", rejDel{}), c()),    // typ absent
		sign(rejHdr("kid1"), c("sts", "pending")),     // session_pending
		sign(rejHdr("kid1"), c("exp", 1_000)),         // token_expired
		sign(rejHdr("kid1"), c("nbf", now.Unix()+60)), // token_not_yet_valid
		sign(rejHdr("kid1"), c("sub", "")),            // missing sub
		sign(rejHdr("kid1", "alg", "RS384"), c()),     // alg not allowed (signed RS256 all the same)
	}
	parts := strings.Split(good, ".")
	seeds = append(seeds,
		"", ".", "..", "...", "a.b.c", "e30.e30.", "e30.e30.e30",
		good[:len(good)-1], good+"A", good+".", " "+good, good+"\n",
		parts[0]+"."+parts[1],
		parts[0]+"."+parts[1]+".",
		b64.EncodeToString([]byte(`{"alg":"none"}`))+"."+parts[1]+".",
		b64.EncodeToString([]byte(`{"alg":"HS256","kid":"kid1"}`))+"."+parts[1]+"."+parts[2],
		b64.EncodeToString([]byte(`{"alg":"RS256","kid":"kid1","crit":["b64"]}`))+"."+parts[1]+"."+parts[2],
		b64.EncodeToString([]byte(`{"alg":"RS256","alg":"RS256","kid":"kid1"}`))+"."+parts[1]+"."+parts[2],
		parts[0]+"."+b64.EncodeToString([]byte(`{"sub":"a","sub":"b"}`))+"."+parts[2],
		parts[0]+"."+b64.EncodeToString([]byte(`[]`))+"."+parts[2],
		strings.Repeat("A", verify.MaxTokenSize+1),
	)
	for _, s := range seeds {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, tok string) {
		for _, v := range []*verify.Verifier{static, jwks} {
			c, err := v.Verify(context.Background(), tok)
			fuzzAnswer(t, c, err)
			if err == nil && !signed[tok] {
				t.Fatalf("accepted a token the test never signed (sub %q): %q", c.Subject, tok)
			}
		}
	})
}

// FuzzClaims signs arbitrary payloads with the real key: whatever a token
// says, the verifier must not panic, and what it accepts must hold the
// claims SPEC §4 requires, under their exact names.
func FuzzClaims(f *testing.F) {
	now := time.Unix(1_750_000_000, 0).UTC()
	k := mustKey(f, "kid1", 0)
	v, err := verify.New(verify.Options{JWTKey: k.pem(f), Now: func() time.Time { return now }, CacheSize: -1, KeepRawClaims: true})
	if err != nil {
		f.Fatal(err)
	}
	hdr := rejJSON(f, rejHdr("kid1"))
	add := func(kv ...any) { f.Add(rejJSON(f, rejWith(goodClaims(now), kv...))) }
	add()
	add("v", 2, "fea", "u:x,o:dashboard,o:teams", "o", map[string]any{"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2"})
	add("v", rejDel{}, "org_id", "org_1", "org_slug", "acme", "org_role", "admin", "org_permissions", []string{"org:a:read"})
	add("act", map[string]any{"sub": "user_admin"})
	add("fva", []int{0, 5})
	add("sts", "pending")
	add("exp", float64(now.Unix())+60.25)
	f.Add([]byte(fmt.Sprintf(`{"iss":%q,"sub":"a","sid":"s","exp":%d,"sub":"b"}`, testIssuer, now.Unix()+60)))
	f.Add([]byte(fmt.Sprintf(`{"iss":%q,"sub":"a","sid":"s","exp":%d,"o":{"id":"x","id":"y"}}`, testIssuer, now.Unix()+60)))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))

	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > 4<<10 {
			return // signing is the cost; size limits are FuzzParse's business
		}
		tok := k.signRaw(t, hdr, payload, crypto.SHA256)
		c, err := v.Verify(context.Background(), tok)
		fuzzAnswer(t, c, err)
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("accepted a payload that is not a JSON object: %v", err)
		}
		if sub, _ := m["sub"].(string); sub == "" || sub != c.Subject {
			t.Fatalf("Subject %q, but the payload's sub is %v", c.Subject, m["sub"])
		}
		if sid, _ := m["sid"].(string); sid == "" || sid != c.SessionID {
			t.Fatalf("SessionID %q, but the payload's sid is %v", c.SessionID, m["sid"])
		}
		if _, ok := m["exp"].(float64); !ok {
			t.Fatalf("accepted without a numeric exp: %v", m["exp"])
		}
		if m["sts"] == "pending" || c.Pending() {
			t.Fatal("accepted a pending session")
		}
		if c.Expiry.Add(verify.DefaultLeeway).Before(now) {
			t.Fatalf("accepted with Expiry %v", c.Expiry)
		}
		if o := c.Org; o != nil {
			if o.ID == "" || (o.Role != "" && !strings.HasPrefix(o.Role, "org:")) {
				t.Fatalf("org %+v", o)
			}
			for _, p := range o.Permissions {
				if !strings.HasPrefix(p, "org:") {
					t.Fatalf("permission %q", p)
				}
			}
		}
		if string(c.Raw) != string(payload) {
			t.Fatal("Raw is not the payload")
		}
	})
}
