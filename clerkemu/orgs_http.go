package clerkemu

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"
)

// list is the {data,total_count} answer of organization lists.
type list[T any] struct {
	Data       []T `json:"data"`
	TotalCount int `json:"total_count"`
}

func newList[T any](pg page, all []T) list[T] {
	return list[T]{Data: append([]T{}, apply(pg, all)...), TotalCount: len(all)}
}

// handleListOrgs answers GET /v1/organizations.
func (e *Emulator) handleListOrgs(r *http.Request, _ []string) (any, error) {
	q := r.URL.Query()
	field, desc, err := orderBy(q, "-created_at", "created_at", "name", "members_count")
	if err != nil {
		return nil, err
	}
	pg, err := queryPage(q)
	if err != nil {
		return nil, err
	}
	if _, _, err := queryBool(q, "include_members_count"); err != nil {
		return nil, err
	}
	query := strings.ToLower(q.Get("query"))
	var all []Organization
	_ = e.view(func(time.Time) error {
		var recs []*orgRecord
		for _, o := range e.orgs {
			if len(q["organization_id"]) > 0 && !slices.Contains(q["organization_id"], o.o.ID) {
				continue
			}
			if len(q["user_id"]) > 0 && !slices.ContainsFunc(q["user_id"], func(u string) bool { return e.isMember(o.o.ID, u) }) {
				continue
			}
			if query != "" && !strings.Contains(strings.ToLower(o.o.Name), query) &&
				!strings.Contains(o.o.Slug, query) && o.o.ID != q.Get("query") {
				continue
			}
			recs = append(recs, o)
		}
		for _, o := range recs {
			all = append(all, e.orgSnapshot(o))
		}
		seq := func(id string) uint64 { return e.orgs[id].seq }
		slices.SortFunc(all, func(a, b Organization) int {
			var c int
			switch field {
			case "name":
				c = cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
			case "members_count":
				c = cmp.Compare(a.MembersCount, b.MembersCount)
			default:
				c = cmp.Compare(a.CreatedAt, b.CreatedAt)
			}
			c = cmp.Or(c, cmp.Compare(seq(a.ID), seq(b.ID)))
			if desc {
				return -c
			}
			return c
		})
		return nil
	})
	return newList(pg, all), nil
}

// handleCreateOrg answers POST /v1/organizations.
func (e *Emulator) handleCreateOrg(r *http.Request, _ []string) (any, error) {
	f, err := readForm(r, "name", "created_by", "private_metadata", "public_metadata", "slug",
		"max_allowed_memberships", "created_at", "role_set_key")
	if err != nil {
		return nil, err
	}
	var name, createdBy, slug string
	var maxMembers *int
	var createdAt *time.Time
	var public, private map[string]any
	for _, step := range []func() error{
		func() error { _, err := get(f, "name", &name); return err },
		func() error { _, err := get(f, "created_by", &createdBy); return err },
		func() error { _, err := get(f, "slug", &slug); return err },
		func() error { maxMembers, err = opt[int](f, "max_allowed_memberships"); return err },
		func() error { createdAt, err = optTime(f, "created_at"); return err },
		func() error { public, _, err = f.object("public_metadata"); return err },
		func() error { private, _, err = f.object("private_metadata"); return err },
		func() error { return checkType[string](f, "role_set_key") },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	in := orgInput{name: name, slug: slug, createdBy: createdBy, public: public, private: private, createdAt: createdAt}
	if maxMembers != nil {
		in.maxMembers = *maxMembers
	}
	var out Organization
	err = e.updateFrom(requestOf(r), func(t *tx) error {
		rec, err := t.createOrg(in)
		if err != nil {
			return err
		}
		out = e.orgSnapshot(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (e *Emulator) handleGetOrg(_ *http.Request, args []string) (any, error) {
	return e.GetOrganization(args[0])
}

// handleUpdateOrg answers PATCH /v1/organizations/{id}.
func (e *Emulator) handleUpdateOrg(r *http.Request, args []string) (any, error) {
	f, err := readForm(r, "name", "slug", "max_allowed_memberships", "admin_delete_enabled", "created_at", "role_set_key")
	if err != nil {
		return nil, err
	}
	var name, slug *string
	var maxMembers *int
	var adminDelete *bool
	var createdAt *time.Time
	for _, step := range []func() error{
		func() error { name, err = opt[string](f, "name"); return err },
		func() error { slug, err = opt[string](f, "slug"); return err },
		func() error { maxMembers, err = opt[int](f, "max_allowed_memberships"); return err },
		func() error { adminDelete, err = opt[bool](f, "admin_delete_enabled"); return err },
		func() error { createdAt, err = optTime(f, "created_at"); return err },
		func() error { return checkType[string](f, "role_set_key") },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	var out Organization
	err = e.updateFrom(requestOf(r), func(t *tx) error {
		rec, err := e.org(args[0])
		if err != nil {
			return err
		}
		o := rec.o
		if name != nil {
			if o.Name = strings.TrimSpace(*name); o.Name == "" || len(o.Name) > 256 {
				return errValue("name", "name must be 1 to 256 characters.")
			}
		}
		if slug != nil {
			if err := e.checkSlug(*slug, o.ID); err != nil {
				return err
			}
			o.Slug = *slug
		}
		if maxMembers != nil {
			if *maxMembers < 0 {
				return errValue("max_allowed_memberships", "max_allowed_memberships must not be negative.")
			}
			o.MaxAllowedMemberships = *maxMembers
		}
		if adminDelete != nil {
			o.AdminDeleteEnabled = *adminDelete
		}
		if createdAt != nil {
			o.CreatedAt = millis(*createdAt)
		}
		o.UpdatedAt = millis(t.now)
		rec.o = o
		out = e.orgSnapshot(rec)
		t.emit("organization.updated", out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (e *Emulator) handleDeleteOrg(r *http.Request, args []string) (any, error) {
	if _, err := readForm(r); err != nil {
		return nil, err
	}
	var out DeletedObject
	err := e.updateFrom(requestOf(r), func(t *tx) error {
		rec, err := e.org(args[0])
		if err != nil {
			return err
		}
		out = t.deleteOrg(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// handleOrgMetadata answers PATCH (deep merge) and PUT (replace) of
// /v1/organizations/{id}/metadata.
func (e *Emulator) handleOrgMetadata(merge bool) handlerFunc {
	return func(r *http.Request, args []string) (any, error) {
		f, err := readForm(r, "public_metadata", "private_metadata")
		if err != nil {
			return nil, err
		}
		public, _, err := f.object("public_metadata")
		if err != nil {
			return nil, err
		}
		private, _, err := f.object("private_metadata")
		if err != nil {
			return nil, err
		}
		var out Organization
		err = e.updateFrom(requestOf(r), func(t *tx) error {
			rec, err := e.org(args[0])
			if err != nil {
				return err
			}
			for _, m := range []struct {
				in  map[string]any
				dst *map[string]any
			}{{public, &rec.o.PublicMetadata}, {private, &rec.o.PrivateMetadata}} {
				switch {
				case m.in == nil:
				case merge:
					*m.dst = deepMerge(*m.dst, m.in)
				default:
					*m.dst = cloneMap(m.in)
				}
			}
			rec.o.UpdatedAt = millis(t.now)
			out = e.orgSnapshot(rec)
			t.emit("organization.updated", out)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// handleListMemberships answers GET /v1/organizations/{id}/memberships,
// oldest first, filtered by user_id and role.
func (e *Emulator) handleListMemberships(r *http.Request, args []string) (any, error) {
	q := r.URL.Query()
	_, desc, err := orderBy(q, "created_at", "created_at")
	if err != nil {
		return nil, err
	}
	pg, err := queryPage(q)
	if err != nil {
		return nil, err
	}
	var all []OrganizationMembership
	err = e.view(func(time.Time) error {
		org, err := e.org(args[0])
		if err != nil {
			return err
		}
		for _, m := range e.sortedMemberships(func(m *membershipRecord) bool {
			return m.orgID == org.o.ID &&
				(len(q["user_id"]) == 0 || slices.Contains(q["user_id"], m.userID)) &&
				(len(q["role"]) == 0 || slices.Contains(q["role"], m.role))
		}) {
			all = append(all, e.membershipSnapshot(m))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if desc {
		slices.Reverse(all)
	}
	return newList(pg, all), nil
}

// handleCreateMembership answers POST /v1/organizations/{id}/memberships.
func (e *Emulator) handleCreateMembership(r *http.Request, args []string) (any, error) {
	f, err := readForm(r, "user_id", "role", "public_metadata", "private_metadata")
	if err != nil {
		return nil, err
	}
	var userID, role string
	var public, private map[string]any
	for _, step := range []func() error{
		func() error { _, err := get(f, "user_id", &userID); return err },
		func() error { _, err := get(f, "role", &role); return err },
		func() error { public, _, err = f.object("public_metadata"); return err },
		func() error { private, _, err = f.object("private_metadata"); return err },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if role == "" {
		return nil, errMissing("role")
	}
	var out OrganizationMembership
	err = e.updateFrom(requestOf(r), func(t *tx) error {
		m, err := t.addMembership(args[0], userID, role, public, private)
		if err != nil {
			return err
		}
		out = e.membershipSnapshot(m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// handleUpdateMembership answers PATCH
// /v1/organizations/{id}/memberships/{user_id} (the role).
func (e *Emulator) handleUpdateMembership(r *http.Request, args []string) (any, error) {
	f, err := readForm(r, "role")
	if err != nil {
		return nil, err
	}
	var role string
	if _, err := get(f, "role", &role); err != nil {
		return nil, err
	}
	if role == "" {
		return nil, errMissing("role")
	}
	return e.withMembership(requestOf(r), args, func(t *tx, m *membershipRecord) error { return t.setRole(m, role) })
}

// handleDeleteMembership answers DELETE
// /v1/organizations/{id}/memberships/{user_id}.
func (e *Emulator) handleDeleteMembership(r *http.Request, args []string) (any, error) {
	if _, err := readForm(r); err != nil {
		return nil, err
	}
	return e.withMembership(requestOf(r), args, func(t *tx, m *membershipRecord) error {
		t.deleteMembership(m)
		return nil
	})
}

// withMembership runs op on the membership named by (org, user) args and
// answers the membership as it was after op.
func (e *Emulator) withMembership(from EventRequest, args []string, op func(*tx, *membershipRecord) error) (any, error) {
	var out OrganizationMembership
	err := e.updateFrom(from, func(t *tx) error {
		org, err := e.org(args[0])
		if err != nil {
			return err
		}
		m := e.membership(org.o.ID, args[1])
		if m == nil {
			return errNotFound("No membership of user " + args[1] + " in organization " + args[0] + " was found.")
		}
		out = e.membershipSnapshot(m)
		if err := op(t, m); err != nil {
			return err
		}
		if _, still := e.memberships[m.id]; still {
			out = e.membershipSnapshot(m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// handleUserMemberships answers GET /v1/users/{id}/organization_memberships.
func (e *Emulator) handleUserMemberships(r *http.Request, args []string) (any, error) {
	pg, err := queryPage(r.URL.Query())
	if err != nil {
		return nil, err
	}
	var all []OrganizationMembership
	err = e.view(func(time.Time) error {
		if _, err := e.user(args[0]); err != nil {
			return err
		}
		for _, m := range e.sortedMemberships(func(m *membershipRecord) bool { return m.userID == args[0] }) {
			all = append(all, e.membershipSnapshot(m))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return newList(pg, all), nil
}
