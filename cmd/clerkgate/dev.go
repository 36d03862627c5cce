package main

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
	"github.com/clerkgate/clerkgate/internal/usersync"
)

// devSeed is what "dev" puts into a new emulator: SPEC §1's seeded users.
//
//go:embed devseed.yaml
var devSeed []byte

// devTokenTTL is the lifetime of the printed dev tokens.
const devTokenTTL = 30 * 24 * time.Hour

// runDev runs the service with an embedded emulator until ctx is cancelled.
func runDev(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", "[flags]",
		"Runs the service with an embedded Clerk emulator on a second port, a SQLite\n"+
			"database and seeded users (alice@example.com, admin; bob@example.com, member;\n"+
			"the organization acme). When ready it prints KEY=value lines that a shell can\n"+
			"source (CLERKGATE_URL, CLERK_API_URL, CLERK_SECRET_KEY, TOKEN_ALICE, ...), then\n"+
			"a curl line. State (database and emulator) lives in --data-dir, so a restart\n"+
			"keeps users and the printed tokens. Apart from the Clerk keys and URLs it\n"+
			"supplies itself, dev honours the configuration of serve.")
	fl := addServiceFlags(fs, defaultAddr)
	clerkAddr := fs.String("clerk-addr", "127.0.0.1:8081", "listen `address` of the embedded emulator")
	dataDir := fs.String("data-dir", "", "`directory` of the dev database and emulator state (default clerkgate-dev in the temporary directory)")
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return err
	}
	dir := *dataDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "clerkgate-dev")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	if _, _, err := net.SplitHostPort(*clerkAddr); err != nil {
		return fmt.Errorf("--clerk-addr: %q is not host:port", *clerkAddr)
	}
	logCfg, logErrs := parseLogConfig(getenv)
	if err := joinErrors("configuration", logErrs); err != nil {
		return err
	}
	logOut := newBufferedWriter(stderr)
	defer logOut.Close()
	log := newLogger(logOut, logCfg)

	// The emulator first: the service's configuration points at it.
	statePath := filepath.Join(dir, "emulator-state.json")
	emu, err := openDevEmulator(statePath, log)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	emuLn, err := lc.Listen(ctx, "tcp", *clerkAddr)
	if err != nil {
		return fmt.Errorf("--clerk-addr: %w", err)
	}
	emuSrv := &http.Server{Handler: emu, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go emuSrv.Serve(emuLn)
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		emuSrv.Shutdown(sctx)
		if err := emu.SaveFile(statePath); err != nil {
			log.Error("saving the emulator state", slog.String("error", err.Error()))
		}
	}()
	apiURL := baseURL(emuLn.Addr())
	webhookSecret, err := devWebhookSecret(filepath.Join(dir, "webhook-secret"))
	if err != nil {
		return err
	}
	supplied := map[string]string{
		"CLERK_SECRET_KEY":             emu.SecretKey(),
		"CLERK_API_URL":                apiURL,
		"CLERK_ISSUER":                 emu.Issuer(),
		"CLERK_JWT_KEY":                "",
		"CLERK_AUTHORIZED_PARTIES":     "",
		"CLERK_WEBHOOK_SIGNING_SECRET": webhookSecret,
	}
	devEnv := func(k string) string {
		if v, ok := supplied[k]; ok {
			return v
		}
		if k == "DATABASE_URL" && getenv(k) == "" {
			return "sqlite://" + filepath.Join(dir, "clerkgate.db")
		}
		return getenv(k)
	}
	cfg, err := parseServiceConfig(devEnv, fl, defaultAddr)
	if err != nil {
		return err
	}
	log.Info("configuration", slog.Any("config", cfg), slog.String("data_dir", dir))
	svc, err := newService(ctx, cfg, log, accessWriter(logOut, logCfg))
	if err != nil {
		return err
	}
	defer svc.close()
	counts, err := svc.syncer.Reconcile(ctx, svc.reconcileClerk(), usersync.ReconcileOptions{})
	if err != nil {
		return fmt.Errorf("dev: reconciling the store with the emulator: %w", err)
	}
	log.Info("store reconciled with the emulator", slog.String("counts", counts.String()))
	ln, mln, err := listenService(ctx, cfg)
	if err != nil {
		return err
	}
	tokens, err := devTokens(emu)
	if err != nil {
		ln.Close()
		return err
	}
	url := baseURL(ln.Addr())
	// The emulator's webhooks go to the service, as Clerk's would.
	if err := emu.AddWebhookEndpoint(url+"/webhooks/clerk", webhookSecret); err != nil {
		ln.Close()
		return fmt.Errorf("dev: %w", err)
	}
	defer emu.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "CLERKGATE_URL=%s\nCLERK_API_URL=%s\nCLERK_SECRET_KEY=%s\nCLERK_WEBHOOK_SIGNING_SECRET=%s\nCLERK_ISSUER=%s\n",
		url, apiURL, emu.SecretKey(), webhookSecret, emu.Issuer())
	for _, t := range tokens {
		fmt.Fprintf(&b, "TOKEN_%s=%s\n", t.name, t.jwt)
	}
	fmt.Fprintf(&b, "# try: curl -H \"Authorization: Bearer $TOKEN_ALICE\" %s/auth/me\n", url)
	if _, err := stdout.Write(b.Bytes()); err != nil {
		ln.Close()
		return fmt.Errorf("dev: writing the ready lines: %w", err)
	}
	log.Info("dev ready", slog.String("url", url), slog.String("clerk_api_url", apiURL))
	return svc.run(ctx, ln, mln)
}

// openDevEmulator restores the emulator of a previous run, or starts a new
// one, and seeds it (seeding keeps what exists).
func openDevEmulator(statePath string, log *slog.Logger) (*clerkemu.Emulator, error) {
	state, err := clerkemu.LoadFile(statePath)
	if err != nil {
		return nil, err
	}
	emu, err := clerkemu.New(clerkemu.Options{State: state, Logger: log, Name: "clerkgate-dev"})
	if err != nil {
		return nil, fmt.Errorf("dev: the emulator state in the data directory cannot be used (delete it to start afresh): %w", err)
	}
	if _, err := emu.Seed(bytes.NewReader(devSeed)); err != nil {
		return nil, fmt.Errorf("dev: seeding: %w", err)
	}
	if err := emu.SaveFile(statePath); err != nil {
		return nil, err
	}
	return emu, nil
}

// devWebhookSecret reads the dev webhook secret, or makes and keeps one.
func devWebhookSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("dev: %w", err)
	}
	key := make([]byte, 24)
	rand.Read(key)
	s := "whsec_" + base64.StdEncoding.EncodeToString(key)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("dev: %w", err)
	}
	return s, nil
}

type devToken struct{ name, jwt string }

// devTokens makes a long-lived token for each seeded user, with the seeded
// organization active.
func devTokens(emu *clerkemu.Emulator) ([]devToken, error) {
	org, err := emu.GetOrganization("acme")
	if err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	var out []devToken
	for _, name := range []string{"alice", "bob"} {
		u, err := emu.GetUser("user_" + name)
		if err != nil {
			return nil, fmt.Errorf("dev: %w", err)
		}
		s, err := emu.CreateSession(u.ID, org.ID)
		if err != nil {
			return nil, fmt.Errorf("dev: %w", err)
		}
		jwt, err := emu.SessionToken(s.ID, devTokenTTL)
		if err != nil {
			return nil, fmt.Errorf("dev: %w", err)
		}
		out = append(out, devToken{name: strings.ToUpper(name), jwt: jwt})
	}
	return out, nil
}
