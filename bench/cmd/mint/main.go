// Command mint writes many distinct, valid session tokens for one user of a
// Clerk emulator (or any Backend API that lets POST /v1/sessions create
// sessions), one per line, for bench/run.sh's memory measurement.
//
// It creates -sessions sessions (POST /v1/sessions) and asks for tokens
// (POST /v1/sessions/{id}/tokens) from -c goroutines over keep-alive
// connections; every token has its own jti, so every line differs, and
// mint checks that they do. CLERK_API_URL (without /v1) and
// CLERK_SECRET_KEY come from the environment.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mint:", err)
		os.Exit(1)
	}
}

// config is what run reads from flags and the environment.
type config struct {
	APIURL, SecretKey, UserID string
	N, Workers, Sessions      int
	TTL                       time.Duration
	Out                       string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	fs := flag.NewFlagSet("mint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.UserID, "user", "", "user `id` (user_...) to mint tokens for (required)")
	fs.IntVar(&cfg.N, "n", 100_000, "number of distinct tokens")
	fs.IntVar(&cfg.Workers, "c", 8, "concurrent requests")
	fs.IntVar(&cfg.Sessions, "sessions", 8, "number of sessions the tokens are spread over")
	fs.DurationVar(&cfg.TTL, "ttl", 2*time.Hour, "token lifetime")
	fs.StringVar(&cfg.Out, "o", "-", "output `file` (- for standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.APIURL = strings.TrimSuffix(strings.TrimRight(getenv("CLERK_API_URL"), "/"), "/v1")
	cfg.SecretKey = getenv("CLERK_SECRET_KEY")
	switch {
	case cfg.APIURL == "" || cfg.SecretKey == "":
		return errors.New("CLERK_API_URL and CLERK_SECRET_KEY are required")
	case cfg.UserID == "":
		return errors.New("-user is required")
	case cfg.N < 1 || cfg.Workers < 1 || cfg.Sessions < 1:
		return errors.New("-n, -c and -sessions must be positive")
	}

	start := time.Now()
	tokens, err := mint(ctx, cfg)
	if err != nil {
		return err
	}
	if err := write(cfg.Out, stdout, tokens); err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Fprintf(stderr, "mint: %d distinct tokens in %.1fs (%.0f/s)\n", len(tokens), d.Seconds(), float64(len(tokens))/d.Seconds())
	return nil
}

// write writes the tokens one a line to the file path, or to stdout when
// path is "-".
func write(path string, stdout io.Writer, tokens []string) error {
	var w *bufio.Writer
	var f *os.File
	if path == "-" {
		w = bufio.NewWriter(stdout)
	} else {
		var err error
		if f, err = os.Create(path); err != nil {
			return err
		}
		defer f.Close()
		w = bufio.NewWriter(f)
	}
	for _, t := range tokens {
		w.WriteString(t)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if f != nil {
		return f.Close()
	}
	return nil
}

// mint returns cfg.N distinct tokens.
func mint(ctx context.Context, cfg config) ([]string, error) {
	c := &client{
		base: cfg.APIURL + "/v1",
		key:  cfg.SecretKey,
		http: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers, MaxConnsPerHost: cfg.Workers},
		},
	}
	sessions := make([]string, cfg.Sessions)
	for i := range sessions {
		var s struct {
			ID string `json:"id"`
		}
		if err := c.post(ctx, "/sessions", map[string]any{"user_id": cfg.UserID}, &s); err != nil {
			return nil, fmt.Errorf("creating a session: %w", err)
		}
		if s.ID == "" {
			return nil, errors.New("creating a session: the answer has no id")
		}
		sessions[i] = s.ID
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tokens := make([]string, cfg.N)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Go(func() {
			body := map[string]any{"expires_in_seconds": int64(cfg.TTL / time.Second)}
			for i := range next {
				var t struct {
					JWT string `json:"jwt"`
				}
				path := "/sessions/" + sessions[(w+i)%len(sessions)] + "/tokens"
				if err := c.post(ctx, path, body, &t); err != nil {
					cancel(fmt.Errorf("creating token %d: %w", i, err))
					return
				}
				tokens[i] = t.JWT
			}
		})
	}
feed:
	for i := range tokens {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	seen := make(map[string]struct{}, len(tokens))
	for i, t := range tokens {
		if t == "" {
			return nil, fmt.Errorf("token %d is empty", i)
		}
		if _, dup := seen[t]; dup {
			return nil, fmt.Errorf("token %d repeats an earlier one", i)
		}
		seen[t] = struct{}{}
	}
	return tokens, nil
}

// client calls the Backend API with the secret key over keep-alive
// connections.
type client struct {
	base, key string
	http      *http.Client
}

func (c *client) post(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d: %.200s", path, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}
