package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// logConfig is the logging part of the configuration (SPEC §2).
type logConfig struct {
	Level  slog.Level
	Format string // "json" or "text"
}

// parseLogConfig reads LOG_LEVEL and LOG_FORMAT. Every problem is returned,
// each naming its variable.
func parseLogConfig(getenv func(string) string) (logConfig, []error) {
	cfg := logConfig{Level: slog.LevelInfo, Format: "json"}
	var errs []error
	switch v := strings.ToLower(strings.TrimSpace(getenv("LOG_LEVEL"))); v {
	case "", "info":
	case "debug":
		cfg.Level = slog.LevelDebug
	case "warn", "warning":
		cfg.Level = slog.LevelWarn
	case "error":
		cfg.Level = slog.LevelError
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not one of debug, info, warn, error", v))
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("LOG_FORMAT"))); v {
	case "", "json":
	case "text":
		cfg.Format = "text"
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT: %q is not one of json, text", v))
	}
	return cfg, errs
}

// newLogger returns the process logger, writing to w.
func newLogger(w io.Writer, cfg logConfig) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// accessWriter is where the HTTP server may write its access-log lines
// itself: w for the JSON format, whose lines it formats exactly as slog's
// JSON handler does, only faster; nil for the text format, whose lines go
// through the logger. w must take each Write as one whole line, as
// bufferedWriter does.
func accessWriter(w io.Writer, cfg logConfig) io.Writer {
	if cfg.Format != "json" {
		return nil
	}
	return w
}

// secret is a string that never reaches a log line: slog shows it masked.
type secret string

// LogValue implements slog.LogValuer. It keeps the key's prefix (sk_test_,
// whsec_) so that an operator can tell which kind of key was configured.
func (s secret) LogValue() slog.Value {
	if s == "" {
		return slog.StringValue("")
	}
	for _, prefix := range []string{"sk_test_", "sk_live_", "sk_", "whsec_"} {
		if strings.HasPrefix(string(s), prefix) {
			return slog.StringValue(prefix + "****")
		}
	}
	return slog.StringValue("****")
}

// joinErrors turns a list of configuration problems into one error of one
// line, so that they are all reported at once.
func joinErrors(prefix string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return fmt.Errorf("%s: %s", prefix, strings.Join(msgs, "; "))
}

// logFlushInterval is how long a log line may wait in the buffer.
const logFlushInterval = 100 * time.Millisecond

// bufferedWriter batches log lines: one write system call per flush
// instead of one per request line, which is a tenth of a request's cost
// under load. Lines reach w within logFlushInterval, or at once when the
// buffer fills, and at Close. Each Write (one slog record) stays whole.
type bufferedWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newBufferedWriter(w io.Writer) *bufferedWriter {
	b := &bufferedWriter{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *bufferedWriter) loop() {
	defer close(b.done)
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.mu.Lock()
			b.w.Flush()
			b.mu.Unlock()
		}
	}
}

// Close flushes what is buffered and stops the flusher.
func (b *bufferedWriter) Close() error {
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}
