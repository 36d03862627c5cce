// Command target is the reference server of bench/run.sh: one handler that
// answers a small JSON document, served either bare (-mode none) or behind
// clerk-sdk-go v2's clerkhttp.RequireHeaderAuthorization (-mode sdk), so
// that clerkgate's whole-service figures have a floor and an SDK baseline
// measured in the same run.
//
// In sdk mode the middleware gets a per-client JWKS client for
// $CLERK_API_URL (without /v1) and $CLERK_SECRET_KEY, such as the ones
// "clerkgate emulator" prints. The server listens on -addr (port 0 picks a
// free port) and prints its base URL and a newline on standard output once
// it accepts connections.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
	clerkhttp "github.com/clerk/clerk-sdk-go/v2/http"
	"github.com/clerk/clerk-sdk-go/v2/jwks"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "target:", err)
		os.Exit(1)
	}
}

// body is what the handler answers in both modes.
var body = []byte(`{"ok":true,"service":"bench-target"}` + "\n")

// hello is the handler under test: a small JSON document.
func hello(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// newHandler returns hello bare (mode "none") or behind the SDK middleware
// (mode "sdk", which needs apiURL without /v1 and the secret key).
func newHandler(mode, apiURL, secretKey string) (http.Handler, error) {
	h := http.HandlerFunc(hello)
	switch mode {
	case "none":
		return h, nil
	case "sdk":
		if apiURL == "" || secretKey == "" {
			return nil, errors.New("-mode sdk needs CLERK_API_URL and CLERK_SECRET_KEY")
		}
		client := jwks.NewClient(&clerk.ClientConfig{BackendConfig: clerk.BackendConfig{
			URL: clerk.String(strings.TrimSuffix(strings.TrimRight(apiURL, "/"), "/v1") + "/v1"),
			Key: clerk.String(secretKey),
		}})
		return clerkhttp.RequireHeaderAuthorization(clerkhttp.JWKSClient(client))(h), nil
	}
	return nil, fmt.Errorf("-mode: %q is not none or sdk", mode)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("target", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "none", "none: the bare handler; sdk: behind clerk-sdk-go's RequireHeaderAuthorization")
	addr := fs.String("addr", "127.0.0.1:0", "listen `address`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, err := newHandler(*mode, getenv("CLERK_API_URL"), getenv("CLERK_SECRET_KEY"))
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(stdout, "http://%s\n", ln.Addr()); err != nil {
		srv.Close()
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
