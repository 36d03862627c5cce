package clerkemu

import (
	"time"
)

// userPatch is a validated PATCH /v1/users/{id}. A pointer to "" clears a
// nullable string.
type userPatch struct {
	externalID, firstName, lastName, locale, username *string
	primaryEmailID                                    *string
	password, passwordDigest, passwordHasher          *string
	skipPasswordChecks                                bool
	signOutOthers                                     bool
	deleteSelf, createOrg, bypassClientTrust          *bool
	createOrgLimit                                    *int
	createOrgLimitSet                                 bool
	legalAcceptedAt, createdAt                        *time.Time
	totp, backupCodes                                 bool
	// metadata replaced wholesale: only for API versions before 2026-05-12
	public, private, unsafe map[string]any
}

// updateUser applies p to the user; nothing changes on error.
func (t *tx) updateUser(rec *userRecord, p userPatch) error {
	e := t.e
	u := rec.u
	if err := t.setNames(&u, p.firstName, p.lastName, p.locale); err != nil {
		return err
	}
	if err := e.setUsername(&u, p.username); err != nil {
		return err
	}
	if err := e.setExternalID(&u, p.externalID); err != nil {
		return err
	}
	if p.primaryEmailID != nil && *p.primaryEmailID != "" {
		found := false
		for _, a := range u.EmailAddresses {
			if a.ID == *p.primaryEmailID && a.Verification != nil && a.Verification.Status == "verified" {
				found = true
			}
		}
		if !found {
			return errValue("primary_email_address_id", "primary_email_address_id must name a verified email address of this user.")
		}
		u.PrimaryEmailAddressID = ptr(*p.primaryEmailID)
	}
	if p.deleteSelf != nil {
		u.DeleteSelfEnabled = *p.deleteSelf
	}
	if p.createOrg != nil {
		u.CreateOrganizationEnabled = *p.createOrg
	}
	if p.bypassClientTrust != nil {
		u.BypassClientTrust = *p.bypassClientTrust
	}
	if p.createOrgLimitSet {
		u.CreateOrganizationsLimit = p.createOrgLimit
	}
	if p.legalAcceptedAt != nil {
		u.LegalAcceptedAt = ptr(millis(*p.legalAcceptedAt))
	}
	if p.createdAt != nil {
		u.CreatedAt = millis(*p.createdAt)
	}
	if p.totp || p.backupCodes {
		u.TOTPEnabled = u.TOTPEnabled || p.totp
		u.BackupCodeEnabled = u.BackupCodeEnabled || p.backupCodes
		if !u.TwoFactorEnabled {
			u.TwoFactorEnabled = true
			u.MFAEnabledAt = ptr(millis(t.now))
		}
	}
	if p.public != nil {
		u.PublicMetadata = p.public
	}
	if p.private != nil {
		u.PrivateMetadata = p.private
	}
	if p.unsafe != nil {
		u.UnsafeMetadata = p.unsafe
	}
	trial := &userRecord{u: u, seq: rec.seq, passwordDigest: rec.passwordDigest, passwordHasher: rec.passwordHasher}
	if err := trial.setPassword(p.password, p.passwordDigest, p.passwordHasher, p.skipPasswordChecks, t.now); err != nil {
		return err
	}
	trial.u.UpdatedAt = millis(t.now)
	*rec = *trial
	if p.signOutOthers {
		t.revokeUserSessions(rec.u.ID, "revoked")
	}
	t.emit("user.updated", rec.snapshot())
	return nil
}

// setMetadata merges (PATCH) or replaces (PUT) each given metadata object.
func (t *tx) setMetadata(rec *userRecord, merge bool, public, private, unsafe map[string]any) {
	for _, f := range []struct {
		in  map[string]any
		dst *map[string]any
	}{{public, &rec.u.PublicMetadata}, {private, &rec.u.PrivateMetadata}, {unsafe, &rec.u.UnsafeMetadata}} {
		switch {
		case f.in == nil:
		case merge:
			*f.dst = deepMerge(*f.dst, f.in)
		default:
			*f.dst = cloneMap(f.in)
		}
	}
	rec.u.UpdatedAt = millis(t.now)
	t.emit("user.updated", rec.snapshot())
}

// banUser bans the user and revokes the user's live sessions.
func (t *tx) banUser(rec *userRecord) error {
	rec.u.Banned = true
	rec.u.UpdatedAt = millis(t.now)
	t.revokeUserSessions(rec.u.ID, "revoked")
	t.emit("user.updated", rec.snapshot())
	return nil
}

func (t *tx) unbanUser(rec *userRecord) error {
	rec.u.Banned = false
	rec.u.UpdatedAt = millis(t.now)
	t.emit("user.updated", rec.snapshot())
	return nil
}

// lockUser locks the user; a lock set through the Backend API never expires
// (lockout_expires_in_seconds stays null).
func (t *tx) lockUser(rec *userRecord) error {
	rec.u.Locked = true
	rec.u.UpdatedAt = millis(t.now)
	t.emit("user.updated", rec.snapshot())
	return nil
}

func (t *tx) unlockUser(rec *userRecord) error {
	rec.u.Locked = false
	rec.u.LockoutExpiresInSeconds = nil
	rec.u.UpdatedAt = millis(t.now)
	t.emit("user.updated", rec.snapshot())
	return nil
}

// deleteUser removes the user, the user's sessions (session.removed) and
// memberships (organizationMembership.deleted), then emits user.deleted.
func (t *tx) deleteUser(id string) (DeletedObject, error) {
	e := t.e
	if _, err := e.user(id); err != nil {
		return DeletedObject{}, err
	}
	t.revokeUserSessions(id, "removed")
	for sid, s := range e.sessions {
		if s.s.UserID == id {
			delete(e.sessions, sid)
		}
	}
	for _, m := range e.sortedMemberships(func(m *membershipRecord) bool { return m.userID == id }) {
		t.deleteMembership(m)
	}
	delete(e.users, id)
	del := DeletedObject{Object: "user", ID: id, Deleted: true}
	t.emit("user.deleted", del)
	return del, nil
}
