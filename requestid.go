package clerkgate

import "math/rand/v2"

// RequestIDOrNew returns the client's X-Request-Id when it may be echoed (1
// to 128 characters of letters, digits and ._:-), and a new random one (24
// hex digits) otherwise. The service and the middleware share this rule.
func RequestIDOrNew(sent string) string {
	if SaneRequestID(sent) {
		return sent
	}
	// A correlation id, not a secret: math/rand/v2's generator (ChaCha8,
	// seeded from the system's randomness) is unpredictable enough and a
	// twentieth of crypto/rand's cost, which is on every request's path.
	const digits = "0123456789abcdef"
	var b [24]byte
	hi, lo := rand.Uint64(), rand.Uint32()
	for i := range 16 {
		b[i] = digits[hi>>(60-4*i)&0xf]
	}
	for i := range 8 {
		b[16+i] = digits[lo>>(28-4*i)&0xf]
	}
	return string(b[:])
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
