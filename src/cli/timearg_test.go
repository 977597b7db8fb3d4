package cli_test

import (
	"testing"
	"time"

	"github.com/pakon/pakon/src/cli"
)

func TestParseTime(t *testing.T) {
	prague, err := time.LoadLocation("Europe/Prague")
	if err != nil {
		prague = time.FixedZone("CET", 3600) // no tzdata: the offset in winter
	}
	now := time.Date(2026, 1, 15, 12, 30, 0, 0, prague)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{" now ", now},
		{"@1700000000", time.Unix(1700000000, 0)},
		{"@1700000000.25", time.Unix(1700000000, 250000000)},
		{"@0", time.Unix(0, 0)},
		{"-30", now.Add(-30 * time.Second)},
		{"-30s", now.Add(-30 * time.Second)},
		{"-0", now},
		{"-15m", now.Add(-15 * time.Minute)},
		{"-2h", now.Add(-2 * time.Hour)},
		{"-1d", now.Add(-24 * time.Hour)},
		{"-3w", now.Add(-3 * 7 * 24 * time.Hour)},
		{"-30000d", time.Unix(0, 0)}, // before the epoch: from the beginning
		{"14-01-2026", time.Date(2026, 1, 14, 0, 0, 0, 0, prague)},
		{"4-1-2026", time.Date(2026, 1, 4, 0, 0, 0, 0, prague)},
		{"14-01-2026T08:05:09", time.Date(2026, 1, 14, 8, 5, 9, 0, prague)},
		{"14-01-2026T8:05", time.Date(2026, 1, 14, 8, 5, 0, 0, prague)},
		{"2026-01-14", time.Date(2026, 1, 14, 0, 0, 0, 0, prague)},
		{"2026-01-14T23:59:59", time.Date(2026, 1, 14, 23, 59, 59, 0, prague)},
		{"2026-01-14 23:59", time.Date(2026, 1, 14, 23, 59, 0, 0, prague)},
	} {
		got, err := cli.ParseTime(c.in, now, prague)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !got.Equal(c.want) {
			t.Errorf("%q: %s, want %s", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-", "-x", "-1y", "-1.5h", "--1h", "@", "@abc", "@-5", "@1e300", "0000-1-10", "31-12-1969", "9999-01-01", "@NaN", "@nan", "@-Inf", "@+Inf",
		"32-01-2026", "29-02-2025", "14-13-2026", "14-01-26", "14/01/2026", "14-01-2026T25:00", "2026-01-14T", "-99999999999w"} {
		if got, err := cli.ParseTime(bad, now, prague); err == nil {
			t.Errorf("%q: got %s, want an error", bad, got)
		}
	}
}
