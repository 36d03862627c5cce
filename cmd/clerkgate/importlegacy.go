package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/clerkgate/clerkgate/internal/clerkapi"
	"github.com/clerkgate/clerkgate/internal/legacy"
	"github.com/clerkgate/clerkgate/internal/policy"
)

// hasherName is the shape of a Clerk password_hasher name.
var hasherName = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

// runImportLegacy pushes the local users without a Clerk id into Clerk and
// links them (SPEC §1), then prints the counts.
func runImportLegacy(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("import-legacy", "[flags]",
		"Pushes the local users that have no Clerk id yet (the users of the old login)\n"+
			"into Clerk, then links them: POST /v1/users with external_id = the local id,\n"+
			"the email address (Clerk marks it verified), first and last name, the public\n"+
			"metadata with the local role, and the stored password digest (bcrypt unless\n"+
			"--password-hasher says otherwise) so that users keep their password; users\n"+
			"without a digest are created without a password. Banned local users are\n"+
			"skipped. A Clerk user whose external_id is the local id is linked, never\n"+
			"created twice, so an interrupted run is finished by running it again. An\n"+
			"email address Clerk already has is linked only when that Clerk user has the\n"+
			"local id as external_id, or none and the address as its verified primary\n"+
			"one; otherwise the user fails. 429 answers are waited out (Retry-After).\n"+
			"Prints created, linked, skipped and failed counts; exits 1 if any failed.\n"+
			"Configured by CLERK_SECRET_KEY, CLERK_API_URL, DATABASE_URL and\n"+
			"CLERKGATE_POLICY (its role mapping).")
	dbURL := fs.String("database-url", "", "postgres://... or sqlite:///path/file.db (default $DATABASE_URL, else "+defaultDatabaseURL+")")
	policyPath := fs.String("policy", "", "policy `file` (default $CLERKGATE_POLICY, else the built-in policy)")
	dryRun := fs.Bool("dry-run", false, "look users up in Clerk and print what would happen; change nothing")
	hasher := fs.String("password-hasher", "bcrypt", "Clerk's password_hasher of the stored digests")
	noMigrate := fs.Bool("no-migrate", false, "do not apply database migrations first")
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return err
	}

	var errs []error
	secretKey := strings.TrimSpace(getenv("CLERK_SECRET_KEY"))
	apiURL := apiBase(getenv("CLERK_API_URL"))
	if apiURL == "" {
		apiURL = defaultAPIURL
	}
	switch {
	case secretKey == "":
		errs = append(errs, errors.New("CLERK_SECRET_KEY: import-legacy needs the Backend API"))
	case !strings.HasPrefix(secretKey, "sk_"):
		errs = append(errs, errors.New("CLERK_SECRET_KEY: must start with sk_"))
	}
	if err := checkHTTPURL(apiURL); err != nil {
		errs = append(errs, fmt.Errorf("CLERK_API_URL: %w", err))
	}
	db := pick(dbURL, getenv, "DATABASE_URL")
	if db == "" {
		db = defaultDatabaseURL
	}
	if err := checkDatabaseURL(db); err != nil {
		errs = append(errs, fmt.Errorf("DATABASE_URL: %w", err))
	}
	if !hasherName.MatchString(*hasher) {
		errs = append(errs, fmt.Errorf("--password-hasher: %q is not a Clerk password hasher name such as bcrypt", *hasher))
	}
	logCfg, logErrs := parseLogConfig(getenv)
	errs = append(errs, logErrs...)
	pol := policy.Default()
	if path := pick(policyPath, getenv, "CLERKGATE_POLICY"); path != "" {
		p, err := policy.Load(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("CLERKGATE_POLICY: %w", err))
		}
		pol = p
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	log := newLogger(stderr, logCfg)

	st, err := openStore(ctx, db)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer st.Close()
	if !*noMigrate {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
	}
	clerk, err := clerkapi.New(clerkapi.Options{APIURL: apiURL, SecretKey: secretKey})
	if err != nil {
		return fmt.Errorf("CLERK_SECRET_KEY: %w", err)
	}
	defer clerk.Close()

	counts, err := legacy.Import(ctx, legacy.ImportOptions{
		Store:          st,
		Clerk:          clerk,
		Policy:         func() *policy.Policy { return pol },
		DryRun:         *dryRun,
		PasswordHasher: *hasher,
		RetryAfter:     clerkapi.RetryAfter,
		OnUser: func(o legacy.Outcome) {
			attrs := []slog.Attr{slog.String("user_id", o.LocalID), slog.String("action", o.Action)}
			if o.ClerkUserID != "" {
				attrs = append(attrs, slog.String("clerk_user_id", o.ClerkUserID))
			}
			level := slog.LevelDebug
			if o.Reason != "" {
				attrs = append(attrs, slog.String("reason", o.Reason))
				level = slog.LevelWarn
			}
			log.LogAttrs(ctx, level, "import-legacy user", attrs...)
		},
	})
	prefix := "import-legacy"
	if *dryRun {
		prefix = "import-legacy (dry run: nothing changed)"
	}
	fmt.Fprintf(stdout, "%s: %s\n", prefix, counts)
	switch {
	case err != nil:
		return fmt.Errorf("import-legacy stopped (run it again to resume): %w", err)
	case counts.Failed > 0 && !*dryRun:
		return fmt.Errorf("import-legacy: %d users could not be imported (see the log); fix them and run it again", counts.Failed)
	}
	return nil
}
