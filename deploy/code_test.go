package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// codeFacts are what the manifests must agree with, read from the service's
// source rather than written down a second time here.
type codeFacts struct {
	// vars are the environment variables the service's configuration reads
	// (parseServiceConfig and parseLogConfig in cmd/clerkgate).
	vars map[string]bool
	// defaultPort is the port of defaultAddr (CLERKGATE_ADDR's default).
	defaultPort string
	// shutdownTimeout bounds the graceful shutdown after SIGTERM.
	shutdownTimeout time.Duration
	// goVersion is go.mod's go directive.
	goVersion string
	// redisRefused: serve refuses REDIS_URL (notYet), as this version has
	// no Redis; the examples leave it out and say so.
	redisRefused bool
}

// configFuncs are the functions of cmd/clerkgate that read the service's
// environment; every variable name they mention is configuration.
var configFuncs = []string{"parseServiceConfig", "parseLogConfig"}

// envName is the shape of a variable name in those functions' string
// literals (CLERK_SECRET_KEY, LOG_LEVEL); algorithm names such as RS256
// have no underscore.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// readCodeFacts parses the non-test files of cmd/clerkgate and go.mod
// under root.
func readCodeFacts(root string) (codeFacts, error) {
	facts := codeFacts{vars: map[string]bool{}}
	dir := filepath.Join(root, "cmd", "clerkgate")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return facts, err
	}
	fset := token.NewFileSet()
	seen := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			return facts, err
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name == "notYet" {
					ast.Inspect(d.Body, func(n ast.Node) bool {
						if lit, ok := n.(*ast.BasicLit); ok && strings.HasPrefix(lit.Value, `"REDIS_URL`) {
							facts.redisRefused = true
						}
						return true
					})
				}
				for _, fn := range configFuncs {
					if d.Recv == nil && d.Name.Name == fn {
						seen[fn] = true
						collectEnvNames(d.Body, facts.vars)
					}
				}
			case *ast.GenDecl:
				if d.Tok != token.CONST {
					continue
				}
				for _, spec := range d.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if i >= len(vs.Values) {
							continue
						}
						switch id.Name {
						case "defaultAddr":
							facts.defaultPort, err = addrPort(vs.Values[i])
						case "shutdownTimeout":
							facts.shutdownTimeout, err = durationConst(vs.Values[i])
						}
						if err != nil {
							return facts, fmt.Errorf("%s: %s: %w", fset.Position(id.Pos()), id.Name, err)
						}
					}
				}
			}
		}
	}
	for _, fn := range configFuncs {
		if !seen[fn] {
			return facts, fmt.Errorf("cmd/clerkgate: no func %s: the test reads the configuration's variable names from it; update configFuncs", fn)
		}
	}
	if facts.defaultPort == "" || facts.shutdownTimeout == 0 {
		return facts, fmt.Errorf("cmd/clerkgate: const defaultAddr or shutdownTimeout not found")
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return facts, err
	}
	for _, line := range strings.Split(string(mod), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			facts.goVersion = strings.TrimSpace(v)
		}
	}
	if facts.goVersion == "" {
		return facts, fmt.Errorf("go.mod: no go directive")
	}
	return facts, nil
}

func collectEnvNames(body ast.Node, into map[string]bool) {
	ast.Inspect(body, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(s) {
				into[s] = true
			}
		}
		return true
	})
}

func addrPort(e ast.Expr) (string, error) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", fmt.Errorf("not a string literal")
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return "", err
	}
	_, port, err := net.SplitHostPort(s)
	return port, err
}

// durationConst evaluates N * time.Unit, the form the constant has.
func durationConst(e ast.Expr) (time.Duration, error) {
	units := map[string]time.Duration{"Millisecond": time.Millisecond, "Second": time.Second, "Minute": time.Minute}
	b, ok := e.(*ast.BinaryExpr)
	if !ok || b.Op != token.MUL {
		return 0, fmt.Errorf("not of the form N * time.Unit; teach durationConst the new form")
	}
	lit, ok1 := b.X.(*ast.BasicLit)
	sel, ok2 := b.Y.(*ast.SelectorExpr)
	if !ok1 || !ok2 || lit.Kind != token.INT || units[sel.Sel.Name] == 0 {
		return 0, fmt.Errorf("not of the form N * time.Unit; teach durationConst the new form")
	}
	n, err := strconv.Atoi(lit.Value)
	if err != nil {
		return 0, err
	}
	return time.Duration(n) * units[sel.Sel.Name], nil
}
