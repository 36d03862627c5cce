package clerkemu

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// stateVersion is the version of the documents Snapshot writes; New reads
// only this version.
const stateVersion = 1

// stateDoc is the state document; Snapshot documents it.
type stateDoc struct {
	Version       int               `json:"version"`
	Name          string            `json:"name"`
	Issuer        string            `json:"issuer"`
	SecretKey     string            `json:"secret_key"`
	Seq           uint64            `json:"seq"`
	Keys          []stateKey        `json:"keys"`
	Users         []stateUser       `json:"users"`
	Organizations []stateOrg        `json:"organizations"`
	Memberships   []stateMembership `json:"memberships"`
	Sessions      []stateSession    `json:"sessions"`
}

type stateKey struct {
	Kid string `json:"kid"`
	// PrivateKey is the PKCS #8 DER encoding, in standard base64.
	PrivateKey string `json:"private_key"`
}

type stateUser struct {
	Seq            uint64 `json:"seq"`
	PasswordDigest string `json:"password_digest,omitempty"`
	PasswordHasher string `json:"password_hasher,omitempty"`
	User           User   `json:"user"`
}

type stateOrg struct {
	Seq          uint64       `json:"seq"`
	Organization Organization `json:"organization"`
}

type stateMembership struct {
	Seq             uint64         `json:"seq"`
	ID              string         `json:"id"`
	OrganizationID  string         `json:"organization_id"`
	UserID          string         `json:"user_id"`
	Role            string         `json:"role"`
	PublicMetadata  map[string]any `json:"public_metadata"`
	PrivateMetadata map[string]any `json:"private_metadata"`
	CreatedAt       int64          `json:"created_at"`
	UpdatedAt       int64          `json:"updated_at"`
}

type stateSession struct {
	Seq             uint64  `json:"seq"`
	AuthorizedParty string  `json:"azp,omitempty"`
	Session         Session `json:"session"`
}

// Snapshot returns the whole state of the instance as a JSON document that
// [Options.State] restores: users, organizations, memberships, sessions,
// the signing keys (retired ones included, so tokens signed before a
// restart still verify), the secret key and the sequence that orders
// records. It is taken under the emulator's lock, so it is consistent.
//
// The document holds secrets: the Backend API secret key, the RSA private
// keys (PKCS #8, base64) and password digests. Store it like a secret key,
// in a file only its owner can read (mode 0600, as [Emulator.SaveFile]
// writes it), and never commit it or put it in a log.
//
// The document, version 1:
//
//	{"version": 1,
//	 "name": "clerkgate", "issuer": "https://clerk.clerkgate.emulator",
//	 "secret_key": "sk_test_...",
//	 "seq": 42,
//	 "keys": [{"kid": "ins_...", "private_key": "<base64 PKCS #8 DER>"}, ...],
//	 "users": [{"seq": 1, "password_digest": "...", "password_hasher": "...", "user": {<User>}}],
//	 "organizations": [{"seq": 3, "organization": {<Organization>}}],
//	 "memberships": [{"seq": 4, "id": "orgmem_...", "organization_id": "org_...", "user_id": "user_...",
//	                  "role": "org:admin", "public_metadata": {}, "private_metadata": {},
//	                  "created_at": 0, "updated_at": 0}],
//	 "sessions": [{"seq": 5, "azp": "...", "session": {<Session>}}]}
//
// keys[0] is the signing key; the others are the retired keys still
// published, newest first. seq is the last number handed out to order
// records; every record has its own, unique and at most seq. Users,
// organizations and sessions are in their Backend API shape (a session
// with its stored status: expiry is worked out from expire_at and
// abandon_at); members_count is derived and ignored. Lists are oldest
// first. Unknown members are errors; [New] checks every reference.
func (e *Emulator) Snapshot() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	doc := stateDoc{
		Version: stateVersion, Name: e.name, Issuer: e.issuer, SecretKey: e.secretKey, Seq: e.seq,
		Users: []stateUser{}, Organizations: []stateOrg{}, Memberships: []stateMembership{}, Sessions: []stateSession{},
	}
	for _, k := range append([]signingKey{e.keys.current}, e.keys.retired...) {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return nil, fmt.Errorf("clerkemu: snapshot: key %s: %w", k.kid, err)
		}
		doc.Keys = append(doc.Keys, stateKey{Kid: k.kid, PrivateKey: base64.StdEncoding.EncodeToString(der)})
	}
	for _, r := range sortedBySeq(e.users, func(r *userRecord) uint64 { return r.seq }) {
		doc.Users = append(doc.Users, stateUser{Seq: r.seq, PasswordDigest: r.passwordDigest,
			PasswordHasher: r.passwordHasher, User: r.snapshot()})
	}
	for _, r := range sortedBySeq(e.orgs, func(r *orgRecord) uint64 { return r.seq }) {
		o := r.o
		o.MembersCount = 0
		doc.Organizations = append(doc.Organizations, stateOrg{Seq: r.seq, Organization: o})
	}
	for _, m := range sortedBySeq(e.memberships, func(m *membershipRecord) uint64 { return m.seq }) {
		doc.Memberships = append(doc.Memberships, stateMembership{Seq: m.seq, ID: m.id, OrganizationID: m.orgID,
			UserID: m.userID, Role: m.role, PublicMetadata: m.public, PrivateMetadata: m.private,
			CreatedAt: m.created, UpdatedAt: m.updated})
	}
	for _, r := range sortedBySeq(e.sessions, func(r *sessionRecord) uint64 { return r.seq }) {
		doc.Sessions = append(doc.Sessions, stateSession{Seq: r.seq, AuthorizedParty: r.azp, Session: r.s})
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("clerkemu: snapshot: %w", err)
	}
	return out, nil
}

// sortedBySeq returns the values of m in the order of their seq.
func sortedBySeq[T any](m map[string]T, seq func(T) uint64) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(seq(a), seq(b)) })
	return out
}

// decodeState parses a state document, strictly: one JSON object of the
// known version with no unknown members. It checks the shape only;
// restore checks the content.
func decodeState(data []byte) (*stateDoc, error) {
	var head struct {
		Version *json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("clerkemu: state is not a JSON object (truncated or damaged?): %w", err)
	}
	if head.Version == nil {
		return nil, errors.New("clerkemu: state has no version: it was not written by Snapshot")
	}
	var version int
	if err := json.Unmarshal(*head.Version, &version); err != nil || version != stateVersion {
		shown := string(*head.Version)
		if len(shown) > 20 {
			shown = shown[:20] + "..."
		}
		return nil, fmt.Errorf("clerkemu: state version %s is not supported (want %d)", shown, stateVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // metadata numbers stay exact, as the HTTP API keeps them
	dec.DisallowUnknownFields()
	var doc stateDoc
	if err := dec.Decode(&doc); err != nil { // json.Unmarshal above rejected trailing data
		return nil, fmt.Errorf("clerkemu: state: %w", err)
	}
	return &doc, nil
}

// applyTo checks opts against the state's instance settings and fills the
// ones opts leaves empty. The secret key never appears in an error.
func (st *stateDoc) applyTo(opts *Options) error {
	if opts.SigningKey != nil {
		return errors.New("clerkemu: Options.SigningKey and Options.State cannot be used together: the state holds the signing keys")
	}
	for _, f := range []struct {
		option, member string
		opt            *string
		state          string
	}{
		{"SecretKey", "secret_key", &opts.SecretKey, st.SecretKey},
		{"Name", "name", &opts.Name, st.Name},
		{"Issuer", "issuer", &opts.Issuer, st.Issuer},
	} {
		switch {
		case f.state == "":
			return fmt.Errorf("clerkemu: state has no %s", f.member)
		case *f.opt == "":
			*f.opt = f.state
		case *f.opt == f.state:
		case f.member == "secret_key":
			return errors.New("clerkemu: the secret key (Options.SecretKey) differs from the state's")
		default:
			return fmt.Errorf("clerkemu: the %s %q (Options.%s) differs from the state's %q", f.member, *f.opt, f.option, f.state)
		}
	}
	return nil
}
