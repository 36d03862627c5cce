package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/verify"
)

// shutdownTimeout bounds the graceful shutdown of a server once the
// context is cancelled.
const shutdownTimeout = 10 * time.Second

// emulatorConfig is the configuration of "clerkgate emulator", built and
// validated before anything starts.
type emulatorConfig struct {
	Addr          string
	SecretKey     string  // empty: the emulator generates one
	Issuer        string  // empty: the emulator's default
	Seed          string  // path of the seed file, or ""
	SeedData      []byte  // its content, read while the flags are checked
	State         string  // path of the state file, or ""
	StateData     []byte  // its content; nil when there is none yet
	WebhookURLs   urlList // where to send webhooks; empty: none
	WebhookSecret string  // whsec_... that signs them
	Log           logConfig
}

// urlList is a flag that may be repeated and takes comma-separated lists.
type urlList []string

// String returns the URLs, comma-separated.
func (l *urlList) String() string { return strings.Join(*l, ",") }

// Set adds the comma-separated URLs of one flag; blanks are skipped.
func (l *urlList) Set(v string) error {
	for u := range strings.SplitSeq(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			*l = append(*l, u)
		}
	}
	return nil
}

// parseEmulatorConfig reads the flags and the environment. helped reports
// that -h was given and the usage printed.
func parseEmulatorConfig(args []string, getenv func(string) string, stdout io.Writer) (cfg emulatorConfig, helped bool, err error) {
	fs := newFlagSet("emulator", "[flags]",
		"Runs a local Clerk emulator: a Backend API subset under /v1, JWKS and session\n"+
			"tokens, with all state in memory; --state keeps it in a file across restarts.\n"+
			"When it listens it prints KEY=value lines on standard output that a shell can\n"+
			"source: CLERK_API_URL, CLERK_SECRET_KEY, CLERK_JWT_KEY and CLERK_ISSUER. Logs\n"+
			"go to standard error (LOG_LEVEL, LOG_FORMAT). With --webhook-url and\n"+
			"--webhook-secret every change is sent as a Svix-signed Clerk webhook, retried\n"+
			"on Svix's schedule; faults are set at /__emulator/faults.")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8081", "listen `address` (port 0 picks a free port)")
	fs.StringVar(&cfg.SecretKey, "secret-key", "", "Backend API secret `key` sk_... (default $CLERK_SECRET_KEY, else generated)")
	fs.StringVar(&cfg.Issuer, "issuer", "", "`iss` of the session tokens (default the emulator's https://clerk.<name>.emulator style issuer)")
	fs.StringVar(&cfg.Seed, "seed", "", "YAML or JSON `file` of users and organizations to create at start; those that exist are kept")
	fs.StringVar(&cfg.State, "state", "", "`file` that keeps the state across restarts: loaded at start if it exists, saved after seeding and at shutdown (it holds the secret key and the signing keys: mode 0600)")
	fs.Var(&cfg.WebhookURLs, "webhook-url", "`URL` to send Svix-signed webhooks to; repeat it or separate URLs with commas (needs --webhook-secret)")
	fs.StringVar(&cfg.WebhookSecret, "webhook-secret", "", "whsec_... `secret` that signs the webhooks (needs --webhook-url)")
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return cfg, helped, err
	}

	var errs []error
	if cfg.SecretKey == "" {
		cfg.SecretKey = strings.TrimSpace(getenv("CLERK_SECRET_KEY"))
	}
	if cfg.SecretKey != "" && !strings.HasPrefix(cfg.SecretKey, "sk_") {
		errs = append(errs, errors.New("--secret-key (or CLERK_SECRET_KEY): must start with sk_"))
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr: %q is not host:port", cfg.Addr))
	}
	if cfg.Issuer != "" {
		if u, err := url.Parse(cfg.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--issuer: %q is not an http(s) URL", cfg.Issuer))
		}
	}
	if cfg.Seed != "" {
		if cfg.SeedData, err = os.ReadFile(cfg.Seed); err != nil {
			errs = append(errs, fileError("--seed", cfg.Seed, err))
		}
	}
	if cfg.State != "" {
		if cfg.StateData, err = clerkemu.LoadFile(cfg.State); err != nil {
			errs = append(errs, fileError("--state", cfg.State, err))
		}
	}
	errs = append(errs, checkWebhookFlags(cfg.WebhookURLs, cfg.WebhookSecret)...)
	var logErrs []error
	cfg.Log, logErrs = parseLogConfig(getenv)
	errs = append(errs, logErrs...)
	return cfg, false, joinErrors("emulator", errs)
}

// checkWebhookFlags checks --webhook-url and --webhook-secret: both or
// neither, http(s) URLs, a secret verify accepts. Errors never show the
// secret.
func checkWebhookFlags(urls []string, sec string) []error {
	var errs []error
	switch {
	case len(urls) == 0 && sec == "":
		return nil
	case len(urls) == 0:
		return []error{errors.New("--webhook-secret needs --webhook-url")}
	case sec == "":
		errs = append(errs, errors.New("--webhook-url needs --webhook-secret"))
	default:
		if _, err := verify.NewWebhook([]string{sec}, verify.WebhookOptions{}); err != nil {
			errs = append(errs, errors.New("--webhook-secret: must be whsec_ followed by standard base64"))
		}
	}
	for _, raw := range urls {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--webhook-url: %q is not an http(s) URL", raw))
		}
	}
	return errs
}

// runEmulator runs the Clerk emulator until ctx is cancelled.
func runEmulator(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, helped, err := parseEmulatorConfig(args, getenv, stdout)
	if helped || err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.Log)

	emu, err := newEmulator(cfg, logger)
	if err != nil {
		return err
	}
	defer emu.Close() // stops webhook delivery on every path; a no-op after stopWebhooks
	// saveState writes the state file, if any; it runs at start, so that a
	// crash keeps the keys that signed the tokens handed out, and at the end.
	saveState := func() error {
		if cfg.State == "" {
			return nil
		}
		if err := emu.SaveFile(cfg.State); err != nil {
			return fmt.Errorf("emulator: saving --state %s: %w", cfg.State, err)
		}
		logger.Debug("emulator state saved", slog.String("file", cfg.State))
		return nil
	}
	if err := saveState(); err != nil {
		return err
	}
	jwtKey, err := pemBody(emu.PublicKeyPEM())
	if err != nil {
		return fmt.Errorf("emulator: public key: %w", err)
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	apiURL := baseURL(ln.Addr())
	srv := &http.Server{
		Handler:           emu,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	keySource := "flag or CLERK_SECRET_KEY"
	switch {
	case cfg.SecretKey == "" && cfg.StateData != nil:
		keySource = "state file"
	case cfg.SecretKey == "":
		keySource = "generated"
	}
	logger.Info("emulator listening",
		slog.String("api_url", apiURL),
		slog.String("issuer", emu.Issuer()),
		slog.String("kid", emu.KeyID()),
		slog.Any("secret_key", secret(emu.SecretKey())),
		slog.String("secret_key_source", keySource),
		slog.Int("webhook_endpoints", len(cfg.WebhookURLs)))

	_, err = fmt.Fprintf(stdout, "CLERK_API_URL=%s\nCLERK_SECRET_KEY=%s\nCLERK_JWT_KEY=%s\nCLERK_ISSUER=%s\n",
		apiURL, emu.SecretKey(), jwtKey, emu.Issuer())
	if err != nil {
		_ = srv.Close()
		<-serveErr
		return fmt.Errorf("emulator: writing the ready lines: %w", err)
	}

	select {
	case err := <-serveErr:
		if serr := saveState(); serr != nil {
			return fmt.Errorf("emulator: %w; %w", err, serr)
		}
		return fmt.Errorf("emulator: %w", err)
	case <-ctx.Done():
	}
	logger.Info("emulator shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
		<-serveErr
		if serr := saveState(); serr != nil {
			return fmt.Errorf("emulator: shutdown: %w; %w", err, serr)
		}
		return fmt.Errorf("emulator: shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		if serr := saveState(); serr != nil {
			return fmt.Errorf("emulator: %w; %w", err, serr)
		}
		return fmt.Errorf("emulator: %w", err)
	}
	stopWebhooks(shutdownCtx, emu, logger)
	if err := saveState(); err != nil {
		return err
	}
	logger.Info("emulator stopped")
	return nil
}

// webhookDrainTimeout bounds the wait for webhooks still pending at
// shutdown; those left then are dropped.
const webhookDrainTimeout = 3 * time.Second

// stopWebhooks lets pending webhooks finish for a moment, then stops
// delivery.
func stopWebhooks(ctx context.Context, emu *clerkemu.Emulator, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, webhookDrainTimeout)
	defer cancel()
	_ = emu.WaitWebhooks(ctx)
	emu.Close()
	if st := emu.WebhookStats(); st.Messages > 0 {
		logger.Info("emulator webhooks stopped", slog.Int("delivered", st.Delivered),
			slog.Int("failed_attempts", st.Failed), slog.Int("gave_up", st.GaveUp), slog.Int("dropped", st.Dropped))
	}
}

// newEmulator creates the emulator, restored from the state file when
// there is one, and seeds it.
func newEmulator(cfg emulatorConfig, logger *slog.Logger) (*clerkemu.Emulator, error) {
	opts := clerkemu.Options{
		SecretKey: cfg.SecretKey,
		Issuer:    cfg.Issuer,
		Logger:    logger,
		State:     cfg.StateData,
	}
	for _, u := range cfg.WebhookURLs {
		opts.Webhooks = append(opts.Webhooks, clerkemu.WebhookEndpoint{URL: u, Secret: cfg.WebhookSecret})
	}
	emu, err := clerkemu.New(opts)
	switch {
	case err != nil && cfg.StateData != nil:
		return nil, fmt.Errorf("emulator: --state %s: %w", cfg.State, err)
	case err != nil:
		return nil, fmt.Errorf("emulator: %w", err)
	case cfg.StateData != nil:
		logger.Info("emulator state restored", slog.String("file", cfg.State))
	}
	if cfg.SeedData == nil {
		return emu, nil
	}
	res, err := emu.Seed(bytes.NewReader(cfg.SeedData))
	if err != nil {
		emu.Close()
		return nil, fmt.Errorf("emulator: --seed %s: %w", cfg.Seed, err)
	}
	logger.Info("emulator seeded", slog.String("file", cfg.Seed),
		slog.Int("users", len(res.Users)), slog.Int("users_created", res.CreatedUsers),
		slog.Int("organizations", len(res.Organizations)), slog.Int("organizations_created", res.CreatedOrganizations),
		slog.Int("memberships_created", res.CreatedMemberships))
	return emu, nil
}

// fileError reports a problem with the file a flag names, without the
// repetitions of *fs.PathError: "--seed users.yaml: no such file or
// directory".
func fileError(flag, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %w", flag, path, err)
}

// pemBody returns the base64 body of a PEM block on one line, without the
// BEGIN and END lines: the form CLERK_JWT_KEY accepts in an env file.
func pemBody(pemText string) (string, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return "", errors.New("not PEM")
	}
	return base64.StdEncoding.EncodeToString(block.Bytes), nil
}

// baseURL is the URL a client on this machine uses to reach a listener:
// an unspecified address (":8081", "0.0.0.0:8081") is reached on loopback.
func baseURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // Go listens dual-stack on "::", so IPv4 loopback works for both
	}
	return "http://" + net.JoinHostPort(host, port)
}
