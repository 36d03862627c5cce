package policy

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// reader walks a yaml.Node tree and records every problem with its line.
// Walking nodes by hand rather than decoding into tagged structs (with
// yaml.Decoder.KnownFields) gives each problem its full key path, such as
// routes[2].require, and lets one pass report all of them.
type reader struct {
	problems
}

// field handles the value of one known key; path names that value.
type field func(val *yaml.Node, path string)

// child is the path of key below path.
func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index is the path of the i-th element of the sequence at path.
func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// entry is the path of the free-form key (a role, an organization role) of
// the mapping at path.
func entry(path, key string) string { return fmt.Sprintf("%s[%s]", path, strconv.Quote(key)) }

// where describes path for "unknown key" messages.
func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

// isNull reports whether n is an explicit null (`key:`, `key: ~`).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kind reports whether n is of kind want, recording a problem otherwise.
func (r *reader) kind(n *yaml.Node, path string, want yaml.Kind) bool {
	if n.Kind == want {
		return true
	}
	if n.Kind == yaml.AliasNode {
		r.add(n.Line, "%s: anchors and aliases are not supported in a policy file", path)
		return false
	}
	var what string
	switch want {
	case yaml.MappingNode:
		what = "a mapping (key: value)"
	case yaml.SequenceNode:
		what = "a list"
	default:
		what = "a single value"
	}
	r.add(n.Line, "%s: must be %s", path, what)
	return false
}

// pair is one key and its value in a mapping.
type pair struct {
	key, val *yaml.Node
	name     string
}

// pairs returns the entries of the mapping n, reporting keys that are not
// strings and keys given twice.
func (r *reader) pairs(n *yaml.Node, path string) []pair {
	if !r.kind(n, path, yaml.MappingNode) {
		return nil
	}
	var out []pair
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			r.add(k.Line, "key %s %s must be a string", k.Value, where(path))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			r.add(k.Line, "key %q given twice %s (first at line %d)", k.Value, where(path), line)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, pair{key: k, val: v, name: k.Value})
	}
	return out
}

// mapping walks the mapping n with a handler per known key; unknown keys
// are problems.
func (r *reader) mapping(n *yaml.Node, path string, fields map[string]field) {
	for _, p := range r.pairs(n, path) {
		f, ok := fields[p.name]
		if !ok {
			r.add(p.key.Line, "unknown key %q %s", p.name, where(path))
			continue
		}
		f(p.val, child(path, p.name))
	}
}

// str returns the string value of n.
func (r *reader) str(n *yaml.Node, path string) (string, bool) {
	if !r.kind(n, path, yaml.ScalarNode) {
		return "", false
	}
	if n.ShortTag() != "!!str" {
		r.add(n.Line, "%s: must be a string, not %s", path, n.Value)
		return "", false
	}
	return n.Value, true
}

// boolean returns the value of n, which must be true or false.
func (r *reader) boolean(n *yaml.Node, path string) (bool, bool) {
	if !r.kind(n, path, yaml.ScalarNode) {
		return false, false
	}
	var b bool
	if n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		r.add(n.Line, "%s: must be true or false, not %q", path, n.Value)
		return false, false
	}
	return b, true
}

// seq returns the elements of the list n.
func (r *reader) seq(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	if !r.kind(n, path, yaml.SequenceNode) {
		return nil, false
	}
	return n.Content, true
}

// strs returns the strings of the list n with their nodes (for lines);
// elements that are not strings are reported and left out.
func (r *reader) strs(n *yaml.Node, path string) ([]string, []*yaml.Node) {
	elems, ok := r.seq(n, path)
	if !ok {
		return nil, nil
	}
	vals := make([]string, 0, len(elems))
	nodes := make([]*yaml.Node, 0, len(elems))
	for i, e := range elems {
		if s, ok := r.str(e, index(path, i)); ok {
			vals = append(vals, s)
			nodes = append(nodes, e)
		}
	}
	return vals, nodes
}
