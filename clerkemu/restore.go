package clerkemu

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// restore fills a new emulator from a decoded state document. Every record
// is checked as the emulator itself keeps it: well-formed and unique ids,
// unique email addresses, usernames, external ids and slugs, sessions and
// memberships of existing users, memberships of existing organizations
// with configured roles. The first problem is the error, naming the
// record; nothing is half restored because the emulator is not yet handed
// out.
func (e *Emulator) restore(st *stateDoc) error {
	if err := e.restoreKeys(st.Keys); err != nil {
		return err
	}
	r := &restorer{e: e, maxSeq: st.Seq, seqs: map[string]string{}, emails: map[string]string{},
		emailIDs: map[string]string{}, usernames: map[string]string{}, externalIDs: map[string]string{},
		pairs: map[[2]string]string{}}
	for i := range st.Users {
		if err := r.user(i, &st.Users[i]); err != nil {
			return err
		}
	}
	for i := range st.Organizations {
		if err := r.org(i, &st.Organizations[i]); err != nil {
			return err
		}
	}
	for i := range st.Memberships {
		if err := r.membership(i, &st.Memberships[i]); err != nil {
			return err
		}
	}
	for i := range st.Sessions {
		if err := r.session(i, &st.Sessions[i]); err != nil {
			return err
		}
	}
	e.seq = st.Seq
	return nil
}

// stateError reports a problem in a state document.
func stateError(format string, args ...any) error {
	return fmt.Errorf("clerkemu: state: "+format, args...)
}

// reason is the message of an error without the package prefix.
func reason(err error) string {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.LongMessage
	}
	return strings.TrimPrefix(err.Error(), "clerkemu: ")
}

// restoreKeys installs the signing key (keys[0]) and the retired keys.
func (e *Emulator) restoreKeys(keys []stateKey) error {
	if len(keys) == 0 {
		return stateError("no signing key")
	}
	seen := map[string]bool{}
	for i, k := range keys {
		what := fmt.Sprintf("keys[%d]", i)
		if !validID("ins", k.Kid) || seen[k.Kid] {
			return stateError("%s: kid %q is not an ins_... key id, or appears twice", what, k.Kid)
		}
		seen[k.Kid] = true
		der, err := base64.StdEncoding.DecodeString(k.PrivateKey)
		if err != nil {
			return stateError("%s (%s): private_key is not base64: %v", what, k.Kid, err)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return stateError("%s (%s): private_key is not a PKCS #8 key: %v", what, k.Kid, err)
		}
		key, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return stateError("%s (%s): private_key is a %T, want an RSA key", what, k.Kid, parsed)
		}
		if err := checkKey(key); err != nil {
			return stateError("%s (%s): %s", what, k.Kid, reason(err))
		}
		if i == 0 {
			e.keys.current = signingKey{kid: k.Kid, key: key}
		} else {
			e.keys.retired = append(e.keys.retired, signingKey{kid: k.Kid, key: key})
		}
	}
	return nil
}

// restorer restores records one by one, remembering what must be unique.
type restorer struct {
	e      *Emulator
	maxSeq uint64
	// each maps a unique value to the record that holds it
	seqs, emails, emailIDs, usernames, externalIDs map[string]string
	pairs                                          map[[2]string]string // {org, user} → membership
}

// claim records that what holds value among others; it fails on a repeat.
func claim(others map[string]string, value, what, name string) error {
	if other, dup := others[value]; dup {
		return stateError("%s: %s %q is also %s's", what, name, value, other)
	}
	others[value] = what
	return nil
}

// checkSeq claims a record's seq, which must be in 1..the state's seq.
func (r *restorer) checkSeq(seq uint64, what string) error {
	if seq == 0 || seq > r.maxSeq {
		return stateError("%s: seq %d is not in 1..%d (the state's seq)", what, seq, r.maxSeq)
	}
	return claim(r.seqs, fmt.Sprint(seq), what, "seq")
}

// checkID checks a record's id: its prefix and form, and that no record of
// the same kind has it.
func checkID[T any](existing map[string]T, prefix, id, what string) error {
	if !validID(prefix, id) {
		return stateError("%s: id %q is not a %s_... id", what, id, prefix)
	}
	if _, dup := existing[id]; dup {
		return stateError("%s: id %s appears twice", what, id)
	}
	return nil
}

func (r *restorer) user(i int, su *stateUser) error {
	u := su.User
	what := fmt.Sprintf("users[%d] (%s)", i, u.ID)
	if err := checkID(r.e.users, "user", u.ID, what); err != nil {
		return err
	}
	if err := r.checkSeq(su.Seq, what); err != nil {
		return err
	}
	u.Object = "user"
	if u.EmailAddresses == nil {
		u.EmailAddresses = []EmailAddress{}
	}
	primaryFound := u.PrimaryEmailAddressID == nil
	for j := range u.EmailAddresses {
		a := &u.EmailAddresses[j]
		a.Object = "email_address"
		if !validID("idn", a.ID) {
			return stateError("%s: email address id %q is not an idn_... id", what, a.ID)
		}
		if err := claim(r.emailIDs, a.ID, what, "email address id"); err != nil {
			return err
		}
		if addr, err := normalizeEmail(a.EmailAddress); err != nil || addr != a.EmailAddress {
			return stateError("%s: %q is not a valid lower-case email address", what, a.EmailAddress)
		}
		if err := claim(r.emails, a.EmailAddress, what, "email address"); err != nil {
			return err
		}
		primaryFound = primaryFound || a.ID == *u.PrimaryEmailAddressID
	}
	if !primaryFound {
		return stateError("%s: primary_email_address_id %s is not one of the user's addresses", what, *u.PrimaryEmailAddressID)
	}
	if u.Username != nil {
		if !validUsername(*u.Username) {
			return stateError("%s: username %q is invalid", what, *u.Username)
		}
		if err := claim(r.usernames, *u.Username, what, "username"); err != nil {
			return err
		}
	}
	if u.ExternalID != nil {
		if err := claim(r.externalIDs, *u.ExternalID, what, "external_id"); err != nil {
			return err
		}
	}
	if (su.PasswordDigest == "") != (su.PasswordHasher == "") {
		return stateError("%s: password_digest and password_hasher go together", what)
	}
	u.PublicMetadata, u.PrivateMetadata, u.UnsafeMetadata = orEmpty(u.PublicMetadata), orEmpty(u.PrivateMetadata), orEmpty(u.UnsafeMetadata)
	r.e.users[u.ID] = &userRecord{u: u, seq: su.Seq, passwordDigest: su.PasswordDigest, passwordHasher: su.PasswordHasher}
	return nil
}

func (r *restorer) org(i int, so *stateOrg) error {
	o := so.Organization
	what := fmt.Sprintf("organizations[%d] (%s)", i, o.ID)
	if err := checkID(r.e.orgs, "org", o.ID, what); err != nil {
		return err
	}
	if err := r.checkSeq(so.Seq, what); err != nil {
		return err
	}
	if strings.TrimSpace(o.Name) == "" {
		return stateError("%s: no name", what)
	}
	if err := r.e.checkSlug(o.Slug, o.ID); err != nil {
		return stateError("%s: slug %q: %s", what, o.Slug, reason(err))
	}
	if o.MaxAllowedMemberships < 0 {
		return stateError("%s: max_allowed_memberships is negative", what)
	}
	o.Object, o.MembersCount = "organization", 0
	o.PublicMetadata, o.PrivateMetadata = orEmpty(o.PublicMetadata), orEmpty(o.PrivateMetadata)
	r.e.orgs[o.ID] = &orgRecord{o: o, seq: so.Seq}
	return nil
}

func (r *restorer) membership(i int, sm *stateMembership) error {
	what := fmt.Sprintf("memberships[%d] (%s)", i, sm.ID)
	if err := checkID(r.e.memberships, "orgmem", sm.ID, what); err != nil {
		return err
	}
	if err := r.checkSeq(sm.Seq, what); err != nil {
		return err
	}
	if _, ok := r.e.orgs[sm.OrganizationID]; !ok {
		return stateError("%s: organization %q does not exist", what, sm.OrganizationID)
	}
	if _, ok := r.e.users[sm.UserID]; !ok {
		return stateError("%s: user %q does not exist", what, sm.UserID)
	}
	if _, ok := r.e.roles[sm.Role]; !ok {
		return stateError("%s: role %q is not one of Options.Roles", what, sm.Role)
	}
	pair := [2]string{sm.OrganizationID, sm.UserID}
	if other, dup := r.pairs[pair]; dup {
		return stateError("%s: user %s is already a member of %s in %s", what, sm.UserID, sm.OrganizationID, other)
	}
	r.pairs[pair] = what
	r.e.memberships[sm.ID] = &membershipRecord{id: sm.ID, orgID: sm.OrganizationID, userID: sm.UserID,
		role: sm.Role, public: orEmpty(sm.PublicMetadata), private: orEmpty(sm.PrivateMetadata),
		created: sm.CreatedAt, updated: sm.UpdatedAt, seq: sm.Seq}
	return nil
}

// session restores a session. Its active organization may be gone (the
// emulator keeps the id when an organization is deleted); its user may not.
func (r *restorer) session(i int, ss *stateSession) error {
	s := ss.Session
	what := fmt.Sprintf("sessions[%d] (%s)", i, s.ID)
	if err := checkID(r.e.sessions, "sess", s.ID, what); err != nil {
		return err
	}
	if err := r.checkSeq(ss.Seq, what); err != nil {
		return err
	}
	if _, ok := r.e.users[s.UserID]; !ok {
		return stateError("%s: user %q does not exist", what, s.UserID)
	}
	switch s.Status {
	case StatusActive, StatusPending, StatusRevoked, StatusEnded, StatusRemoved, StatusExpired, StatusAbandoned:
	default:
		return stateError("%s: status %q is not a session status", what, s.Status)
	}
	if s.Actor != nil {
		if sub, _ := s.Actor["sub"].(string); sub == "" {
			return stateError("%s: actor has no sub", what)
		}
	}
	s.Object = "session"
	r.e.sessions[s.ID] = &sessionRecord{s: s, seq: ss.Seq, azp: ss.AuthorizedParty}
	return nil
}
