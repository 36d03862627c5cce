// Command legacy-api is an existing API with its own JWT login, the
// "before" of clerkgate's migration guide (docs/migration.md): the API of
// package app with two demo users.
//
//	LEGACY_JWT_SECRET       the HS256 secret of its tokens (required)
//	LEGACY_API_ADDR         listen address (default 127.0.0.1:9000)
//	LEGACY_TRUST_GATEWAY=1  read the caller from clerkgate's X-Clerkgate-User-Id
//
// Alone:
//
//	LEGACY_JWT_SECRET=dev-secret go run ./examples/legacy-api
//	curl -d '{"email":"ann@example.com","password":"ann-password"}' localhost:9000/auth/login
//	curl -H "Authorization: Bearer $ACCESS_TOKEN" localhost:9000/api/profile
//
// Behind clerkgate, with a policy that names it as upstream and the same
// secret in its legacy block (see docs/migration.md), legacy tokens and
// Clerk session tokens both reach /api/profile through clerkgate.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clerkgate/clerkgate/examples/legacy-api/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "legacy-api:", err)
		os.Exit(1)
	}
}

// DemoUsers are the users of the demo: ids as the old database has them.
func DemoUsers() ([]app.User, error) {
	var users []app.User
	for _, u := range []struct{ id, email, password, first, last, role string }{
		{"1001", "ann@example.com", "ann-password", "Ann", "Lee", "admin"},
		{"1002", "bob@example.com", "bob-password", "Bob", "Martin", "member"},
	} {
		h, err := app.HashPassword(u.password)
		if err != nil {
			return nil, err
		}
		users = append(users, app.User{ID: u.id, Email: u.email, PasswordHash: h, FirstName: u.first, LastName: u.last, Role: u.role})
	}
	return users, nil
}

// run serves the API until ctx ends.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	secret := getenv("LEGACY_JWT_SECRET")
	if secret == "" {
		return errors.New("LEGACY_JWT_SECRET is required")
	}
	addr := getenv("LEGACY_API_ADDR")
	if addr == "" {
		addr = "127.0.0.1:9000"
	}
	users, err := DemoUsers()
	if err != nil {
		return err
	}
	h, err := app.New(app.Options{Secret: []byte(secret), Users: users, TrustGateway: getenv("LEGACY_TRUST_GATEWAY") == "1"})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Info("listening", "url", "http://"+ln.Addr().String())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
