package clerkemu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SaveFile writes [Emulator.Snapshot] to path atomically: into a new file
// of mode 0600 in the same directory, synced, then renamed over path. A
// reader of path sees the old state or the new one, never a part; a crash
// leaves at worst a stray temporary file. The state holds secrets (see
// Snapshot): keep path out of shared and version-controlled directories.
func (e *Emulator) SaveFile(path string) error {
	data, err := e.Snapshot()
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*") // mode 0600
	if err != nil {
		return fmt.Errorf("clerkemu: save state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("clerkemu: save state: %w", err)
	}
	// Make the rename itself durable; not every system can sync a
	// directory, and the file is complete either way.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// LoadFile reads a state file written by [Emulator.SaveFile], for
// [Options.State]. A file that does not exist gives nil and no error, so
// that the first run starts a fresh instance:
//
//	state, err := clerkemu.LoadFile(path)
//	...
//	emu, err := clerkemu.New(clerkemu.Options{State: state})
//
// An empty file is an error (a state is never empty); the content is
// checked by New.
func LoadFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clerkemu: load state: %w", err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("clerkemu: load state: %w", &fs.PathError{Op: "read", Path: path, Err: errors.New("empty file, not a state")})
	}
	return data, nil
}
