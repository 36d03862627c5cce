package clerkemu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxSeedBytes bounds a seed document.
const maxSeedBytes = 8 << 20

// seedDoc is a seed document; the Seed doc comment describes it.
type seedDoc struct {
	Users         []seedUser `yaml:"users"`
	Organizations []seedOrg  `yaml:"organizations"`

	root yaml.Node // the parsed document, for line numbers
}

type seedUser struct {
	ID              string    `yaml:"id"`
	Email           string    `yaml:"email"`
	Username        string    `yaml:"username"`
	FirstName       string    `yaml:"first_name"`
	LastName        string    `yaml:"last_name"`
	ExternalID      string    `yaml:"external_id"`
	PublicMetadata  yaml.Node `yaml:"public_metadata"`
	PrivateMetadata yaml.Node `yaml:"private_metadata"`
	UnsafeMetadata  yaml.Node `yaml:"unsafe_metadata"`
	Banned          bool      `yaml:"banned"`
	Locked          bool      `yaml:"locked"`
}

type seedOrg struct {
	ID                    string       `yaml:"id"`
	Name                  string       `yaml:"name"`
	Slug                  string       `yaml:"slug"`
	MaxAllowedMemberships int          `yaml:"max_allowed_memberships"`
	PublicMetadata        yaml.Node    `yaml:"public_metadata"`
	PrivateMetadata       yaml.Node    `yaml:"private_metadata"`
	Members               []seedMember `yaml:"members"`
}

type seedMember struct {
	Email string `yaml:"email"`
	Role  string `yaml:"role"`
}

// SeedResult is what [Emulator.Seed] did.
type SeedResult struct {
	// Users are the seed's users in the seed's order, as they are after
	// seeding: created, or found and kept.
	Users []User
	// Organizations are the seed's organizations likewise.
	Organizations []Organization
	// CreatedUsers, CreatedOrganizations and CreatedMemberships count what
	// Seed created; all are zero when everything was there already.
	CreatedUsers, CreatedOrganizations, CreatedMemberships int
}

// Seed adds the users and organizations of a seed document, YAML or JSON
// (JSON is YAML), as the Backend API would create them, with their events:
//
//	users:
//	  - email: alice@example.com      # required; the user's primary address
//	    first_name: Alice
//	    last_name: Admin
//	    username: alice               # optional, like the rest
//	    external_id: "42"
//	    id: user_alice                # a fixed id; default a random user_... id
//	    public_metadata: {role: admin}
//	    private_metadata: {}
//	    unsafe_metadata: {}
//	    banned: false
//	    locked: false
//	organizations:
//	  - name: Acme                    # required
//	    slug: acme                    # default derived from the name
//	    id: org_acme                  # a fixed id; default a random org_... id
//	    max_allowed_memberships: 0    # 0: no limit
//	    public_metadata: {plan: pro}
//	    private_metadata: {}
//	    members:
//	      - {email: alice@example.com, role: org:admin}
//	      - {email: bob@example.com}  # role default org:member
//
// Keys other than these are errors, with their line. A member's email must
// be a user of the seed or of the emulator. Metadata scalars keep their
// text (a date stays a string) and numbers stay exact.
//
// Seeding creates what is missing and changes nothing that exists, so the
// same file can be seeded on every start of an emulator restored from its
// state: a user whose id (when given) or email exists, and an organization
// whose id (when given) or slug exists, are kept as they are, memberships
// included. A fixed id whose email or slug belongs to another record is an
// error. Seeding is all or nothing: the whole document is checked first,
// and on any error nothing is created. The result lists the seed's users
// and organizations, created or found, and counts what was created.
func (e *Emulator) Seed(r io.Reader) (*SeedResult, error) {
	doc, err := parseSeed(r)
	if err != nil {
		return nil, err
	}
	plan, err := e.planSeed(doc)
	if err != nil {
		return nil, err
	}
	var res *SeedResult
	err = e.update(func(t *tx) error {
		res, err = t.seed(plan)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// parseSeed reads one YAML document strictly.
func parseSeed(r io.Reader) (*seedDoc, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSeedBytes+1))
	if err != nil {
		return nil, fmt.Errorf("clerkemu: seed: %w", err)
	}
	if len(data) > maxSeedBytes {
		return nil, fmt.Errorf("clerkemu: seed: larger than %d bytes", maxSeedBytes)
	}
	doc := &seedDoc{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(doc); errors.Is(err, io.EOF) {
		return doc, nil // an empty document seeds nothing
	} else if err != nil {
		return nil, seedYAMLError(err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("clerkemu: seed: line %d: a second YAML document; a seed is one document", more.Line)
	}
	if err := yaml.Unmarshal(data, &doc.root); err != nil { // parsed once already: cannot fail
		return nil, seedYAMLError(err)
	}
	return doc, nil
}

var (
	unknownFieldRE = regexp.MustCompile(`^(line \d+): field (.*) not found in type clerkemu\.seed(\w+)$`)
	seedTypeRE     = regexp.MustCompile(`clerkemu\.seed(\w+)`)
)

// seedTypes names the seed's Go types for people.
var seedTypes = map[string]string{"Doc": "the seed document", "User": "a user", "Org": "an organization",
	"Member": "a member"}

// seedYAMLError turns a yaml.v3 error into one line that speaks of the
// seed's keys, not of Go types.
func seedYAMLError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("clerkemu: seed: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if sub := unknownFieldRE.FindStringSubmatch(m); sub != nil {
			msgs[i] = fmt.Sprintf("%s: unknown key %q in %s", sub[1], sub[2], seedTypes[sub[3]])
			continue
		}
		msgs[i] = seedTypeRE.ReplaceAllStringFunc(m, func(s string) string { return seedTypes[strings.TrimPrefix(s, "clerkemu.seed")] })
	}
	return fmt.Errorf("clerkemu: seed: %s", strings.Join(msgs, "; "))
}

// at names a place in the seed, with its line when known: path is made of
// mapping keys and sequence indexes, e.g. ("organizations", 0, "members", 2)
// gives "line 12: organizations[0].members[2]".
func (d *seedDoc) at(path ...any) string {
	var name strings.Builder
	n := &d.root
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if name.Len() > 0 {
				name.WriteByte('.')
			}
			name.WriteString(p)
			n = yamlChild(n, func(k *yaml.Node, _ int) bool { return k != nil && k.Value == p })
		case int:
			name.WriteString("[" + strconv.Itoa(p) + "]")
			n = yamlChild(n, func(_ *yaml.Node, i int) bool { return i == p })
		}
	}
	if n == nil || n.Line == 0 {
		return name.String()
	}
	return fmt.Sprintf("line %d: %s", n.Line, name.String())
}

// yamlChild returns the value of the first mapping entry, or the first
// sequence item, that match accepts; nil when none does.
func yamlChild(n *yaml.Node, match func(key *yaml.Node, index int) bool) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if match(n.Content[i], -1) {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if match(nil, i) {
				return c
			}
		}
	}
	return nil
}
