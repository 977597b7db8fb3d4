package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// Journal reports whether f (normally os.Stderr) is connected to
// systemd's journal: JOURNAL_STREAM names its device and inode, which is
// how systemd tells a service that its output is logged with time stamps
// and priorities already.
func Journal(f *os.File) bool {
	js := os.Getenv("JOURNAL_STREAM")
	if js == "" || f == nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return js == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// NewJournalHandler returns slog's text handler made for the journal:
// without the time attribute, since journald stamps every line, and with
// each line prefixed by the syslog priority of its level ("<3>" for
// errors, "<4>" warnings, "<6>" info, "<7>" debug), which journald strips
// and keeps as the entry's priority (SyslogLevelPrefix=, on by default),
// so that `journalctl -p warning` and the colours work. The line itself
// still reads "level=WARN msg=…" for `journalctl -o cat`.
func NewJournalHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	o := slog.HandlerOptions{}
	if opts != nil {
		o = *opts
	}
	replace := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		if replace != nil {
			return replace(groups, a)
		}
		return a
	}
	lw := &lockedWriter{w: w}
	h := &journalHandler{}
	for i, p := range priorities {
		h.byPriority[i] = slog.NewTextHandler(&prefixWriter{prefix: p.prefix, w: lw}, &o)
	}
	return h
}

// priorities map slog levels to syslog priorities, highest level first.
var priorities = [...]struct {
	min    slog.Level
	prefix string
}{
	{slog.LevelError, "<3>"},
	{slog.LevelWarn, "<4>"},
	{slog.LevelInfo, "<6>"},
	{slog.Level(-1 << 31), "<7>"},
}

// journalHandler sends each record to the text handler whose writer
// prefixes the record's priority; they share attributes and groups.
type journalHandler struct {
	byPriority [len(priorities)]slog.Handler
}

var _ slog.Handler = (*journalHandler)(nil)

func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.byPriority[0].Enabled(ctx, l)
}

func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	for i, p := range priorities {
		if r.Level >= p.min {
			return h.byPriority[i].Handle(ctx, r)
		}
	}
	return nil
}

func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &journalHandler{}
	for i, x := range h.byPriority {
		n.byPriority[i] = x.WithAttrs(attrs)
	}
	return n
}

func (h *journalHandler) WithGroup(name string) slog.Handler {
	n := &journalHandler{}
	for i, x := range h.byPriority {
		n.byPriority[i] = x.WithGroup(name)
	}
	return n
}

// prefixWriter writes prefix and p in one Write: slog's text handler
// writes each record with one Write, so lines stay whole.
type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	buf := make([]byte, 0, len(p.prefix)+len(b))
	buf = append(append(buf, p.prefix...), b...)
	if _, err := p.w.Write(buf); err != nil {
		return 0, err
	}
	return len(b), nil
}

// lockedWriter serialises the writes of the per-priority handlers, which
// each have their own lock.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
