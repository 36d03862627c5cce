package policy

import (
	"sync"
	"sync/atomic"
)

// Reloader holds the policy in force and replaces it, as a whole, when the
// file changes and is still valid (on SIGHUP, say). Current is safe to call
// from any goroutine, at any time, and never blocks.
type Reloader struct {
	path string
	mu   sync.Mutex // serializes Reload
	cur  atomic.Pointer[Policy]
}

// NewReloader loads the policy file at path. An empty path means the
// built-in Default policy, which Reload keeps.
func NewReloader(path string) (*Reloader, error) {
	r := &Reloader{path: path}
	p := Default()
	if path != "" {
		var err error
		if p, err = Load(path); err != nil {
			return nil, err
		}
	}
	r.cur.Store(p)
	return r, nil
}

// Current returns the policy in force. A request should call it once and
// use that one policy throughout.
func (r *Reloader) Current() *Policy { return r.cur.Load() }

// Reload reads the file again and puts it in force when it is valid. When
// it is not, Reload returns the error (an *Error for a bad file) and the
// policy in force stays as it was; the caller logs it. Without a file,
// Reload does nothing.
func (r *Reloader) Reload() error {
	if r.path == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p, err := Load(r.path)
	if err != nil {
		return err
	}
	r.cur.Store(p)
	return nil
}

// Path returns the policy file's path, or "" for the built-in policy.
func (r *Reloader) Path() string { return r.path }
