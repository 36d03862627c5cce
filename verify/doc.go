// Package verify checks Clerk session tokens and Clerk (Svix) webhook
// signatures.
//
// A Verifier accepts exactly Clerk session tokens: RS256 (or the configured
// RS384/RS512) JWTs whose key is chosen only by kid from the instance's key
// set, or the one key of CLERK_JWT_KEY. It fetches the key set at most once at
// a time, refreshes it in the background and on rotation, keeps known keys
// usable while the key-set endpoint fails (up to a limit), rate-limits
// refreshes caused by unknown key ids, and remembers verified tokens so that a
// repeated token costs a hash and a map lookup instead of an RSA check.
//
// Every failure is an *Error whose Code is one of the contract codes
// (token_invalid, token_expired, token_not_yet_valid, session_pending,
// session_revoked, unavailable, ...) and whose Reason is a fixed word for logs
// and metrics. Errors never contain the token, a key or a secret.
//
// The package has no globals and does not log; time comes from Options.Now.
package verify
