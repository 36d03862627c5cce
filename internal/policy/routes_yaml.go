package policy

import (
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// routes reads the routes section and reports routes that an earlier one
// hides completely (they could never match).
func (b *builder) routes(n *yaml.Node, path string) {
	elems, ok := b.seq(n, path)
	if !ok {
		return
	}
	var idx []int // index in elems of each route kept, for messages
	for i, e := range elems {
		if rt, ok := b.route(e, index(path, i)); ok {
			b.p.Routes = append(b.p.Routes, rt)
			idx = append(idx, i)
		}
	}
	for j := range b.p.Routes {
		for i := range j {
			a, c := &b.p.Routes[i], &b.p.Routes[j]
			if covers(a, c) {
				b.add(c.Line, "%s: can never match: %s (line %d) comes first and matches every request it would",
					index(path, idx[j]), index(path, idx[i]), a.Line)
				break
			}
		}
	}
}

// keyAt is a key of a mapping and its line.
type keyAt struct {
	key  string
	line int
}

// route reads one route; ok is false when its path is unusable.
func (b *builder) route(n *yaml.Node, path string) (rt Route, ok bool) {
	rt.Line = n.Line
	var (
		hasPath, pathOK bool
		anonLine        int
		conflicts       []keyAt // keys set that anonymous: true excludes
	)
	conflict := func(v *yaml.Node, p string, set bool) {
		if set {
			conflicts = append(conflicts, keyAt{strings.TrimPrefix(p, path+"."), v.Line})
		}
	}
	flag := func(dst *bool) field {
		return func(v *yaml.Node, p string) {
			*dst, _ = b.boolean(v, p)
			conflict(v, p, *dst)
		}
	}
	b.mapping(n, path, map[string]field{
		"path": func(v *yaml.Node, p string) {
			hasPath = true
			s, ok := b.str(v, p)
			if !ok {
				return
			}
			segs, err := parsePattern(s)
			if err != nil {
				b.add(v.Line, "%s: %q %v", p, s, err)
				return
			}
			rt.Path, rt.segments, pathOK = s, segs, true
		},
		"methods": func(v *yaml.Node, p string) {
			vals, nodes := b.strs(v, p)
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				b.add(v.Line, "%s: is empty; leave methods out to match every method", p)
			}
			for i, m := range vals {
				switch {
				case slices.Contains(httpMethods, strings.ToUpper(m)) && m != strings.ToUpper(m):
					b.add(nodes[i].Line, "%s: %q must be upper-case (%s)", index(p, i), m, strings.ToUpper(m))
				case !slices.Contains(httpMethods, m):
					b.add(nodes[i].Line, "%s: %q is not an HTTP method (%s)", index(p, i), m, strings.Join(httpMethods, ", "))
				case slices.Index(vals, m) < i:
					b.add(nodes[i].Line, "%s: %q is listed twice", index(p, i), m)
				default:
					rt.Methods = append(rt.Methods, m)
				}
			}
		},
		"anonymous": func(v *yaml.Node, p string) {
			rt.Anonymous, _ = b.boolean(v, p)
			anonLine = v.Line
		},
		"require": func(v *yaml.Node, p string) {
			rt.Require = b.require(v, p)
			conflict(v, p, true)
		},
		"machines":            flag(&rt.Machines),
		"allow_pending":       flag(&rt.AllowPending),
		"allow_impersonation": flag(&rt.AllowImpersonation),
		"strip_credentials": func(v *yaml.Node, p string) {
			rt.StripCredentials, _ = b.boolean(v, p)
		},
		"reverify": func(v *yaml.Node, p string) {
			rt.Reverify = b.reverify(v, p)
			conflict(v, p, true)
		},
	})
	if n.Kind != yaml.MappingNode {
		return rt, false
	}
	if !hasPath {
		b.add(n.Line, "%s: path is required", path)
	}
	if rt.Anonymous {
		for _, c := range conflicts {
			b.add(c.line, "%s: anonymous: true (line %d) cannot be combined with %s", path, anonLine, c.key)
		}
	}
	return rt, pathOK
}

// require reads a route's require block.
func (b *builder) require(n *yaml.Node, path string) Requirement {
	var req Requirement
	list := func(v *yaml.Node, p string, check func(s string, line int, p string)) []string {
		vals, nodes := b.strs(v, p)
		if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			b.add(v.Line, "%s: is empty; leave it out instead", p)
		}
		for i, s := range vals {
			if slices.Index(vals, s) < i {
				b.add(nodes[i].Line, "%s: %q is listed twice", index(p, i), s)
				continue
			}
			check(s, nodes[i].Line, index(p, i))
		}
		return vals
	}
	b.mapping(n, path, map[string]field{
		"roles": func(v *yaml.Node, p string) {
			req.Roles = list(v, p, func(s string, line int, ep string) {
				if !roleName.MatchString(s) {
					b.add(line, "%s: %q is not a role name (letters, digits, _ . -)", ep, s)
					return
				}
				b.roleRefs = append(b.roleRefs, roleRef{s, line, ep})
			})
		},
		"permissions": func(v *yaml.Node, p string) {
			req.Permissions = list(v, p, func(s string, line int, ep string) {
				switch {
				case validPermission(s, false):
				case validPermission(s, true):
					b.add(line, "%s: %q: a required permission cannot be a wildcard", ep, s)
				default:
					b.add(line, "%s: %q is not a permission such as \"users:read\"", ep, s)
				}
			})
		},
		"org_roles": func(v *yaml.Node, p string) {
			req.OrgRoles = list(v, p, func(s string, line int, ep string) {
				if !orgRoleKey.MatchString(s) {
					b.add(line, "%s: %q is not an organization role such as \"org:admin\"", ep, s)
				}
			})
		},
	})
	return req
}

// reverify reads {max_age: 10m, factor: first|second}; factor defaults to
// second.
func (b *builder) reverify(n *yaml.Node, path string) *Reverify {
	rv := &Reverify{Factor: FactorSecond}
	hasAge := false
	b.mapping(n, path, map[string]field{
		"max_age": func(v *yaml.Node, p string) {
			hasAge = true
			s, ok := b.str(v, p)
			if !ok {
				return
			}
			d, err := time.ParseDuration(s)
			switch {
			case err != nil:
				b.add(v.Line, "%s: %q is not a duration such as 10m", p, s)
			case d < time.Minute || d%time.Minute != 0:
				b.add(v.Line, "%s: %q must be a whole number of minutes, at least 1m (Clerk counts factor ages in minutes)", p, s)
			default:
				rv.MaxAge = d
			}
		},
		"factor": func(v *yaml.Node, p string) {
			if s, ok := b.str(v, p); ok {
				if s != string(FactorFirst) && s != string(FactorSecond) {
					b.add(v.Line, "%s: must be first or second, not %q", p, s)
				}
				rv.Factor = Factor(s)
			}
		},
	})
	if n.Kind == yaml.MappingNode && !hasAge {
		b.add(n.Line, "%s: max_age is required, such as 10m", path)
	}
	return rv
}
