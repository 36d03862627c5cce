package clerkapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
)

// errBodyTooLarge ends reading a response larger than MaxResponseBytes.
var errBodyTooLarge = errors.New("response body too large")

// record is what the transport saw of one call's HTTP exchange. The SDK
// hides the status of successful answers and of error answers that are not
// Clerk's JSON; the record keeps it for Observe and the error mapping. One
// record belongs to one call (it travels in the call's context), so
// concurrent calls never see each other's.
type record struct {
	status atomic.Int32
}

// Status returns the HTTP status of the last answer, or 0 if none came.
func (r *record) Status() int { return int(r.status.Load()) }

type recordKey struct{}

func withRecord(ctx context.Context, r *record) context.Context {
	return context.WithValue(ctx, recordKey{}, r)
}

// recordingTransport wraps the HTTP client's transport: it notes each
// answer's status in the call's record and bounds the body size.
type recordingTransport struct {
	base http.RoundTripper // nil means http.DefaultTransport
	max  int64
}

// RoundTrip implements http.RoundTripper.
func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if resp == nil {
		return resp, err
	}
	if rec, ok := req.Context().Value(recordKey{}).(*record); ok {
		rec.status.Store(int32(resp.StatusCode))
	}
	if resp.Body != nil {
		resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	}
	return resp, err
}

// limitedBody fails a read once more than its limit was read.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// CloseIdleConnections forwards to the wrapped transport, so that
// http.Client.CloseIdleConnections still reaches the pool.
func (t *recordingTransport) CloseIdleConnections() {
	type closer interface{ CloseIdleConnections() }
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if c, ok := base.(closer); ok {
		c.CloseIdleConnections()
	}
}
