package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// slogAccessLine is the line slog's JSON handler writes for e at t, as
// logAccess did before it formatted lines itself.
func slogAccessLine(t time.Time, e *accessEntry) []byte {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil)
	r := slog.NewRecord(t, slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("request_id", e.requestID),
		slog.String("method", e.method),
		slog.String("route", e.route),
		slog.String("path", e.path),
		slog.Int("status", e.status),
		slog.Int64("bytes", e.bytes),
		slog.Float64("duration_ms", float64(e.duration.Microseconds())/1000),
		slog.String("remote_ip", e.remoteIP),
	)
	if err := h.Handle(context.Background(), r); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestAccessLineIsSlogs(t *testing.T) {
	at := time.Date(2026, 11, 22, 3, 4, 5, 123456789, time.UTC)
	plain := &accessEntry{requestID: "0123456789abcdef01234567", method: "GET", route: "GET /auth/me",
		path: "/auth/me", status: 200, bytes: 509, duration: 1234 * time.Microsecond, remoteIP: "127.0.0.1"}
	// An ordinary line is byte for byte slog's.
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("x", -5*3600)} {
		got, want := appendAccessJSON(nil, at.In(loc), plain), slogAccessLine(at.In(loc), plain)
		if !bytes.Equal(got, want) {
			t.Errorf("line\n got %s\nwant %s", got, want)
		}
	}
	// Client-controlled text (path, method) may be escaped differently
	// (< > & too), but decodes to the same values, on one line.
	hostile := []string{"/a\"b\\c", "/\n\r\t\x00\x1f", "/<script>&", "/\xff\xfe", "/\u2028\u2029", "/ü/日本", ""}
	durations := []time.Duration{0, time.Microsecond, 10 * time.Microsecond, 999 * time.Microsecond, time.Millisecond,
		1500 * time.Microsecond, 123456789 * time.Microsecond, time.Hour}
	for i, p := range hostile {
		e := *plain
		e.path, e.method, e.route = p, strings.ToUpper(p), "unmatched"
		e.duration = durations[i%len(durations)]
		got, want := appendAccessJSON(nil, at, &e), slogAccessLine(at, &e)
		if bytes.Count(got, []byte("\n")) != 1 || got[len(got)-1] != '\n' {
			t.Errorf("path %q: not one line: %q", p, got)
		}
		var g, w map[string]any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("path %q: %v in %s", p, err, got)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("path %q:\n got %v\nwant %v", p, g, w)
		}
	}
}

func TestAppendMillisIsEncodingJSONs(t *testing.T) {
	var us []int64
	for i := int64(0); i < 3000; i++ {
		us = append(us, i)
	}
	us = append(us, 10000, 10001, 10010, 10100, 99999, 123456789, 3_600_000_000, 1<<40+7)
	for _, v := range us {
		want, _ := json.Marshal(float64(v) / 1000)
		if got := appendMillis(nil, v); string(got) != string(want) {
			t.Errorf("%d us: got %s, want %s", v, got, want)
		}
	}
}
