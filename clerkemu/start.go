package clerkemu

import (
	"net/http/httptest"
	"testing"
)

// Server is an emulator listening on a loopback address.
type Server struct {
	*Emulator
	// URL is the base URL, without /v1: @clerk/backend's apiUrl and
	// CLERK_API_URL take this form.
	URL string
	// APIURL is URL + "/v1", the base URL the Go SDK takes.
	APIURL string

	srv *httptest.Server
}

// Start starts an emulator on 127.0.0.1 for the test tb: one call, closed
// by tb's cleanup. It fails the test (tb.Fatal) if opts are invalid.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	e, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(e)
	s := &Server{Emulator: e, URL: srv.URL, APIURL: srv.URL + "/v1", srv: srv}
	tb.Cleanup(s.Close)
	return s
}

// Close shuts the server down, then stops webhook delivery (see
// [Emulator.Close]); it is safe to call more than once.
func (s *Server) Close() {
	s.srv.Close()
	s.Emulator.Close()
}
