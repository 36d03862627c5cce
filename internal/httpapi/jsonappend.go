package httpapi

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The /auth/me answer is on every request's path, so it is encoded by hand
// instead of by encoding/json's reflection (a third of the handler's cost).
// A test holds the result equal to encoding/json's.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping as encoding/json does
// (control characters, quotes, backslashes, <, > and &, U+2028/U+2029,
// and invalid UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonPlain tells the ASCII bytes that appendString copies as they are:
// one table load per byte instead of six comparisons.
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = appendRFC3339Nano(b, *t)
	return append(b, '"')
}

// appendJSON encodes m as encoding/json would.
func (m *meResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	if m.ID == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *m.ID)
	}
	b = append(b, `,"clerk_user_id":`...)
	b = appendString(b, m.ClerkUserID)
	b = append(b, `,"email":`...)
	b = appendString(b, m.Email)
	b = append(b, `,"first_name":`...)
	b = appendString(b, m.FirstName)
	b = append(b, `,"last_name":`...)
	b = appendString(b, m.LastName)
	b = append(b, `,"image_url":`...)
	b = appendString(b, m.ImageURL)
	b = append(b, `,"role":`...)
	b = appendString(b, m.Role)
	b = append(b, `,"permissions":`...)
	b = appendStrings(b, m.Permissions)
	b = append(b, `,"session_id":`...)
	b = appendString(b, m.SessionID)
	b = append(b, `,"org":`...)
	if m.Org == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		b = appendString(b, m.Org.ID)
		b = append(b, `,"slug":`...)
		b = appendString(b, m.Org.Slug)
		b = append(b, `,"role":`...)
		b = appendString(b, m.Org.Role)
		b = append(b, `,"permissions":`...)
		b = appendStrings(b, m.Org.Permissions)
		b = append(b, '}')
	}
	if m.Actor != nil {
		b = append(b, `,"actor":{"sub":`...)
		b = appendString(b, m.Actor.Sub)
		b = append(b, '}')
	}
	b = append(b, `,"profile_pending":`...)
	b = strconv.AppendBool(b, m.ProfilePending)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, m.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, m.UpdatedAt)
	b = append(b, `,"last_sign_in_at":`...)
	b = appendTime(b, m.LastSignInAt)
	return append(b, '}')
}
