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
	r.AddAttrs(e.attrs()...)
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

func TestAppendRFC3339Nano(t *testing.T) {
	base := time.Date(2026, 11, 22, 3, 4, 5, 0, time.UTC)
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+30*60), time.FixedZone("west", -8*3600),
		time.FixedZone("odd", -(3*3600 + 7*60 + 30)), time.FixedZone("named-utc", 0), time.Local}
	var times []time.Time
	for _, ns := range []int{0, 1, 10, 100_000, 120_000_000, 123_456_789, 999_999_999, 500_000_000} {
		for _, d := range []time.Duration{0, time.Second, time.Hour, 24 * time.Hour * 400} {
			times = append(times, base.Add(d).Add(time.Duration(ns)))
		}
	}
	times = append(times, time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC))
	for _, tm := range times {
		for _, z := range zones {
			tz := tm.In(z)
			if got, want := string(appendRFC3339Nano(nil, tz)), tz.Format(time.RFC3339Nano); got != want {
				t.Fatalf("%v: got %s, want %s", tz, got, want)
			}
		}
	}
}

func BenchmarkAppendRFC3339Nano(b *testing.B) {
	utc := time.Date(2026, 11, 22, 3, 4, 5, 123_000_000, time.UTC)
	for _, tt := range []struct {
		name string
		t    time.Time
	}{{"utc", utc}, {"local", utc.In(time.Local)}, {"zone", utc.In(time.FixedZone("east", 5*3600+30*60))}} {
		b.Run(tt.name, func(b *testing.B) {
			buf := make([]byte, 0, 64)
			for b.Loop() {
				buf = appendRFC3339Nano(buf[:0], tt.t)
			}
		})
	}
}
