package verify

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// checkJSONObject reports whether b is exactly one JSON object (RFC 8259,
// valid UTF-8) in which no object, at any depth, repeats a member name.
// Names are compared as encoding/json matches struct fields, after case
// folding, so that {"sub":"a","SUB":"b"} cannot pick one of the two
// silently. Names of rules, the members this package decodes, must also be
// spelled exactly: "Sub" must not stand in for "sub". It allocates only for
// names with escapes or non-ASCII letters, and its cost is linear in the
// input.
func checkJSONObject(b []byte, rules *nameRules) error {
	s := jsonScanner{b: b}
	s.ws()
	if s.i >= len(b) || b[s.i] != '{' {
		return invalid("bad_json")
	}
	if err := s.value(0, rules); err != nil {
		return err
	}
	s.ws()
	if s.i != len(b) {
		return invalid("bad_json")
	}
	return nil
}

const maxJSONDepth = 32

var errBadJSON = invalid("bad_json")

type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// nameRules are the member names of one object that encoding/json will
// decode into a struct: folded name -> exact name, and the rules of the
// members that are objects themselves.
type nameRules struct {
	exact    map[string]string
	children map[string]*nameRules
}

func newNameRules(names ...string) *nameRules {
	r := &nameRules{exact: make(map[string]string, len(names))}
	for _, n := range names {
		r.exact[foldName(n)] = n
	}
	return r
}

// check refuses a name that folds to a known member but is spelled otherwise.
func (r *nameRules) check(n memberName) error {
	if r == nil {
		return nil
	}
	if n.folded != "" {
		if exact, ok := r.exact[n.folded]; ok && exact != decodeJSONString(n.raw) {
			return invalid("claim_name_case")
		}
		return nil
	}
	var buf [32]byte
	if len(n.raw) > len(buf) {
		return nil // longer than any known name
	}
	for i, c := range n.raw {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	// string(buf[:n]) as a map key does not allocate.
	if exact, ok := r.exact[string(buf[:len(n.raw)])]; ok && exact != string(n.raw) {
		return invalid("claim_name_case")
	}
	return nil
}

// child returns the rules of the member named exactly name, or nil.
func (r *nameRules) child(name []byte) *nameRules {
	if r == nil || r.children == nil {
		return nil
	}
	return r.children[string(name)]
}

func (s *jsonScanner) value(depth int, rules *nameRules) error {
	if s.i >= len(s.b) {
		return errBadJSON
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if depth >= maxJSONDepth {
			return errBadJSON
		}
		return s.object(depth+1, rules)
	case c == '[':
		if depth >= maxJSONDepth {
			return errBadJSON
		}
		return s.array(depth + 1)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return errBadJSON
}

func (s *jsonScanner) lit(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return errBadJSON
	}
	s.i += len(word)
	return nil
}

func (s *jsonScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *jsonScanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if s.digits() == 0 {
		return errBadJSON
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return errBadJSON
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return errBadJSON
		}
	}
	return nil
}

// str scans a string and returns its raw content (between the quotes) and
// whether that content is plain: ASCII with no escapes.
func (s *jsonScanner) str() (raw []byte, plain bool, err error) {
	s.i++ // opening quote
	start := s.i
	plain = true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, plain, nil
		case c < 0x20:
			return nil, false, errBadJSON
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				return nil, false, errBadJSON
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(s.b)-s.i < 5 || !isHex4(s.b[s.i+1:s.i+5]) {
					return nil, false, errBadJSON
				}
				s.i += 5
			default:
				return nil, false, errBadJSON
			}
		case c >= utf8.RuneSelf:
			plain = false
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, false, errBadJSON
			}
			s.i += n
		default:
			s.i++
		}
	}
	return nil, false, errBadJSON
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *jsonScanner) array(depth int) error {
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := s.value(depth, nil); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return errBadJSON
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errBadJSON
		}
	}
}

// memberName is a name seen in one object: plain names are compared in
// place, others through their decoded, folded form.
type memberName struct {
	raw    []byte
	folded string // set when the name is not plain
}

// smallObject is how many names are compared pairwise before a map is used,
// so that an object of many members costs linear time, not quadratic.
const smallObject = 16

func (s *jsonScanner) object(depth int, rules *nameRules) error {
	s.i++
	var small [smallObject]memberName
	names := small[:0]
	var seen map[string]struct{}
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return errBadJSON
		}
		raw, plain, err := s.str()
		if err != nil {
			return err
		}
		n := memberName{raw: raw}
		if !plain {
			n.folded = foldName(decodeJSONString(raw))
		}
		if seen == nil && len(names) < smallObject {
			for _, o := range names {
				if sameName(o, n) {
					return invalid("duplicate_member")
				}
			}
			names = append(names, n)
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*smallObject)
				for _, o := range names {
					seen[keyOf(o)] = struct{}{}
				}
			}
			k := keyOf(n)
			if _, dup := seen[k]; dup {
				return invalid("duplicate_member")
			}
			seen[k] = struct{}{}
		}
		if err := rules.check(n); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errBadJSON
		}
		s.i++
		s.ws()
		if err := s.value(depth, rules.child(raw)); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return errBadJSON
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errBadJSON
		}
	}
}

func keyOf(n memberName) string {
	if n.folded != "" || len(n.raw) == 0 {
		return n.folded
	}
	return foldName(string(n.raw))
}

func sameName(a, b memberName) bool {
	if a.folded == "" && b.folded == "" {
		return asciiEqualFold(a.raw, b.raw)
	}
	return keyOf(a) == keyOf(b)
}

func asciiEqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// foldName folds a name the way encoding/json matches field names.
func foldName(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		out = utf8.AppendRune(out, unicode.ToUpper(unicode.ToLower(r)))
	}
	return string(out)
}

// decodeJSONString decodes the content of a string the scanner accepted.
func decodeJSONString(raw []byte) string {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := rune(hexVal(raw[i+1 : i+5]))
			i += 4
			if utf16.IsSurrogate(r) && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				r2 := rune(hexVal(raw[i+3 : i+7]))
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, raw[i])
		}
	}
	return string(out)
}

func hexVal(b []byte) int {
	v := 0
	for _, c := range b {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= int(c - '0')
		case c >= 'a' && c <= 'f':
			v |= int(c-'a') + 10
		default:
			v |= int(c-'A') + 10
		}
	}
	return v
}
