package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplay(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer good") {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	var out strings.Builder
	good := write("good.txt", "good1\ngood2\n\ngood3\n")
	if err := run(t.Context(), []string{"-url", srv.URL, "-in", good, "-c", "2"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "3 requests") || !strings.Contains(out.String(), "200=3") {
		t.Errorf("output %q", out.String())
	}

	bad := write("bad.txt", "good1\nbad\n")
	if err := run(t.Context(), []string{"-url", srv.URL, "-in", bad}, io.Discard, io.Discard); err == nil {
		t.Error("no error when a request is refused")
	}
}
