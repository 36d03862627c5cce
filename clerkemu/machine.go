package clerkemu

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Machine credential defaults, as Clerk's.
const (
	// defaultM2MTTL is a machine's default_token_ttl.
	defaultM2MTTL = time.Hour
	// defaultOAuthTTL is the lifetime of an OAuth access token minted
	// without one.
	defaultOAuthTTL = time.Hour
	// maxMachineTTL bounds lifetimes, as Clerk bounds default_token_ttl.
	maxMachineTTL = 315360000 * time.Second
)

// APIKey is a Clerk API key in the Backend API's wire shape.
//
// API keys, M2M tokens ([M2MToken]) and OAuth access tokens
// ([OAuthAccessToken]) are Clerk's machine credentials. The
// emulator serves, behind the instance's secret key:
//
//	POST /v1/api_keys                               create an API key (answers its secret once)
//	POST /v1/api_keys/verify                        {"secret":"ak_..."}
//	POST /v1/api_keys/{id}/revoke                   {"revocation_reason":...}
//	POST /v1/m2m_tokens                             create an M2M token (201, answers the token once)
//	POST /v1/m2m_tokens/verify                      {"token":"mt_..."}
//	POST /v1/m2m_tokens/{id}/revoke                 {"revocation_reason":...}
//	POST /v1/oauth_applications/access_tokens/verify {"access_token":"oat_..."}
//
// A verification answers the credential's object, or 404 resource_not_found
// when the secret is unknown, revoked or expired, which is what Clerk's SDKs
// read as an invalid token. OAuth access tokens are minted by
// [Emulator.CreateOAuthAccessToken] only: the emulator has no OAuth
// applications or authorization flow.
//
// Clerk signs M2M token creation with a machine's secret key; the emulator
// accepts the instance's secret key instead and takes the emulator-only
// members "subject" (a mch_ id; default: the instance's one built-in
// machine, [Emulator.DefaultMachineID]) and "scopes" (the mch_ ids the token
// may reach). Opaque tokens only: "token_format":"jwt" is refused, and
// min_remaining_ttl_seconds is checked but never reuses a token.
//
// Machine credentials are not part of the instance's state: [Emulator.Snapshot]
// does not hold them, and a restored emulator has none. Clerk documents no
// webhook events for them, so none are emitted. [Emulator.MachineStats]
// counts the verification requests, for tests of caching clients.
type APIKey struct {
	Object      string         `json:"object"`
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	Subject     string         `json:"subject"`
	Name        string         `json:"name"`
	Description *string        `json:"description"`
	Claims      map[string]any `json:"claims"`
	Scopes      []string       `json:"scopes"`
	// Secret is the key itself ("ak_..."), what a caller presents. It is
	// set only in the answer of the key's creation: Clerk shows it once.
	Secret           string  `json:"secret,omitempty"`
	Revoked          bool    `json:"revoked"`
	RevocationReason *string `json:"revocation_reason"`
	Expired          bool    `json:"expired"`
	// Expiration is when the key expires, Unix ms; nil: never.
	Expiration *int64  `json:"expiration"`
	CreatedBy  *string `json:"created_by"`
	LastUsedAt *int64  `json:"last_used_at"`
	CreatedAt  int64   `json:"created_at"`
	UpdatedAt  int64   `json:"updated_at"`
}

// M2MToken is a Clerk machine-to-machine token in the Backend API's wire
// shape.
type M2MToken struct {
	Object string `json:"object"`
	ID     string `json:"id"`
	// Subject is the machine (mch_...) the token belongs to.
	Subject string         `json:"subject"`
	Claims  map[string]any `json:"claims"`
	// Scopes are the machines (mch_...) the token may reach.
	Scopes []string `json:"scopes"`
	// Token is the token itself ("mt_..."), set only in the answer of its
	// creation.
	Token            string  `json:"token,omitempty"`
	Revoked          bool    `json:"revoked"`
	RevocationReason *string `json:"revocation_reason"`
	Expired          bool    `json:"expired"`
	// Expiration is when the token expires, Unix ms; nil: never.
	Expiration *int64 `json:"expiration"`
	LastUsedAt *int64 `json:"last_used_at"`
	CreatedAt  int64  `json:"created_at"`
	UpdatedAt  int64  `json:"updated_at"`
}

// OAuthAccessToken is an access token Clerk issued as an OAuth identity
// provider, in the shape POST /v1/oauth_applications/access_tokens/verify
// answers.
type OAuthAccessToken struct {
	Object   string `json:"object"`
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	// Subject is the user (user_...) who granted the token.
	Subject string   `json:"subject"`
	Scopes  []string `json:"scopes"`
	// Token is the access token itself ("oat_..."), set only by
	// [Emulator.CreateOAuthAccessToken]; it is never on the wire.
	Token            string  `json:"-"`
	Revoked          bool    `json:"revoked"`
	RevocationReason *string `json:"revocation_reason"`
	Expired          bool    `json:"expired"`
	// Expiration is when the token expires, Unix ms; nil: never.
	Expiration *int64 `json:"expiration"`
	CreatedAt  int64  `json:"created_at"`
	UpdatedAt  int64  `json:"updated_at"`
}

// APIKeyParams describes an API key for [Emulator.CreateAPIKey].
type APIKeyParams struct {
	// Subject is who the key acts for: a user_, org_, mch_ or scim_ id;
	// required.
	Subject string
	// Name names the key (3 characters or more); "" means "api key".
	Name string
	// Type is the key's type; "" means "api_key".
	Type        string
	Description string
	Scopes      []string
	// Claims are custom claims (a JSON object); nil means none.
	Claims map[string]any
	// CreatedBy is the user_ id of the key's creator, if any.
	CreatedBy string
	// Expiration is the key's lifetime, rounded up to whole seconds; 0
	// means it never expires.
	Expiration time.Duration
}

// M2MTokenParams describes an M2M token for [Emulator.CreateM2MToken].
type M2MTokenParams struct {
	// Subject is the machine (mch_...) the token belongs to; "" means
	// [Emulator.DefaultMachineID].
	Subject string
	// Scopes are the machines (mch_ ids) the token may reach.
	Scopes []string
	// Claims are custom claims (a JSON object); nil means none.
	Claims map[string]any
	// Expiration is the token's lifetime, rounded up to whole seconds; 0
	// means one hour, a machine's default.
	Expiration time.Duration
}

// OAuthAccessTokenParams describes an OAuth access token for
// [Emulator.CreateOAuthAccessToken].
type OAuthAccessTokenParams struct {
	// Subject is the user (user_...) who granted the token; required.
	Subject string
	// ClientID is the OAuth application's client id; "" means a fresh
	// "client_..." id.
	ClientID string
	Scopes   []string
	// Expiration is the token's lifetime, rounded up to whole seconds; 0
	// means one hour.
	Expiration time.Duration
}

// MachineStats counts the verification requests the Backend API served,
// whatever their answer. Requests a fault stopped never reach them.
type MachineStats struct {
	APIKeyVerifies     int64
	M2MTokenVerifies   int64
	OAuthTokenVerifies int64
}

// Machine credential kinds, the records' kind.
const (
	kindAPIKey = "api_key"
	kindM2M    = "m2m_token"
	kindOAuth  = "oauth_token"
)

// credRecord is a stored machine credential of any kind. Its secret is
// kept only as a SHA-256 digest.
type credRecord struct {
	kind       string
	id         string
	subject    string
	scopes     []string
	claims     map[string]any
	revoked    bool
	reason     *string
	expiration *int64
	lastUsed   *int64
	created    int64
	updated    int64

	// API keys only.
	typ, name   string
	description *string
	createdBy   *string
	// OAuth access tokens only.
	clientID string
}

// expiredAt reports whether the credential has expired at now.
func (c *credRecord) expiredAt(now time.Time) bool {
	return c.expiration != nil && millis(now) >= *c.expiration
}

func (c *credRecord) apiKey(now time.Time) *APIKey {
	return &APIKey{
		Object: "api_key", ID: c.id, Type: c.typ, Subject: c.subject, Name: c.name,
		Description: clonePtr(c.description), Claims: cloneClaims(c.claims), Scopes: slices.Clone(c.scopes),
		Revoked: c.revoked, RevocationReason: clonePtr(c.reason), Expired: c.expiredAt(now),
		Expiration: clonePtr(c.expiration), CreatedBy: clonePtr(c.createdBy), LastUsedAt: clonePtr(c.lastUsed),
		CreatedAt: c.created, UpdatedAt: c.updated,
	}
}

func (c *credRecord) m2mToken(now time.Time) *M2MToken {
	return &M2MToken{
		Object: "machine_to_machine_token", ID: c.id, Subject: c.subject, Claims: cloneClaims(c.claims),
		Scopes: slices.Clone(c.scopes), Revoked: c.revoked, RevocationReason: clonePtr(c.reason),
		Expired: c.expiredAt(now), Expiration: clonePtr(c.expiration), LastUsedAt: clonePtr(c.lastUsed),
		CreatedAt: c.created, UpdatedAt: c.updated,
	}
}

func (c *credRecord) oauthToken(now time.Time) *OAuthAccessToken {
	return &OAuthAccessToken{
		Object: "clerk_idp_oauth_access_token", ID: c.id, ClientID: c.clientID, Subject: c.subject,
		Scopes: slices.Clone(c.scopes), Revoked: c.revoked, RevocationReason: clonePtr(c.reason),
		Expired: c.expiredAt(now), Expiration: clonePtr(c.expiration), CreatedAt: c.created, UpdatedAt: c.updated,
	}
}

// machineStore holds an emulator's machine credentials. It lives beside
// the Emulator (see machinesOf) and has its own lock: machine credentials
// never take part in the emulator's transactions or snapshots.
type machineStore struct {
	mu             sync.Mutex
	byID           map[string]*credRecord
	bySecret       map[[sha256.Size]byte]*credRecord
	defaultMachine string

	apiKeyVerifies atomic.Int64
	m2mVerifies    atomic.Int64
	oauthVerifies  atomic.Int64
}

// machines returns e's machine credential store, creating it on first use.
func (e *Emulator) machines() *machineStore {
	e.machineOnce.Do(func() {
		e.machineStore = &machineStore{
			byID:           make(map[string]*credRecord),
			bySecret:       make(map[[sha256.Size]byte]*credRecord),
			defaultMachine: newID("mch"),
		}
	})
	return e.machineStore
}

// DefaultMachineID returns the id (mch_...) of the instance's built-in
// machine: the subject of M2M tokens created without one.
func (e *Emulator) DefaultMachineID() string { return e.machines().defaultMachine }

// MachineStats returns the counts of verification requests served so far.
func (e *Emulator) MachineStats() MachineStats {
	s := e.machines()
	return MachineStats{
		APIKeyVerifies:     s.apiKeyVerifies.Load(),
		M2MTokenVerifies:   s.m2mVerifies.Load(),
		OAuthTokenVerifies: s.oauthVerifies.Load(),
	}
}

// MachineVerifyCalls returns how many verification requests (API keys, M2M
// tokens and OAuth access tokens together) the Backend API served so far.
func (e *Emulator) MachineVerifyCalls() int64 {
	st := e.MachineStats()
	return st.APIKeyVerifies + st.M2MTokenVerifies + st.OAuthTokenVerifies
}

// CreateAPIKey creates an API key as POST /v1/api_keys does. The answer's
// Secret is the key to present; the emulator keeps only its digest.
func (e *Emulator) CreateAPIKey(p APIKeyParams) (*APIKey, error) {
	if p.Name == "" {
		p.Name = "api key"
	}
	if p.Type == "" {
		p.Type = "api_key"
	}
	if err := checkAPIKeyParams(&p); err != nil {
		return nil, err
	}
	claims, err := normalizeMetadata(p.Claims)
	if err != nil {
		return nil, errFormat("claims")
	}
	now := e.now()
	rec := &credRecord{
		kind: kindAPIKey, id: hexID("ak"), subject: p.Subject, scopes: orNoScopes(p.Scopes), claims: claims,
		expiration: expiry(now, p.Expiration), created: millis(now), updated: millis(now),
		typ: p.Type, name: p.Name, description: optional(p.Description), createdBy: optional(p.CreatedBy),
	}
	secret := e.machines().add(rec, "ak_")
	out := rec.apiKey(now)
	out.Secret = secret
	return out, nil
}

// checkAPIKeyParams validates p as Clerk validates POST /v1/api_keys.
func checkAPIKeyParams(p *APIKeyParams) error {
	switch {
	case p.Subject == "":
		return errMissing("subject")
	case !validSubject(p.Subject, "user", "org", "mch", "scim"):
		return errValue("subject", "subject must be a user_, org_, mch_ or scim_ id.")
	case len(p.Name) < 3 || strings.TrimSpace(p.Name) != p.Name:
		return errValue("name", "name must have 3 characters or more, without leading or trailing white space.")
	case len(p.Type) < 3 || len(p.Type) > 25:
		return errValue("type", "type must have 3 to 25 characters.")
	case len(p.Description) > 255:
		return errValue("description", "description must have 255 characters or fewer.")
	case p.CreatedBy != "" && !validID("user", p.CreatedBy):
		return errValue("created_by", "created_by must be a user_ id.")
	case p.Expiration < 0 || p.Expiration > maxMachineTTL:
		return errValue("seconds_until_expiration", "seconds_until_expiration must be positive and at most 315360000.")
	}
	return checkScopes(p.Scopes, "")
}

// CreateM2MToken creates an M2M token as POST /v1/m2m_tokens does. The
// answer's Token is the token to present.
func (e *Emulator) CreateM2MToken(p M2MTokenParams) (*M2MToken, error) {
	s := e.machines()
	if p.Subject == "" {
		p.Subject = s.defaultMachine
	}
	if p.Expiration == 0 {
		p.Expiration = defaultM2MTTL
	}
	switch {
	case !validSubject(p.Subject, "mch"):
		return nil, errValue("subject", "subject must be a mch_ id.")
	case p.Expiration < 0 || p.Expiration > maxMachineTTL:
		return nil, errValue("seconds_until_expiration", "seconds_until_expiration must be positive and at most 315360000.")
	}
	if err := checkScopes(p.Scopes, "mch"); err != nil {
		return nil, err
	}
	claims, err := normalizeMetadata(p.Claims)
	if err != nil {
		return nil, errFormat("claims")
	}
	now := e.now()
	rec := &credRecord{
		kind: kindM2M, id: hexID("mt"), subject: p.Subject, scopes: orNoScopes(p.Scopes), claims: claims,
		expiration: expiry(now, p.Expiration), created: millis(now), updated: millis(now),
	}
	token := s.add(rec, "mt_")
	out := rec.m2mToken(now)
	out.Token = token
	return out, nil
}

// CreateOAuthAccessToken mints an opaque OAuth access token ("oat_...") as
// if the user had granted it to an OAuth application: the token that POST
// /v1/oauth_applications/access_tokens/verify then accepts.
func (e *Emulator) CreateOAuthAccessToken(p OAuthAccessTokenParams) (*OAuthAccessToken, error) {
	if p.ClientID == "" {
		p.ClientID = newID("client")
	}
	if p.Expiration == 0 {
		p.Expiration = defaultOAuthTTL
	}
	switch {
	case p.Subject == "":
		return nil, errMissing("subject")
	case !validSubject(p.Subject, "user"):
		return nil, errValue("subject", "subject must be a user_ id.")
	case len(p.ClientID) > 128 || strings.ContainsAny(p.ClientID, " \t\r\n\x00"):
		return nil, errValue("client_id", "client_id must be at most 128 characters without white space.")
	case p.Expiration < 0 || p.Expiration > maxMachineTTL:
		return nil, errValue("expiration", "the lifetime must be positive and at most 315360000 seconds.")
	}
	if err := checkScopes(p.Scopes, ""); err != nil {
		return nil, err
	}
	now := e.now()
	rec := &credRecord{
		kind: kindOAuth, id: hexID("oat"), subject: p.Subject, scopes: orNoScopes(p.Scopes), clientID: p.ClientID,
		expiration: expiry(now, p.Expiration), created: millis(now), updated: millis(now),
	}
	token := e.machines().add(rec, "oat_")
	out := rec.oauthToken(now)
	out.Token = token
	return out, nil
}

// RevokeAPIKey revokes the API key with the given id (ak_...), as POST
// /v1/api_keys/{id}/revoke does: verifications of its secret then answer
// 404. Revoking a revoked key changes nothing.
func (e *Emulator) RevokeAPIKey(id string) (*APIKey, error) {
	rec, now, err := e.machines().revoke(kindAPIKey, id, nil, e.now())
	if err != nil {
		return nil, err
	}
	return rec.apiKey(now), nil
}

// RevokeM2MToken revokes the M2M token with the given id (mt_...), as POST
// /v1/m2m_tokens/{id}/revoke does.
func (e *Emulator) RevokeM2MToken(id string) (*M2MToken, error) {
	rec, now, err := e.machines().revoke(kindM2M, id, nil, e.now())
	if err != nil {
		return nil, err
	}
	return rec.m2mToken(now), nil
}

// RevokeOAuthAccessToken revokes the OAuth access token with the given id
// (oat_...): verifications of it then answer 404.
func (e *Emulator) RevokeOAuthAccessToken(id string) (*OAuthAccessToken, error) {
	rec, now, err := e.machines().revoke(kindOAuth, id, nil, e.now())
	if err != nil {
		return nil, err
	}
	return rec.oauthToken(now), nil
}

// add stores rec and returns its fresh secret: prefix and 48 random
// characters, never of the form of an id (prefix and 32 hex digits).
func (s *machineStore) add(rec *credRecord, prefix string) string {
	secret := prefix + randomString(48)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[rec.id] = rec
	s.bySecret[sha256.Sum256([]byte(secret))] = rec
	return secret
}

// revoke marks the credential of kind with id revoked and returns a copy of
// it, taken under the lock, with the time it was taken at.
func (s *machineStore) revoke(kind, id string, reason *string, now time.Time) (*credRecord, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byID[id]
	if !ok || rec.kind != kind {
		return nil, now, errNotFound(kindName(kind) + " not found")
	}
	if !rec.revoked {
		rec.revoked = true
		rec.reason = clonePtr(reason)
		rec.updated = millis(now)
	}
	cp := *rec
	return &cp, now, nil
}

// verify looks a secret of kind up: unknown, revoked and expired secrets
// are 404, as Clerk answers them. A valid one has its last use noted, and a
// copy of it is returned.
func (s *machineStore) verify(kind, secret string, now time.Time) (*credRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.bySecret[sha256.Sum256([]byte(secret))]
	name := kindName(kind)
	switch {
	case !ok || rec.kind != kind:
		return nil, errNotFound(name + " not found")
	case rec.revoked:
		return nil, errNotFound(name + " has been revoked")
	case rec.expiredAt(now):
		return nil, errNotFound(name + " has expired")
	}
	if kind != kindOAuth {
		used := millis(now)
		rec.lastUsed = &used
	}
	cp := *rec
	return &cp, nil
}

// kindName is how errors name a credential kind.
func kindName(kind string) string {
	switch kind {
	case kindAPIKey:
		return "API key"
	case kindM2M:
		return "Machine token"
	default:
		return "OAuth token"
	}
}

// validSubject reports whether id is an id with one of the prefixes.
func validSubject(id string, prefixes ...string) bool {
	for _, p := range prefixes {
		if validID(p, id) {
			return true
		}
	}
	return false
}

// checkScopes validates a list of scopes: non-empty strings of at most 255
// bytes, or, with a prefix, ids of that kind (M2M scopes are machines).
func checkScopes(scopes []string, idPrefix string) error {
	for _, sc := range scopes {
		switch {
		case idPrefix != "" && !validID(idPrefix, sc):
			return errValue("scopes", "scopes must be "+idPrefix+"_ ids.")
		case sc == "" || len(sc) > 255 || strings.ContainsAny(sc, "\x00\r\n"):
			return errValue("scopes", "scopes must be non-empty strings of at most 255 characters.")
		}
	}
	return nil
}

// expiry returns the expiration of a credential created at now with the
// lifetime ttl, rounded up to whole seconds; nil for ttl 0.
func expiry(now time.Time, ttl time.Duration) *int64 {
	if ttl <= 0 {
		return nil
	}
	secs := (ttl + time.Second - 1) / time.Second
	ms := millis(now.Add(secs * time.Second))
	return &ms
}

// hexID returns prefix, "_" and 32 random hex digits: the form of machine
// credential ids (ak_, mt_, oat_).
func hexID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

func orNoScopes(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cloneClaims deep-copies claims, keeping nil (JSON null) as nil.
func cloneClaims(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return cloneMap(m)
}
