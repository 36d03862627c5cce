package clerkemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// FaultMode is how a part of the emulator misbehaves.
type FaultMode string

// The fault modes.
const (
	// FaultOK answers normally; the empty mode means the same.
	FaultOK FaultMode = "ok"
	// FaultFail answers Fault.Status (default 500) with a Clerk error body.
	FaultFail FaultMode = "fail"
	// FaultSlow waits Fault.DelayMS (default 3000) before answering
	// normally; a client that gives up first gets nothing.
	FaultSlow FaultMode = "slow"
	// FaultDown closes the connection without an answer.
	FaultDown FaultMode = "down"
)

// Fault limits.
const (
	defaultFaultStatus = http.StatusInternalServerError
	defaultFaultDelay  = 3000 // ms
	maxFaultDelay      = 600_000
	maxFaultsBody      = 16 << 10
)

// Fault is the behaviour of one part of the emulator.
type Fault struct {
	// Mode is ok (or empty), fail, slow or down.
	Mode FaultMode `json:"mode"`
	// Status is the status fail answers, 400 to 599; 0 means 500.
	Status int `json:"status,omitempty"`
	// DelayMS is how long slow waits before it answers (0 means 3000); fail
	// and down wait that long too before they fail (0: at once). At most
	// 600000.
	DelayMS int `json:"delay_ms,omitempty"`
}

// Faults make the emulator misbehave, to test how clients cope. JWKS
// applies to GET /v1/jwks, API to every other request under /v1, before
// the secret key is checked, as in an outage. The Go helpers, webhooks and
// /__emulator/faults itself are never affected. As JSON, the form
// /__emulator/faults takes and answers:
//
//	{"jwks":{"mode":"ok|fail|slow|down","status":500,"delay_ms":3000},"api":{...}}
type Faults struct {
	// JWKS is the behaviour of GET /v1/jwks.
	JWKS Fault `json:"jwks"`
	// API is the behaviour of every other request under /v1.
	API Fault `json:"api"`
}

// faultState holds the current faults.
type faultState struct {
	mu sync.Mutex
	f  Faults
}

// normalize checks f and fills in its defaults.
func (f Fault) normalize(name string) (Fault, error) {
	switch f.Mode {
	case "", FaultOK:
		return Fault{Mode: FaultOK}, nil
	case FaultFail, FaultSlow, FaultDown:
	default:
		return f, fmt.Errorf("%s.mode must be ok, fail, slow or down", name)
	}
	if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
		return f, fmt.Errorf("%s.status must be between 400 and 599", name)
	}
	if f.DelayMS < 0 || f.DelayMS > maxFaultDelay {
		return f, fmt.Errorf("%s.delay_ms must be between 0 and %d", name, maxFaultDelay)
	}
	if f.Mode == FaultFail && f.Status == 0 {
		f.Status = defaultFaultStatus
	}
	if f.Mode != FaultFail {
		f.Status = 0
	}
	if f.Mode == FaultSlow && f.DelayMS == 0 {
		f.DelayMS = defaultFaultDelay
	}
	return f, nil
}

// SetFaults replaces the current faults; an invalid one is an error and
// changes nothing.
func (e *Emulator) SetFaults(f Faults) error {
	var err error
	if f.JWKS, err = f.JWKS.normalize("jwks"); err != nil {
		return fmt.Errorf("clerkemu: faults: %w", err)
	}
	if f.API, err = f.API.normalize("api"); err != nil {
		return fmt.Errorf("clerkemu: faults: %w", err)
	}
	e.faults.mu.Lock()
	e.faults.f = f
	e.faults.mu.Unlock()
	return nil
}

// ClearFaults makes everything answer normally again.
func (e *Emulator) ClearFaults() { _ = e.SetFaults(Faults{}) }

// Faults returns the current faults, modes spelled out.
func (e *Emulator) Faults() Faults {
	e.faults.mu.Lock()
	f := e.faults.f
	e.faults.mu.Unlock()
	if f.JWKS.Mode == "" {
		f.JWKS.Mode = FaultOK
	}
	if f.API.Mode == "" {
		f.API.Mode = FaultOK
	}
	return f
}

// withFaults applies the current faults before api answers a /v1 request.
func (e *Emulator) withFaults(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := e.Faults()
		fault, part := f.API, "api"
		if r.Method == http.MethodGet && r.URL.EscapedPath() == "/v1/jwks" {
			fault, part = f.JWKS, "jwks"
		}
		if fault.Mode == FaultOK {
			api.ServeHTTP(w, r)
			return
		}
		e.log.Debug("clerkemu fault", slog.String("part", part), slog.String("mode", string(fault.Mode)),
			slog.String("method", r.Method))
		if fault.DelayMS > 0 {
			t := time.NewTimer(time.Duration(fault.DelayMS) * time.Millisecond)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch fault.Mode {
		case FaultSlow:
			api.ServeHTTP(w, r)
		case FaultFail:
			if fault.Status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			writeError(w, newTraceID(), faultError(fault.Status))
		case FaultDown:
			hangUp(w)
		}
	})
}

// faultError is the Clerk error a failing part answers.
func faultError(status int) *Error {
	switch {
	case status == http.StatusTooManyRequests:
		return &Error{Status: status, Code: "too_many_requests", Message: "too many requests",
			LongMessage: "Too many requests, retry later (emulated fault)."}
	case status >= 500:
		return &Error{Status: status, Code: CodeInternal, Message: "internal error",
			LongMessage: "There was an internal error on our servers (emulated fault)."}
	}
	return &Error{Status: status, Code: "emulated_fault", Message: "emulated fault",
		LongMessage: "The emulator was told to fail this request with status " + strconv.Itoa(status) + "."}
}

// hangUp closes the client's connection without an answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http resets the stream or connection
}

// handleFaults serves /__emulator/faults: GET shows the faults, PUT and
// POST replace them, DELETE clears them; each answers the faults then in
// force. It is a test control, not Clerk's API: it takes requests without
// credentials (SPEC §9 names no key for it), and refuses a wrong secret key
// like /v1 does, so that a misconfigured test fails loudly.
func (e *Emulator) handleFaults(w http.ResponseWriter, r *http.Request) {
	trace := newTraceID()
	status := http.StatusOK
	defer func() {
		e.log.Debug("clerkemu request", slog.String("method", r.Method), slog.String("route", "/__emulator/faults"),
			slog.Int("status", status))
	}()
	fail := func(err *Error) {
		status = err.Status
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "GET, PUT, POST, DELETE")
		}
		writeError(w, trace, err)
	}
	if r.Header.Get("Authorization") != "" { // none is allowed, a wrong one is not
		if err := e.authenticate(r); err != nil {
			var apiErr *Error
			if !errors.As(err, &apiErr) {
				apiErr = errKeyInvalid()
			}
			fail(apiErr)
			return
		}
	}
	switch r.Method {
	case http.MethodGet:
	case http.MethodDelete:
		e.ClearFaults()
	case http.MethodPut, http.MethodPost:
		f, err := decodeFaults(http.MaxBytesReader(w, r.Body, maxFaultsBody))
		if err != nil {
			fail(err)
			return
		}
		if err := e.SetFaults(f); err != nil {
			fail(&Error{Status: http.StatusUnprocessableEntity, Code: CodeParamValueInvalid,
				Message: "is invalid", LongMessage: err.Error()})
			return
		}
	default:
		fail(errMethod(r.Method))
		return
	}
	writeJSON(w, trace, http.StatusOK, e.Faults())
}

// decodeFaults reads a Faults document strictly: unknown members are
// errors, an empty body or null means no faults.
func decodeFaults(r io.Reader) (Faults, *Error) {
	var f Faults
	body, err := io.ReadAll(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return f, errBodyTooLarge()
		}
		return f, errBody()
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return f, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, errBody()
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		return f, errBody() // trailing data
	}
	return f, nil
}
