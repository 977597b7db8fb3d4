package eveinput_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/eveinput"
)

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadFile(t *testing.T) {
	long := `{"x":"` + strings.Repeat("a", 100) + `"}`
	exact := `{"x":"` + strings.Repeat("b", 64-8) + `"}` // 64 bytes
	tests := []struct {
		name        string
		file        string
		data        string
		gz          bool
		maxLine     int
		wantLines   []string
		wantRejects int
	}{
		{name: "plain", file: "eve.json", data: "{\"a\":1}\n{\"a\":2}\n", wantLines: []string{`{"a":1}`, `{"a":2}`}},
		{name: "gzip", file: "eve.json.gz", data: "{\"a\":1}\n{\"a\":2}\n", gz: true, wantLines: []string{`{"a":1}`, `{"a":2}`}},
		{name: "last line without newline", file: "eve.json", data: "{\"a\":1}\n{\"a\":2}", wantLines: []string{`{"a":1}`, `{"a":2}`}},
		{name: "gzip last line without newline", file: "eve.json.gz", data: "{\"a\":1}", gz: true, wantLines: []string{`{"a":1}`}},
		{name: "empty", file: "eve.json", data: ""},
		{name: "empty lines kept", file: "eve.json", data: "\n{\"a\":1}\n\n", wantLines: []string{"", `{"a":1}`, ""}},
		{name: "crlf kept for the decoder", file: "eve.json", data: "{\"a\":1}\r\n", wantLines: []string{"{\"a\":1}\r"}},
		{
			name: "too long line skipped", file: "eve.json", maxLine: 64,
			data:      "{\"a\":1}\n" + long + "\n{\"a\":2}\n",
			wantLines: []string{`{"a":1}`, `{"a":2}`}, wantRejects: 1,
		},
		{
			name: "line of exactly max bytes kept", file: "eve.json", maxLine: 64,
			data: exact + "\n" + exact, wantLines: []string{exact, exact},
		},
		{
			name: "limit below the read buffer's minimum", file: "eve.json", maxLine: 4,
			data: "{}\n{\"a\":1}\n[]\n", wantLines: []string{"{}", "[]"}, wantRejects: 1,
		},
		{
			name: "too long last line without newline", file: "eve.json", maxLine: 64,
			data: "{\"a\":1}\n" + long, wantLines: []string{`{"a":1}`}, wantRejects: 1,
		},
		{
			name: "several too long lines in a row", file: "eve.json", maxLine: 16,
			data: long + "\n" + long + "\n{\"a\":1}\n", wantLines: []string{`{"a":1}`}, wantRejects: 2,
		},
		{
			name: "too long line in gzip", file: "eve.json.gz", maxLine: 64, gz: true,
			data: long + "\n{\"a\":1}\n", wantLines: []string{`{"a":1}`}, wantRejects: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if tt.gz {
				data = gzipped(t, tt.data)
			}
			path := writeFile(t, tt.file, data)
			var sink fakeSink
			n, err := eveinput.ReadFile(context.Background(), path, tt.maxLine, &sink)
			if err != nil {
				t.Fatal(err)
			}
			lines, rejects := sink.got()
			equalLines(t, lines, tt.wantLines)
			if len(rejects) != tt.wantRejects {
				t.Fatalf("rejects %q, want %d", rejects, tt.wantRejects)
			}
			for _, r := range rejects {
				if !strings.Contains(r, path) || !strings.Contains(r, "too long") {
					t.Errorf("reject reason %q names neither the file nor the cause", r)
				}
			}
			if want := len(tt.wantLines) + tt.wantRejects; n != want {
				t.Errorf("ReadFile returned %d lines, want %d", n, want)
			}
		})
	}
}

func TestReadFileDefaultMaxLine(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", 200_000) + `"}`
	path := writeFile(t, "eve.json", []byte(big+"\n"))
	var sink fakeSink
	if _, err := eveinput.ReadFile(context.Background(), path, 0, &sink); err != nil {
		t.Fatal(err)
	}
	lines, rejects := sink.got()
	if len(lines) != 1 || lines[0] != big || len(rejects) != 0 {
		t.Fatalf("got %d lines, %d rejects; a 200 kB line is within the default", len(lines), len(rejects))
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
	}{
		{"missing", filepath.Join(dir, "missing.json")},
		{"not gzip", writeFile(t, "eve.json.gz", []byte("{\"a\":1}\n"))},
		{"directory", dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sink fakeSink
			_, err := eveinput.ReadFile(context.Background(), tt.path, 0, &sink)
			if err == nil || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("err %v, want one naming %s", err, tt.path)
			}
		})
	}
}

func TestReadFileCorruptGzipTail(t *testing.T) {
	data := gzipped(t, joinLines(numbered("a", 0, 100)))
	path := writeFile(t, "eve.json.gz", data[:len(data)-4]) // no complete trailer
	var sink fakeSink
	_, err := eveinput.ReadFile(context.Background(), path, 0, &sink)
	if err == nil {
		t.Fatal("a gzip file without its trailer read without error")
	}
}

func TestReadFileCancelledWhileWaiting(t *testing.T) {
	path := writeFile(t, "eve.json", []byte(joinLines(numbered("a", 0, 10))))
	ctx, cancel := context.WithCancel(context.Background())
	sink := fakeSink{block: true}
	done := make(chan error, 1)
	go func() {
		_, err := eveinput.ReadFile(ctx, path, 0, &sink)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestReadFileCancelledStopsEvenWhenSinkHasRoom(t *testing.T) {
	path := writeFile(t, "eve.json", []byte(joinLines(numbered("a", 0, 1000))))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var sink fakeSink
	n, err := eveinput.ReadFile(ctx, path, 0, &sink)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if lines, _ := sink.got(); len(lines) != 0 || n != 0 {
		t.Fatalf("read %d lines (%d handed over) after cancellation", n, len(lines))
	}
}

func TestReadFileSinkError(t *testing.T) {
	path := writeFile(t, "eve.json", []byte(joinLines(numbered("a", 0, 10))))
	sink := fakeSink{limit: 3}
	n, err := eveinput.ReadFile(context.Background(), path, 0, &sink)
	if !errors.Is(err, errFull) {
		t.Fatalf("err %v, want the sink's", err)
	}
	if lines, _ := sink.got(); len(lines) != 3 || n != 4 {
		t.Fatalf("handed over %d lines, returned %d; want 3 and 4", len(lines), n)
	}
}
