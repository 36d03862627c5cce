package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
)

// runMigrate applies ("up") or lists ("status") database migrations.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "up|status [flags]",
		"Applies the pending database migrations (up) or lists them (status). Migrations\n"+
			"are versioned and run forward only. The database is DATABASE_URL.")
	dbURL := fs.String("database-url", "", "postgres://... or sqlite:///path/file.db (default $DATABASE_URL, else "+defaultDatabaseURL+")")
	if len(args) == 0 || (args[0] != "up" && args[0] != "status" && args[0] != "-h" && args[0] != "--help" && args[0] != "-help") {
		return usageErrorf("migrate: say 'migrate up' or 'migrate status' (run 'clerkgate migrate -h')")
	}
	sub := args[0]
	if sub == "up" || sub == "status" {
		args = args[1:]
	}
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return err
	}
	url := pick(dbURL, getenv, "DATABASE_URL")
	if url == "" {
		url = defaultDatabaseURL
	}
	if err := checkDatabaseURL(url); err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	st, err := openStore(ctx, url)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer st.Close()
	if sub == "up" {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
	}
	ms, err := st.MigrationStatus(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", sub, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range ms {
		when := "pending"
		if m.Applied {
			when = m.When
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", m.Version, m.Name, when)
	}
	return tw.Flush()
}
