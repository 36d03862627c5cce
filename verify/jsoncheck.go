package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// checkJSONObject reports whether b is exactly one JSON object in which no
// object, at any depth, repeats a member name. Names are compared after case
// folding, because encoding/json matches struct fields without regard to
// case: {"sub":"a","SUB":"b"} must not pick one of the two silently.
func checkJSONObject(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return invalid("bad_json")
	}
	if err := checkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("bad_json")
	}
	return nil
}

const maxJSONDepth = 32

// checkObject reads the members of an object whose '{' was read.
func checkObject(dec *json.Decoder, depth int) error {
	seen := make(map[string]struct{}, 16)
	for {
		tok, err := dec.Token()
		if err != nil {
			return invalid("bad_json")
		}
		if tok == json.Delim('}') {
			return nil
		}
		name, ok := tok.(string)
		if !ok {
			return invalid("bad_json")
		}
		key := strings.ToLower(name)
		if _, dup := seen[key]; dup {
			return invalid("duplicate_member")
		}
		seen[key] = struct{}{}
		if err := checkValue(dec, depth); err != nil {
			return err
		}
	}
}

// checkValue reads one value.
func checkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return invalid("bad_json")
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxJSONDepth {
		return invalid("bad_json")
	}
	switch d {
	case '{':
		return checkObject(dec, depth+1)
	case '[':
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
			return invalid("bad_json")
		}
		return nil
	}
	return invalid("bad_json")
}
