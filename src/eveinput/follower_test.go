package eveinput_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eveinput"
)

// following is a Follower running in the background.
type following struct {
	*eveinput.Follower
	sink   *fakeSink
	cancel context.CancelFunc
	done   chan error
	err    error
	exited bool
}

func follow(t *testing.T, path, offsetFile string, sink *fakeSink) *following {
	t.Helper()
	return followWith(t, &eveinput.Follower{Path: path, OffsetFile: offsetFile, Poll: 5 * time.Millisecond}, sink)
}

func followWith(t *testing.T, f *eveinput.Follower, sink *fakeSink) *following {
	t.Helper()
	if sink == nil {
		sink = &fakeSink{}
	}
	f.Sink, f.Logger = sink, discardLogger()
	f.Init()
	ctx, cancel := context.WithCancel(context.Background())
	fl := &following{Follower: f, sink: sink, cancel: cancel, done: make(chan error, 1)}
	go func() { fl.done <- f.Run(ctx) }()
	t.Cleanup(func() { fl.stop(t) })
	return fl
}

// stop cancels Run and returns its error; calling it again returns the
// same.
func (f *following) stop(t *testing.T) error {
	t.Helper()
	f.cancel()
	return f.wait(t)
}

// wait waits for Run to return by itself.
func (f *following) wait(t *testing.T) error {
	t.Helper()
	if f.exited {
		return f.err
	}
	select {
	case f.err = <-f.done:
		f.exited = true
	case <-time.After(waitTimeout):
		t.Fatal("Follower.Run did not return")
	}
	return f.err
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

type paths struct{ eve, offset string }

func newPaths(t *testing.T) paths {
	dir := t.TempDir()
	return paths{filepath.Join(dir, "eve.json"), filepath.Join(dir, "state", "eve-offset.json")}
}

func TestFollowerReadsAppends(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, joinLines(numbered("a", 0, 2)))
	fl := follow(t, p.eve, "", nil)
	fl.sink.waitLines(t, 2)
	want := numbered("a", 0, 2)
	for i := range 3 {
		line := numbered("b", i, 1)
		appendFile(t, p.eve, joinLines(line))
		want = append(want, line...)
		fl.sink.waitLines(t, len(want))
	}
	big := joinLines(numbered("c", 0, 5000)) // more than one read buffer
	appendFile(t, p.eve, big)
	want = append(want, numbered("c", 0, 5000)...)
	equalLines(t, fl.sink.waitLines(t, len(want)), want)
	if err := fl.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestFollowerHoldsPartialLine(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, "{\"a\":1}\n{\"par")
	fl := follow(t, p.eve, "", nil)
	fl.sink.waitLines(t, 1)
	appendFile(t, p.eve, "tial\":")
	fl.Reopen() // one more look at the file
	appendFile(t, p.eve, "2}\n")
	equalLines(t, fl.sink.waitLines(t, 2), []string{`{"a":1}`, `{"partial":2}`})
}

func TestFollowerRenameRotation(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, joinLines(numbered("old", 0, 3)))
	fl := follow(t, p.eve, p.offset, nil)
	fl.sink.waitLines(t, 3)

	// Suricata keeps writing to the renamed file until it reopens its
	// output (SIGHUP from logrotate), then writes to a new file.
	suricata, err := os.OpenFile(p.eve, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer suricata.Close()
	if _, err := suricata.WriteString(joinLines(numbered("old", 3, 2))); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p.eve, p.eve+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := suricata.WriteString(joinLines(numbered("old", 5, 2))); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p.eve, joinLines(numbered("new", 0, 3)))
	fl.Reopen()
	want := append(numbered("old", 0, 7), numbered("new", 0, 3)...)
	equalLines(t, fl.sink.waitLines(t, len(want)), want)

	// And the new file keeps being followed.
	appendFile(t, p.eve, joinLines(numbered("new", 3, 1)))
	want = append(want, numbered("new", 3, 1)...)
	equalLines(t, fl.sink.waitLines(t, len(want)), want)
	// Nothing arrives twice, even after more polls.
	fl.stop(t)
	got, _ := fl.sink.got()
	equalLines(t, got, want)
}

// logrotate's default: rename, create an empty file, then signal Suricata,
// which writes to the old file until it has reopened its output.
func TestFollowerRotationNewFileCreatedBeforeWriterMoves(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, joinLines(numbered("old", 0, 2)))
	fl := follow(t, p.eve, p.offset, nil)
	fl.sink.waitLines(t, 2)
	suricata, err := os.OpenFile(p.eve, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer suricata.Close()
	if err := os.Rename(p.eve, p.eve+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p.eve, "")
	fl.Reopen()
	time.Sleep(20 * time.Millisecond) // several polls see the empty new file
	if _, err := suricata.WriteString(joinLines(numbered("old", 2, 2))); err != nil {
		t.Fatal(err)
	}
	fl.sink.waitLines(t, 4)
	if _, err := suricata.WriteString(joinLines(numbered("old", 4, 1)) + `{"old":"cut`); err != nil {
		t.Fatal(err)
	}
	suricata.Close()
	appendFile(t, p.eve, joinLines(numbered("new", 0, 2)))
	want := append(numbered("old", 0, 5), numbered("new", 0, 2)...)
	equalLines(t, fl.sink.waitLines(t, len(want)), want)
	rejects := fl.sink.waitRejects(t, 1)
	if len(rejects) != 1 || !strings.Contains(rejects[0], "cut off by rotation") {
		t.Fatalf("rejects %q, want the old file's unterminated line", rejects)
	}
}

func TestFollowerCopyTruncate(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, joinLines(numbered("before", 0, 20)))
	fl := follow(t, p.eve, p.offset, nil)
	fl.sink.waitLines(t, 20)
	// logrotate copytruncate: copy away, then truncate in place; the writer
	// (O_APPEND) goes on at the new end.
	if err := os.Truncate(p.eve, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p.eve, joinLines(numbered("after", 0, 2)))
	want := append(numbered("before", 0, 20), numbered("after", 0, 2)...)
	equalLines(t, fl.sink.waitLines(t, len(want)), want)
	appendFile(t, p.eve, joinLines(numbered("after", 2, 1)))
	want = append(want, numbered("after", 2, 1)...)
	equalLines(t, fl.sink.waitLines(t, len(want)), want)
}

func TestFollowerRestartResumesAfterLastCompleteLine(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, joinLines(numbered("a", 0, 3))+`{"cut`)
	first := follow(t, p.eve, p.offset, nil)
	equalLines(t, first.sink.waitLines(t, 3), numbered("a", 0, 3))
	if err := first.stop(t); err != nil {
		t.Fatal(err)
	}

	// While pakon is down the half line is completed and more follow.
	appendFile(t, p.eve, "\":1}\n"+joinLines(numbered("b", 0, 2)))
	second := follow(t, p.eve, p.offset, nil)
	want := append([]string{`{"cut":1}`}, numbered("b", 0, 2)...)
	equalLines(t, second.sink.waitLines(t, 3), want)
	second.stop(t)
	got, _ := second.sink.got()
	equalLines(t, got, want)

	// A third run with nothing new reads nothing.
	third := follow(t, p.eve, p.offset, nil)
	appendFile(t, p.eve, joinLines(numbered("c", 0, 1)))
	equalLines(t, third.sink.waitLines(t, 1), numbered("c", 0, 1))
}

func TestFollowerRestartAfterTruncationWhileStopped(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, joinLines(numbered("a", 0, 10)))
	first := follow(t, p.eve, p.offset, nil)
	first.sink.waitLines(t, 10)
	first.stop(t)

	if err := os.Truncate(p.eve, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p.eve, joinLines(numbered("b", 0, 2)))
	second := follow(t, p.eve, p.offset, nil)
	equalLines(t, second.sink.waitLines(t, 2), numbered("b", 0, 2))
}

// A file rotated while pakon was stopped is a different file: reading
// starts at its beginning. What the old file got after the saved offset is
// not read (it now lives under another name pakon does not know).
func TestFollowerRestartAfterRotationWhileStopped(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, joinLines(numbered("a", 0, 2)))
	first := follow(t, p.eve, p.offset, nil)
	first.sink.waitLines(t, 2)
	first.stop(t)

	appendFile(t, p.eve, joinLines(numbered("lost", 0, 2)))
	if err := os.Rename(p.eve, p.eve+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p.eve, joinLines(numbered("b", 0, 30)))
	second := follow(t, p.eve, p.offset, nil)
	equalLines(t, second.sink.waitLines(t, 30), numbered("b", 0, 30))
}

func TestFollowerSinkErrorLosesNoLine(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, joinLines(numbered("a", 0, 10)))
	first := followWith(t, &eveinput.Follower{Path: p.eve, OffsetFile: p.offset, Poll: 5 * time.Millisecond}, &fakeSink{limit: 3})
	if err := first.wait(t); !errors.Is(err, errFull) {
		t.Fatalf("Run: %v, want the sink's error", err)
	}
	equalLines(t, first.sink.waitLines(t, 3), numbered("a", 0, 3))
	// The lines read but not taken are read again by the next run.
	second := follow(t, p.eve, p.offset, nil)
	equalLines(t, second.sink.waitLines(t, 7), numbered("a", 3, 7))
}

func TestFollowerReopenChecksNow(t *testing.T) {
	p := newPaths(t)
	appendFile(t, p.eve, joinLines(numbered("a", 0, 1)))
	fl := followWith(t, &eveinput.Follower{Path: p.eve, Poll: time.Hour}, nil)
	fl.sink.waitLines(t, 1)
	if err := os.Rename(p.eve, p.eve+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, p.eve, joinLines(numbered("b", 0, 1)))
	// With an hour between polls only Reopen gets this line in.
	fl.Reopen()
	equalLines(t, fl.sink.waitLines(t, 2), append(numbered("a", 0, 1), numbered("b", 0, 1)...))
	appendFile(t, p.eve, joinLines(numbered("b", 1, 1)))
	fl.Reopen()
	equalLines(t, fl.sink.waitLines(t, 3), append(numbered("a", 0, 1), numbered("b", 0, 2)...))
}

func TestFollowerWaitsForMissingFile(t *testing.T) {
	p := newPaths(t)
	fl := follow(t, p.eve, p.offset, nil)
	time.Sleep(20 * time.Millisecond) // a few polls without a file
	appendFile(t, p.eve, joinLines(numbered("a", 0, 2)))
	equalLines(t, fl.sink.waitLines(t, 2), numbered("a", 0, 2))
}

func TestFollowerOffsetFile(t *testing.T) {
	p := newPaths(t)
	data := joinLines(numbered("a", 0, 4))
	appendFile(t, p.eve, data+`{"half`)
	fl := follow(t, p.eve, p.offset, nil)
	fl.sink.waitLines(t, 4)
	fl.stop(t)
	fi, err := os.Stat(p.offset)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("offset file mode %v, want 0600", perm)
	}
	b, err := os.ReadFile(p.offset)
	if err != nil {
		t.Fatal(err)
	}
	var pos struct {
		Path   string `json:"path"`
		Inode  uint64 `json:"inode"`
		Offset int64  `json:"offset"`
	}
	if err := json.Unmarshal(b, &pos); err != nil {
		t.Fatalf("offset file %s: %v", b, err)
	}
	if pos.Path != p.eve || pos.Offset != int64(len(data)) || pos.Inode == 0 {
		t.Fatalf("offset file %s, want path %s offset %d", b, p.eve, len(data))
	}
	if entries, _ := os.ReadDir(filepath.Dir(p.offset)); len(entries) != 1 {
		t.Fatalf("state directory holds %d files, want only the offset file", len(entries))
	}
}

func TestFollowerIgnoresUnusableOffsetFile(t *testing.T) {
	tests := []struct {
		name    string
		content func(p paths) string
	}{
		{"corrupt", func(paths) string { return "{not json" }},
		{"other path", func(p paths) string { return `{"path":"/elsewhere/eve.json","inode":1,"offset":8}` }},
		{"offset beyond the file", func(p paths) string {
			fi, _ := os.Stat(p.eve)
			return `{"path":"` + p.eve + `","inode":` + inodeOf(fi) + `,"offset":100000}`
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPaths(t)
			appendFile(t, p.eve, joinLines(numbered("a", 0, 3)))
			if err := os.MkdirAll(filepath.Dir(p.offset), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p.offset, []byte(tt.content(p)), 0o600); err != nil {
				t.Fatal(err)
			}
			fl := follow(t, p.eve, p.offset, nil)
			equalLines(t, fl.sink.waitLines(t, 3), numbered("a", 0, 3))
		})
	}
}

func TestFollowerTooLongLine(t *testing.T) {
	const max = 64
	long := `{"x":"` + strings.Repeat("a", 100_000) + `"}`
	exact := `{"x":"` + strings.Repeat("b", max-8) + `"}`
	p := newPaths(t)
	appendFile(t, p.eve, "{\"a\":1}\n"+long[:len(long)-5])
	fl := followWith(t, &eveinput.Follower{Path: p.eve, OffsetFile: p.offset, MaxLine: max, Poll: 5 * time.Millisecond}, nil)
	fl.sink.waitLines(t, 1)
	fl.stop(t)
	// A restart in the middle of the long line still skips all of it.
	appendFile(t, p.eve, long[len(long)-5:]+"\n"+exact+"\n{\"a\":2}\n")
	second := followWith(t, &eveinput.Follower{Path: p.eve, OffsetFile: p.offset, MaxLine: max, Poll: 5 * time.Millisecond}, nil)
	equalLines(t, second.sink.waitLines(t, 2), []string{exact, `{"a":2}`})
	rejects := second.sink.waitRejects(t, 1)
	if len(rejects) != 1 || !strings.Contains(rejects[0], "too long") {
		t.Fatalf("rejects %q, want one too long line", rejects)
	}
}

func TestFollowerTooLongLineAcrossPolls(t *testing.T) {
	const max = 64
	long := `{"x":"` + strings.Repeat("a", 1000) + `"}`
	p := newPaths(t)
	fl := followWith(t, &eveinput.Follower{Path: p.eve, MaxLine: max, Poll: 5 * time.Millisecond}, nil)
	appendFile(t, p.eve, "{\"a\":1}\n"+long[:len(long)-5])
	fl.sink.waitLines(t, 1)
	time.Sleep(20 * time.Millisecond) // let it read the first part alone
	appendFile(t, p.eve, long[len(long)-5:]+"\n{\"a\":2}\n")
	equalLines(t, fl.sink.waitLines(t, 2), []string{`{"a":1}`, `{"a":2}`})
	rejects := fl.sink.waitRejects(t, 1)
	if len(rejects) != 1 || !strings.Contains(rejects[0], "1008 bytes is too long") {
		t.Fatalf("rejects %q, want one too long line of 1008 bytes", rejects)
	}
}
