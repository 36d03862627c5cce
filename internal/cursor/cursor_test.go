package cursor

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		created int64
		id      string
	}{
		{0, "user_1"},
		{1700000000123, "01HZX3"},
		{-1, "a:b:c"}, // the id may hold the separator
		{minMillis, "x"},
		{maxMillis, "é"},
	}
	for _, tt := range tests {
		c := Encode(tt.created, tt.id)
		created, id, ok := Decode(c)
		if !ok || created != tt.created || id != tt.id {
			t.Errorf("Decode(Encode(%d, %q)) = %d, %q, %v", tt.created, tt.id, created, id, ok)
		}
	}
}

// TestWireFormat pins the format, so that cursors issued before stay valid.
func TestWireFormat(t *testing.T) {
	if got, want := Encode(1700000000123, "u_1"), "MTcwMDAwMDAwMDEyMzp1XzE"; got != want {
		t.Errorf("Encode = %q, want %q", got, want)
	}
}

func TestDecodeGarbage(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := map[string]string{
		"empty":             "",
		"not base64":        "!!!",
		"padded base64":     base64.URLEncoding.EncodeToString([]byte("1:ab")),
		"standard alphabet": base64.RawStdEncoding.EncodeToString([]byte("1:a???")),
		"no separator":      enc("123"),
		"empty id":          enc("123:"),
		"empty time":        enc(":a"),
		"time not a number": enc("x1:a"),
		"time overflows":    enc("99999999999999999999:a"),
		"before year 1":     enc("-62135596800001:a"),
		"after year 9999":   enc("253402300800000:a"),
		"NUL in id":         enc("1:a\x00b"),
		"invalid UTF-8":     enc("1:a\xffb"),
		"too long":          enc("1:" + strings.Repeat("a", MaxLen)),
	}
	for name, c := range tests {
		if created, id, ok := Decode(c); ok {
			t.Errorf("%s: Decode(%q) = %d, %q, true; want false", name, c, created, id)
		}
	}
}
