package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/clerkgate/clerkgate/internal/usersync"
)

// runSync reconciles the local user store with Clerk once and prints the
// counts.
func runSync(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("sync", "[flags]",
		"Reconciles the local user store with Clerk: pages through every Clerk user\n"+
			"(500 a page), stores it (a newer stored version wins, so it is safe while\n"+
			"webhooks arrive), links local users without a Clerk id by external_id or\n"+
			"verified email, and marks users gone from Clerk as deleted (each confirmed\n"+
			"with Clerk first). Every step is idempotent: an interrupted run is finished\n"+
			"by running it again. Configured like serve (CLERK_SECRET_KEY, CLERK_API_URL,\n"+
			"DATABASE_URL).")
	fl := addServiceFlags(fs, defaultAddr)
	dryRun := fs.Bool("dry-run", false, "print what would change, change nothing")
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return err
	}
	cfg, err := parseServiceConfig(getenv, fl, defaultAddr)
	if err != nil {
		return err
	}
	if cfg.SecretKey == "" {
		return fmt.Errorf("configuration: CLERK_SECRET_KEY: sync needs the Backend API")
	}
	log := newLogger(stderr, cfg.Log)
	svc, err := newService(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	defer svc.close()
	svc.startRedis(ctx) // the running instances hear of the users this run changes
	counts, err := svc.syncer.Reconcile(ctx, svc.reconcileClerk(), usersync.ReconcileOptions{
		DryRun: *dryRun,
		Progress: func(c usersync.Counts) {
			log.Info("sync progress", slog.String("counts", c.String()))
		},
		// A dry run prints what it would change, a line a user, ids only.
		OnChange: func(ch usersync.Change) {
			if *dryRun {
				fmt.Fprintln(stdout, changeLine(ch))
			}
		},
	})
	prefix := "sync"
	if *dryRun {
		prefix = "sync (dry run: nothing changed)"
	}
	fmt.Fprintf(stdout, "%s: %s\n", prefix, counts)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// changeLine is the dry run's line of one change: "would create
// user_...", "would update user_... (usr_...)".
func changeLine(ch usersync.Change) string {
	line := "would " + ch.Action + " " + ch.ClerkUserID
	if ch.LocalID != "" {
		line += " (" + ch.LocalID + ")"
	}
	return line
}
