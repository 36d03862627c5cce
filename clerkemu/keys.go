package clerkemu

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
)

// signingKey is one RSA key of the instance with its key id.
type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// keyring holds the current signing key and the retired keys still
// published in the JWKS. It is guarded by the emulator's lock.
type keyring struct {
	current signingKey
	retired []signingKey // newest first
}

func (k *keyring) init(key *rsa.PrivateKey) error {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return fmt.Errorf("clerkemu: generate signing key: %w", err)
		}
	}
	if err := checkKey(key); err != nil {
		return err
	}
	k.current = signingKey{kid: newID("ins"), key: key}
	return nil
}

// checkKey accepts the RSA keys Clerk's SDKs can verify: at least 2048 bits,
// exponent 65537.
func checkKey(key *rsa.PrivateKey) error {
	if key.N.BitLen() < 2048 {
		return fmt.Errorf("clerkemu: signing key has %d bits, want at least 2048", key.N.BitLen())
	}
	if key.E != 65537 {
		return fmt.Errorf("clerkemu: signing key exponent is %d, want 65537", key.E)
	}
	return nil
}

// KeyID returns the kid of the current signing key.
func (e *Emulator) KeyID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.keys.current.kid
}

// PublicKeyPEM returns the current signing key's public half as a PEM
// "PUBLIC KEY" block (PKIX), the form Clerk's Dashboard shows and
// CLERK_JWT_KEY takes.
func (e *Emulator) PublicKeyPEM() string {
	e.mu.Lock()
	pub := &e.keys.current.key.PublicKey
	e.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil { // cannot happen for an RSA key
		panic("clerkemu: marshal public key: " + err.Error())
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// RotateKey makes a new RSA-2048 key the signing key and returns its kid.
// With keepOld the previous keys stay in the JWKS, so tokens they signed
// still verify; without it only the new key is published.
func (e *Emulator) RotateKey(keepOld bool) (kid string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("clerkemu: generate signing key: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if keepOld {
		e.keys.retired = append([]signingKey{e.keys.current}, e.keys.retired...)
	} else {
		e.keys.retired = nil
	}
	e.keys.current = signingKey{kid: newID("ins"), key: key}
	return e.keys.current.kid, nil
}

// signer returns the current signing key.
func (e *Emulator) signer() signingKey {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.keys.current
}

// JWK is one entry of the instance's JSON Web Key Set.
type JWK struct {
	Use string `json:"use"`
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKS is the instance's JSON Web Key Set, as GET /v1/jwks answers it.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the published keys: the current one first, then the retired
// keys kept by RotateKey.
func (e *Emulator) JWKS() JWKS {
	e.mu.Lock()
	keys := append([]signingKey{e.keys.current}, e.keys.retired...)
	e.mu.Unlock()
	set := JWKS{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, JWK{
			Use: "sig",
			Kty: "RSA",
			Kid: k.kid,
			Alg: "RS256",
			N:   base64.RawURLEncoding.EncodeToString(k.key.N.Bytes()),
			E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.key.E)).Bytes()),
		})
	}
	return set
}
