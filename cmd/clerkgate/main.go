// Command clerkgate puts Clerk authentication in front of a backend API.
//
// Run "clerkgate help" for the list of commands. Every command is one file
// of this package; main only wires the process to run, so that tests can
// call run with their own arguments, environment and buffers.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "clerkgate: %s\n", oneLine(err))
		os.Exit(exitCode(err))
	}
}

// run is the whole program: args[0] is the program name, args[1] the
// command. It returns a *usageError for bad command lines (exit status 2)
// and any other error for failures (exit status 1).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		return printUsage(stdout)
	}
	name, rest := args[1], args[2:]
	switch name {
	case "-h", "-help", "--help":
		return printUsage(stdout)
	}
	cmd, ok := lookupCommand(name)
	if !ok {
		return usageErrorf("unknown command %q (run 'clerkgate help' for the list of commands)", name)
	}
	if cmd.run == nil {
		return fmt.Errorf("%s is not available yet in this version of clerkgate (run 'clerkgate help')", cmd.name)
	}
	return cmd.run(ctx, rest, getenv, stdin, stdout, stderr)
}

// usageError reports a command line that cannot be parsed: an unknown
// command, an unknown flag or one whose value does not parse, a stray
// argument. main exits with status 2 for it. A well-formed command line
// with a bad configuration (a missing key, a malformed URL) is an ordinary
// error, status 1.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error returned by run onto the process exit status.
func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// oneLine keeps an error message on a single line, whatever a library put
// into it.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
