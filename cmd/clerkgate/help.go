package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// runFunc is the signature every command shares with run itself.
type runFunc func(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error

// command is one entry of the command list. A nil run means the command
// is part of the product but not built yet.
type command struct {
	name    string
	summary string
	run     runFunc
}

// commands lists every command of the product, in the order "clerkgate
// help" shows them.
var commands = []command{
	{name: "serve", summary: "run the service: auth API, webhook receiver, proxy and forward-auth", run: runServe},
	{name: "dev", summary: "serve plus an embedded Clerk emulator and seeded users, for local work", run: runDev},
	{name: "emulator", summary: "run the Clerk emulator alone (Backend API subset, JWKS, session tokens)", run: runEmulator},
	{name: "migrate", summary: "database migrations: migrate up | migrate status", run: runMigrate},
	{name: "sync", summary: "reconcile the local user store with Clerk", run: runSync},
	{name: "import-legacy", summary: "push local users without a Clerk id into Clerk, then link them", run: runImportLegacy},
	{name: "token", summary: "print a session token for a user from an emulator", run: runToken},
	{name: "version", summary: "print version, commit and Go version", run: runVersion},
	{name: "help", summary: "print this help, or a command's: clerkgate help <command>"},
}

// lookupCommand finds a command by name. "help" is resolved here rather
// than in the table, which it reads.
func lookupCommand(name string) (command, bool) {
	if name == "help" {
		return command{name: "help", run: runHelp}, true
	}
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// printUsage writes the top-level usage to w.
func printUsage(w io.Writer) error {
	var b strings.Builder
	b.WriteString("clerkgate puts Clerk authentication in front of a backend API.\n\n")
	b.WriteString("Usage:\n  clerkgate <command> [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		summary := c.summary
		if c.name != "help" && c.run == nil {
			summary += " (not available yet)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\nRun 'clerkgate <command> -h' for the flags of a command.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// runHelp prints the top-level usage, or with one argument the usage of
// that command.
func runHelp(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch len(args) {
	case 0:
		return printUsage(stdout)
	case 1:
		cmd, ok := lookupCommand(args[0])
		if !ok {
			return usageErrorf("help: unknown command %q (run 'clerkgate help' for the list of commands)", args[0])
		}
		if cmd.name == "help" {
			return printUsage(stdout)
		}
		if cmd.run == nil {
			_, err := fmt.Fprintf(stdout, "clerkgate %s: %s.\n\nThis command is not available yet.\n", cmd.name, cmd.summary)
			return err
		}
		return cmd.run(ctx, []string{"-h"}, getenv, stdin, stdout, stderr)
	default:
		return usageErrorf("help: too many arguments (usage: clerkgate help [command])")
	}
}

// newFlagSet returns a flag set for a command that reports errors to its
// caller instead of printing them, and whose usage (for -h) starts with
// the given synopsis and description.
func newFlagSet(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage:\n  clerkgate %s %s\n\n%s\n", name, synopsis, description)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if !hasFlags {
			return
		}
		fmt.Fprintf(w, "\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			typ, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  --%s", f.Name)
			if typ != "" {
				fmt.Fprintf(w, " %s", typ)
			}
			fmt.Fprintf(w, "\n      %s", usage)
			if f.DefValue != "" {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(w)
		})
	}
	return fs
}

// parseFlags parses args with fs. For -h or --help it prints the usage on
// stdout and reports helped; a bad flag or a stray argument is a
// *usageError of one line.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (helped bool, err error) {
	err = fs.Parse(args)
	if err == flag.ErrHelp {
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(io.Discard)
		return true, nil
	}
	if err != nil {
		return false, usageErrorf("%s: %v (run 'clerkgate %s -h')", fs.Name(), err, fs.Name())
	}
	if fs.NArg() > 0 {
		return false, usageErrorf("%s: unexpected argument %q (run 'clerkgate %s -h')", fs.Name(), fs.Arg(0), fs.Name())
	}
	return false, nil
}
