package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

func TestCheckJSONObject(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in     string
		reason string // "" = valid
	}{
		{`{}`, ""},
		{` {"a":1, "b":[1,2,{"c":null}], "d":{"e":true,"f":false}} `, ""},
		{`{"a":-0.5e+10,"b":"x\"\\\/\b\f\n\r\t\u00e9"}`, ""},
		{`{"sub":"a","sub":"b"}`, "duplicate_member"},
		{`{"sub":"a","SUB":"b"}`, "duplicate_member"},
		{`{"sub":"a","s\u0075b":"b"}`, "duplicate_member"},
		{`{"sub":"a","ſub":"b"}`, "duplicate_member"}, // encoding/json folds ſ to S
		{`{"o":{"id":"1","id":"2"}}`, "duplicate_member"},
		{`{"a":[{"x":1,"x":2}]}`, "duplicate_member"},
		{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":0,"k11":1,"k12":2,"k13":3,"k14":4,"k15":5,"k16":6,"K3":3}`, "duplicate_member"},
		{`{"a":1,"A_":2}`, ""},
		{`[]`, "bad_json"},
		{`"x"`, "bad_json"},
		{`{"a":1}{}`, "bad_json"},
		{`{"a":1,}`, "bad_json"},
		{`{"a" 1}`, "bad_json"},
		{`{a:1}`, "bad_json"},
		{`{"a":01}`, "bad_json"},
		{`{"a":1.}`, "bad_json"},
		{`{"a":.5}`, "bad_json"},
		{`{"a":1e}`, "bad_json"},
		{`{"a":tru}`, "bad_json"},
		{`{"a":"\x"}`, "bad_json"},
		{`{"a":"\u12"}`, "bad_json"},
		{"{\"a\":\"\x01\"}", "bad_json"},
		{"{\"a\":\"\xff\"}", "bad_json"},
		{`{"a":[1,]}`, "bad_json"},
		{`{"a":"unterminated}`, "bad_json"},
		{`{"a":1`, "bad_json"},
		{``, "bad_json"},
	}
	for _, c := range cases {
		err := checkJSONObject([]byte(c.in), nil)
		if got := Reason(err); got != c.reason {
			t.Errorf("%s: reason %q (%v), want %q", c.in, got, err, c.reason)
		}
	}
	deep := bytes.Repeat([]byte(`{"a":`), 40)
	deep = append(deep, '1')
	deep = append(deep, bytes.Repeat([]byte(`}`), 40)...)
	if checkJSONObject(deep, nil) == nil {
		t.Error("40 levels of nesting accepted")
	}
}

// FuzzCheckJSONObject holds the scanner to encoding/json: what it accepts
// is valid JSON whose objects, decoded, repeat no name.
func FuzzCheckJSONObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,{"b":"c"}]}`, `{"a":1,"a":2}`, `{"x":"\u00e9","X":1}`, `{"n":-1.5e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkJSONObject(b, nil) != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		if hasDuplicateNames(b) {
			t.Fatalf("accepted repeated names %q", b)
		}
	})
}

// hasDuplicateNames is the slow reference: encoding/json's tokens and its
// own folding rule.
func hasDuplicateNames(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj   bool
		names map[string]bool
		key   bool // the next string is a name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key {
			if name, ok := tok.(string); ok {
				k := foldName(name)
				if top.names[k] {
					return true
				}
				top.names[k] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.obj {
			top.key = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, names: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].key = true
			}
		}
	}
}
