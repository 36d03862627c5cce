package clerkemu

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// seedPlan is a seed document checked on its own, ready to be matched
// against the emulator's records and applied.
type seedPlan struct {
	users []plannedUser
	orgs  []plannedOrg
	// userByEmail maps each seed user's email to its index in users.
	userByEmail map[string]int
}

type plannedUser struct {
	at    string // place in the seed, for errors
	email string // normalized
	in    userInput
}

type plannedOrg struct {
	at      string
	in      orgInput
	members []plannedMember
}

type plannedMember struct {
	at, email, role string
}

// seedProblems collects the problems of a seed, to report them together.
type seedProblems []string

func (p *seedProblems) add(at, format string, args ...any) {
	*p = append(*p, at+": "+fmt.Sprintf(format, args...))
}

// err joins the problems into one line; nil when there are none.
func (p seedProblems) err() error {
	if len(p) == 0 {
		return nil
	}
	const most = 10
	msgs := p
	if len(p) > most {
		msgs = append(p[:most:most], fmt.Sprintf("and %d more problems", len(p)-most))
	}
	return fmt.Errorf("clerkemu: seed: %s", strings.Join(msgs, "; "))
}

// planSeed checks what can be checked without the emulator's records:
// required and well-formed values, duplicates within the seed, roles.
func (e *Emulator) planSeed(doc *seedDoc) (*seedPlan, error) {
	var problems seedProblems
	plan := &seedPlan{userByEmail: map[string]int{}}
	userIDs := map[string]int{}
	for i, su := range doc.Users {
		at := doc.at("users", i)
		email, err := normalizeEmail(su.Email)
		switch {
		case su.Email == "":
			problems.add(at, "email is required")
		case err != nil:
			problems.add(at, "email %q is not a valid email address", su.Email)
		default:
			if j, dup := plan.userByEmail[email]; dup {
				problems.add(at, "email %s is also users[%d]'s", email, j)
			}
			plan.userByEmail[email] = i
		}
		if su.ID != "" {
			if !validID("user", su.ID) {
				problems.add(at, "id %q is not user_ followed by 1 to 64 letters or digits", su.ID)
			} else if j, dup := userIDs[su.ID]; dup {
				problems.add(at, "id %s is also users[%d]'s", su.ID, j)
			}
			userIDs[su.ID] = i
		}
		in := userInput{id: su.ID, emails: []string{email}, username: nonEmpty(su.Username),
			firstName: nonEmpty(su.FirstName), lastName: nonEmpty(su.LastName), externalID: nonEmpty(su.ExternalID),
			banned: su.Banned, locked: su.Locked}
		metadata(&problems, at, "public_metadata", &su.PublicMetadata, &in.public)
		metadata(&problems, at, "private_metadata", &su.PrivateMetadata, &in.private)
		metadata(&problems, at, "unsafe_metadata", &su.UnsafeMetadata, &in.unsafe)
		plan.users = append(plan.users, plannedUser{at: at, email: email, in: in})
	}
	slugs, orgIDs := map[string]int{}, map[string]int{}
	for i, so := range doc.Organizations {
		at := doc.at("organizations", i)
		name := strings.TrimSpace(so.Name)
		slug := so.Slug
		switch {
		case name == "":
			problems.add(at, "name is required")
		case slug == "":
			slug = slugify(name)
		case !validSlug(slug):
			problems.add(at, "slug %q may hold only lower-case letters, digits, '-' and '_'", slug)
		}
		if j, dup := slugs[slug]; dup && slug != "" {
			problems.add(at, "slug %s is also organizations[%d]'s", slug, j)
		}
		slugs[slug] = i
		if so.ID != "" {
			if !validID("org", so.ID) {
				problems.add(at, "id %q is not org_ followed by 1 to 64 letters or digits", so.ID)
			} else if j, dup := orgIDs[so.ID]; dup {
				problems.add(at, "id %s is also organizations[%d]'s", so.ID, j)
			}
			orgIDs[so.ID] = i
		}
		if so.MaxAllowedMemberships < 0 {
			problems.add(at, "max_allowed_memberships must not be negative")
		} else if so.MaxAllowedMemberships > 0 && len(so.Members) > so.MaxAllowedMemberships {
			problems.add(at, "%d members are more than max_allowed_memberships %d", len(so.Members), so.MaxAllowedMemberships)
		}
		po := plannedOrg{at: at, in: orgInput{id: so.ID, name: name, slug: slug, maxMembers: so.MaxAllowedMemberships}}
		metadata(&problems, at, "public_metadata", &so.PublicMetadata, &po.in.public)
		metadata(&problems, at, "private_metadata", &so.PrivateMetadata, &po.in.private)
		po.members = e.planMembers(doc, i, so.Members, &problems)
		plan.orgs = append(plan.orgs, po)
	}
	if err := problems.err(); err != nil {
		return nil, err
	}
	return plan, nil
}

// planMembers checks the members of organizations[i].
func (e *Emulator) planMembers(doc *seedDoc, i int, members []seedMember, problems *seedProblems) []plannedMember {
	var out []plannedMember
	seen := map[string]int{}
	for j, sm := range members {
		at := doc.at("organizations", i, "members", j)
		email, err := normalizeEmail(sm.Email)
		switch {
		case sm.Email == "":
			problems.add(at, "email is required")
		case err != nil:
			problems.add(at, "email %q is not a valid email address", sm.Email)
		default:
			if k, dup := seen[email]; dup {
				problems.add(at, "%s is also members[%d]", email, k)
			}
			seen[email] = j
		}
		role := sm.Role
		if role == "" {
			role = "org:member"
		}
		if _, ok := e.roles[role]; !ok {
			problems.add(at, "role %q is not one of the emulator's roles (%s)", role,
				strings.Join(slices.Sorted(maps.Keys(e.roles)), ", "))
		}
		out = append(out, plannedMember{at: at, email: email, role: role})
	}
	return out
}

// metadata converts one metadata node of the seed into *dst.
func metadata(problems *seedProblems, at, name string, n *yaml.Node, dst *map[string]any) {
	m, err := yamlObject(n)
	if err != nil {
		problems.add(at, "%s: %v", name, err)
	}
	*dst = m
}

// seed matches the plan against the records and applies it; on any error
// nothing is kept.
func (t *tx) seed(p *seedPlan) (*SeedResult, error) {
	e := t.e
	emailOwner := map[string]string{}
	for id, r := range e.users {
		for _, a := range r.u.EmailAddresses {
			emailOwner[a.EmailAddress] = id
		}
	}
	slugOwner := map[string]string{}
	for id, r := range e.orgs {
		slugOwner[r.o.Slug] = id
	}
	var problems seedProblems
	userIDs := make([]string, len(p.users)) // "" for users to create
	for i, u := range p.users {
		owner, taken := emailOwner[u.email]
		switch _, exists := e.users[u.in.id]; {
		case exists:
			userIDs[i] = u.in.id
		case u.in.id != "" && taken:
			problems.add(u.at, "email %s belongs to user %s, not to %s", u.email, owner, u.in.id)
		case taken:
			userIDs[i] = owner
		}
	}
	orgIDs := make([]string, len(p.orgs))
	for i, o := range p.orgs {
		owner, taken := slugOwner[o.in.slug]
		switch _, exists := e.orgs[o.in.id]; {
		case exists:
			orgIDs[i] = o.in.id
		case o.in.id != "" && taken:
			problems.add(o.at, "slug %s belongs to organization %s, not to %s", o.in.slug, owner, o.in.id)
		case taken:
			orgIDs[i] = owner
		default:
			for _, m := range o.members {
				if _, inSeed := p.userByEmail[m.email]; !inSeed && emailOwner[m.email] == "" {
					problems.add(m.at, "no user has the email %s, in the seed or in the emulator", m.email)
				}
			}
		}
	}
	if err := problems.err(); err != nil {
		return nil, err
	}
	undo := e.checkpoint()
	res, err := t.applySeed(p, userIDs, orgIDs, emailOwner)
	if err != nil {
		undo()
		return nil, err
	}
	return res, nil
}

// applySeed creates the users and organizations without an id yet.
func (t *tx) applySeed(p *seedPlan, userIDs, orgIDs []string, emailOwner map[string]string) (*SeedResult, error) {
	e := t.e
	res := &SeedResult{}
	for i, u := range p.users {
		if userIDs[i] != "" {
			continue
		}
		rec, err := t.createUser(u.in)
		if err != nil {
			return nil, fmt.Errorf("clerkemu: seed: %s: %s", u.at, reason(err))
		}
		userIDs[i] = rec.u.ID
		res.CreatedUsers++
	}
	memberID := func(email string) string {
		if i, ok := p.userByEmail[email]; ok {
			return userIDs[i]
		}
		return emailOwner[email]
	}
	for i, o := range p.orgs {
		if orgIDs[i] != "" {
			continue
		}
		rec, err := t.createOrg(o.in)
		if err != nil {
			return nil, fmt.Errorf("clerkemu: seed: %s: %s", o.at, reason(err))
		}
		orgIDs[i] = rec.o.ID
		res.CreatedOrganizations++
		for _, m := range o.members {
			if _, err := t.addMembership(rec.o.ID, memberID(m.email), m.role, nil, nil); err != nil {
				return nil, fmt.Errorf("clerkemu: seed: %s: %s", m.at, reason(err))
			}
			res.CreatedMemberships++
		}
	}
	for _, id := range userIDs {
		res.Users = append(res.Users, e.users[id].snapshot())
	}
	for _, id := range orgIDs {
		res.Organizations = append(res.Organizations, e.orgSnapshot(e.orgs[id]))
	}
	return res, nil
}

// checkpoint saves the record maps and the sequence; the function it
// returns puts them back. Seeding only adds records, so copies of the maps
// are enough to undo it.
func (e *Emulator) checkpoint() (undo func()) {
	users, sessions, orgs, members, seq := maps.Clone(e.users), maps.Clone(e.sessions), maps.Clone(e.orgs),
		maps.Clone(e.memberships), e.seq
	return func() {
		e.users, e.sessions, e.orgs, e.memberships, e.seq = users, sessions, orgs, members, seq
	}
}
