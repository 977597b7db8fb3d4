package eveinput_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eveinput"
)

// waitTimeout bounds every wait in these tests; reaching it means a hang,
// it is no speed assertion.
const waitTimeout = 5 * time.Second

// fakeSink records what an input hands over.
type fakeSink struct {
	mu      sync.Mutex
	lines   []string
	rejects []string
	// refuse makes Offer return false (a full queue).
	refuse bool
	// block makes Put wait until its context is done.
	block bool
	// limit, when positive, makes Put fail with errFull once it has taken
	// that many lines (a reader stopped mid-file).
	limit int
}

var _ eveinput.Sink = (*fakeSink)(nil)

func (s *fakeSink) Offer(line []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse {
		return false
	}
	s.lines = append(s.lines, string(line))
	return true
}

func (s *fakeSink) Put(ctx context.Context, line []byte) error {
	if s.block {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit > 0 && len(s.lines) >= s.limit {
		return errFull
	}
	s.lines = append(s.lines, string(line))
	return nil
}

var errFull = fmt.Errorf("sink full")

func (s *fakeSink) Reject(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejects = append(s.rejects, reason)
}

func (s *fakeSink) got() (lines, rejects []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines), slices.Clone(s.rejects)
}

// waitLines waits until the sink holds at least n lines and returns them.
func (s *fakeSink) waitLines(t *testing.T, n int) []string {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d lines", n), func() bool {
		l, _ := s.got()
		return len(l) >= n
	})
	l, _ := s.got()
	return l
}

// waitRejects waits until the sink counted at least n rejects.
func (s *fakeSink) waitRejects(t *testing.T, n int) []string {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d rejects", n), func() bool {
		_, r := s.got()
		return len(r) >= n
	})
	_, r := s.got()
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("lines\n got %q\nwant %q", got, want)
	}
}

// discardLogger keeps test output clean.
func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// lines returns n numbered lines with a prefix.
func numbered(prefix string, from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf(`{"%s":%d}`, prefix, i))
	}
	return out
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}
