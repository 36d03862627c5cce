package deploy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// dockerStage is one FROM ... stage of a Dockerfile, with the instructions
// the checks read.
type dockerStage struct {
	image, name string      // FROM image [AS name]
	env         [][2]string // ENV, in order
	expose      []string    // EXPOSE ports, without /tcp
	run         []string    // RUN commands, continuation lines joined
	copies      [][]string  // COPY arguments, flags included
	user        string
	entrypoint  []string // exec form only
}

// parseDockerfile reads the instructions the checks need; it understands
// comments, line continuations, and the exec form of ENTRYPOINT.
func parseDockerfile(src string) ([]*dockerStage, error) {
	var stages []*dockerStage
	var lines []string
	var cur strings.Builder
	for _, raw := range strings.Split(src, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	for _, line := range lines {
		instr, args, _ := strings.Cut(line, " ")
		instr, args = strings.ToUpper(instr), strings.TrimSpace(args)
		if instr == "FROM" {
			f := strings.Fields(args)
			st := &dockerStage{}
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			if len(f) == 0 {
				return nil, fmt.Errorf("FROM without an image")
			}
			st.image = f[0]
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if instr == "ARG" {
				continue
			}
			return nil, fmt.Errorf("%s before the first FROM", instr)
		}
		st := stages[len(stages)-1]
		switch instr {
		case "ENV":
			// ENV K=V K2=V2, or the legacy ENV K V.
			if k, _, ok := strings.Cut(args, "="); ok && !strings.ContainsAny(k, " \t") {
				for _, kv := range strings.Fields(args) {
					k, v, _ := strings.Cut(kv, "=")
					st.env = append(st.env, [2]string{k, strings.Trim(v, `"'`)})
				}
			} else {
				k, v, _ := strings.Cut(args, " ")
				st.env = append(st.env, [2]string{k, strings.Trim(strings.TrimSpace(v), `"'`)})
			}
		case "EXPOSE":
			for _, p := range strings.Fields(args) {
				st.expose = append(st.expose, strings.TrimSuffix(p, "/tcp"))
			}
		case "RUN":
			st.run = append(st.run, args)
		case "COPY":
			st.copies = append(st.copies, strings.Fields(args))
		case "USER":
			st.user = args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(args), &st.entrypoint); err != nil {
				return nil, fmt.Errorf("ENTRYPOINT: use the exec form [\"...\"] so that signals reach clerkgate: %v", err)
			}
		}
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return stages, nil
}

// envValue is the last value a stage's ENV gives name, and whether it gives
// one.
func (s *dockerStage) envValue(name string) (string, bool) {
	v, ok := "", false
	for _, kv := range s.env {
		if kv[0] == name {
			v, ok = kv[1], true
		}
	}
	return v, ok
}
