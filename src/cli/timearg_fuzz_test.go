package cli_test

import (
	"testing"
	"time"

	"github.com/pakon/pakon/src/cli"
)

// FuzzParseTime feeds arbitrary strings to the time syntax that `pakon
// show -s/-e` and the ubus methods' start/end share. It must never panic,
// and a time it accepts must lie between the epoch and ParseTime's upper
// bound (1e11 s, the year 5138), whatever syntax spelled it.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"now", "@1700000000", "@1700000000.5", "@-1", "@1e12", "@NaN", "@inf",
		"-30", "-30s", "-30m", "-2h", "-1d", "-1w", "-", "-m", "-4294967295w", "--1",
		"14-11-2023", "1-2-2023T03:04", "14-11-2023T10:20:30", "2023-11-14", "2023-11-14 10:20",
		"2023-11-14T10:20:30", "31-02-2023", "0-0-0", " now ", "", "9999-12-31T23:59:59",
	} {
		f.Add(s)
	}
	now := time.Unix(1_700_000_000, 0)
	earliest, latest := time.Unix(0, 0), time.Unix(1e11, 0)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := cli.ParseTime(s, now, time.UTC)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseTime(%q): empty error", s)
			}
			return
		}
		if got.Before(earliest) || got.After(latest) {
			t.Fatalf("ParseTime(%q) = %v, outside [%v, %v]", s, got, earliest, latest)
		}
		again, err := cli.ParseTime(s, now, time.UTC)
		if err != nil || !again.Equal(got) {
			t.Fatalf("ParseTime(%q) not deterministic: %v then %v, %v", s, got, again, err)
		}
	})
}
