package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a policy file, at a line of it (0 when
// the problem is not tied to a line, such as an empty file).
type Problem struct {
	Line    int
	Message string // names the offending key, such as `routes[2].methods[0]: ...`
}

// Error is returned by Parse and Load for a policy file that cannot be
// used. It lists every problem found, not just the first.
type Error struct {
	File     string
	Problems []Problem // ordered by line
}

// Error returns the problems on one line, each as "file:line: message",
// separated by "; ".
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// problems collects the Problems of one file as the parser finds them.
type problems struct {
	file string
	list []Problem
}

func (ps *problems) add(line int, format string, args ...any) {
	ps.list = append(ps.list, Problem{Line: line, Message: fmt.Sprintf(format, args...)})
}

// err returns an *Error listing what was collected, or nil.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := slices.Clone(ps.list)
	slices.SortStableFunc(list, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	return &Error{File: ps.file, Problems: list}
}
