package deploy

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/clerkgate/clerkgate/internal/policy"
)

// secretFromSecret are the variables that must come from the Secret, never
// from a value written in a manifest.
var secretFromSecret = []string{"CLERK_SECRET_KEY", "CLERK_WEBHOOK_SIGNING_SECRET", "DATABASE_URL", "REDIS_URL"}

// doc is one YAML document of a manifest file.
type doc struct {
	file string
	obj  object
	node yaml.Node
}

func (d doc) String() string { return d.file + ": " + d.obj.Kind + " " + d.obj.Metadata.Name }

func (d doc) decode(into any) error { return d.node.Decode(into) }

// checkKubernetes reports every way the files of kubernetes/ (base name →
// content) fall short of SPEC §12, of the image and of the code.
func checkKubernetes(files map[string]string, img image, facts codeFacts) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var kust kustomization
	if err := yaml.Unmarshal([]byte(files["kustomization.yaml"]), &kust); err != nil || files["kustomization.yaml"] == "" {
		bad("kustomization.yaml: missing or invalid: %v", err)
	}
	generated := map[string]map[string]bool{} // ConfigMap name → its files
	for _, g := range kust.ConfigMapGenerator {
		generated[g.Name] = map[string]bool{}
		for _, f := range g.Files {
			generated[g.Name][f] = true
			if src, ok := files[f]; !ok {
				bad("kustomization.yaml: configMapGenerator %s: no file %s", g.Name, f)
			} else if _, err := policy.Parse([]byte(src), f); err != nil {
				bad("%s: not a valid policy file: %v", f, err)
			}
		}
	}

	var docs []doc
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if name == "kustomization.yaml" || isGenerated(generated, name) {
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(files[name]))
		for {
			d := doc{file: name}
			err := dec.Decode(&d.node)
			if errors.Is(err, io.EOF) {
				break
			}
			if err == nil {
				err = d.node.Decode(&d.obj)
			}
			if err != nil {
				bad("%s: %v", name, err)
				break
			}
			if d.obj.APIVersion == "" || d.obj.Kind == "" || d.obj.Metadata.Name == "" {
				bad("%s: a document without apiVersion, kind or metadata.name", name)
				continue
			}
			docs = append(docs, d)
		}
		isSecret := slices.ContainsFunc(docs, func(d doc) bool { return d.file == name && d.obj.Kind == "Secret" })
		switch listed := slices.Contains(kust.Resources, name); {
		case isSecret && listed:
			bad("kustomization.yaml: lists %s, an example Secret with placeholder values", name)
		case !isSecret && !listed:
			bad("kustomization.yaml: does not list %s", name)
		}
	}
	for _, r := range kust.Resources {
		if _, ok := files[r]; !ok {
			bad("kustomization.yaml: resource %s does not exist", r)
		}
	}

	byKind := map[string][]doc{}
	for _, d := range docs {
		switch d.obj.Kind {
		case "Deployment", "Service", "Secret", "PodDisruptionBudget", "ConfigMap":
			byKind[d.obj.Kind] = append(byKind[d.obj.Kind], d)
		default:
			bad("%s: no checks for this kind; add them to deploy's test", d)
		}
	}
	if len(byKind["Deployment"]) != 1 || len(byKind["Secret"]) != 1 || len(byKind["Service"]) == 0 {
		bad("want one Deployment, one Secret and a Service; have %d, %d and %d",
			len(byKind["Deployment"]), len(byKind["Secret"]), len(byKind["Service"]))
		return problems
	}

	// The Secret: placeholders only, and configuration variables only.
	sd := byKind["Secret"][0]
	var sec secret
	if err := sd.decode(&sec); err != nil {
		bad("%s: %v", sd, err)
	}
	if len(sec.Data) > 0 {
		bad("%s: use stringData with visible placeholders, not data", sd)
	}
	for k, v := range sec.StringData {
		if !facts.vars[k] {
			bad("%s: key %s is not a configuration variable of clerkgate serve", sd, k)
		}
		if !strings.Contains(v, "REPLACE_ME") {
			bad("%s: %s must be a placeholder containing REPLACE_ME, never a real-looking value", sd, k)
		}
	}

	if _, ok := sec.StringData["REDIS_URL"]; ok == facts.redisRefused {
		if ok {
			bad("%s: has REDIS_URL, which this version of serve refuses (notYet in cmd/clerkgate)", sd)
		} else {
			bad("%s: serve takes REDIS_URL now: add it here, and update the Redis notes in deploy/README.md and the manifests", sd)
		}
	}

	// The Deployment.
	dd := byKind["Deployment"][0]
	var dep deployment
	if err := dd.decode(&dep); err != nil {
		bad("%s: %v", dd, err)
		return problems
	}
	spec := dep.Spec
	if spec.Replicas == nil || *spec.Replicas < 2 {
		bad("%s: replicas: want 2 or more (SPEC §12)", dd)
	}
	podLabels := spec.Template.Metadata.Labels
	if len(spec.Selector.MatchLabels) == 0 || !subset(spec.Selector.MatchLabels, podLabels) {
		bad("%s: selector %v does not match the pod labels %v", dd, spec.Selector.MatchLabels, podLabels)
	}
	pod := spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		bad("%s: want one container, clerkgate serve", dd)
		return problems
	}
	c := pod.Containers[0]
	ports := map[string]int{} // port name → number
	var declared []string
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
		declared = append(declared, strconv.Itoa(p.ContainerPort))
	}
	if slices.Sort(declared); !slices.Equal(declared, slices.Sorted(slices.Values(img.expose))) {
		bad("%s: containerPorts %v differ from the Dockerfile's EXPOSE %v", dd, declared, img.expose)
	}
	resolve := func(p any) string {
		switch v := p.(type) {
		case int:
			return strconv.Itoa(v)
		case string:
			if n, ok := ports[v]; ok {
				return strconv.Itoa(n)
			}
			return "unknown port " + v
		}
		return fmt.Sprintf("%v", p)
	}

	// Environment: configuration variables only, secrets from the Secret.
	env := map[string]string{}
	maps.Copy(env, img.env)
	fromSecret := map[string]bool{}
	if len(c.EnvFrom) > 0 {
		bad("%s: envFrom hides which variables the pod gets; list them in env", dd)
	}
	for _, e := range c.Env {
		if !facts.vars[e.Name] {
			bad("%s: env %s is not a configuration variable of clerkgate serve (cmd/clerkgate %v)", dd, e.Name, configFuncs)
		}
		env[e.Name] = e.Value
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		fromSecret[e.Name] = true
		if ref.Name != sd.obj.Metadata.Name {
			bad("%s: env %s: secretKeyRef names Secret %q; the Secret is %q", dd, e.Name, ref.Name, sd.obj.Metadata.Name)
		}
		if _, ok := sec.StringData[ref.Key]; !ok && !ref.Optional {
			bad("%s: env %s: the Secret has no key %s", dd, e.Name, ref.Key)
		}
	}
	for _, name := range secretFromSecret {
		if !fromSecret[name] {
			bad("%s: env %s must come from the Secret (secretKeyRef)", dd, name)
		}
	}

	// Probes on the service's port (the one CLERKGATE_ADDR listens on).
	addrPort := img.addrPort
	if a, ok := env["CLERKGATE_ADDR"]; ok && a != img.env["CLERKGATE_ADDR"] {
		addrPort = a[strings.LastIndex(a, ":")+1:]
	}
	checkProbe := func(kind string, p *probe, paths ...string) {
		switch {
		case p == nil || p.HTTPGet == nil:
			bad("%s: %s: want an httpGet probe on %s", dd, kind, paths[0])
		case !slices.Contains(paths, p.HTTPGet.Path):
			bad("%s: %s: path %s, want %s", dd, kind, p.HTTPGet.Path, paths[0])
		case resolve(p.HTTPGet.Port) != addrPort:
			bad("%s: %s: port %v is not the service port %s (CLERKGATE_ADDR, EXPOSE)", dd, kind, p.HTTPGet.Port, addrPort)
		}
	}
	checkProbe("livenessProbe", c.LivenessProbe, "/healthz")
	checkProbe("readinessProbe", c.ReadinessProbe, "/readyz")
	if c.StartupProbe != nil {
		checkProbe("startupProbe", c.StartupProbe, "/healthz", "/readyz")
	}

	// Resources and security context.
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			bad("%s: resources: want requests and limits of %s", dd, r)
		}
	}
	sc := c.SecurityContext
	if !isTrue(sc.RunAsNonRoot) && !isTrue(pod.SecurityContext.RunAsNonRoot) {
		bad("%s: securityContext: runAsNonRoot: true", dd)
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		bad("%s: securityContext: readOnlyRootFilesystem: true", dd)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		bad("%s: securityContext: allowPrivilegeEscalation: false", dd)
	}
	if !slices.Contains(sc.Capabilities.Drop, "ALL") {
		bad("%s: securityContext: capabilities: drop: [ALL]", dd)
	}

	// Shutdown: the grace period covers the preStop pause and clerkgate's
	// own deadline.
	grace := 30 * time.Second // Kubernetes' default
	if pod.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	}
	need := facts.shutdownTimeout
	if ps := c.Lifecycle.PreStop; ps != nil && ps.Sleep != nil {
		need += time.Duration(ps.Sleep.Seconds) * time.Second
	}
	if grace < need {
		bad("%s: terminationGracePeriodSeconds %v is shorter than preStop plus shutdownTimeout (%v)", dd, grace, need)
	}

	// The policy file: CLERKGATE_POLICY in a mounted ConfigMap.
	if p, ok := env["CLERKGATE_POLICY"]; ok {
		found := false
		for _, m := range c.VolumeMounts {
			for _, v := range pod.Volumes {
				if v.Name != m.Name || v.ConfigMap == nil || path.Dir(p) != path.Clean(m.MountPath) {
					continue
				}
				if isGenerated(map[string]map[string]bool{v.ConfigMap.Name: generated[v.ConfigMap.Name]}, path.Base(p)) {
					found = true
				}
			}
		}
		if !found {
			bad("%s: CLERKGATE_POLICY=%s is not a file of a mounted ConfigMap from kustomization.yaml", dd, p)
		}
	}

	// Service and PodDisruptionBudget select these pods.
	for _, d := range byKind["Service"] {
		var svc service
		if err := d.decode(&svc); err != nil {
			bad("%s: %v", d, err)
			continue
		}
		if len(svc.Spec.Selector) == 0 || !subset(svc.Spec.Selector, podLabels) {
			bad("%s: selector %v does not match the pod labels %v", d, svc.Spec.Selector, podLabels)
		}
		for _, p := range svc.Spec.Ports {
			if t := resolve(p.TargetPort); !slices.Contains(declared, t) {
				bad("%s: port %s: targetPort %v is not a container port", d, p.Name, p.TargetPort)
			}
		}
	}
	for _, d := range byKind["PodDisruptionBudget"] {
		var pdb podDisruptionBudget
		if err := d.decode(&pdb); err != nil {
			bad("%s: %v", d, err)
			continue
		}
		if len(pdb.Spec.Selector.MatchLabels) == 0 || !subset(pdb.Spec.Selector.MatchLabels, podLabels) {
			bad("%s: selector does not match the pod labels %v", d, podLabels)
		}
		if n, ok := pdb.Spec.MinAvailable.(int); ok && spec.Replicas != nil && n >= *spec.Replicas {
			bad("%s: minAvailable %d leaves no pod to evict of %d", d, n, *spec.Replicas)
		}
	}
	return problems
}

func isGenerated(generated map[string]map[string]bool, file string) bool {
	for _, files := range generated {
		if files[file] {
			return true
		}
	}
	return false
}

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func isTrue(b *bool) bool { return b != nil && *b }
