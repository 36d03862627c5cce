package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and parses the policy file at path (see Parse). A relative
// legacy.public_key_file is made relative to the file's directory.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	p.Legacy.resolveFiles(filepath.Dir(path))
	return p, nil
}

// Parse parses and validates a policy file (SPEC §5); name is used in error
// messages and as Policy.Source. Unknown keys, values of the wrong type and
// rules that contradict each other are all reported at once in an *Error,
// each with its line. Sections left out take the built-in values of
// Default: roles, permissions and trusted_proxies (loopback).
func Parse(data []byte, name string) (*Policy, error) {
	r := &reader{problems: problems{file: name}}
	root := r.document(data)
	if root == nil {
		return nil, r.err()
	}
	b := &builder{reader: r, p: &Policy{Source: name, TrustedProxies: DefaultTrustedProxies()}}
	b.top(root)
	if err := r.err(); err != nil {
		return nil, err
	}
	return b.p, nil
}

// yamlLine finds the line in yaml.v3's syntax errors ("yaml: line 3: ...").
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document returns the root mapping of the single YAML document in data,
// or nil after recording why there is none.
func (r *reader) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			r.add(0, "the policy file is empty")
			return nil
		}
		r.syntax(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		r.add(extra.Line, "a policy file holds one YAML document, not several")
		return nil
	} else if !errors.Is(err, io.EOF) {
		r.syntax(err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || isNull(doc.Content[0]) {
		r.add(doc.Line, "the policy file is empty")
		return nil
	}
	root := doc.Content[0]
	if !r.kind(root, "the policy file", yaml.MappingNode) {
		return nil
	}
	return root
}

// syntax records a YAML syntax error with its line.
func (r *reader) syntax(err error) {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		r.add(line, "invalid YAML: %s", m[2])
		return
	}
	r.add(0, "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

// builder fills a Policy from the document and checks what spans sections.
type builder struct {
	*reader
	p *Policy

	rolesNode, permsNode *yaml.Node
	roleRefs             []roleRef
}

// roleRef is a use of a role that must be defined in permissions.
type roleRef struct {
	role string
	line int
	path string
}

func (b *builder) top(root *yaml.Node) {
	b.mapping(root, "", map[string]field{
		"roles": func(v *yaml.Node, path string) {
			if !isNull(v) {
				b.rolesNode = v
				b.roles(v, path)
			}
		},
		"permissions": func(v *yaml.Node, path string) {
			if !isNull(v) {
				b.permsNode = v
				b.permissions(v, path)
			}
		},
		"routes": func(v *yaml.Node, path string) {
			if !isNull(v) {
				b.routes(v, path)
			}
		},
		"upstream": func(v *yaml.Node, path string) {
			if isNull(v) {
				return
			}
			if s, ok := b.str(v, path); ok {
				u, err := httpURL(s)
				if err != nil {
					b.add(v.Line, "%s: %v", path, err)
				}
				b.p.Upstream = u
			}
		},
		"trusted_proxies": func(v *yaml.Node, path string) {
			if !isNull(v) {
				b.p.TrustedProxies = b.trustedProxies(v, path)
			}
		},
		"admin_reverify": func(v *yaml.Node, path string) {
			b.p.AdminReverify, _ = b.boolean(v, path)
		},
		"legacy": func(v *yaml.Node, path string) {
			if !isNull(v) {
				b.p.Legacy = b.legacy(v, path)
			}
		},
	})
	if b.rolesNode == nil {
		b.p.Roles = defaultRoles()
		line := keyLine(root, "permissions")
		b.roleRefs = append(b.roleRefs, roleRef{b.p.Roles.Default, line, "the built-in roles.default"})
		for _, org := range slices.Sorted(maps.Keys(b.p.Roles.OrgRoles)) {
			b.roleRefs = append(b.roleRefs, roleRef{b.p.Roles.OrgRoles[org], line, "the built-in roles.org_roles"})
		}
	}
	if b.permsNode == nil {
		b.p.Permissions = defaultPermissions()
	}
	b.checkRoleRefs()
}

// keyLine returns the line of key in the mapping n, or 0.
func keyLine(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return 0
}

// checkRoleRefs reports every role used but not defined in permissions.
func (b *builder) checkRoleRefs() {
	defined := "permissions"
	if b.permsNode == nil {
		defined = "the built-in permissions (admin, member); add a permissions section"
	}
	reported := make(map[roleRef]bool)
	for _, ref := range b.roleRefs {
		if ref.role == "" || b.p.KnownRole(ref.role) || reported[ref] {
			continue
		}
		reported[ref] = true
		b.add(ref.line, "%s: role %q is not defined in %s", ref.path, ref.role, defined)
	}
}

// httpURL parses an absolute http(s) URL with a host and no credentials,
// query or fragment.
func httpURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q must be an http:// or https:// URL", s)
	case u.Host == "":
		return nil, fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return nil, fmt.Errorf("%q must not hold credentials", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("%q must not have a query or fragment", s)
	}
	return u, nil
}

// trustedProxies reads a list of addresses and CIDR ranges.
func (b *builder) trustedProxies(n *yaml.Node, path string) []netip.Prefix {
	vals, nodes := b.strs(n, path)
	out := make([]netip.Prefix, 0, len(vals))
	for i, s := range vals {
		p := index(path, i)
		var pfx netip.Prefix
		if strings.Contains(s, "/") {
			var err error
			if pfx, err = netip.ParsePrefix(s); err != nil {
				b.add(nodes[i].Line, "%s: %q is not an IP address or CIDR range", p, s)
				continue
			}
			if pfx.Masked() != pfx {
				b.add(nodes[i].Line, "%s: %q has bits set after the prefix length (did you mean %s?)", p, s, pfx.Masked())
				continue
			}
		} else {
			addr, err := netip.ParseAddr(s)
			if err != nil || addr.Zone() != "" {
				b.add(nodes[i].Line, "%s: %q is not an IP address or CIDR range", p, s)
				continue
			}
			addr = addr.Unmap()
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		if slices.Contains(out, pfx) {
			b.add(nodes[i].Line, "%s: %q is listed twice", p, s)
			continue
		}
		out = append(out, pfx)
	}
	return out
}
