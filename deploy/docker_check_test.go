package deploy

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
)

// image is what the Dockerfile promises the manifests: the ports it
// exposes and the listen addresses it sets.
type image struct {
	expose      []string
	env         map[string]string // the final stage's ENV
	addrPort    string            // port of CLERKGATE_ADDR
	metricsPort string            // port of CLERKGATE_METRICS_ADDR, "" when /metrics shares the listener
}

// checkDockerfile reports every way src falls short of SPEC §12 and of the
// code: the build command, the base images, the user, the entrypoint, the
// ports.
func checkDockerfile(src string, facts codeFacts) (image, []string) {
	var img image
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, "Dockerfile: "+fmt.Sprintf(format, args...))
	}
	stages, err := parseDockerfile(src)
	if err != nil {
		bad("%v", err)
		return img, problems
	}
	names := map[string]int{}
	for i, st := range stages {
		ref, _, _ := strings.Cut(st.image, "@")
		_, tag, hasTag := strings.Cut(path.Base(ref), ":")
		if _, isStage := names[st.image]; !isStage && (!hasTag || tag == "" || tag == "latest") {
			bad("FROM %s: pin the base image by tag", st.image)
		}
		if st.name != "" {
			names[st.name] = i
		}
	}
	final := stages[len(stages)-1]

	// The build: go build ./cmd/clerkgate with CGO_ENABLED=0 in an earlier
	// stage, and its output copied to the entrypoint.
	var out, from string
	for i, st := range stages[:len(stages)-1] {
		for _, run := range st.run {
			_, cmd, ok := strings.Cut(run, "go build ")
			if !ok {
				continue
			}
			args := strings.Fields(strings.Split(cmd, "&&")[0])
			if !slices.Contains(args, "./cmd/clerkgate") {
				bad("go build %s: build ./cmd/clerkgate (SPEC §1)", strings.Join(args, " "))
				continue
			}
			if v, _ := st.envValue("CGO_ENABLED"); v != "0" && !strings.Contains(run, "CGO_ENABLED=0") {
				bad("go build without CGO_ENABLED=0: the runtime image has no C library")
			}
			if j := slices.Index(args, "-o"); j >= 0 && j+1 < len(args) {
				out = args[j+1]
			}
			from = strconv.Itoa(i)
			if st.name != "" {
				from = st.name
			}
			if base, ok := strings.CutPrefix(st.image, "golang:"); ok {
				v, _, _ := strings.Cut(base, "-")
				if versionLess(v, facts.goVersion) {
					bad("FROM %s: go.mod needs Go %s", st.image, facts.goVersion)
				}
			}
		}
	}
	if from == "" {
		bad("no stage before the last runs go build ./cmd/clerkgate")
	}
	if len(final.entrypoint) < 2 || path.Base(final.entrypoint[0]) != "clerkgate" || final.entrypoint[len(final.entrypoint)-1] != "serve" {
		bad(`ENTRYPOINT %q: want ["/path/to/clerkgate", "serve"]`, final.entrypoint)
	} else if out != "" {
		copied := false
		for _, c := range final.copies {
			if slices.Contains(c, "--from="+from) && len(c) >= 2 && c[len(c)-2] == out {
				dst := c[len(c)-1]
				copied = dst == final.entrypoint[0] || (strings.HasSuffix(dst, "/") && dst+path.Base(out) == final.entrypoint[0])
			}
		}
		if !copied {
			bad("the entrypoint %s is not the binary go build wrote (%s in stage %s)", final.entrypoint[0], out, from)
		}
	}
	if u, _, _ := strings.Cut(final.user, ":"); u == "" || u == "0" || u == "root" {
		bad("USER %q: the runtime image must run as a non-root user, by number", final.user)
	} else if _, err := strconv.Atoi(u); err != nil {
		bad("USER %q: give the user by number, so that runAsNonRoot can check it", final.user)
	}

	// Ports: CLERKGATE_ADDR on the default port, on every interface.
	img.env = map[string]string{}
	for _, kv := range final.env {
		img.env[kv[0]] = kv[1]
		if !facts.vars[kv[0]] {
			bad("ENV %s: not a configuration variable of clerkgate serve", kv[0])
		}
	}
	img.expose = final.expose
	addr, ok := img.env["CLERKGATE_ADDR"]
	if !ok {
		bad("ENV CLERKGATE_ADDR missing: the default listens on loopback, out of reach from outside the container")
	}
	host, port, err := net.SplitHostPort(addr)
	switch {
	case !ok:
	case err != nil:
		bad("ENV CLERKGATE_ADDR=%s: %v", addr, err)
	case host != "" && host != "0.0.0.0" && host != "::":
		bad("ENV CLERKGATE_ADDR=%s: listen on every interface", addr)
	case port != facts.defaultPort:
		bad("ENV CLERKGATE_ADDR=%s: use the default port %s (cmd/clerkgate defaultAddr)", addr, facts.defaultPort)
	}
	img.addrPort = port
	want := []string{port}
	if m, ok := img.env["CLERKGATE_METRICS_ADDR"]; ok {
		_, mport, err := net.SplitHostPort(m)
		if err != nil {
			bad("ENV CLERKGATE_METRICS_ADDR=%s: %v", m, err)
		}
		img.metricsPort = mport
		want = append(want, mport)
	}
	got := slices.Sorted(slices.Values(final.expose))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		bad("EXPOSE %v: want the service and metrics ports %v", got, want)
	}
	return img, problems
}

// versionLess compares dotted versions such as 1.26 and 1.26.8.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
