package flow_test

import (
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/eve/evetest"
	"github.com/pakon/pakon/src/flow"
)

// BenchmarkCorrelate feeds decoded events of a realistic stream (30
// devices) to a Correlator, draining it as ingest does, every 4,096 events.
func BenchmarkCorrelate(b *testing.B) {
	var d eve.Decoder
	lines := evetest.New(30, 1, time.Unix(1_700_000_000, 0)).Lines(b.N)[:b.N]
	events := make([]eve.Event, len(lines))
	for i, l := range lines {
		if err := d.Decode(l, &events[i]); err != nil {
			b.Fatal(err)
		}
	}
	lines = nil
	now := time.Unix(1_700_000_000, 0)
	c := flow.New(flow.Options{Now: func() time.Time { return now }})
	var out []flow.Update
	b.ReportAllocs()
	b.ResetTimer()
	for i := range events {
		c.Handle(&events[i])
		if i%4096 == 4095 {
			out = c.Drain(out[:0], false)
		}
	}
	c.Drain(out[:0], true)
}
