package clerkemu_test

import (
	"fmt"
	"strings"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// ExampleEmulator_Seed seeds users and an organization from YAML; a second
// seed of the same document creates nothing.
func ExampleEmulator_Seed() {
	emu, err := clerkemu.New(clerkemu.Options{SigningKey: testKey()})
	if err != nil {
		panic(err)
	}
	const seed = `
users:
  - {email: alice@example.com, first_name: Alice, public_metadata: {role: admin}}
  - {email: bob@example.com}
organizations:
  - name: Acme
    members:
      - {email: alice@example.com, role: org:admin}
      - {email: bob@example.com}
`
	for range 2 {
		res, err := emu.Seed(strings.NewReader(seed))
		if err != nil {
			panic(err)
		}
		fmt.Println(res.CreatedUsers, res.CreatedOrganizations, res.CreatedMemberships,
			res.Users[0].PrimaryEmail(), res.Organizations[0].Slug, res.Organizations[0].MembersCount)
	}
	// Output:
	// 2 1 2 alice@example.com acme 2
	// 0 0 0 alice@example.com acme 2
}

// ExampleEmulator_Snapshot restores an emulator from the state of another:
// same secret key, signing key and users.
func ExampleEmulator_Snapshot() {
	emu, err := clerkemu.New(clerkemu.Options{SigningKey: testKey()})
	if err != nil {
		panic(err)
	}
	u, err := emu.CreateUser(clerkemu.UserParams{Email: "alice@example.com"})
	if err != nil {
		panic(err)
	}
	state, err := emu.Snapshot() // holds secrets: store it with mode 0600
	if err != nil {
		panic(err)
	}
	restored, err := clerkemu.New(clerkemu.Options{State: state})
	if err != nil {
		panic(err)
	}
	got, err := restored.GetUser(u.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(got.PrimaryEmail(), restored.SecretKey() == emu.SecretKey(), restored.KeyID() == emu.KeyID())
	// Output: alice@example.com true true
}
