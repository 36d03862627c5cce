package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is the release version, set at build time with
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/clerkgate
var version = "dev"

// buildInfo is what "clerkgate version" prints.
type buildInfo struct {
	Version  string
	Commit   string // VCS revision, "unknown" when the build recorded none
	Modified bool   // the work tree had uncommitted changes
	Go       string
}

// readBuildInfo combines the -ldflags version with what the Go toolchain
// recorded in the binary.
func readBuildInfo() buildInfo {
	bi := buildInfo{Version: version, Commit: "unknown", Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	if bi.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		bi.Version = info.Main.Version // installed with go install module@version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Commit = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	return bi
}

// runVersion prints version, commit and Go version, one per line.
func runVersion(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", "Prints the version, the commit and the Go version of this binary.")
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return err
	}
	bi := readBuildInfo()
	commit := bi.Commit
	if bi.Modified {
		commit += " (modified)"
	}
	_, err := fmt.Fprintf(stdout, "clerkgate %s\ncommit: %s\ngo: %s %s/%s\n", bi.Version, commit, bi.Go, runtime.GOOS, runtime.GOARCH)
	return err
}
