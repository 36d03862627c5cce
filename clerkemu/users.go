package clerkemu

import (
	"encoding/json"
	"time"
)

// User is a Clerk user in the Backend API's wire shape (the User schema of
// the OpenAPI description, every required member present).
type User struct {
	ID                    string         `json:"id"`
	Object                string         `json:"object"`
	Username              *string        `json:"username"`
	FirstName             *string        `json:"first_name"`
	LastName              *string        `json:"last_name"`
	Locale                *string        `json:"locale"`
	ImageURL              string         `json:"image_url"`
	ProfileImageURL       string         `json:"profile_image_url"`
	HasImage              bool           `json:"has_image"`
	PrimaryEmailAddressID *string        `json:"primary_email_address_id"`
	PrimaryPhoneNumberID  *string        `json:"primary_phone_number_id"`
	PrimaryWeb3WalletID   *string        `json:"primary_web3_wallet_id"`
	PasswordEnabled       bool           `json:"password_enabled"`
	TwoFactorEnabled      bool           `json:"two_factor_enabled"`
	TOTPEnabled           bool           `json:"totp_enabled"`
	BackupCodeEnabled     bool           `json:"backup_code_enabled"`
	EmailAddresses        []EmailAddress `json:"email_addresses"`
	// PhoneNumbers, Web3Wallets, Passkeys, ExternalAccounts, SAMLAccounts
	// and EnterpriseAccounts are always empty in the emulator.
	PhoneNumbers                  []json.RawMessage `json:"phone_numbers"`
	Web3Wallets                   []json.RawMessage `json:"web3_wallets"`
	Passkeys                      []json.RawMessage `json:"passkeys"`
	ExternalAccounts              []json.RawMessage `json:"external_accounts"`
	SAMLAccounts                  []json.RawMessage `json:"saml_accounts"`
	EnterpriseAccounts            []json.RawMessage `json:"enterprise_accounts"`
	PasswordLastUpdatedAt         *int64            `json:"password_last_updated_at"`
	PublicMetadata                map[string]any    `json:"public_metadata"`
	PrivateMetadata               map[string]any    `json:"private_metadata"`
	UnsafeMetadata                map[string]any    `json:"unsafe_metadata"`
	ExternalID                    *string           `json:"external_id"`
	LastSignInAt                  *int64            `json:"last_sign_in_at"`
	Banned                        bool              `json:"banned"`
	Locked                        bool              `json:"locked"`
	LockoutExpiresInSeconds       *int64            `json:"lockout_expires_in_seconds"`
	VerificationAttemptsRemaining *int64            `json:"verification_attempts_remaining"`
	CreatedAt                     int64             `json:"created_at"`
	UpdatedAt                     int64             `json:"updated_at"`
	DeleteSelfEnabled             bool              `json:"delete_self_enabled"`
	CreateOrganizationEnabled     bool              `json:"create_organization_enabled"`
	CreateOrganizationsLimit      *int              `json:"create_organizations_limit"`
	LastActiveAt                  *int64            `json:"last_active_at"`
	MFAEnabledAt                  *int64            `json:"mfa_enabled_at"`
	MFADisabledAt                 *int64            `json:"mfa_disabled_at"`
	LegalAcceptedAt               *int64            `json:"legal_accepted_at"`
	BypassClientTrust             bool              `json:"bypass_client_trust"`
}

// PrimaryEmail returns the user's primary email address, or "".
func (u *User) PrimaryEmail() string {
	if u.PrimaryEmailAddressID == nil {
		return ""
	}
	for _, a := range u.EmailAddresses {
		if a.ID == *u.PrimaryEmailAddressID {
			return a.EmailAddress
		}
	}
	return ""
}

// EmailAddress is one of a user's email addresses in the wire shape.
type EmailAddress struct {
	ID                   string            `json:"id"`
	Object               string            `json:"object"`
	EmailAddress         string            `json:"email_address"`
	Reserved             bool              `json:"reserved"`
	Verification         *Verification     `json:"verification"`
	LinkedTo             []json.RawMessage `json:"linked_to"`
	MatchesSSOConnection bool              `json:"matches_sso_connection"`
	CreatedAt            int64             `json:"created_at"`
	UpdatedAt            int64             `json:"updated_at"`
}

// Verification is the state of an identification's verification. Addresses
// created through the Backend API are verified by "admin".
type Verification struct {
	Object   string `json:"object"`
	Status   string `json:"status"`
	Strategy string `json:"strategy"`
	Attempts *int   `json:"attempts"`
	ExpireAt *int64 `json:"expire_at"`
}

// DeletedObject is the answer to a deletion, e.g.
// {"object":"user","id":"user_...","deleted":true}.
type DeletedObject struct {
	Object  string `json:"object"`
	ID      string `json:"id,omitempty"`
	Slug    string `json:"slug,omitempty"`
	Deleted bool   `json:"deleted"`
}

// UserParams describes a user for [Emulator.CreateUser]. Every field is
// optional: users need no identifier and no password.
type UserParams struct {
	// Email is the primary email address.
	Email string
	// MoreEmails are further, verified email addresses.
	MoreEmails []string
	Username   string
	FirstName  string
	LastName   string
	ExternalID string
	// Password is checked like Clerk checks it (8 characters or more) and
	// kept only as a digest. PasswordDigest with PasswordHasher imports an
	// existing hash instead.
	Password        string
	PasswordDigest  string
	PasswordHasher  string
	PublicMetadata  map[string]any
	PrivateMetadata map[string]any
	UnsafeMetadata  map[string]any
	// CreatedAt backdates the user; zero means now.
	CreatedAt time.Time
}

// userRecord is a stored user.
type userRecord struct {
	u              User
	seq            uint64
	passwordDigest string
	passwordHasher string
}

// userInput is a validated-on-create description of a user, from either the
// HTTP API or UserParams.
type userInput struct {
	// id is a fixed id (seed files); empty means a new random one.
	id                 string
	emails             []string
	emailStatus        []string
	username           *string
	firstName          *string
	lastName           *string
	externalID         *string
	locale             *string
	password           *string
	passwordDigest     *string
	passwordHasher     *string
	skipPasswordChecks bool
	public             map[string]any
	private            map[string]any
	unsafe             map[string]any
	createdAt          *time.Time
	legalAcceptedAt    *time.Time
	banned, locked     bool
	deleteSelf         *bool
	createOrg          *bool
	createOrgLimit     *int
	bypassClientTrust  bool
}

// CreateUser creates a user, as POST /v1/users does.
func (e *Emulator) CreateUser(p UserParams) (*User, error) {
	in := userInput{
		username:       nonEmpty(p.Username),
		firstName:      nonEmpty(p.FirstName),
		lastName:       nonEmpty(p.LastName),
		externalID:     nonEmpty(p.ExternalID),
		password:       nonEmpty(p.Password),
		passwordDigest: nonEmpty(p.PasswordDigest),
		passwordHasher: nonEmpty(p.PasswordHasher),
	}
	if p.Email != "" {
		in.emails = append(in.emails, p.Email)
	}
	in.emails = append(in.emails, p.MoreEmails...)
	for name, m := range map[string]*map[string]any{"public_metadata": &p.PublicMetadata, "private_metadata": &p.PrivateMetadata, "unsafe_metadata": &p.UnsafeMetadata} {
		norm, err := normalizeMetadata(*m)
		if err != nil {
			return nil, errFormat(name)
		}
		*m = norm
	}
	in.public, in.private, in.unsafe = p.PublicMetadata, p.PrivateMetadata, p.UnsafeMetadata
	if !p.CreatedAt.IsZero() {
		in.createdAt = &p.CreatedAt
	}
	var out User
	err := e.update(func(t *tx) error {
		rec, err := t.createUser(in)
		if err != nil {
			return err
		}
		out = rec.snapshot()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetUser returns a snapshot of the user with the given id.
func (e *Emulator) GetUser(id string) (*User, error) {
	var out User
	err := e.view(func(time.Time) error {
		rec, err := e.user(id)
		if err != nil {
			return err
		}
		out = rec.snapshot()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// BanUser bans a user and revokes the user's sessions, as
// POST /v1/users/{id}/ban does.
func (e *Emulator) BanUser(id string) (*User, error) {
	return e.mutateUser(EventRequest{}, id, (*tx).banUser)
}

// UnbanUser lifts a ban, as POST /v1/users/{id}/unban does.
func (e *Emulator) UnbanUser(id string) (*User, error) {
	return e.mutateUser(EventRequest{}, id, (*tx).unbanUser)
}

// LockUser locks a user, as POST /v1/users/{id}/lock does: the user can no
// longer get sessions.
func (e *Emulator) LockUser(id string) (*User, error) {
	return e.mutateUser(EventRequest{}, id, (*tx).lockUser)
}

// UnlockUser unlocks a user, as POST /v1/users/{id}/unlock does.
func (e *Emulator) UnlockUser(id string) (*User, error) {
	return e.mutateUser(EventRequest{}, id, (*tx).unlockUser)
}

// DeleteUser deletes a user with the user's sessions and memberships, as
// DELETE /v1/users/{id} does.
func (e *Emulator) DeleteUser(id string) error {
	return e.update(func(t *tx) error {
		_, err := t.deleteUser(id)
		return err
	})
}

// mutateUser runs one user operation and returns the user's snapshot.
func (e *Emulator) mutateUser(from EventRequest, id string, op func(*tx, *userRecord) error) (*User, error) {
	var out User
	err := e.updateFrom(from, func(t *tx) error {
		rec, err := e.user(id)
		if err != nil {
			return err
		}
		if err := op(t, rec); err != nil {
			return err
		}
		out = rec.snapshot()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// user finds a user; the caller holds the lock.
func (e *Emulator) user(id string) (*userRecord, error) {
	rec, ok := e.users[id]
	if !ok {
		return nil, errNotFound("No user was found with id " + id)
	}
	return rec, nil
}

// createUser validates in and stores a new user.
func (t *tx) createUser(in userInput) (*userRecord, error) {
	e := t.e
	created := t.now
	if in.createdAt != nil {
		created = *in.createdAt
	}
	ms := millis(created)
	id := in.id
	if id == "" {
		id = newID("user")
	} else if _, taken := e.users[id]; taken || !validID("user", id) {
		return nil, errValue("id", "id "+id+" is taken or is not a user id.")
	}
	u := User{
		ID:                            id,
		Object:                        "user",
		ImageURL:                      defaultImageURL(id),
		EmailAddresses:                []EmailAddress{},
		PublicMetadata:                orEmpty(in.public),
		PrivateMetadata:               orEmpty(in.private),
		UnsafeMetadata:                orEmpty(in.unsafe),
		VerificationAttemptsRemaining: ptr(int64(100)),
		CreatedAt:                     ms,
		UpdatedAt:                     millis(t.now),
		DeleteSelfEnabled:             true,
		CreateOrganizationEnabled:     true,
		Banned:                        in.banned,
		Locked:                        in.locked,
		BypassClientTrust:             in.bypassClientTrust,
		CreateOrganizationsLimit:      in.createOrgLimit,
	}
	u.ProfileImageURL = u.ImageURL
	if in.deleteSelf != nil {
		u.DeleteSelfEnabled = *in.deleteSelf
	}
	if in.createOrg != nil {
		u.CreateOrganizationEnabled = *in.createOrg
	}
	if in.legalAcceptedAt != nil {
		u.LegalAcceptedAt = ptr(millis(*in.legalAcceptedAt))
	}
	if len(in.emailStatus) > 0 && len(in.emailStatus) != len(in.emails) {
		return nil, errValue("email_address_identification_status", "email_address_identification_status must have one item per email address.")
	}
	seen := map[string]bool{}
	for i, raw := range in.emails {
		addr, err := normalizeEmail(raw)
		if err != nil {
			return nil, err
		}
		if seen[addr] || e.emailTaken(addr, "") {
			return nil, errExists("email_address", "That email address is taken. Please try another.")
		}
		seen[addr] = true
		status := "verified"
		if len(in.emailStatus) > 0 {
			status = in.emailStatus[i]
		}
		ea, err := newEmailAddress(addr, status, ms)
		if err != nil {
			return nil, err
		}
		u.EmailAddresses = append(u.EmailAddresses, ea)
	}
	for _, ea := range u.EmailAddresses {
		if !ea.Reserved {
			u.PrimaryEmailAddressID = ptr(ea.ID)
			break
		}
	}
	if err := t.setNames(&u, in.firstName, in.lastName, in.locale); err != nil {
		return nil, err
	}
	if err := e.setUsername(&u, in.username); err != nil {
		return nil, err
	}
	if err := e.setExternalID(&u, in.externalID); err != nil {
		return nil, err
	}
	rec := &userRecord{u: u, seq: e.nextSeq()}
	if err := rec.setPassword(in.password, in.passwordDigest, in.passwordHasher, in.skipPasswordChecks, t.now); err != nil {
		return nil, err
	}
	e.users[id] = rec
	t.emit("user.created", rec.snapshot())
	return rec, nil
}

// snapshot returns a deep copy safe to hand out.
func (r *userRecord) snapshot() User {
	u := r.u
	u.EmailAddresses = make([]EmailAddress, len(r.u.EmailAddresses))
	for i, a := range r.u.EmailAddresses {
		if a.Verification != nil {
			v := *a.Verification
			a.Verification = &v
		}
		a.LinkedTo = []json.RawMessage{}
		u.EmailAddresses[i] = a
	}
	empty := func() []json.RawMessage { return []json.RawMessage{} }
	u.PhoneNumbers, u.Web3Wallets, u.Passkeys = empty(), empty(), empty()
	u.ExternalAccounts, u.SAMLAccounts, u.EnterpriseAccounts = empty(), empty(), empty()
	u.PublicMetadata = cloneMap(r.u.PublicMetadata)
	u.PrivateMetadata = cloneMap(r.u.PrivateMetadata)
	u.UnsafeMetadata = cloneMap(r.u.UnsafeMetadata)
	return u
}

func ptr[T any](v T) *T { return &v }

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
