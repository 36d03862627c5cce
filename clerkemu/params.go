package clerkemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 1 << 20

// form is a decoded JSON request body: its members, undecoded.
type form map[string]json.RawMessage

// readForm reads a JSON object body. An empty body and the literal null (what
// the Go SDK sends for calls without parameters) are an empty form; anything
// that is not one JSON object is 400 request_body_invalid. Members not in
// allowed are 422 form_param_unknown.
func readForm(r *http.Request, allowed ...string) (form, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, errBody()
	}
	if len(body) > maxBodyBytes {
		return nil, errBodyTooLarge()
	}
	body = bytes.TrimSpace(body)
	f := form{}
	if len(body) == 0 || bytes.Equal(body, []byte("null")) {
		return f, nil
	}
	if body[0] != '{' {
		return nil, errBody()
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, errBody()
	}
	for name := range f {
		if !slices.Contains(allowed, name) {
			return nil, errUnknownParam(name)
		}
	}
	return f, nil
}

// has reports whether name is present, null included.
func (f form) has(name string) bool {
	_, ok := f[name]
	return ok
}

// isNull reports whether name is present and JSON null.
func (f form) isNull(name string) bool {
	raw, ok := f[name]
	return ok && bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// get decodes member name into dst. It reports false, leaving dst alone,
// when the member is absent or null; a value of the wrong type is 422
// form_param_format_invalid.
func get[T any](f form, name string, dst *T) (bool, error) {
	if !f.has(name) || f.isNull(name) {
		return false, nil
	}
	var v T
	if err := json.Unmarshal(f[name], &v); err != nil {
		return false, errFormat(name)
	}
	*dst = v
	return true, nil
}

// optString decodes a nullable string member: absent gives (nil, false),
// null gives (nil, true), a string gives (&s, true).
func (f form) optString(name string) (*string, bool, error) {
	if !f.has(name) {
		return nil, false, nil
	}
	var s string
	ok, err := get(f, name, &s)
	if err != nil || !ok {
		return nil, true, err
	}
	return &s, true, nil
}

// object decodes a member that must be a JSON object (metadata), keeping
// numbers exact. Absent or null gives (nil, false).
func (f form) object(name string) (map[string]any, bool, error) {
	if !f.has(name) || f.isNull(name) {
		return nil, false, nil
	}
	m, err := decodeObject(f[name])
	if err != nil {
		return nil, false, errFormat(name)
	}
	return m, true, nil
}

// decodeObject decodes one JSON object with json.Number for numbers.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not an object")
	}
	return m, nil
}

// queryInt parses an integer query parameter within [lo, hi].
func queryInt(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errFormat(name)
	}
	if n < lo || n > hi {
		return 0, errValue(name, name+" must be between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi)+".")
	}
	return n, nil
}

// queryInt64 parses an optional int64 query parameter.
func queryInt64(q url.Values, name string) (int64, bool, error) {
	s := q.Get(name)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, errFormat(name)
	}
	return n, true, nil
}

// queryBool parses an optional boolean query parameter.
func queryBool(q url.Values, name string) (value, set bool, err error) {
	s := q.Get(name)
	if s == "" {
		return false, false, nil
	}
	b, perr := strconv.ParseBool(s)
	if perr != nil {
		return false, false, errFormat(name)
	}
	return b, true, nil
}

// page is a validated limit/offset pair.
type page struct{ limit, offset int }

// queryPage parses limit (default 10, 1..500) and offset (>= 0).
func queryPage(q url.Values) (page, error) {
	limit, err := queryInt(q, "limit", 10, 1, 500)
	if err != nil {
		return page{}, err
	}
	offset, err := queryInt(q, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return page{}, err
	}
	return page{limit: limit, offset: offset}, nil
}

// apply returns the page's window of items.
func apply[T any](p page, items []T) []T {
	if p.offset >= len(items) {
		return []T{}
	}
	items = items[p.offset:]
	if len(items) > p.limit {
		items = items[:p.limit]
	}
	return items
}

// orderBy parses an order_by value such as "-created_at" against the
// allowed fields; no sign means ascending.
func orderBy(q url.Values, def string, fields ...string) (field string, desc bool, err error) {
	s := def
	if vs := q["order_by"]; len(vs) > 0 && vs[0] != "" {
		s = vs[0] // Clerk keeps only the first order_by
	}
	switch {
	case strings.HasPrefix(s, "-"):
		desc, s = true, s[1:]
	case strings.HasPrefix(s, "+"), strings.HasPrefix(s, " "):
		s = s[1:] // an unencoded "+" in a query string arrives as a space
	}
	if !slices.Contains(fields, s) {
		return "", false, errValue("order_by", "order_by must be one of "+strings.Join(fields, ", ")+", each with an optional + or - prefix.")
	}
	return s, desc, nil
}

// opt decodes an optional member: absent or null gives nil.
func opt[T any](f form, name string) (*T, error) {
	var v T
	ok, err := get(f, name, &v)
	if err != nil || !ok {
		return nil, err
	}
	return &v, nil
}

// optTime decodes an optional RFC 3339 timestamp member.
func optTime(f form, name string) (*time.Time, error) {
	s, err := opt[string](f, name)
	if err != nil || s == nil {
		return nil, err
	}
	t, perr := time.Parse(time.RFC3339, *s)
	if perr != nil {
		return nil, errFormat(name)
	}
	return &t, nil
}

// checkType validates members the emulator accepts but ignores.
func checkType[T any](f form, names ...string) error {
	for _, n := range names {
		if _, err := opt[T](f, n); err != nil {
			return err
		}
	}
	return nil
}

// unsupportedList refuses a non-empty list the emulator cannot model.
func unsupportedList(f form, name string) error {
	list, err := opt[[]string](f, name)
	if err != nil {
		return err
	}
	if list != nil && len(*list) > 0 {
		return errValue(name, "The emulator does not support "+name+".")
	}
	return nil
}

// noSuchIdentification refuses an id of an identification kind the
// emulator does not model (phone numbers, web3 wallets); null is fine.
func noSuchIdentification(f form, name string) error {
	id, err := opt[string](f, name)
	if err != nil {
		return err
	}
	if id != nil && *id != "" {
		return errValue(name, name+" must name an identification of this user.")
	}
	return nil
}
