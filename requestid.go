package clerkgate

import (
	"crypto/rand"
	"encoding/hex"
)

// RequestIDOrNew returns the client's X-Request-Id when it may be echoed (1
// to 128 characters of letters, digits and ._:-), and a new random one (24
// hex digits) otherwise. The service and the middleware share this rule.
func RequestIDOrNew(sent string) string {
	if SaneRequestID(sent) {
		return sent
	}
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}

// SaneRequestID reports whether a client-sent X-Request-Id may be echoed.
func SaneRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
