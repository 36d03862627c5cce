package policy

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrAmbiguousPath is wrapped by every error of Canonicalize: the path is
// refused (400) rather than guessed at.
var ErrAmbiguousPath = errors.New("ambiguous or invalid request path")

// Canonicalize returns the one path that route matching sees and the
// upstream receives, for the raw (still percent-encoded) path of a request
// target, such as r.URL.EscapedPath() or the path of X-Forwarded-Uri:
//
//   - a query ("?...") and a fragment ("#...") are removed;
//   - percent-escapes are decoded exactly once, then "." and ".." segments
//     and repeated slashes are resolved (repeated slashes first, as nginx
//     and path.Clean do: "/a//../b" is "/b");
//   - a trailing slash is kept: "/x/" stays "/x/", and "/x/." is "/x/".
//
// The result is decoded text, as in url.URL.Path; Canonicalize(result) ==
// result. The path is refused, with an error wrapping ErrAmbiguousPath,
// when it does not start with "/", when ".." would climb above the root,
// or when a segment holds, raw or encoded:
//
//   - "/" or "\" encoded (%2F, %5C), or a "\" at all;
//   - ";" (matrix parameters, which some servers cut off);
//   - "%" after decoding (%25: double encoding, which a server that decodes
//     again would read differently), or an encoded "?" or "#" (%3F, %23);
//   - a control character, NUL (%00) included;
//   - a malformed percent-escape, or bytes that are not valid UTF-8 after
//     decoding (overlong forms such as %C0%AF included);
//   - a character that Unicode compatibility normalization (NFKC) or a
//     best-fit code page turns into a slash, a backslash, a dot segment,
//     ";", "%", "?" or "#", such as U+FF0F FULLWIDTH SOLIDUS.
//
// Other characters, non-ASCII letters included, are kept as they are: no
// case folding and no Unicode normalization, so a lookalike of "admin" is
// simply another path.
func Canonicalize(rawPath string) (string, error) {
	if i := strings.IndexAny(rawPath, "?#"); i >= 0 {
		rawPath = rawPath[:i]
	}
	rest, ok := strings.CutPrefix(rawPath, "/")
	if !ok {
		return "", fmt.Errorf("%w: does not start with /", ErrAmbiguousPath)
	}
	var (
		out      []string
		trailing bool // the path ends in "/" (or in a dot segment)
	)
	for raw := range strings.SplitSeq(rest, "/") {
		seg, err := decodeSegment(raw)
		if err != nil {
			return "", fmt.Errorf("%w: %s", ErrAmbiguousPath, err)
		}
		switch seg {
		case "", ".":
			trailing = true
		case "..":
			if len(out) == 0 {
				return "", fmt.Errorf("%w: .. climbs above the root", ErrAmbiguousPath)
			}
			out = out[:len(out)-1]
			trailing = true
		default:
			out = append(out, seg)
			trailing = false
		}
	}
	if len(out) == 0 {
		return "/", nil
	}
	canon := "/" + strings.Join(out, "/")
	if trailing {
		canon += "/"
	}
	return canon, nil
}

// decodeSegment percent-decodes one raw segment and refuses what
// Canonicalize refuses.
func decodeSegment(raw string) (string, error) {
	if strings.IndexByte(raw, '%') < 0 {
		// Nothing to decode; the checks below still apply.
		if reason := rawSegmentText(raw); reason != "" {
			return "", errors.New(reason)
		}
		return raw, nil
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '%' {
			if reason := badRawByte(c); reason != "" {
				return "", errors.New(reason)
			}
			b = append(b, c)
			continue
		}
		if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
			return "", errors.New("malformed percent-escape")
		}
		d := unhex(raw[i+1])<<4 | unhex(raw[i+2])
		i += 2
		switch d {
		case '/', '\\':
			return "", errors.New(`encoded / or \`)
		case '%':
			return "", errors.New("encoded % (double encoding)")
		case '?', '#':
			return "", errors.New("encoded ? or #")
		}
		if reason := badRawByte(d); reason != "" {
			return "", errors.New(reason)
		}
		b = append(b, d)
	}
	seg := string(b)
	if reason := badSegmentText(seg); reason != "" {
		return "", errors.New(reason)
	}
	return seg, nil
}

// rawSegmentText checks a segment that has no percent-escapes.
func rawSegmentText(s string) string {
	for i := 0; i < len(s); i++ {
		if reason := badRawByte(s[i]); reason != "" {
			return reason
		}
	}
	return badSegmentText(s)
}

// badRawByte says why the single byte c may not be in a segment, or "".
func badRawByte(c byte) string {
	switch {
	case c == '\\':
		return `contains \`
	case c == ';':
		return "contains ;"
	case c < 0x20 || c == 0x7f:
		return "contains a control character"
	}
	return ""
}

// badSegmentText says why decoded segment text is refused, or "": invalid
// UTF-8, control characters (C1 included) and the characters of
// confusableDelimiter.
func badSegmentText(s string) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return "is not valid UTF-8"
			}
		case unicode.IsControl(r):
			return "contains a control character"
		case confusableDelimiter(r):
			return fmt.Sprintf("contains %U, which may be normalized into a delimiter", r)
		}
	}
	return ""
}

// confusableDelimiter reports whether NFKC normalization or a Windows
// best-fit conversion may turn r into "/", "\", ".", "..", ";", "%", "?" or
// "#". The NFKC part is every such code point of Unicode 15.
func confusableDelimiter(r rune) bool {
	switch r {
	case 0x037E, // GREEK QUESTION MARK -> ;
		0x2024, 0x2025, 0x2026, // ONE/TWO DOT LEADER, ELLIPSIS -> . .. ...
		0x2047, 0x2048, 0x2049, // ?? ?! !?
		0x2100, 0x2101, 0x2105, 0x2106, // a/c a/s c/o c/u
		0xFE14, 0xFE16, 0xFE19, 0xFE30, // vertical ; ? ... ..
		0xFE52, 0xFE54, 0xFE56, 0xFE5F, 0xFE68, 0xFE6A, // small . ; ? # \ %
		0xFF03, 0xFF05, 0xFF0E, 0xFF0F, 0xFF1B, 0xFF1F, 0xFF3C, // fullwidth # % . / ; ? \
		0x2044, 0x2215, 0x29F5, 0x29F8, 0x29F9: // fraction/division slash, solidus operators (best-fit)
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
