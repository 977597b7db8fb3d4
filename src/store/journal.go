package store

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/vmihailenco/msgpack/v5"
)

// Journal is the flash copy of completed flows that are not archived yet.
//
// Every commit appends the flows completed since the previous commit as one
// chunk: a 12-byte header (magic, length, CRC-32) and the rows in columns,
// deflated (24 bytes a flow; see jchunk.go). Appending to a file touches
// only new blocks, which is the least a flash medium can be asked to write;
// SQLite would also rewrite its page 1, the last leaf, the pointer map and a
// rollback journal on every commit (see docs/bench/storage.md). Chunks are
// self-checking: a chunk cut short by a power cut is skipped at replay, and
// its flows, still unmarked in the live database, are appended again.
//
// The journal is replayed into the live database at start (after a reboot
// emptied the tmpfs) and a file is deleted once none of its flows is still
// waiting in the live database.
type Journal struct {
	dir  string
	mark *scanMark // where the next commit's scan starts; nil: everything
}

const (
	journalMagic  = "PKJ1"
	journalHeader = 12
	journalMaxLen = 64 << 20
	// journalRotate starts a new file past this size, so that pruning a
	// settled file frees space without rewriting anything.
	journalRotate = 1 << 20
	// journalLevel is flate's default: on pakon's rows level 9 took seven
	// times its CPU for 5 % fewer bytes, and a commit holds up ingest
	// (30,000 flows: 0.9 s instead of 6.9 s on x86, far more on a router).
	journalLevel = flate.DefaultCompression
)

// jrow is a journaled flow; times in microseconds, exactly as live holds them.
type jrow struct {
	_msgpack   struct{} `msgpack:",as_array"`
	Key        int64
	FlowID     int64
	Start, End int64
	MAC, SrcIP string
	SrcPort    int64
	DestIP     string
	DestPort   int64
	Proto, App string
	Name, Src  string
	Sent, Rcv  int64
	PSent      int64
	PRcv       int64
}

// OpenJournal uses dir (created if needed) for the journal files.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open journal %s: %w", dir, err)
	}
	return &Journal{dir: dir}, nil
}

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// lock takes the journal's lock file: the daemon's commit and pakon clear
// (another process) must not interleave their changes.
func (j *Journal) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(j.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock journal: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock journal: %w", err)
	}
	return func() { f.Close() }, nil
}

func (j *Journal) files() ([]string, error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("list journal %s: %w", j.dir, err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			out = append(out, filepath.Join(j.dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// append writes rows as one chunk and syncs it.
func (j *Journal) append(rows []jrow) error {
	w := j.writer()
	defer w.abort()
	if err := w.write(rows); err != nil {
		return err
	}
	return w.sync()
}

// journalWriter appends one commit's chunks: each write encodes and
// deflates its rows as a chunk and appends it (to a new file once the
// newest is past journalRotate); sync makes them durable. Its buffers and
// deflate state are reused from chunk to chunk, so a commit's memory is
// one chunk's, however many flows it holds.
type journalWriter struct {
	j     *Journal
	f     *os.File
	path  string
	start int64 // the file's size before this commit's first chunk
	size  int64
	fresh bool // the directory gained a file
	buf   bytes.Buffer
	zw    *flate.Writer
}

func (j *Journal) writer() *journalWriter { return &journalWriter{j: j} }

// write appends rows as one chunk, not synced yet.
func (w *journalWriter) write(rows []jrow) error {
	if len(rows) == 0 {
		return nil
	}
	w.buf.Reset()
	w.buf.Write(make([]byte, journalHeader))
	if w.zw == nil {
		w.zw, _ = flate.NewWriter(&w.buf, journalLevel)
	} else {
		w.zw.Reset(&w.buf)
	}
	w.zw.Write(encodeJournalRows(rows))
	if err := w.zw.Close(); err != nil {
		return fmt.Errorf("compress journal chunk: %w", err)
	}
	b := w.buf.Bytes()
	copy(b, journalMagicV2)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-journalHeader))
	binary.LittleEndian.PutUint32(b[8:], crc32.ChecksumIEEE(b[journalHeader:]))
	if w.f != nil && w.size >= journalRotate {
		if err := w.closeFile(); err != nil {
			return err
		}
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("append journal %s: %w", w.path, err)
	}
	w.size += int64(len(b))
	if w.buf.Cap() > 4<<20 {
		w.buf = bytes.Buffer{} // an outsized chunk's buffer is not kept
	}
	return nil
}

// open opens the newest file for appending, or a new one when it is full.
func (w *journalWriter) open() error {
	files, err := w.j.files()
	if err != nil {
		return err
	}
	path, fresh := "", false
	if n := len(files); n > 0 {
		if st, err := os.Stat(files[n-1]); err == nil && st.Size() < journalRotate {
			path = files[n-1]
		}
	}
	if path == "" {
		seq := 1
		if n := len(files); n > 0 {
			fmt.Sscanf(filepath.Base(files[n-1]), "%d.log", &seq)
			seq++
		}
		path, fresh = filepath.Join(w.j.dir, fmt.Sprintf("%08d.log", seq)), true
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("append journal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("append journal %s: %w", path, err)
	}
	w.f, w.path, w.start, w.size = f, path, st.Size(), st.Size()
	w.fresh = w.fresh || fresh
	return nil
}

// closeFile syncs and closes the current file; its chunks are durable.
func (w *journalWriter) closeFile() error {
	f := w.f
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync journal %s: %w", w.path, err)
	}
	w.f = nil
	if err := f.Close(); err != nil {
		return fmt.Errorf("append journal %s: %w", w.path, err)
	}
	if w.fresh {
		syncDir(w.j.dir)
		w.fresh = false
	}
	return nil
}

// sync makes every chunk written durable.
func (w *journalWriter) sync() error {
	if w.f == nil {
		return nil
	}
	return w.closeFile()
}

// abort takes back the chunks of the current file not synced yet (a full
// file system, an error reading the rows), so that the retry starts on a
// chunk boundary and a long outage leaves no run of damaged chunks
// behind. Chunks of files already synced stay: their flows, still
// unmarked, are journaled again by the next commit and restored once.
func (w *journalWriter) abort() {
	if w.f == nil {
		return
	}
	w.f.Truncate(w.start)
	w.f.Close()
	w.f = nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// readFile returns every intact chunk's rows of one file; damaged bytes
// are skipped up to the next chunk header.
func readJournalFile(path string) (rows []jrow, damaged int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, nil
		}
		return nil, 0, fmt.Errorf("read journal %s: %w", path, err)
	}
	for len(data) > 0 {
		if len(data) < journalHeader || !isChunkMagic(data) {
			damaged++
			i := bytes.Index(data[1:], []byte(journalMagic))
			if j := bytes.Index(data[1:], []byte(journalMagicV2)); j >= 0 && (i < 0 || j < i) {
				i = j
			}
			if i < 0 {
				break
			}
			data = data[1+i:]
			continue
		}
		n := int(binary.LittleEndian.Uint32(data[4:]))
		if n > journalMaxLen || journalHeader+n > len(data) ||
			crc32.ChecksumIEEE(data[journalHeader:journalHeader+n]) != binary.LittleEndian.Uint32(data[8:]) {
			damaged++
			data = data[4:]
			continue
		}
		raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(data[journalHeader : journalHeader+n])))
		var chunk []jrow
		if err == nil && string(data[:4]) == journalMagicV2 {
			chunk, err = decodeJournalRows(raw)
		} else if err == nil {
			err = msgpack.Unmarshal(raw, &chunk) // PKJ1, written before PKJ2
		}
		if err != nil {
			damaged++
		} else {
			rows = append(rows, chunk...)
		}
		data = data[journalHeader+n:]
	}
	return rows, damaged, nil
}

// rewrite keeps only the rows keep accepts in every journal file; files
// left empty are deleted. Used by pakon clear.
func (j *Journal) rewrite(keep func(*jrow) bool) error {
	files, err := j.files()
	if err != nil {
		return err
	}
	for _, path := range files {
		rows, _, err := readJournalFile(path)
		if err != nil {
			return err
		}
		kept := rows[:0]
		for i := range rows {
			if keep(&rows[i]) {
				kept = append(kept, rows[i])
			}
		}
		if len(kept) == len(rows) {
			continue
		}
		tmp := &Journal{dir: j.dir}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("rewrite journal %s: %w", path, err)
		}
		if len(kept) > 0 {
			// Keeps the same name: append picks the newest file only.
			if err := tmp.writeFile(path, kept); err != nil {
				return err
			}
		}
	}
	syncDir(j.dir)
	return nil
}

func (j *Journal) writeFile(path string, rows []jrow) error {
	tmp := &Journal{dir: filepath.Join(j.dir, ".rewrite")}
	os.RemoveAll(tmp.dir)
	if err := os.MkdirAll(tmp.dir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(tmp.dir)
	if err := tmp.append(rows); err != nil {
		return err
	}
	files, _ := tmp.files()
	if len(files) != 1 {
		return fmt.Errorf("rewrite journal %s: no file written", path)
	}
	return os.Rename(files[0], path)
}
