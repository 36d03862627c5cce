package clerkemu

import (
	"net/http"
	"slices"
	"time"
)

// metadataRemovedVersion is the Clerk-API-Version from which PATCH
// /v1/users/{id} no longer takes metadata.
const metadataRemovedVersion = "2026-05-12"

// handleListUsers answers GET /v1/users: a plain JSON array.
func (e *Emulator) handleListUsers(r *http.Request, _ []string) (any, error) {
	q := r.URL.Query()
	f, err := parseUserFilter(q)
	if err != nil {
		return nil, err
	}
	field, desc, err := orderBy(q, "-created_at", userOrderFields()...)
	if err != nil {
		return nil, err
	}
	pg, err := queryPage(q)
	if err != nil {
		return nil, err
	}
	cursor := q.Get("starting_after")
	out := []User{}
	err = e.view(func(time.Time) error {
		recs := e.listUsers(&f, field, desc)
		if cursor != "" {
			if field != "created_at" {
				return errValue("starting_after", "starting_after requires ordering by created_at.")
			}
			if pg.offset != 0 {
				return errValue("offset", "offset cannot be combined with starting_after.")
			}
			at, ok := e.users[cursor]
			if !ok {
				return errValue("starting_after", "starting_after must be the id of an existing user.")
			}
			less := userCompare(field, desc)
			recs = slices.DeleteFunc(recs, func(r *userRecord) bool { return less(r, at) <= 0 })
		}
		for _, rec := range apply(pg, recs) {
			out = append(out, rec.snapshot())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// totalCount is the answer of the count endpoints.
type totalCount struct {
	Object     string `json:"object"`
	TotalCount int    `json:"total_count"`
}

func (e *Emulator) handleCountUsers(r *http.Request, _ []string) (any, error) {
	f, err := parseUserFilter(r.URL.Query())
	if err != nil {
		return nil, err
	}
	var n int
	_ = e.view(func(time.Time) error {
		n = len(e.listUsers(&f, "created_at", false))
		return nil
	})
	return totalCount{Object: "total_count", TotalCount: n}, nil
}

func (e *Emulator) handleGetUser(_ *http.Request, args []string) (any, error) {
	return e.GetUser(args[0])
}

// createUserParams are the members POST /v1/users takes.
func createUserParams() []string {
	return []string{"external_id", "first_name", "last_name", "locale", "email_address",
		"email_address_identification_status", "phone_number", "phone_number_identification_status",
		"web3_wallet", "username", "password", "password_digest", "password_hasher", "skip_password_checks",
		"skip_password_requirement", "totp_secret", "backup_codes", "public_metadata", "private_metadata",
		"unsafe_metadata", "delete_self_enabled", "legal_accepted_at", "skip_legal_checks", "skip_user_requirement",
		"create_organization_enabled", "create_organizations_limit", "created_at", "bypass_client_trust",
		"banned", "locked"}
}

func (e *Emulator) handleCreateUser(r *http.Request, _ []string) (any, error) {
	f, err := readForm(r, createUserParams()...)
	if err != nil {
		return nil, err
	}
	var in userInput
	if err := decodeUserInput(f, &in); err != nil {
		return nil, err
	}
	var out User
	err = e.updateFrom(requestOf(r), func(t *tx) error {
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
	return out, nil
}

// decodeUserInput reads the members of POST /v1/users.
func decodeUserInput(f form, in *userInput) error {
	var err error
	steps := []func() error{
		func() error { _, err := get(f, "email_address", &in.emails); return err },
		func() error { _, err := get(f, "email_address_identification_status", &in.emailStatus); return err },
		func() error { return unsupportedList(f, "phone_number") },
		func() error { return unsupportedList(f, "web3_wallet") },
		func() error { in.username, err = opt[string](f, "username"); return err },
		func() error { in.firstName, err = opt[string](f, "first_name"); return err },
		func() error { in.lastName, err = opt[string](f, "last_name"); return err },
		func() error { in.locale, err = opt[string](f, "locale"); return err },
		func() error { in.externalID, err = opt[string](f, "external_id"); return err },
		func() error { in.password, err = opt[string](f, "password"); return err },
		func() error { in.passwordDigest, err = opt[string](f, "password_digest"); return err },
		func() error { in.passwordHasher, err = opt[string](f, "password_hasher"); return err },
		func() error { _, err := get(f, "skip_password_checks", &in.skipPasswordChecks); return err },
		func() error { in.public, _, err = f.object("public_metadata"); return err },
		func() error { in.private, _, err = f.object("private_metadata"); return err },
		func() error { in.unsafe, _, err = f.object("unsafe_metadata"); return err },
		func() error { in.createdAt, err = optTime(f, "created_at"); return err },
		func() error { in.legalAcceptedAt, err = optTime(f, "legal_accepted_at"); return err },
		func() error { _, err := get(f, "banned", &in.banned); return err },
		func() error { _, err := get(f, "locked", &in.locked); return err },
		func() error { _, err := get(f, "bypass_client_trust", &in.bypassClientTrust); return err },
		func() error { in.deleteSelf, err = opt[bool](f, "delete_self_enabled"); return err },
		func() error { in.createOrg, err = opt[bool](f, "create_organization_enabled"); return err },
		func() error { in.createOrgLimit, err = opt[int](f, "create_organizations_limit"); return err },
		func() error {
			return checkType[bool](f, "skip_password_requirement", "skip_legal_checks", "skip_user_requirement")
		},
		func() error { return checkType[string](f, "totp_secret") },
		func() error { return checkType[[]string](f, "backup_codes", "phone_number_identification_status") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// userPatchParams are the members PATCH /v1/users/{id} takes; before API
// version 2026-05-12 it also took the three metadata objects.
func userPatchParams(legacy bool) []string {
	p := []string{"external_id", "first_name", "last_name", "locale", "primary_email_address_id",
		"notify_primary_email_address_changed", "primary_phone_number_id", "primary_web3_wallet_id", "username",
		"profile_image_id", "password", "password_digest", "password_hasher", "skip_password_checks",
		"sign_out_of_other_sessions", "totp_secret", "backup_codes", "delete_self_enabled",
		"create_organization_enabled", "legal_accepted_at", "skip_legal_checks", "create_organizations_limit",
		"created_at", "bypass_client_trust"}
	if legacy {
		p = append(p, "public_metadata", "private_metadata", "unsafe_metadata")
	}
	return p
}

func (e *Emulator) handleUpdateUser(r *http.Request, args []string) (any, error) {
	version := r.Header.Get("Clerk-API-Version")
	legacy := version == "" || version < metadataRemovedVersion
	f, err := readForm(r, userPatchParams(legacy)...)
	if err != nil {
		return nil, err
	}
	p, err := decodeUserPatch(f)
	if err != nil {
		return nil, err
	}
	return e.mutateUser(requestOf(r), args[0], func(t *tx, rec *userRecord) error { return t.updateUser(rec, p) })
}

// decodeUserPatch reads the members of PATCH /v1/users/{id}. A null for a
// nullable string clears it.
func decodeUserPatch(f form) (userPatch, error) {
	var p userPatch
	var err error
	clearable := func(name string, dst **string) func() error {
		return func() error {
			v, present, err := f.optString(name)
			if present && v == nil {
				v = ptr("")
			}
			*dst = v
			return err
		}
	}
	steps := []func() error{
		clearable("external_id", &p.externalID),
		clearable("first_name", &p.firstName),
		clearable("last_name", &p.lastName),
		clearable("locale", &p.locale),
		clearable("username", &p.username),
		func() error { p.primaryEmailID, err = opt[string](f, "primary_email_address_id"); return err },
		func() error { return noSuchIdentification(f, "primary_phone_number_id") },
		func() error { return noSuchIdentification(f, "primary_web3_wallet_id") },
		func() error { p.password, err = opt[string](f, "password"); return err },
		func() error { p.passwordDigest, err = opt[string](f, "password_digest"); return err },
		func() error { p.passwordHasher, err = opt[string](f, "password_hasher"); return err },
		func() error { _, err := get(f, "skip_password_checks", &p.skipPasswordChecks); return err },
		func() error { _, err := get(f, "sign_out_of_other_sessions", &p.signOutOthers); return err },
		func() error { p.deleteSelf, err = opt[bool](f, "delete_self_enabled"); return err },
		func() error { p.createOrg, err = opt[bool](f, "create_organization_enabled"); return err },
		func() error { p.bypassClientTrust, err = opt[bool](f, "bypass_client_trust"); return err },
		func() error {
			p.createOrgLimitSet = f.has("create_organizations_limit")
			p.createOrgLimit, err = opt[int](f, "create_organizations_limit")
			return err
		},
		func() error { p.legalAcceptedAt, err = optTime(f, "legal_accepted_at"); return err },
		func() error { p.createdAt, err = optTime(f, "created_at"); return err },
		func() error { var s string; p.totp, err = get(f, "totp_secret", &s); return err },
		func() error { var c []string; p.backupCodes, err = get(f, "backup_codes", &c); return err },
		func() error { p.public, _, err = f.object("public_metadata"); return err },
		func() error { p.private, _, err = f.object("private_metadata"); return err },
		func() error { p.unsafe, _, err = f.object("unsafe_metadata"); return err },
		func() error { return checkType[bool](f, "notify_primary_email_address_changed", "skip_legal_checks") },
		func() error { return checkType[string](f, "profile_image_id") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (e *Emulator) handleDeleteUser(r *http.Request, args []string) (any, error) {
	if _, err := readForm(r); err != nil {
		return nil, err
	}
	var out DeletedObject
	err := e.updateFrom(requestOf(r), func(t *tx) error {
		var err error
		out, err = t.deleteUser(args[0])
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// handleUserMetadata answers PATCH (merge) and PUT (replace) of
// /v1/users/{id}/metadata.
func (e *Emulator) handleUserMetadata(merge bool) handlerFunc {
	return func(r *http.Request, args []string) (any, error) {
		f, err := readForm(r, "public_metadata", "private_metadata", "unsafe_metadata")
		if err != nil {
			return nil, err
		}
		var objs [3]map[string]any
		for i, name := range []string{"public_metadata", "private_metadata", "unsafe_metadata"} {
			if objs[i], _, err = f.object(name); err != nil {
				return nil, err
			}
		}
		return e.mutateUser(requestOf(r), args[0], func(t *tx, rec *userRecord) error {
			t.setMetadata(rec, merge, objs[0], objs[1], objs[2])
			return nil
		})
	}
}

// handleUserAction answers the parameterless POST /v1/users/{id}/<action>.
func (e *Emulator) handleUserAction(op func(*tx, *userRecord) error) handlerFunc {
	return func(r *http.Request, args []string) (any, error) {
		if _, err := readForm(r); err != nil {
			return nil, err
		}
		return e.mutateUser(requestOf(r), args[0], op)
	}
}
