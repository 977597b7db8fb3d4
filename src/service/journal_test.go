package service_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pakon/pakon/src/service"
)

func TestJournalHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(service.NewJournalHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).
		With("component", "ingest").WithGroup("g")
	log.Debug("queue", "len", 3)
	log.Info("pakon running", "input", "socket /run/pakon/eve.sock")
	log.Warn("line rejected", "n", 1)
	log.Error("database", "err", "disk full")
	log.Log(context.Background(), slog.LevelError+4, "worse")
	want := []string{
		`<7>level=DEBUG msg=queue component=ingest g.len=3`,
		`<6>level=INFO msg="pakon running" component=ingest g.input="socket /run/pakon/eve.sock"`,
		`<4>level=WARN msg="line rejected" component=ingest g.n=1`,
		`<3>level=ERROR msg=database component=ingest g.err="disk full"`,
		`<3>level=ERROR+4 msg=worse component=ingest`,
	}
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestJournalHandlerLevel: the level option and a ReplaceAttr of the
// caller still apply.
func TestJournalHandlerLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(service.NewJournalHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == "secret" {
				a.Value = slog.StringValue("x")
			}
			return a
		},
	}))
	log.Info("hidden")
	log.Warn("shown", "secret", "hunter2")
	if got, want := buf.String(), "<4>level=WARN msg=shown secret=x\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestJournalHandlerConcurrent: lines of different priorities written at
// once stay whole.
func TestJournalHandlerConcurrent(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(service.NewJournalHandler(&buf, nil))
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if i%2 == 0 {
					log.Info("info line", "i", i)
				} else {
					log.Warn("warn line", "i", i)
				}
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "<6>level=INFO msg=\"info line\" i=") && !strings.HasPrefix(l, "<4>level=WARN msg=\"warn line\" i=") {
			t.Fatalf("torn line %q", l)
		}
	}
}

func TestJournal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		env  string
		want bool
	}{
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino), true},
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false},
		{"", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		t.Setenv("JOURNAL_STREAM", tt.env)
		if got := service.Journal(f); got != tt.want {
			t.Errorf("JOURNAL_STREAM=%q: Journal() = %v, want %v", tt.env, got, tt.want)
		}
	}
}
