package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// examples are the files under test: the Dockerfile, and kubernetes/ by
// base name.
type examples struct {
	dockerfile string
	kube       map[string]string
}

func mustReadExamples(tb testing.TB) examples {
	tb.Helper()
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		tb.Fatal(err)
	}
	ex := examples{dockerfile: string(src), kube: map[string]string{}}
	names, err := filepath.Glob(filepath.Join("kubernetes", "*.y*ml"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		ex.kube[filepath.Base(name)] = string(b)
	}
	return ex
}

func mustReadCodeFacts(tb testing.TB) codeFacts {
	tb.Helper()
	facts, err := readCodeFacts("..")
	if err != nil {
		tb.Fatal(err)
	}
	return facts
}

func (ex examples) check(facts codeFacts) []string {
	img, problems := checkDockerfile(ex.dockerfile, facts)
	return append(problems, checkKubernetes(ex.kube, img, facts)...)
}

// TestExamples checks the deployment examples against SPEC §12 and the
// service's code.
func TestExamples(t *testing.T) {
	t.Parallel()
	facts := mustReadCodeFacts(t)
	for _, p := range mustReadExamples(t).check(facts) {
		t.Error(p)
	}
}

// TestChecksFail breaks the examples one way at a time and expects the
// checks to say so: a check that cannot fail proves nothing.
func TestChecksFail(t *testing.T) {
	t.Parallel()
	facts := mustReadCodeFacts(t)
	tests := []struct {
		name, file, old, new string
		want                 string // in one of the problems
	}{
		{"readiness path", "deployment.yaml", "path: /readyz", "path: /ready", "readinessProbe: path /ready"},
		{"liveness path", "deployment.yaml", "path: /healthz\n              port: http\n            periodSeconds: 10", "path: /livez\n              port: http\n            periodSeconds: 10", "livenessProbe: path /livez"},
		{"probe on metrics port", "deployment.yaml", "path: /readyz\n              port: http", "path: /readyz\n              port: metrics", "readinessProbe: port metrics"},
		{"container port not exposed", "deployment.yaml", "containerPort: 8080", "containerPort: 8081", "differ from the Dockerfile's EXPOSE"},
		{"unknown variable", "deployment.yaml", "name: LOG_FORMAT", "name: CLERKGATE_LOG_FORMAT", "env CLERKGATE_LOG_FORMAT is not a configuration variable"},
		{"plural webhook variable", "deployment.yaml", "- name: CLERK_WEBHOOK_SIGNING_SECRET", "- name: CLERK_WEBHOOK_SIGNING_SECRETS", "env CLERK_WEBHOOK_SIGNING_SECRETS is not"},
		{"secret renamed", "secret.example.yaml", "name: clerkgate\n", "name: clerkgate-keys\n", `secretKeyRef names Secret "clerkgate"; the Secret is "clerkgate-keys"`},
		{"secret key missing", "secret.example.yaml", "  DATABASE_URL:", "  DB_URL:", "the Secret has no key DATABASE_URL"},
		{"real-looking secret", "secret.example.yaml", "REPLACE_ME_sk_live", "sk_live_abc123", "CLERK_SECRET_KEY must be a placeholder"},
		{"one replica", "deployment.yaml", "replicas: 2", "replicas: 1", "replicas: want 2 or more"},
		{"short grace period", "deployment.yaml", "terminationGracePeriodSeconds: 20", "terminationGracePeriodSeconds: 10", "terminationGracePeriodSeconds 10s is shorter"},
		{"writable root", "deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem: true"},
		{"capabilities kept", "deployment.yaml", "drop: [ALL]", "drop: [NET_RAW]", "drop: [ALL]"},
		{"no limits", "deployment.yaml", "            limits:\n              cpu: \"1\"\n", "            limits:\n", "requests and limits of cpu"},
		{"policy elsewhere", "deployment.yaml", "value: /etc/clerkgate/policy.yaml", "value: /etc/policy.yaml", "CLERKGATE_POLICY=/etc/policy.yaml"},
		{"invalid policy", "policy.yaml", "default: member", "default: nobody", "policy.yaml: not a valid policy file"},
		{"service selects nothing", "service.yaml", "    app.kubernetes.io/component: auth\n  ports:", "    app.kubernetes.io/component: web\n  ports:", "selector"},
		{"manifest not applied", "kustomization.yaml", "  - service.yaml\n", "", "does not list service.yaml"},
		{"secret applied", "kustomization.yaml", "  - service.yaml\n", "  - service.yaml\n  - secret.example.yaml\n", "lists secret.example.yaml"},
		{"other package built", "Dockerfile", "./cmd/clerkgate \\", "./cmd/emulator \\", "build ./cmd/clerkgate"},
		{"cgo on", "Dockerfile", "ENV CGO_ENABLED=0", "ENV CGO_ENABLED=1", "without CGO_ENABLED=0"},
		{"port not exposed", "Dockerfile", "EXPOSE 8080 9090", "EXPOSE 9090", "EXPOSE [9090]"},
		{"loopback", "Dockerfile", "CLERKGATE_ADDR=:8080", "CLERKGATE_ADDR=127.0.0.1:8080", "listen on every interface"},
		{"unpinned base", "Dockerfile", "distroless/static-debian12:nonroot", "distroless/static-debian12", "pin the base image by tag"},
		{"old Go", "Dockerfile", "golang:1.26.8-bookworm", "golang:1.22-bookworm", "go.mod needs Go"},
		{"root user", "Dockerfile", "USER 65532:65532", "USER root", "non-root"},
		{"shell entrypoint", "Dockerfile", `ENTRYPOINT ["/usr/local/bin/clerkgate", "serve"]`, "ENTRYPOINT /usr/local/bin/clerkgate serve", "exec form"},
		{"not serve", "Dockerfile", `"serve"]`, `"dev"]`, "ENTRYPOINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ex := mustReadExamples(t)
			src := ex.kube[tt.file]
			if tt.file == "Dockerfile" {
				src = ex.dockerfile
			}
			if !strings.Contains(src, tt.old) {
				t.Fatalf("%s no longer contains %q; update this case", tt.file, tt.old)
			}
			src = strings.Replace(src, tt.old, tt.new, 1)
			if tt.file == "Dockerfile" {
				ex.dockerfile = src
			} else {
				ex.kube[tt.file] = src
			}
			problems := ex.check(facts)
			for _, p := range problems {
				if strings.Contains(p, tt.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got:\n%s", tt.want, strings.Join(problems, "\n"))
		})
	}
}

// TestCodeFacts checks the reading of cmd/clerkgate itself: a reader that
// finds nothing would let every manifest through, or none.
func TestCodeFacts(t *testing.T) {
	t.Parallel()
	facts := mustReadCodeFacts(t)
	for _, name := range secretFromSecret {
		if !facts.vars[name] {
			t.Errorf("cmd/clerkgate does not read %s (found %d variables)", name, len(facts.vars))
		}
	}
	if facts.shutdownTimeout <= 0 || facts.defaultPort == "" || facts.goVersion == "" {
		t.Errorf("facts = %+v", facts)
	}
}

// TestRedisNote keeps the examples' word on Redis true: a REDIS_URL in the
// Secret is a problem exactly while serve refuses it.
func TestRedisNote(t *testing.T) {
	t.Parallel()
	facts := mustReadCodeFacts(t)
	ex := mustReadExamples(t)
	const commented = "  # REDIS_URL: rediss://"
	if !strings.Contains(ex.kube["secret.example.yaml"], commented) {
		t.Skip("secret.example.yaml sets REDIS_URL; TestExamples checks serve takes it")
	}
	ex.kube["secret.example.yaml"] = strings.Replace(ex.kube["secret.example.yaml"], commented, "  REDIS_URL: rediss://", 1)
	got := strings.Contains(strings.Join(ex.check(facts), "\n"), "which this version of serve refuses")
	if got != facts.redisRefused {
		t.Errorf("REDIS_URL in the Secret reported as refused: %v; serve refuses it: %v", got, facts.redisRefused)
	}
}
