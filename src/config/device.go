package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/pakon/pakon/src/uci"
)

// SetDeviceName gives the device with MAC address mac the name name in
// the UCI file at path, editing its "config device" section or adding
// one (and creating the file if needed). An empty name removes the
// device's sections. The rest of the file, comments included, is kept.
//
// The edit holds an exclusive flock on the file, as libuci does while it
// commits, so it does not interleave with "uci commit" or another
// SetDeviceName; the file is replaced atomically.
func SetDeviceName(path, mac, name string) error {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return fmt.Errorf("set device name: %w", err)
	}
	if name != "" {
		if err := CheckDeviceName(name); err != nil {
			return fmt.Errorf("set device name: %w", err)
		}
	}
	lock, err := lockFile(path)
	if err != nil {
		return fmt.Errorf("set device name: %w", err)
	}
	defer lock.Close()

	f, err := uci.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = &uci.File{Path: path}, nil
	}
	if err != nil {
		return fmt.Errorf("set device name: %w", err)
	}
	var kept *uci.Section
	for _, s := range f.SectionsOfType("device") {
		v, _ := s.Get("mac")
		if other, err := NormalizeMAC(v); err != nil || other != m {
			continue
		}
		if name == "" || kept != nil {
			f.Remove(s)
			continue
		}
		kept = s
	}
	if name != "" {
		if kept == nil {
			kept = f.Add("device", "")
			kept.Set("mac", m)
		}
		kept.Set("name", name)
	}
	if err := f.Save(); err != nil {
		return fmt.Errorf("set device name: %w", err)
	}
	return nil
}

// lockFile opens path (creating it) and takes an exclusive flock. A
// writer renames a new file over the old one, so the lock may have been
// won on a file that is no longer at path; then it tries again.
func lockFile(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if err1 != nil {
			return nil, err1
		}
		if err2 != nil && !errors.Is(err2, fs.ErrNotExist) {
			return nil, err2
		}
	}
}
