// Package cli renders query results for `pakon show` (table, JSON, CSV)
// and parses its arguments, keeping Turris PaKon's time syntax.
package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTime parses a time argument the way PaKon's pakon-show did, relative
// to now and in loc (local time on the router):
//
//	now                   the current time
//	@1700000000[.5]       Unix epoch seconds
//	-30, -30m, -2h, -1d, -1w   that long ago (plain numbers are seconds)
//	dd-mm-yyyy            midnight of that day (d-m-yyyy too)
//	dd-mm-yyyyThh:mm[:ss] that moment
//	yyyy-mm-dd[Thh:mm[:ss]] ISO dates, too (or a space before the time)
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	orig := s
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return time.Time{}, fmt.Errorf("empty time")
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "@"):
		f, err := strconv.ParseFloat(s[1:], 64)
		// Written so that NaN, which compares false with everything, fails.
		if err != nil || !(f >= 0 && f <= maxEpoch) {
			return time.Time{}, fmt.Errorf("invalid epoch time %q", orig)
		}
		return time.UnixMicro(int64(f * 1e6)), nil
	case strings.HasPrefix(s, "-"):
		d, err := parseAgo(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid relative time %q (want -N, -Nm, -Nh, -Nd or -Nw)", orig)
		}
		// Further back than the epoch is "from the beginning": no flow
		// is older, and the store's times are not negative.
		return maxTime(now.Add(-d), time.Unix(0, 0)), nil
	}
	if loc == nil {
		loc = time.Local
	}
	for _, layout := range []string{
		"2-1-2006", "2-1-2006T15:04:05", "2-1-2006T15:04",
		"2006-1-2", "2006-1-2T15:04:05", "2006-1-2T15:04", "2006-1-2 15:04:05", "2006-1-2 15:04",
	} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			if t.Unix() < 0 || t.Unix() > maxEpoch {
				return time.Time{}, fmt.Errorf("time %q out of range (1970 to 5138)", orig)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q (want dd-mm-yyyy, dd-mm-yyyyThh:mm:ss, -N[mhdw], @EPOCH or now)", orig)
}

// maxEpoch is the latest time accepted, in epoch seconds (the year 5138).
const maxEpoch = 1e11

func maxTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

func parseAgo(s string) (time.Duration, error) {
	unit := time.Second
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 's':
			s = s[:n-1]
		case 'm':
			unit, s = time.Minute, s[:n-1]
		case 'h':
			unit, s = time.Hour, s[:n-1]
		case 'd':
			unit, s = 24*time.Hour, s[:n-1]
		case 'w':
			unit, s = 7*24*time.Hour, s[:n-1]
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	if time.Duration(n) > (1<<62)/unit {
		return 0, fmt.Errorf("too far back")
	}
	return time.Duration(n) * unit, nil
}
