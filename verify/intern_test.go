package verify

import (
	"fmt"
	"testing"
	"unsafe"
)

func sameString(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.StringData(a) == unsafe.StringData(b))
}

// TestInterner: equal strings come back as one copy, the bound starts the
// interner afresh, and claims get their repeating strings shared.
func TestInterner(t *testing.T) {
	var in interner
	a := in.intern(string([]byte("user_1")))
	b := in.intern(string([]byte("user_1")))
	if a != "user_1" || !sameString(a, b) {
		t.Fatalf("intern: %q and %q are not one copy", a, b)
	}
	for i := range maxInterned {
		in.intern(fmt.Sprint("s", i))
	}
	if len(in.m) > maxInterned {
		t.Fatalf("%d strings kept, bound %d", len(in.m), maxInterned)
	}
	mk := func() *Claims {
		return &Claims{Issuer: string([]byte("https://clerk.example")), Subject: string([]byte("user_1")),
			SessionID: string([]byte("sess_1")), ID: string([]byte("jti_unique")), Features: []string{string([]byte("o:x"))},
			Org: &Org{ID: string([]byte("org_1")), Slug: string([]byte("acme")), Role: string([]byte("org:admin")),
				Permissions: []string{string([]byte("org:x:read"))}}}
	}
	c1, c2 := mk(), mk()
	in.internClaims(c1)
	in.internClaims(c2)
	for _, p := range [][2]string{{c1.Issuer, c2.Issuer}, {c1.Subject, c2.Subject}, {c1.SessionID, c2.SessionID},
		{c1.Features[0], c2.Features[0]}, {c1.Org.ID, c2.Org.ID}, {c1.Org.Slug, c2.Org.Slug}, {c1.Org.Role, c2.Org.Role},
		{c1.Org.Permissions[0], c2.Org.Permissions[0]}} {
		if !sameString(p[0], p[1]) {
			t.Errorf("%q not shared", p[0])
		}
	}
	if sameString(c1.ID, c2.ID) {
		t.Error("jti, unique to a token, was interned")
	}
}
