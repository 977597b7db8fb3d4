package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ParseDuration parses PaKon's durations: plain seconds ("86400") or a
// whole number with the unit s, m, h, d or w ("30s", "15m", "1h", "1d",
// "4w"; PaKon upper-cases the unit, so "1D" is accepted too).
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid duration %q (want seconds or a number with s, m, h, d or w)", s)
	if s == "" {
		return 0, bad
	}
	unit := time.Second
	num := s
	switch s[len(s)-1] {
	case 's', 'S':
		num = s[:len(s)-1]
	case 'm', 'M':
		unit, num = time.Minute, s[:len(s)-1]
	case 'h', 'H':
		unit, num = time.Hour, s[:len(s)-1]
	case 'd', 'D':
		unit, num = Day, s[:len(s)-1]
	case 'w', 'W':
		unit, num = Week, s[:len(s)-1]
	}
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return time.Duration(n) * unit, nil
}

// FormatDuration writes d the way the UCI file does: the largest of w,
// d, h, m that divides it evenly, else seconds ("4w", "90s").
func FormatDuration(d time.Duration) string {
	for _, u := range []struct {
		d time.Duration
		s string
	}{{Week, "w"}, {Day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if d != 0 && d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.s
		}
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// parseBool accepts the boolean spellings of UCI.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "on", "true", "enabled":
		return true, nil
	case "0", "no", "off", "false", "disabled":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q (want 1 or 0)", s)
}

// parseCount parses a whole number between lo and hi.
func parseCount(s string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid number %q", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d out of range (want %d to %d)", n, lo, hi)
	}
	return n, nil
}

// ParseSize parses a byte size: a plain number of bytes or a number with
// k, M or G (binary multiples, an optional "iB"/"B" after them).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	upper := strings.ToUpper(t)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(upper, u.suffix) {
			t, mult = t[:len(t)-len(u.suffix)], u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (want bytes, or a number with k, M or G)", s)
	}
	return n * mult, nil
}

// NormalizeMAC returns mac as lower-case "aa:bb:cc:dd:ee:ff". It accepts
// the forms net.ParseMAC does ("AA-BB-…", "aabb.ccdd.eeff") but only
// 6-byte addresses.
func NormalizeMAC(mac string) (string, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(mac))
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("invalid MAC address %q", mac)
	}
	return hw.String(), nil
}

// checkAbsPath accepts absolute, clean-able paths.
func checkAbsPath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("want an absolute path, got %q", p)
	}
	return filepath.Clean(p), nil
}

// checkIfname accepts Linux interface names: 1 to 15 bytes, no '/',
// whitespace or ':' (alias labels are not interfaces).
func checkIfname(s string) error {
	switch {
	case s == "":
		return errors.New("empty interface name")
	case len(s) > 15:
		return fmt.Errorf("interface name %q is longer than 15 bytes", s)
	case strings.ContainsAny(s, "/: \t\n") || s == "." || s == "..":
		return fmt.Errorf("invalid interface name %q", s)
	}
	return nil
}

// CheckDeviceName rejects names that are empty, longer than 255 bytes or
// hold control characters.
func CheckDeviceName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("empty device name")
	}
	if len(name) > 255 {
		return fmt.Errorf("device name longer than 255 bytes")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("device name %q holds control characters", name)
	}
	return nil
}
