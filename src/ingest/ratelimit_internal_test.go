package ingest

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var r rateLimiter
	for i := range logBurst {
		if ok, s := r.allow(t0.Add(time.Duration(i) * time.Millisecond)); !ok || s != 0 {
			t.Fatalf("call %d of the burst: allow %v suppressed %d", i, ok, s)
		}
	}
	steps := []struct {
		after          time.Duration // since t0
		want           bool
		wantSuppressed int
	}{
		{time.Second, false, 0},
		{30 * time.Second, false, 0},
		{logInterval - time.Second, false, 0},
		{logInterval + 10*time.Millisecond, true, 3},
		{logInterval + 20*time.Millisecond, false, 0},
		{2*logInterval + 10*time.Millisecond, true, 1},
		{10 * logInterval, true, 0},
	}
	for _, s := range steps {
		ok, n := r.allow(t0.Add(s.after))
		if ok != s.want || n != s.wantSuppressed {
			t.Fatalf("at +%v: allow %v suppressed %d, want %v %d", s.after, ok, n, s.want, s.wantSuppressed)
		}
	}
}
