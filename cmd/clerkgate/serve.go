package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
)

// runServe runs the service until ctx is cancelled.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[flags]",
		"Runs the clerkgate service: /auth/*, /healthz, /readyz and /metrics, configured\n"+
			"by the environment (CLERK_SECRET_KEY, CLERK_API_URL, CLERK_JWT_KEY, DATABASE_URL,\n"+
			"...; see the README). Flags win over their variables. Migrations run at start\n"+
			"unless --no-migrate.")
	fl := addServiceFlags(fs, defaultAddr)
	if helped, err := parseFlags(fs, args, stdout); helped || err != nil {
		return err
	}
	cfg, err := parseServiceConfig(getenv, fl, defaultAddr)
	if err != nil {
		return err
	}
	logOut := newBufferedWriter(stderr)
	defer logOut.Close()
	log := newLogger(logOut, cfg.Log)
	log.Info("configuration", slog.Any("config", cfg))
	svc, err := newService(ctx, cfg, log, accessWriter(logOut, cfg.Log))
	if err != nil {
		return err
	}
	defer svc.close()
	ln, mln, err := listenService(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info("listening", slog.String("url", baseURL(ln.Addr())))
	return svc.run(ctx, ln, mln)
}

// listenService binds the service's listeners before anything is printed,
// so a caller that reads the printed URL can connect at once.
func listenService(ctx context.Context, cfg serviceConfig) (ln, metricsLn net.Listener, err error) {
	var lc net.ListenConfig
	if ln, err = lc.Listen(ctx, "tcp", cfg.Addr); err != nil {
		return nil, nil, fmt.Errorf("CLERKGATE_ADDR: %w", err)
	}
	if cfg.MetricsAddr != "" {
		if metricsLn, err = lc.Listen(ctx, "tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("CLERKGATE_METRICS_ADDR: %w", err)
		}
	}
	return ln, metricsLn, nil
}
