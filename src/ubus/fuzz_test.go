package ubus_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/ubus"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzDecode from the vectors")

const corpusDir = "testdata/fuzz/FuzzDecode"

// corpusFile is the seed corpus entry for one vector message, in the
// format `go test -fuzz` reads.
func corpusFile(v vector) (name, content string) {
	name = fmt.Sprintf("%s_%02d", strings.TrimSuffix(v.File, ".hex"), v.Index)
	return name, fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", v.Bytes)
}

// TestFuzzCorpusFromVectors checks that the committed seed corpus holds
// every message of every vector file; -update-corpus rewrites it.
func TestFuzzCorpusFromVectors(t *testing.T) {
	if *updateCorpus {
		if err := os.MkdirAll(corpusDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range vectorFiles {
		for _, v := range loadVectors(t, file) {
			name, content := corpusFile(v)
			path := filepath.Join(corpusDir, name)
			if *updateCorpus {
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != content {
				t.Errorf("%s: corpus entry %s missing or stale (run go test -run TestFuzzCorpusFromVectors -update-corpus)", v, path)
			}
		}
	}
}

// FuzzDecode checks that Decode never panics, fails only with ErrMalformed,
// and that whatever it accepts re-encodes to the same bytes and formats
// without panicking. Seeds: every vector message (testdata/fuzz/FuzzDecode).
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ubus.Decode(data)
		if err != nil {
			if !errors.Is(err, ubus.ErrMalformed) {
				t.Fatalf("Decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("re-encoded\n %x\nwant\n %x", enc, data)
		}
		frame, err := ubus.ReadFrame(bytes.NewReader(data))
		if err != nil || !bytes.Equal(frame, data) {
			t.Fatalf("ReadFrame of a decodable message: %x, %v", frame, err)
		}
		for _, id := range []ubus.AttrID{ubus.AttrData, ubus.AttrSignature} {
			if tab, ok := m.Table(id); ok {
				_ = ubus.FormatJSON(tab, true)
				if _, err := tab.MarshalJSON(); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
