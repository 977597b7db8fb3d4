package ubus_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pakon/pakon/src/ubus"
)

// sharedVectors is where CI puts the captures: /work/shared beside the
// repository checkout /work/main.
const sharedVectors = "../../../shared/ubus-vectors"

// localVectors holds copies of the .hex files so the tests run without
// shared/; TestVectorCopiesMatchShared keeps them identical.
const localVectors = "testdata/vectors"

var vectorFiles = []string{
	"hello.hex", "list.hex", "add_object.hex", "invoke.hex", "call_error.hex",
	"event.hex", "blobmsg_types.hex", "subscribe_notify.hex", "ubusd_direct.hex",
}

// vector is one message of a capture file.
type vector struct {
	File    string
	Index   int    // the [n] of the file, 1-based
	Conn    string // the "# @conn" name
	FromBus bool   // "<": ubusd → client; ">": client → ubusd
	Bytes   []byte
	// Comment is the generator's comment block above the message: the
	// "[n] TYPE ..." line and one line per attribute.
	Comment []string
}

func (v vector) String() string { return fmt.Sprintf("%s[%d]", v.File, v.Index) }

// vectorDir prefers shared/ when it is there and falls back to the copies.
func vectorDir(tb testing.TB) string {
	tb.Helper()
	if st, err := os.Stat(sharedVectors); err == nil && st.IsDir() {
		return sharedVectors
	}
	return localVectors
}

// loadVectors reads one capture file.
func loadVectors(tb testing.TB, file string) []vector {
	tb.Helper()
	f, err := os.Open(filepath.Join(vectorDir(tb), file))
	if err != nil {
		tb.Fatalf("open vectors: %v", err)
	}
	defer f.Close()
	var (
		out     []vector
		conn    string
		comment []string
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# @conn "):
			conn = strings.TrimPrefix(line, "# @conn ")
		case strings.HasPrefix(line, "# ["):
			comment = []string{strings.TrimPrefix(line, "# ")}
		case strings.HasPrefix(line, "#     ") && comment != nil:
			comment = append(comment, strings.TrimPrefix(line, "#     "))
		case strings.HasPrefix(line, "< "), strings.HasPrefix(line, "> "):
			b, err := hex.DecodeString(line[2:])
			if err != nil {
				tb.Fatalf("%s: bad hex line %q: %v", file, line, err)
			}
			out = append(out, vector{
				File: file, Index: len(out) + 1, Conn: conn,
				FromBus: line[0] == '<', Bytes: b, Comment: comment,
			})
			comment = nil
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read %s: %v", file, err)
	}
	return out
}

// vectorAt returns message [index] of file.
func vectorAt(tb testing.TB, file string, index int) vector {
	tb.Helper()
	vs := loadVectors(tb, file)
	if index < 1 || index > len(vs) {
		tb.Fatalf("%s has %d messages, no [%d]", file, len(vs), index)
	}
	return vs[index-1]
}

func mustDecode(tb testing.TB, v vector) ubus.Message {
	tb.Helper()
	m, err := ubus.Decode(v.Bytes)
	if err != nil {
		tb.Fatalf("%s: decode: %v", v, err)
	}
	return m
}

// TestVectorCopiesMatchShared checks that testdata/vectors holds exactly the
// files of shared/ubus-vectors that the tests rely on.
func TestVectorCopiesMatchShared(t *testing.T) {
	if _, err := os.Stat(sharedVectors); err != nil {
		t.Skipf("%s is absent (repository checked out without shared/): using the copies in %s", sharedVectors, localVectors)
	}
	for _, name := range vectorFiles {
		shared, err := os.ReadFile(filepath.Join(sharedVectors, name))
		if err != nil {
			t.Fatalf("read shared vector: %v", err)
		}
		local, err := os.ReadFile(filepath.Join(localVectors, name))
		if err != nil {
			t.Fatalf("read local copy: %v", err)
		}
		if !bytes.Equal(shared, local) {
			t.Errorf("%s/%s differs from %s/%s: copy it again", localVectors, name, sharedVectors, name)
		}
	}
}

// TestVectorsRoundTrip decodes every message of every capture file, checks
// the decoded header and attributes against the generator's comment above
// the message (type, seq, peer, lengths, attribute ids and decoded values)
// and re-encodes the message byte for byte.
func TestVectorsRoundTrip(t *testing.T) {
	total := 0
	for _, file := range vectorFiles {
		vs := loadVectors(t, file)
		if len(vs) == 0 {
			t.Fatalf("%s: no messages", file)
		}
		for _, v := range vs {
			total++
			t.Run(fmt.Sprintf("%s/%d", file, v.Index), func(t *testing.T) {
				m := mustDecode(t, v)
				enc, err := m.Encode()
				if err != nil {
					t.Fatalf("%s: encode: %v", v, err)
				}
				if !bytes.Equal(enc, v.Bytes) {
					t.Fatalf("%s: re-encoded\n got %x\nwant %x", v, enc, v.Bytes)
				}
				checkComment(t, v, m)
			})
		}
	}
	// README: hello 15, list 4, add_object 7, invoke 10, call_error 19,
	// event 11, blobmsg_types 24, subscribe_notify 24, ubusd_direct 29.
	if want := 15 + 4 + 7 + 10 + 19 + 11 + 24 + 24 + 29; total != want {
		t.Errorf("decoded %d messages, the README lists %d", total, want)
	}
}

var headerComment = regexp.MustCompile(`^\[(\d+)\] (\S+) \(type (\d+)\) seq=(\d+) peer=0x([0-9a-f]{8}) msg=(\d+) bytes \(blob id 0, len (\d+)\)$`)

// checkComment compares the decoded message with the comment block the
// capture generator wrote above it.
func checkComment(t *testing.T, v vector, m ubus.Message) {
	t.Helper()
	if len(v.Comment) == 0 {
		t.Fatalf("%s: no comment block", v)
	}
	h := headerComment.FindStringSubmatch(v.Comment[0])
	if h == nil {
		t.Fatalf("%s: unexpected header comment %q", v, v.Comment[0])
	}
	got := fmt.Sprintf("[%d] %s (type %d) seq=%d peer=0x%08x msg=%d bytes (blob id 0, len %d)",
		v.Index, m.Type, m.Type, m.Seq, m.Peer, len(v.Bytes), len(v.Bytes)-ubus.HeaderLen)
	if got != v.Comment[0] {
		t.Errorf("%s: header\n got %s\nwant %s", v, got, v.Comment[0])
	}
	var want []string
	for _, c := range v.Comment[1:] {
		if !strings.HasPrefix(c, "NOTE:") {
			want = append(want, c)
		}
	}
	var lines []string
	for _, a := range m.Attrs {
		lines = append(lines, describeAttr(t, a))
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: attributes\n got %q\nwant %q", v, lines, want)
	}
}

var statusNames = []string{"OK", "INVALID_COMMAND", "INVALID_ARGUMENT", "METHOD_NOT_FOUND", "NOT_FOUND", "NO_DATA", "PERMISSION_DENIED"}

// describeAttr writes an attribute in the generator's notation, e.g.
// `OBJID(3) len=8: 0x9bd65f12` or `DATA(7) len=36: {"id": int32(1)}`.
func describeAttr(t *testing.T, a ubus.Attr) string {
	t.Helper()
	one := ubus.Message{Attrs: []ubus.Attr{a}}
	enc, err := one.Encode()
	if err != nil {
		t.Fatalf("encode attribute %s: %v", a.ID, err)
	}
	rawLen := int(enc[ubus.HeaderLen+4+1])<<16 | int(enc[ubus.HeaderLen+4+2])<<8 | int(enc[ubus.HeaderLen+4+3])
	var val string
	switch x := a.Value.(type) {
	case uint32:
		if a.ID == ubus.AttrStatus {
			val = fmt.Sprintf("%d (%s)", x, statusNames[x])
		} else {
			val = fmt.Sprintf("0x%08x", x)
		}
	case uint8:
		val = strconv.Itoa(int(x))
	case string:
		val = strconv.Quote(x)
	case ubus.Table:
		val = describeList(x)
	case []uint32:
		var ids []string
		for _, id := range x {
			ids = append(ids, fmt.Sprintf("0x%08x", id))
		}
		val = "[" + strings.Join(ids, ", ") + "]"
	default:
		val = fmt.Sprintf("%x", x)
	}
	return fmt.Sprintf("%s(%d) len=%d: %s", a.ID, a.ID, rawLen, val)
}

// describeList writes the payload of DATA or SIGNATURE in the generator's
// notation: {"name": int32(1), "t": table{...}, "a": array[...]}.
func describeList(t ubus.Table) string {
	var parts []string
	for _, f := range t {
		parts = append(parts, strconv.Quote(f.Name)+": "+describeValue(f.Value))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// describeValue writes one blobmsg value: string("x"), unspec(),
// double(1.5), int32(5), table{...}, array[...].
func describeValue(v ubus.Value) string {
	switch x := v.(type) {
	case ubus.Table:
		return "table" + describeList(x)
	case ubus.Array:
		var parts []string
		for _, e := range x {
			parts = append(parts, describeValue(e))
		}
		return "array[" + strings.Join(parts, ", ") + "]"
	case ubus.String:
		return "string(" + strconv.Quote(string(x)) + ")"
	case ubus.Double:
		s := strconv.FormatFloat(float64(x), 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return "double(" + s + ")"
	case ubus.Unspec:
		return "unspec(" + hex.EncodeToString(x) + ")"
	default:
		return fmt.Sprintf("%s(%d)", v.Type(), v)
	}
}
