package eveinput

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// DefaultPoll is how often a Follower looks for new data by default.
const DefaultPoll = 250 * time.Millisecond

// Follower follows a growing eve.json like `tail -F`.
//
// Rotation by rename: once a new file at Path has data, the writer has
// moved on, so the follower reads the old file to its end and continues
// with the new one. While the new file is still empty it keeps reading the
// old one, because Suricata writes there until its SIGHUP. Rotation by
// copytruncate: when the file becomes shorter than what was read, it starts
// over at 0. (If the writer refills it beyond the old length between two
// polls, that goes unnoticed: prefer rename rotation.)
//
// The position after the last line handed over is saved in OffsetFile, so
// a restart neither re-reads nor skips lines of the same file. A file
// rotated while pakon was stopped is another file (another inode): it is
// read from its start, and whatever the old file got after the saved
// position is not read. Lines handed to the Sink but lost before they were
// stored (a crash) are not read again either.
type Follower struct {
	// Path is the file to follow; it may not exist yet.
	Path string
	// OffsetFile keeps the position across restarts; empty starts every
	// run at the beginning of the file.
	OffsetFile string
	// MaxLine is the longest line accepted; zero means DefaultMaxLine.
	MaxLine int
	// Poll is how often to look for new data and rotation; shorter costs
	// more wake-ups. Zero means DefaultPoll.
	Poll time.Duration
	// Sink receives the lines (with Put: a full queue makes it wait).
	Sink Sink
	// Logger logs rotation and offset problems; nil means slog.Default().
	Logger *slog.Logger

	reopen chan struct{}
}

// position is what the offset file holds.
type position struct {
	Path   string `json:"path"`
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
}

// Reopen asks the follower to check the path for new data and rotation now
// (SIGHUP). Call Init first.
func (f *Follower) Reopen() {
	select {
	case f.reopen <- struct{}{}:
	default:
	}
}

// Init fills in defaults; call it before Reopen may be used.
func (f *Follower) Init() {
	if f.Poll <= 0 {
		f.Poll = DefaultPoll
	}
	if f.MaxLine <= 0 {
		f.MaxLine = DefaultMaxLine
	}
	if f.Logger == nil {
		f.Logger = slog.Default()
	}
	f.reopen = make(chan struct{}, 1)
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// tail is the state of one Run.
type tail struct {
	f        *Follower
	file     *os.File
	ino      uint64
	readPos  int64  // file position after what was read
	done     int64  // file position after the last line handed over or rejected
	partial  []byte // the current line so far, unless skipping
	skipping bool   // the current line is over MaxLine; its bytes are not kept
	buf      []byte
}

// Run follows the file until ctx is done. A missing file is waited for.
// It returns an error when reading fails or the Sink refuses a line for
// another reason than ctx; the position saved is that of the last line
// the Sink took.
func (f *Follower) Run(ctx context.Context) error {
	if f.reopen == nil {
		f.Init()
	}
	t := &tail{f: f, buf: make([]byte, 64<<10)}
	saved := f.loadPosition()
	var lastSaved position
	save := func() {
		p := position{Path: f.Path, Inode: t.ino, Offset: t.done}
		if f.OffsetFile == "" || t.file == nil || p == lastSaved {
			return
		}
		if err := f.savePosition(p); err != nil {
			f.Logger.Warn("save EVE file offset", "path", f.OffsetFile, "err", err)
			return
		}
		lastSaved = p
	}
	defer func() {
		save()
		if t.file != nil {
			t.file.Close()
		}
	}()

	ticker := time.NewTicker(f.Poll)
	defer ticker.Stop()
	for polls := 0; ; polls++ {
		if t.file == nil && t.open(saved) {
			saved = nil
		}
		if t.file != nil {
			if err := t.drain(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if switched, err := t.checkRotation(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			} else if switched {
				continue
			}
		}
		// Saving on every poll would wear flash; a crash re-reads at most
		// the lines of the last few polls.
		if polls%4 == 3 {
			save()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-f.reopen:
		}
	}
}

// open opens the file, resuming at saved when it is the same file. It
// reports whether the file was opened.
func (t *tail) open(saved *position) bool {
	fd, err := os.Open(t.f.Path)
	if err != nil {
		return false
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return false
	}
	t.file, t.ino = fd, inode(fi)
	t.reset(0)
	if saved != nil && saved.Inode == t.ino && saved.Offset <= fi.Size() {
		if _, err := fd.Seek(saved.Offset, io.SeekStart); err != nil {
			t.f.Logger.Warn("seek EVE file", "path", t.f.Path, "err", err)
			return true
		}
		t.reset(saved.Offset)
		t.f.Logger.Info("resuming EVE file", "path", t.f.Path, "offset", saved.Offset)
	}
	return true
}

// reset starts reading at a line boundary at off.
func (t *tail) reset(off int64) {
	t.readPos, t.done = off, off
	t.partial, t.skipping = t.partial[:0], false
}

// drain reads what is there now and hands over complete lines.
func (t *tail) drain(ctx context.Context) error {
	for {
		n, err := t.file.Read(t.buf)
		if n > 0 {
			if perr := t.split(ctx, t.buf[:n]); perr != nil {
				return perr
			}
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", t.f.Path, err)
		}
	}
}

// split hands over the complete lines in data, read at t.readPos, and
// keeps the rest as the start of the next line.
func (t *tail) split(ctx context.Context, data []byte) error {
	base := t.readPos
	t.readPos += int64(len(data))
	start := 0
	for {
		i := bytes.IndexByte(data[start:], '\n')
		if i < 0 {
			break
		}
		end := start + i
		if n := base + int64(end) - t.done; t.skipping || n > int64(t.f.MaxLine) {
			t.f.Sink.Reject(fmt.Sprintf("%s: %v", t.f.Path, errTooLong{int(n)}))
		} else {
			line := data[start:end]
			if len(t.partial) > 0 {
				t.partial = append(t.partial, line...)
				line = t.partial
			}
			if err := t.f.Sink.Put(ctx, line); err != nil {
				return err
			}
		}
		t.partial, t.skipping = t.partial[:0], false
		t.done = base + int64(end) + 1
		start = end + 1
	}
	if rest := data[start:]; !t.skipping {
		if len(t.partial)+len(rest) > t.f.MaxLine {
			// Count the line when it ends, but do not hold it in memory.
			t.partial, t.skipping = t.partial[:0], true
		} else {
			t.partial = append(t.partial, rest...)
		}
	}
	return nil
}

// checkRotation looks at the path: when it is a new file with data, it
// finishes the old one and closes it; when the file shrank, it starts over.
// It reports whether the old file was let go.
func (t *tail) checkRotation(ctx context.Context) (bool, error) {
	fi, err := os.Stat(t.f.Path)
	switch {
	case err != nil:
		// Gone without a successor (yet): keep reading the old file.
		return false, nil
	case inode(fi) != t.ino:
		if fi.Size() == 0 {
			// logrotate creates the new file before it signals Suricata,
			// which writes to the old one until then.
			return false, nil
		}
		// The writer has moved to the new file: what the old one got
		// until then is there to read now.
		if err := t.drain(ctx); err != nil {
			return false, err
		}
		t.f.Logger.Info("EVE file rotated", "path", t.f.Path)
		t.cutOff("rotation")
		t.file.Close()
		t.file = nil
		return true, nil
	case fi.Size() < t.readPos:
		t.f.Logger.Info("EVE file truncated", "path", t.f.Path)
		if _, err := t.file.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("seek %s: %w", t.f.Path, err)
		}
		t.cutOff("truncation")
		t.reset(0)
		return true, nil
	}
	return false, nil
}

// cutOff counts an unterminated line the file ends with as lost.
func (t *tail) cutOff(why string) {
	if t.readPos > t.done {
		t.f.Sink.Reject(fmt.Sprintf("%s: line cut off by %s after %d bytes", t.f.Path, why, t.readPos-t.done))
	}
}

func (f *Follower) loadPosition() *position {
	if f.OffsetFile == "" {
		return nil
	}
	b, err := os.ReadFile(f.OffsetFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.Logger.Warn("ignoring EVE offset file", "path", f.OffsetFile, "err", err)
		return nil
	}
	var p position
	if err := json.Unmarshal(b, &p); err != nil {
		f.Logger.Warn("ignoring EVE offset file", "path", f.OffsetFile, "err", err)
		return nil
	}
	if p.Path != f.Path {
		f.Logger.Warn("ignoring EVE offset file of another file", "path", f.OffsetFile, "for", p.Path)
		return nil
	}
	return &p
}

// savePosition replaces the offset file atomically, so that a crash leaves
// the old position or the new one, never a torn file.
func (f *Follower) savePosition(p position) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.OffsetFile), 0o700); err != nil {
		return err
	}
	tmp := f.OffsetFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	// WriteFile keeps the mode of a tmp file left over by a crash.
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, f.OffsetFile)
}
