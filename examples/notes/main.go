// Command notes is an example application that embeds clerkgate: a notes
// API whose routes are guarded by Clerk session tokens through
// github.com/clerkgate/clerkgate/middleware.
//
// Every user has their own notes; nobody else can read, change or even
// detect them (another user's note is 404). Users whose role grants
// notes:read_all (the "admin" role, which Clerk's org:admin maps to) can
// list every note on /admin/notes.
//
//	GET    /notes          the caller's notes            notes:read
//	POST   /notes          {"title","body"} → 201        notes:write
//	GET    /notes/{id}     one of the caller's notes     notes:read
//	PUT    /notes/{id}     {"title","body"} → 200        notes:write
//	DELETE /notes/{id}     → 204                         notes:write
//	GET    /admin/notes    every note                    notes:read_all
//	GET    /healthz        {"status":"ok"}               anyone
//
// Configuration, from the environment:
//
//	CLERK_JWT_KEY             the instance's PEM public key: verification without network
//	CLERK_SECRET_KEY          sk_...: fetch the key set from the Backend API instead
//	CLERK_API_URL             Backend API base, without /v1 (default https://api.clerk.com)
//	CLERK_ISSUER              exact expected iss (default: any Clerk issuer)
//	CLERK_AUTHORIZED_PARTIES  comma-separated origins allowed in azp
//	NOTES_ADDR                listen address (default 127.0.0.1:8090; -addr wins)
//
// With clerkgate's emulator and a token from it:
//
//	go run ./cmd/clerkgate dev   # prints CLERK_API_URL, CLERK_SECRET_KEY, TOKEN_ALICE, ...
//	CLERK_API_URL=... CLERK_SECRET_KEY=... go run ./examples/notes
//	curl -H "Authorization: Bearer $TOKEN_ALICE" -d '{"title":"hi"}' localhost:8090/notes
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/clerkgate/clerkgate/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

// config is the whole configuration, read once by loadConfig.
type config struct {
	addr   string
	verify verify.Options
}

// loadConfig reads flags and environment and reports every problem at once.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "listen address (overrides NOTES_ADDR)")
	if err := fs.Parse(args[1:]); err != nil {
		return config{}, err
	}
	var problems []string
	cfg := config{addr: *addr}
	if cfg.addr == "" {
		cfg.addr = getenv("NOTES_ADDR")
	}
	if cfg.addr == "" {
		cfg.addr = "127.0.0.1:8090"
	}
	if _, _, err := net.SplitHostPort(cfg.addr); err != nil {
		problems = append(problems, fmt.Sprintf("NOTES_ADDR %q is not host:port", cfg.addr))
	}
	v := &cfg.verify
	v.JWTKey = getenv("CLERK_JWT_KEY")
	if v.JWTKey == "" {
		sk := getenv("CLERK_SECRET_KEY")
		api := strings.TrimRight(getenv("CLERK_API_URL"), "/")
		if api == "" {
			api = "https://api.clerk.com"
		}
		switch u, err := url.Parse(api); {
		case sk == "":
			problems = append(problems, "set CLERK_JWT_KEY, or CLERK_SECRET_KEY to fetch the key set")
		case !strings.HasPrefix(sk, "sk_"):
			problems = append(problems, "CLERK_SECRET_KEY does not start with sk_")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			problems = append(problems, "CLERK_API_URL is not an http(s) URL")
		default:
			v.JWKSURL, v.SecretKey = api+"/v1/jwks", sk
		}
	}
	v.Issuer = getenv("CLERK_ISSUER")
	if parties := getenv("CLERK_AUTHORIZED_PARTIES"); parties != "" {
		v.AuthorizedParties = strings.Split(parties, ",")
	}
	if len(problems) > 0 {
		return config{}, errors.New(strings.Join(problems, "; "))
	}
	return cfg, nil
}

// run starts the server and serves until ctx ends. It prints
// "notes: listening on http://ADDR" on stdout once the listener is open.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	v, err := verify.New(cfg.verify)
	if err != nil {
		return err
	}
	v.Start(ctx)
	h, err := newServer(deps{Verifier: v, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "jwks", cfg.verify.JWKSURL != "")
	fmt.Fprintf(stdout, "notes: listening on http://%s\n", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
