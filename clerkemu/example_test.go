package clerkemu_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// Example shows the usual start of a test: an emulator, a user, a session
// and a session token for it. In a real test, pass the test's *testing.T to
// Start; the server is closed when the test ends.
func Example() {
	t := &testing.T{} // stands in for the test's *testing.T
	srv := clerkemu.Start(t, clerkemu.Options{Clock: func() time.Time { return time.Unix(1767225600, 0) }})
	defer srv.Close()

	u, err := srv.CreateUser(clerkemu.UserParams{Email: "alice@example.com", FirstName: "Alice"})
	if err != nil {
		panic(err)
	}
	s, err := srv.CreateSession(u.ID, "")
	if err != nil {
		panic(err)
	}
	token, err := srv.SessionToken(s.ID, 10*time.Minute)
	if err != nil {
		panic(err)
	}

	fmt.Println(strings.HasPrefix(srv.APIURL, "http://127.0.0.1:"))
	fmt.Println(u.PrimaryEmail(), strings.HasPrefix(u.ID, "user_"))
	fmt.Println(s.Status, strings.Count(token, "."))
	// Output:
	// true
	// alice@example.com true
	// active 2
}
