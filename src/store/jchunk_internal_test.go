package store

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func journalRows() []jrow {
	rows := []jrow{
		{FlowID: 123456789012345, Start: 1_772_000_000_123_456, End: 1_772_000_004_000_001, MAC: "02:00:00:00:00:01",
			SrcIP: "192.168.1.10", SrcPort: 51000, DestIP: "203.0.113.9", DestPort: 443, Proto: "TCP", App: "tls",
			Name: "x.test", Src: "sni", Sent: 1200, Rcv: 90000, PSent: 10, PRcv: 70},
		{FlowID: 7, Start: 1_772_000_000_000_000, End: 1_772_000_000_000_000, MAC: "", SrcIP: "2001:db8::1",
			SrcPort: 0, DestIP: "2001:db8::2", DestPort: 53, Proto: "UDP", App: "dns", Name: "", Src: ""},
		{FlowID: 0, Start: 1_772_000_009_000_000, End: 1_772_000_008_000_000, MAC: "02:00:00:00:00:02",
			SrcIP: "::ffff:10.0.0.1", SrcPort: 65535, DestIP: "", DestPort: 0, Proto: "ICMP", App: "",
			Sent: math.MaxInt64, Rcv: 0, PSent: 1, PRcv: 0},
		// A key FlowKey would not give (an older writer): stored explicitly.
		{Key: 42, FlowID: 9, Start: 1_772_000_001_000_000, End: 1_772_000_002_000_000, MAC: "02:00:00:00:00:01",
			SrcIP: "192.168.1.10", SrcPort: 51001, DestIP: "203.0.113.9", DestPort: 443, Proto: "TCP"},
		// Fields FlowKey cannot read: the key is stored.
		{Key: -5, Start: 1_772_000_003_000_000, End: 1_772_000_003_500_000, SrcIP: "not an address", DestIP: "203.0.113.1",
			SrcPort: 70000, DestPort: 80, Proto: "TCP"},
	}
	for i := range rows[:3] {
		rows[i].Key, _ = rowKey(&rows[i])
	}
	return rows
}

func TestJournalChunkRoundTrip(t *testing.T) {
	want := journalRows()
	got, err := decodeJournalRows(encodeJournalRows(slices.Clone(want)))
	if err != nil {
		t.Fatal(err)
	}
	sortByKey := func(r []jrow) {
		slices.SortFunc(r, func(a, b jrow) int {
			switch {
			case a.Key < b.Key:
				return -1
			case a.Key > b.Key:
				return 1
			}
			return 0
		})
	}
	sortByKey(want)
	sortByKey(got)
	if !slices.Equal(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// Damaged payloads are errors, never panics.
	b := encodeJournalRows(slices.Clone(want))
	for cut := 0; cut < len(b); cut++ {
		decodeJournalRows(b[:cut])
	}
	if _, err := decodeJournalRows(nil); err == nil {
		t.Error("empty payload decoded")
	}
}

// TestJournalReadsBothFormats reads a file holding a chunk of the msgpack
// format (PKJ1, written by older versions), garbage, and a PKJ2 chunk.
func TestJournalReadsBothFormats(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	rows := journalRows()
	var raw bytes.Buffer
	if err := msgpack.NewEncoder(&raw).Encode(rows[:2]); err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw, _ := flate.NewWriter(&z, flate.DefaultCompression)
	zw.Write(raw.Bytes())
	zw.Close()
	v1 := append([]byte(journalMagic), make([]byte, 8)...)
	binary.LittleEndian.PutUint32(v1[4:], uint32(z.Len()))
	binary.LittleEndian.PutUint32(v1[8:], crc32.ChecksumIEEE(z.Bytes()))
	v1 = append(v1, z.Bytes()...)
	path := filepath.Join(dir, "00000001.log")
	if err := os.WriteFile(path, append(v1, "garbage"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := j.append(slices.Clone(rows[2:])); err != nil {
		t.Fatal(err)
	}
	got, damaged, err := readJournalFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) || damaged != 1 {
		t.Fatalf("read %d rows, %d damaged; want %d rows, 1 damaged", len(got), damaged, len(rows))
	}
	keys := map[int64]bool{}
	for _, r := range got {
		keys[r.Key] = true
	}
	for _, r := range rows {
		if !keys[r.Key] {
			t.Errorf("row with key %d lost", r.Key)
		}
	}
}

func BenchmarkJournalChunk(b *testing.B) {
	var rows []jrow
	for i := range 900 {
		r := journalRows()[0]
		r.Start += int64(i) * 3_999_937
		r.End = r.Start + int64(i%50)*100_003
		r.SrcPort = int64(30000 + i*7919%30000)
		r.FlowID += int64(i) * 104729
		r.Rcv = int64(i * i % 100000)
		r.Key, _ = rowKey(&r)
		rows = append(rows, r)
	}
	for b.Loop() {
		if _, err := decodeJournalRows(encodeJournalRows(rows)); err != nil {
			b.Fatal(err)
		}
	}
}
