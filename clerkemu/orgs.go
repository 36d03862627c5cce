package clerkemu

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Organization is a Clerk organization in the Backend API's wire shape.
type Organization struct {
	Object                  string         `json:"object"`
	ID                      string         `json:"id"`
	Name                    string         `json:"name"`
	Slug                    string         `json:"slug"`
	ImageURL                string         `json:"image_url"`
	HasImage                bool           `json:"has_image"`
	MembersCount            int            `json:"members_count"`
	PendingInvitationsCount int            `json:"pending_invitations_count"`
	MaxAllowedMemberships   int            `json:"max_allowed_memberships"`
	AdminDeleteEnabled      bool           `json:"admin_delete_enabled"`
	PublicMetadata          map[string]any `json:"public_metadata"`
	PrivateMetadata         map[string]any `json:"private_metadata"`
	CreatedBy               string         `json:"created_by,omitempty"`
	CreatedAt               int64          `json:"created_at"`
	UpdatedAt               int64          `json:"updated_at"`
}

// OrganizationMembership is a user's membership in an organization, in the
// Backend API's wire shape.
type OrganizationMembership struct {
	Object          string          `json:"object"`
	ID              string          `json:"id"`
	Role            string          `json:"role"`
	RoleName        string          `json:"role_name"`
	Permissions     []string        `json:"permissions"`
	PublicMetadata  map[string]any  `json:"public_metadata"`
	PrivateMetadata map[string]any  `json:"private_metadata"`
	Organization    Organization    `json:"organization"`
	PublicUserData  *PublicUserData `json:"public_user_data"`
	CreatedAt       int64           `json:"created_at"`
	UpdatedAt       int64           `json:"updated_at"`
}

// PublicUserData is the public part of a member's profile.
type PublicUserData struct {
	UserID          string  `json:"user_id"`
	FirstName       *string `json:"first_name"`
	LastName        *string `json:"last_name"`
	ProfileImageURL string  `json:"profile_image_url"`
	ImageURL        string  `json:"image_url"`
	HasImage        bool    `json:"has_image"`
	Identifier      *string `json:"identifier"`
	Username        *string `json:"username"`
	Banned          bool    `json:"banned"`
}

type orgRecord struct {
	o   Organization
	seq uint64
}

type membershipRecord struct {
	id              string
	orgID, userID   string
	role            string
	public, private map[string]any
	created         int64
	updated         int64
	seq             uint64
}

// CreateOrganization creates an organization, as POST /v1/organizations
// does. An empty slug is derived from the name. With createdBy set, that
// user becomes its first member, with the role "org:admin" (or, when
// Options.Roles has no such role, the first role listed); with createdBy
// empty the organization has no members.
func (e *Emulator) CreateOrganization(name, slug, createdBy string) (*Organization, error) {
	var out Organization
	err := e.update(func(t *tx) error {
		rec, err := t.createOrg(orgInput{name: name, slug: slug, createdBy: createdBy})
		if err != nil {
			return err
		}
		out = e.orgSnapshot(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AddMembership makes the user a member of the organization with role, a
// key of Options.Roles such as "org:admin" or "org:member".
func (e *Emulator) AddMembership(orgID, userID, role string) error {
	return e.update(func(t *tx) error {
		_, err := t.addMembership(orgID, userID, role, nil, nil)
		return err
	})
}

// RemoveMembership removes the user from the organization.
func (e *Emulator) RemoveMembership(orgID, userID string) error {
	return e.update(func(t *tx) error {
		m := e.membership(orgID, userID)
		if m == nil {
			return errNotFound("No membership of user " + userID + " in organization " + orgID + " was found.")
		}
		t.deleteMembership(m)
		return nil
	})
}

// org finds an organization by id or slug; the caller holds the lock.
func (e *Emulator) org(idOrSlug string) (*orgRecord, error) {
	if r, ok := e.orgs[idOrSlug]; ok {
		return r, nil
	}
	for _, r := range e.orgs {
		if r.o.Slug == idOrSlug {
			return r, nil
		}
	}
	return nil, errNotFound("Given organization not found.")
}

// orgInput describes a new organization.
type orgInput struct {
	// id is a fixed id (seed files); empty means a new random one.
	id                    string
	name, slug, createdBy string
	public, private       map[string]any
	maxMembers            int
	createdAt             *time.Time
}

// createOrg validates in and stores a new organization; its creator, if
// any, becomes a member with the creator role.
func (t *tx) createOrg(in orgInput) (*orgRecord, error) {
	e := t.e
	name, slug, createdBy := strings.TrimSpace(in.name), in.slug, in.createdBy
	if name == "" {
		return nil, errMissing("name")
	}
	if len(name) > 256 {
		return nil, errValue("name", "name must be at most 256 characters.")
	}
	if createdBy != "" {
		if _, err := e.user(createdBy); err != nil {
			return nil, err
		}
		if e.creatorRole == "" {
			return nil, errValue("created_by", "No role is configured for organization creators.")
		}
	}
	if in.maxMembers < 0 {
		return nil, errValue("max_allowed_memberships", "max_allowed_memberships must not be negative.")
	}
	if slug == "" {
		slug = slugify(name)
		for e.slugTaken(slug, "") {
			slug = slugify(name) + "-" + strings.ToLower(randomString(6))
		}
	} else if err := e.checkSlug(slug, ""); err != nil {
		return nil, err
	}
	ms := millis(t.now)
	id := in.id
	if id == "" {
		id = newID("org")
	} else if _, taken := e.orgs[id]; taken || !validID("org", id) {
		return nil, errValue("id", "id "+id+" is taken or is not an organization id.")
	}
	o := Organization{Object: "organization", ID: id, Name: name, Slug: slug, ImageURL: defaultImageURL(id),
		MaxAllowedMemberships: in.maxMembers, AdminDeleteEnabled: true, PublicMetadata: orEmpty(in.public),
		PrivateMetadata: orEmpty(in.private), CreatedBy: createdBy, CreatedAt: ms, UpdatedAt: ms}
	if in.createdAt != nil {
		o.CreatedAt = millis(*in.createdAt)
	}
	rec := &orgRecord{o: o, seq: e.nextSeq()}
	e.orgs[id] = rec
	t.emit("organization.created", e.orgSnapshot(rec))
	if createdBy != "" {
		if _, err := t.addMembership(id, createdBy, e.creatorRole, nil, nil); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// checkSlug validates a slug and its uniqueness against other orgs.
func (e *Emulator) checkSlug(slug, except string) error {
	if !validSlug(slug) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeParamFormatInvalid, Param: "slug",
			Message: "is invalid", LongMessage: "slug can contain only lowercase alphanumeric characters, '-' and '_'."}
	}
	if e.slugTaken(slug, except) {
		return errExists("slug", "That slug is taken. Please try another.")
	}
	return nil
}

// validSlug reports whether slug has the form Clerk accepts: 1 to 256
// lower-case letters, digits, '-' or '_'.
func validSlug(slug string) bool {
	return slug != "" && len(slug) <= 256 && strings.Trim(slug, "abcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

func (e *Emulator) slugTaken(slug, except string) bool {
	for id, r := range e.orgs {
		if id != except && r.o.Slug == slug {
			return true
		}
	}
	return false
}

// slugify derives a slug from a name: lower case, runs of other characters
// as one '-'.
func slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if s == "" {
		s = "org"
	}
	return s
}

func (t *tx) addMembership(orgID, userID, role string, public, private map[string]any) (*membershipRecord, error) {
	e := t.e
	org, err := e.org(orgID)
	if err != nil {
		return nil, err
	}
	if userID == "" {
		return nil, errMissing("user_id")
	}
	if _, err := e.user(userID); err != nil {
		return nil, err
	}
	if _, ok := e.roles[role]; !ok {
		return nil, errValue("role", "role "+role+" does not exist.")
	}
	if e.membership(org.o.ID, userID) != nil {
		return nil, &Error{Status: http.StatusUnprocessableEntity, Code: CodeAlreadyMember, Param: "user_id",
			Message: "already a member", LongMessage: "The user is already a member of the organization."}
	}
	if limit := org.o.MaxAllowedMemberships; limit > 0 && e.membersCount(org.o.ID) >= limit {
		return nil, &Error{Status: http.StatusForbidden, Code: "organization_membership_quota_exceeded",
			Message: "membership quota exceeded", LongMessage: "The organization has reached its maximum number of memberships."}
	}
	ms := millis(t.now)
	m := &membershipRecord{id: newID("orgmem"), orgID: org.o.ID, userID: userID, role: role,
		public: orEmpty(public), private: orEmpty(private), created: ms, updated: ms, seq: e.nextSeq()}
	e.memberships[m.id] = m
	t.emit("organizationMembership.created", e.membershipSnapshot(m))
	return m, nil
}

// setRole changes a membership's role.
func (t *tx) setRole(m *membershipRecord, role string) error {
	if _, ok := t.e.roles[role]; !ok {
		return errValue("role", "role "+role+" does not exist.")
	}
	m.role = role
	m.updated = millis(t.now)
	t.emit("organizationMembership.updated", t.e.membershipSnapshot(m))
	return nil
}

func (t *tx) deleteMembership(m *membershipRecord) {
	snap := t.e.membershipSnapshot(m)
	delete(t.e.memberships, m.id)
	t.emit("organizationMembership.deleted", snap)
}

// deleteOrg removes an organization and its memberships.
func (t *tx) deleteOrg(rec *orgRecord) DeletedObject {
	e := t.e
	for _, m := range e.sortedMemberships(func(m *membershipRecord) bool { return m.orgID == rec.o.ID }) {
		t.deleteMembership(m)
	}
	delete(e.orgs, rec.o.ID)
	del := DeletedObject{Object: "organization", ID: rec.o.ID, Slug: rec.o.Slug, Deleted: true}
	t.emit("organization.deleted", del)
	return del
}

// membership finds the membership of a user in an organization, or nil.
func (e *Emulator) membership(orgID, userID string) *membershipRecord {
	for _, m := range e.memberships {
		if m.orgID == orgID && m.userID == userID {
			return m
		}
	}
	return nil
}

func (e *Emulator) isMember(orgID, userID string) bool {
	if r, err := e.org(orgID); err == nil {
		orgID = r.o.ID
	}
	return e.membership(orgID, userID) != nil
}

func (e *Emulator) membersCount(orgID string) int {
	n := 0
	for _, m := range e.memberships {
		if m.orgID == orgID {
			n++
		}
	}
	return n
}

// sortedMemberships returns the memberships keep accepts, oldest first.
func (e *Emulator) sortedMemberships(keep func(*membershipRecord) bool) []*membershipRecord {
	var out []*membershipRecord
	for _, m := range e.memberships {
		if keep(m) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *membershipRecord) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// orgSnapshot copies an organization with its current member count.
func (e *Emulator) orgSnapshot(r *orgRecord) Organization {
	o := r.o
	o.PublicMetadata = cloneMap(r.o.PublicMetadata)
	o.PrivateMetadata = cloneMap(r.o.PrivateMetadata)
	o.MembersCount = e.membersCount(r.o.ID)
	return o
}

// membershipSnapshot renders a membership with its organization and the
// member's public data.
func (e *Emulator) membershipSnapshot(m *membershipRecord) OrganizationMembership {
	role := e.roles[m.role]
	out := OrganizationMembership{Object: "organization_membership", ID: m.id, Role: m.role, RoleName: role.Name,
		Permissions: slices.Clone(role.Permissions), PublicMetadata: cloneMap(m.public),
		PrivateMetadata: cloneMap(m.private), CreatedAt: m.created, UpdatedAt: m.updated}
	if out.Permissions == nil {
		out.Permissions = []string{}
	}
	if org, ok := e.orgs[m.orgID]; ok {
		out.Organization = e.orgSnapshot(org)
	}
	out.PublicUserData = &PublicUserData{UserID: m.userID}
	if u, ok := e.users[m.userID]; ok {
		out.PublicUserData = &PublicUserData{UserID: u.u.ID, FirstName: u.u.FirstName, LastName: u.u.LastName,
			ProfileImageURL: u.u.ImageURL, ImageURL: u.u.ImageURL, HasImage: u.u.HasImage,
			Identifier: nullIfEmpty(u.u.PrimaryEmail()), Username: u.u.Username, Banned: u.u.Banned}
	}
	return out
}

// GetOrganization returns a snapshot of the organization with the given id
// or slug.
func (e *Emulator) GetOrganization(idOrSlug string) (*Organization, error) {
	var out Organization
	err := e.view(func(time.Time) error {
		rec, err := e.org(idOrSlug)
		if err != nil {
			return err
		}
		out = e.orgSnapshot(rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
