// Command replay sends GET -url once per token read from -in (one token a
// line), each as "Authorization: Bearer <token>", from -c keep-alive
// connections, and fails unless every answer is 200. bench/run.sh uses it
// to fill clerkgate's caches with many distinct tokens before reading the
// process's memory.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "`URL` to send every token to (required)")
	in := fs.String("in", "-", "`file` of tokens, one a line (- for standard input)")
	workers := fs.Int("c", 16, "concurrent keep-alive connections")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *workers < 1 {
		return errors.New("-url is required and -c must be positive")
	}
	src := io.Reader(os.Stdin)
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	var tokens []string
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			tokens = append(tokens, t)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(tokens) == 0 {
		return errors.New("no tokens")
	}

	start := time.Now()
	statuses, err := replay(ctx, *url, tokens, *workers)
	if err != nil {
		return err
	}
	d := time.Since(start)
	codes := make([]int, 0, len(statuses))
	for c := range statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d=%d", c, statuses[c]))
	}
	fmt.Fprintf(stdout, "replay: %d requests in %.1fs (%.0f/s), statuses %s\n",
		len(tokens), d.Seconds(), float64(len(tokens))/d.Seconds(), strings.Join(parts, " "))
	if statuses[http.StatusOK] != len(tokens) {
		return fmt.Errorf("%d of %d requests were not answered 200", len(tokens)-statuses[http.StatusOK], len(tokens))
	}
	return nil
}

// replay sends every token once and counts the answers by status.
func replay(ctx context.Context, url string, tokens []string, workers int) (map[int]int, error) {
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers},
	}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	statuses := map[int]int{}
	var firstErr error
	next := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			local := map[int]int{}
			for tok := range next {
				code, err := get(ctx, client, url, tok)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				local[code]++
			}
			mu.Lock()
			for c, n := range local {
				statuses[c] += n
			}
			mu.Unlock()
		})
	}
	for _, t := range tokens {
		if ctx.Err() != nil {
			break
		}
		next <- t
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return statuses, ctx.Err()
}

func get(ctx context.Context, client *http.Client, url, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
