package archtest

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// publicPackages are the packages, relative to the module root ("" is the
// root itself), that users import. They must never depend on internal/.
var publicPackages = []string{"", "verify", "middleware", "clerkemu"}

// checkImports returns one message per import that breaks the rules of
// the module layout. pkgs maps each package path relative to the module
// root ("" for the root, "verify", "internal/policy", "cmd/clerkgate") to
// the import paths of its non-test files.
func checkImports(module string, pkgs map[string][]string) []string {
	var problems []string
	rel := func(imp string) (string, bool) { // path of imp inside module
		if imp == module {
			return "", true
		}
		r, ok := strings.CutPrefix(imp, module+"/")
		return r, ok
	}
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, pkg := range names {
		show := path.Join(module, pkg)
		imports := slices.Clone(pkgs[pkg])
		slices.Sort(imports)
		for _, imp := range slices.Compact(imports) {
			r, inModule := rel(imp)
			std := isStdlib(imp)
			switch {
			case pkg == "" && !std:
				problems = append(problems, fmt.Sprintf("%s imports %s: the root package imports only the standard library", show, imp))
			case pkg == "verify" && !std && !(inModule && r == ""):
				problems = append(problems, fmt.Sprintf("%s imports %s: verify imports only the standard library and the root package", show, imp))
			}
			if inModule && under(r, "cmd") && !under(pkg, "cmd") {
				problems = append(problems, fmt.Sprintf("%s imports %s: nothing outside cmd/ imports cmd/", show, imp))
			}
			if inModule && under(r, "internal") && isPublic(pkg) {
				problems = append(problems, fmt.Sprintf("%s imports %s: public packages never import internal/", show, imp))
			}
		}
	}
	return problems
}

// isPublic reports whether pkg is one of publicPackages. Their own
// subpackages (clerkemu/internal/...) are theirs to arrange.
func isPublic(pkg string) bool { return slices.Contains(publicPackages, pkg) }

// isStdlib reports whether an import path belongs to the standard library:
// its first element has no dot, as every module path outside it does.
func isStdlib(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

func TestCheckImports(t *testing.T) {
	t.Parallel()
	const m = "example.com/gate"
	tests := []struct {
		name string
		pkgs map[string][]string
		want []string // substrings, one per expected problem, in order
	}{
		{
			name: "a layout that keeps the rules",
			pkgs: map[string][]string{
				"":                {"errors", "net/http"},
				"verify":          {"crypto/rsa", m},
				"clerkemu":        {"log/slog", m, m + "/verify", m + "/clerkemu/internal/store", "github.com/x/yaml"},
				"internal/policy": {m, m + "/verify", "gopkg.in/yaml.v3"},
				"cmd/clerkgate":   {m + "/clerkemu", m + "/internal/policy", m + "/cmd/clerkgate/internal/flags"},
			},
		},
		{
			name: "root imports a third-party module",
			pkgs: map[string][]string{"": {"errors", "github.com/google/uuid"}},
			want: []string{"gate imports github.com/google/uuid: the root package imports only the standard library"},
		},
		{
			name: "root imports a package of its own module",
			pkgs: map[string][]string{"": {m + "/verify"}},
			want: []string{"the root package imports only the standard library"},
		},
		{
			name: "verify imports a sibling",
			pkgs: map[string][]string{"verify": {m + "/clerkemu"}},
			want: []string{"gate/verify imports example.com/gate/clerkemu: verify imports only"},
		},
		{
			name: "verify imports a third-party module",
			pkgs: map[string][]string{"verify": {"github.com/go-jose/go-jose/v3"}},
			want: []string{"verify imports only the standard library and the root package"},
		},
		{
			name: "verify imports internal",
			pkgs: map[string][]string{"verify": {m + "/internal/cache"}},
			want: []string{"verify imports only", "public packages never import internal/"},
		},
		{
			name: "clerkemu imports internal",
			pkgs: map[string][]string{"clerkemu": {m + "/internal/policy"}},
			want: []string{"gate/clerkemu imports example.com/gate/internal/policy: public packages never import internal/"},
		},
		{
			name: "root imports internal",
			pkgs: map[string][]string{"": {m + "/internal"}},
			want: []string{"only the standard library", "public packages never import internal/"},
		},
		{
			name: "an internal package imports cmd",
			pkgs: map[string][]string{"internal/httpapi": {m + "/cmd/clerkgate"}},
			want: []string{"gate/internal/httpapi imports example.com/gate/cmd/clerkgate: nothing outside cmd/ imports cmd/"},
		},
		{
			name: "a package named like cmd is not cmd",
			pkgs: map[string][]string{"internal/httpapi": {m + "/cmdline"}, "cmdtool": {m + "/cmd/x"}},
			want: []string{"gate/cmdtool imports example.com/gate/cmd/x: nothing outside cmd/"},
		},
		{
			name: "a module whose path has the same prefix is another module",
			pkgs: map[string][]string{"verify": {m + "extra/internal/x"}},
			want: []string{"verify imports only"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := checkImports(m, tt.pkgs)
			if len(got) != len(tt.want) {
				t.Fatalf("checkImports() = %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, want := range tt.want {
				if !strings.Contains(got[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], want)
				}
			}
		})
	}
}

// TestImportDirection checks the real module.
func TestImportDirection(t *testing.T) {
	t.Parallel()
	root, module := moduleRoot(t)
	pkgs := mustReadImports(t, root)
	if _, ok := pkgs[""]; !ok {
		t.Fatalf("found no root package in %d packages: the walk is broken", len(pkgs))
	}
	for _, p := range checkImports(module, pkgs) {
		t.Error(p)
	}
}

// moduleRoot finds the directory of go.mod above this package and reads
// the module path from it.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module"); ok {
					m := strings.TrimSpace(rest)
					if u, err := strconv.Unquote(m); err == nil {
						m = u
					}
					return dir, m
				}
			}
			t.Fatalf("go.mod in %s has no module line", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// mustReadImports parses the imports of every non-test Go file of the
// module (build tags are ignored on purpose: every file counts) and groups
// them by package directory relative to root. Test files are left out: a
// black-box test of verify may well start the emulator.
func mustReadImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if p != root {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir // a nested module is not ours
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		imports := pkgs[rel]
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			imports = append(imports, imp)
		}
		pkgs[rel] = imports
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}
