package eveinput

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ReadFile hands every line of an EVE file (optionally gzip-compressed,
// by its .gz suffix) to sink, waiting for room. It returns the number of
// lines read.
func ReadFile(ctx context.Context, path string, maxLine int, sink Sink) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	lr := newLineReader(r, maxLine)
	n := 0
	for {
		// Put alone may not notice a cancellation while the sink has room.
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("read %s: %w", path, err)
		}
		line, err := lr.next()
		var tooLong errTooLong
		switch {
		case err == nil, errors.Is(err, errNoNewline):
			n++
			if err := sink.Put(ctx, line); err != nil {
				return n, fmt.Errorf("read %s: %w", path, err)
			}
			if err != nil {
				return n, nil
			}
		case errors.As(err, &tooLong):
			n++
			sink.Reject(fmt.Sprintf("%s: %v", path, tooLong))
		case errors.Is(err, io.EOF):
			return n, nil
		default:
			return n, fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// Follower follows a growing eve.json like `tail -F`: it survives rotation
// by rename (it finishes the old file, then opens the new one) and by
// copytruncate (it starts over when the file shrinks). Its position is saved
// in OffsetFile so that a restart neither re-reads nor skips lines.
type Follower struct {
	Path       string
	OffsetFile string
	MaxLine    int
	Poll       time.Duration // how often to look for new data; default 250ms
	Sink       Sink
	Logger     *slog.Logger

	reopen chan struct{}
}

// position is what the offset file holds.
type position struct {
	Path   string `json:"path"`
	Inode  uint64 `json:"inode"`
	Offset int64  `json:"offset"`
}

// Reopen asks the follower to check the path for rotation now (SIGHUP).
func (f *Follower) Reopen() {
	select {
	case f.reopen <- struct{}{}:
	default:
	}
}

// Init prepares the follower; call it before Reopen may be used.
func (f *Follower) Init() {
	if f.Poll <= 0 {
		f.Poll = 250 * time.Millisecond
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

// Run follows the file until ctx is done. A missing file is waited for.
func (f *Follower) Run(ctx context.Context) error {
	if f.reopen == nil {
		f.Init()
	}
	saved := f.loadPosition()
	var (
		file    *os.File
		ino     uint64
		offset  int64
		partial []byte
		buf     = make([]byte, 64<<10)
		lastPos position
	)
	defer func() {
		if file != nil {
			file.Close()
		}
	}()
	savePos := func() {
		p := position{Path: f.Path, Inode: ino, Offset: offset - int64(len(partial))}
		if p != lastPos && f.OffsetFile != "" {
			if err := f.savePosition(p); err != nil {
				f.Logger.Warn("save EVE file offset", "err", err)
			} else {
				lastPos = p
			}
		}
	}
	defer savePos()
	open := func() {
		fd, err := os.Open(f.Path)
		if err != nil {
			return
		}
		fi, err := fd.Stat()
		if err != nil {
			fd.Close()
			return
		}
		file, ino, offset, partial = fd, inode(fi), 0, partial[:0]
		if saved != nil && saved.Inode == ino && saved.Offset <= fi.Size() {
			offset = saved.Offset
			f.Logger.Info("resuming EVE file", "path", f.Path, "offset", offset)
		}
		saved = nil
		if _, err := file.Seek(offset, io.SeekStart); err != nil {
			f.Logger.Warn("seek EVE file", "path", f.Path, "err", err)
			offset = 0
		}
	}
	// drain reads what is there now and hands over complete lines.
	drain := func() error {
		for {
			n, err := file.Read(buf)
			if n > 0 {
				offset += int64(n)
				data := buf[:n]
				for {
					i := bytes.IndexByte(data, '\n')
					if i < 0 {
						break
					}
					line := data[:i]
					if len(partial) > 0 {
						line = append(partial, line...)
						partial = partial[:0]
					}
					if len(line) > f.MaxLine {
						f.Sink.Reject(fmt.Sprintf("%s: line of %d bytes is too long", f.Path, len(line)))
					} else if perr := f.Sink.Put(ctx, line); perr != nil {
						return perr
					}
					data = data[i+1:]
				}
				if len(partial)+len(data) > f.MaxLine {
					// Keep counting, but do not hold an endless line in memory.
					partial = append(partial[:0], '!')
				} else {
					partial = append(partial, data...)
				}
			}
			if errors.Is(err, io.EOF) || n == 0 {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", f.Path, err)
			}
		}
	}
	ticker := time.NewTicker(f.Poll)
	defer ticker.Stop()
	saveTick := 0
	for {
		if file == nil {
			open()
		}
		if file != nil {
			if err := drain(); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			fi, err := os.Stat(f.Path)
			switch {
			case err == nil && inode(fi) != ino:
				// Renamed away and replaced: the old file is finished.
				f.Logger.Info("EVE file rotated", "path", f.Path)
				file.Close()
				file = nil
				continue
			case err == nil && fi.Size() < offset:
				f.Logger.Info("EVE file truncated", "path", f.Path)
				file.Seek(0, io.SeekStart)
				offset, partial = 0, partial[:0]
				continue
			}
		}
		if saveTick++; saveTick%4 == 0 {
			savePos()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-f.reopen:
		}
	}
}

func (f *Follower) loadPosition() *position {
	if f.OffsetFile == "" {
		return nil
	}
	b, err := os.ReadFile(f.OffsetFile)
	if err != nil {
		return nil
	}
	var p position
	if err := json.Unmarshal(b, &p); err != nil || p.Path != f.Path {
		f.Logger.Warn("ignoring EVE offset file", "path", f.OffsetFile, "err", err)
		return nil
	}
	return &p
}

func (f *Follower) savePosition(p position) error {
	b, _ := json.Marshal(p)
	if err := os.MkdirAll(filepath.Dir(f.OffsetFile), 0o700); err != nil {
		return err
	}
	tmp := f.OffsetFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, f.OffsetFile)
}
