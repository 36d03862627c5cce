package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/clerkgate/clerkgate/clerkemu"
)

// BenchmarkMe measures the service's whole handler (request id, access
// log to a file, metrics, verification from the cache, identity from the
// cache, JSON) for GET /auth/me, without the network: the part of a request
// that clerkgate adds to the HTTP server's own cost.
func BenchmarkMe(b *testing.B) {
	emu := clerkemu.Start(b, clerkemu.Options{})
	u, err := emu.CreateUser(clerkemu.UserParams{Email: "bench@example.com", PublicMetadata: map[string]any{"role": "admin"}})
	if err != nil {
		b.Fatal(err)
	}
	s, _ := emu.CreateSession(u.ID, "")
	tok, _ := emu.SessionToken(s.ID, time.Hour)
	dir := b.TempDir()
	env := serviceEnv(emu, "sqlite://"+dir+"/b.db")
	cfg, err := parseServiceConfig(getenvFrom(env), &serviceFlags{}, defaultAddr)
	if err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(dir + "/access.log")
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	logOut := newBufferedWriter(logFile) // as serve does
	defer logOut.Close()
	svc, err := newService(context.Background(), cfg, newLogger(logOut, cfg.Log), accessWriter(logOut, cfg.Log))
	if err != nil {
		b.Fatal(err)
	}
	defer svc.close()
	req := httptest.NewRequest("GET", "/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.RemoteAddr = "127.0.0.1:1234"
	rec := httptest.NewRecorder()
	svc.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		svc.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d", rec.Code)
		}
	}
}
