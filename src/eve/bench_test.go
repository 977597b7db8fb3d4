package eve_test

import (
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/eve/evetest"
)

// BenchmarkDecode decodes a realistic mix of EVE lines.
func BenchmarkDecode(b *testing.B) {
	lines := evetest.New(30, 1, time.Unix(1_700_000_000, 0)).Lines(10000)
	var size int
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	var d eve.Decoder
	var ev eve.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := d.Decode(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeLean decodes the same lines as ingest does, with Lean and
// Reuse set.
func BenchmarkDecodeLean(b *testing.B) {
	lines := evetest.New(30, 1, time.Unix(1_700_000_000, 0)).Lines(10000)
	d := eve.Decoder{Lean: true, Reuse: true}
	var ev eve.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := d.Decode(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
	}
}
