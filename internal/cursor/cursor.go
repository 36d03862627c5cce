// Package cursor encodes and decodes the opaque keyset cursors of the
// stores' paginated lists: the position after a row ordered by (created
// time in Unix milliseconds, id).
//
// The wire format is the unpadded URL-safe base64 of "<ms>:<id>", with
// <ms> in decimal. It is shared by every store, so a cursor issued by one
// release stays valid in the next. Clients must treat it as opaque.
package cursor

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLen bounds the length of a cursor a client may send; Decode rejects
// longer ones without decoding them.
const MaxLen = 256

// The times a cursor may carry, in Unix ms: years 1 to 9999.
const (
	minMillis = -62135596800000
	maxMillis = 253402300799999
)

// Encode is the opaque cursor of the page after the row (created, id),
// where created is in Unix milliseconds.
func Encode(created int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created, 10) + ":" + id))
}

// Decode reverses Encode; ok is false for anything Encode did not make
// from a time in years 1 to 9999 and a non-empty id of UTF-8 text without
// NUL characters, and for cursors longer than MaxLen.
func Decode(c string) (created int64, id string, ok bool) {
	if len(c) > MaxLen {
		return 0, "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", false
	}
	ms, id, found := strings.Cut(string(b), ":")
	created, err = strconv.ParseInt(ms, 10, 64)
	if !found || err != nil || id == "" || !utf8.ValidString(id) || strings.ContainsRune(id, 0) ||
		created < minMillis || created > maxMillis {
		return 0, "", false
	}
	return created, id, true
}
