package clerkemu

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/mail"
	"strings"
	"time"
)

// setNames applies nullable name fields.
func (t *tx) setNames(u *User, first, last, locale *string) error {
	for _, f := range []struct {
		name string
		v    *string
		dst  **string
	}{{"first_name", first, &u.FirstName}, {"last_name", last, &u.LastName}, {"locale", locale, &u.Locale}} {
		if f.v == nil {
			continue
		}
		if len(*f.v) > 256 {
			return errValue(f.name, f.name+" must be at most 256 characters.")
		}
		*f.dst = nullIfEmpty(*f.v)
	}
	return nil
}

// setUsername sets or clears (empty string) the username.
func (e *Emulator) setUsername(u *User, name *string) error {
	if name == nil {
		return nil
	}
	n := strings.ToLower(strings.TrimSpace(*name))
	if n == "" {
		u.Username = nil
		return nil
	}
	if !validUsername(n) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeParamFormatInvalid, Param: "username",
			Message: "is invalid", LongMessage: "Usernames must be 4 to 64 characters of letters, digits, '_', '-' or '.'."}
	}
	for id, r := range e.users {
		if id != u.ID && r.u.Username != nil && *r.u.Username == n {
			return errExists("username", "That username is taken. Please try another.")
		}
	}
	u.Username = &n
	return nil
}

// validUsername reports whether n is a username as Clerk stores it: 4 to 64
// lower-case letters, digits, '_', '-' or '.'.
func validUsername(n string) bool {
	return len(n) >= 4 && len(n) <= 64 && strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_-.") == ""
}

// setExternalID sets or clears (empty string) the external id, unique per
// instance.
func (e *Emulator) setExternalID(u *User, ext *string) error {
	if ext == nil {
		return nil
	}
	if *ext == "" {
		u.ExternalID = nil
		return nil
	}
	for id, r := range e.users {
		if id != u.ID && r.u.ExternalID != nil && *r.u.ExternalID == *ext {
			return errExists("external_id", "That external ID is taken. Please try another.")
		}
	}
	u.ExternalID = ptr(*ext)
	return nil
}

// knownHasher reports whether Clerk imports password digests made by h.
func knownHasher(h string) bool {
	switch h {
	case "argon2i", "argon2id", "awscognito", "bcrypt", "bcrypt_peppered", "bcrypt_sha256_django",
		"hmac_sha256_utf16_b64", "ldap_ssha", "md5", "md5_phpass", "md5_salted", "pbkdf2_sha1", "pbkdf2_sha256",
		"pbkdf2_sha256_django", "pbkdf2_sha512", "phpass", "scrypt_firebase", "scrypt_werkzeug", "sha256",
		"sha256_salted", "sha512_symfony":
		return true
	}
	return false
}

// setPassword stores a password as a digest, or an imported digest.
func (r *userRecord) setPassword(password, digest, hasher *string, skipChecks bool, now time.Time) error {
	switch {
	case password != nil && digest != nil:
		return errValue("password_digest", "password and password_digest cannot be used together.")
	case password != nil:
		if len(*password) < 8 && !skipChecks {
			return &Error{Status: http.StatusUnprocessableEntity, Code: CodePasswordTooShort, Param: "password",
				Message: "Passwords must be 8 characters or more.", LongMessage: "Passwords must be 8 characters or more."}
		}
		sum := sha256.Sum256([]byte(r.u.ID + "\x00" + *password))
		r.passwordDigest, r.passwordHasher = hex.EncodeToString(sum[:]), "emulator_sha256"
	case digest != nil:
		if hasher == nil {
			return errMissing("password_hasher")
		}
		if !knownHasher(*hasher) {
			return errValue("password_hasher", "password_hasher "+*hasher+" is not supported.")
		}
		r.passwordDigest, r.passwordHasher = *digest, *hasher
	case hasher != nil:
		return errMissing("password_digest")
	default:
		return nil
	}
	r.u.PasswordEnabled = true
	r.u.PasswordLastUpdatedAt = ptr(millis(now))
	return nil
}

// emailTaken reports whether another user than except holds addr.
func (e *Emulator) emailTaken(addr, except string) bool {
	for id, r := range e.users {
		if id == except {
			continue
		}
		for _, a := range r.u.EmailAddresses {
			if a.EmailAddress == addr {
				return true
			}
		}
	}
	return false
}

// normalizeEmail lower-cases and checks an address as Clerk stores it.
func normalizeEmail(raw string) (string, error) {
	addr := strings.ToLower(strings.TrimSpace(raw))
	parsed, err := mail.ParseAddress(addr)
	at := strings.LastIndexByte(addr, '@')
	if err != nil || parsed.Address != addr || parsed.Name != "" || at < 1 || !strings.Contains(addr[at:], ".") {
		return "", &Error{Status: http.StatusUnprocessableEntity, Code: CodeParamFormatInvalid, Param: "email_address",
			Message: "is invalid", LongMessage: "email_address must be a valid email address."}
	}
	return addr, nil
}

func newEmailAddress(addr, status string, ms int64) (EmailAddress, error) {
	ea := EmailAddress{ID: newID("idn"), Object: "email_address", EmailAddress: addr,
		LinkedTo: []json.RawMessage{}, CreatedAt: ms, UpdatedAt: ms}
	switch status {
	case "verified":
		ea.Verification = &Verification{Object: "verification_admin", Status: "verified", Strategy: "admin"}
	case "reserved":
		ea.Reserved = true
	default:
		return ea, errValue("email_address_identification_status", "email_address_identification_status must be verified or reserved.")
	}
	return ea, nil
}

// defaultImageURL mimics Clerk's default avatar URL: img.clerk.com followed
// by base64 of a small JSON document.
func defaultImageURL(id string) string {
	doc := `{"type":"default","iid":"` + id + `"}`
	return "https://img.clerk.com/" + base64.RawURLEncoding.EncodeToString([]byte(doc))
}
