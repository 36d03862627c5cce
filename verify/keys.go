package verify

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"
)

// rsaKey is one verification key. A key dropped from the key set by a
// refresh is retired, which ends the cached tokens it verified.
type rsaKey struct {
	kid     string
	alg     string // "" for the static key: any configured algorithm
	pub     *rsa.PublicKey
	retired atomic.Bool
}

const (
	minRSABits = 2048
	maxRSABits = 8192
)

func checkRSA(pub *rsa.PublicKey) error {
	if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return fmt.Errorf("RSA key of %d bits (want %d to %d)", bits, minRSABits, maxRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return errors.New("RSA public exponent is not valid")
	}
	return nil
}

// ParsePublicKey reads CLERK_JWT_KEY: a PEM block ("PUBLIC KEY" or "RSA
// PUBLIC KEY"), or the bare base64 body of one, as the Clerk Dashboard shows
// it. Literal "\n" sequences (from env files) are taken as newlines. The key
// must be RSA of 2048 bits or more.
func ParsePublicKey(s string) (*rsa.PublicKey, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, `\n`, "\n"))
	if s == "" {
		return nil, errors.New("public key is empty")
	}
	var der []byte
	if strings.HasPrefix(s, "-----BEGIN") {
		block, rest := pem.Decode([]byte(s))
		if block == nil {
			return nil, errors.New("public key: PEM block does not parse")
		}
		if strings.TrimSpace(string(rest)) != "" {
			return nil, errors.New("public key: data after the PEM block")
		}
		if block.Type != "PUBLIC KEY" && block.Type != "RSA PUBLIC KEY" {
			return nil, fmt.Errorf("public key: PEM block of type %q, want PUBLIC KEY", block.Type)
		}
		der = block.Bytes
	} else {
		body := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, s)
		var err error
		if der, err = base64.StdEncoding.DecodeString(body); err != nil {
			return nil, errors.New("public key: neither PEM nor base64")
		}
	}
	var pub *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("public key: not an RSA key")
		}
		pub = rk
	} else if rk, err := x509.ParsePKCS1PublicKey(der); err == nil {
		pub = rk
	} else {
		return nil, errors.New("public key: DER does not parse as PKIX or PKCS#1")
	}
	if err := checkRSA(pub); err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pub, nil
}

// jwk is one JSON Web Key as a key set carries it.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// parseJWKS reads a key set and keeps only RSA signing keys with an accepted
// alg, a kid and a sound modulus; every other entry is ignored. A set with no
// usable key is an error, so that a broken answer never replaces good keys.
func parseJWKS(body []byte, algs map[string]crypto.Hash) (map[string]*rsaKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("key set is not JSON")
	}
	keys := make(map[string]*rsaKey, len(set.Keys))
	for _, raw := range set.Keys {
		var k jwk
		if json.Unmarshal(raw, &k) != nil {
			continue
		}
		if k.Kty != "RSA" || k.Use != "sig" || k.Kid == "" {
			continue
		}
		if _, ok := algs[k.Alg]; !ok {
			continue
		}
		pub, err := jwkRSA(k.N, k.E)
		if err != nil {
			continue
		}
		if _, dup := keys[k.Kid]; dup {
			continue
		}
		keys[k.Kid] = &rsaKey{kid: k.Kid, alg: k.Alg, pub: pub}
	}
	if len(keys) == 0 {
		return nil, errors.New("key set has no usable key")
	}
	return keys, nil
}

func jwkRSA(n, e string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil {
		return nil, err
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e, "="))
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("bad exponent")
	}
	ev := 0
	for _, b := range eb {
		ev = ev<<8 | int(b)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: ev}
	if err := checkRSA(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

func sameKey(a, b *rsaKey) bool {
	return a.alg == b.alg && a.pub.E == b.pub.E && a.pub.N.Cmp(b.pub.N) == 0
}
