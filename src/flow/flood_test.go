package flow_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
)

// TestFloodCappedPerDevice: one device opens flows at a flood rate (TLS
// starts that never end, as a scan or a worm makes). It fills its share
// of MaxOpen and no more; another device opening flows at the same time
// is still tracked and recorded, and the flooding device is named with
// its count.
func TestFloodCappedPerDevice(t *testing.T) {
	h := newHarness(t, flow.Options{MaxOpen: 100})
	const flooder = "02:00:00:00:00:66"
	other := 0
	for i := range 1000 {
		h.feed(strings.Replace(tlsEvent(100+float64(i)/100, 10_000+i, "10.99.0.66", "203.0.113.1", "scan.test", ""), client, flooder, 1))
		if i%50 == 0 {
			h.feed(tlsEvent(100+float64(i)/100, 100+other, "10.99.0.10", "203.0.113.2", "good.test", ""),
				flowEnd(100+float64(i)/100, 101+float64(i)/100, 100+other, "10.99.0.10", "203.0.113.2", 443, "tls", 10, 20))
			other++
		}
	}
	s := h.c.Stats()
	if s.MaxPerDevice != 100/flow.DefaultDeviceShare {
		t.Fatalf("per-device limit %d, want %d", s.MaxPerDevice, 100/flow.DefaultDeviceShare)
	}
	if s.Open > s.MaxPerDevice+other || s.DeviceCapped != uint64(1000-s.MaxPerDevice) || s.Overflow != 0 {
		t.Fatalf("stats %+v", s)
	}
	if len(s.Flooding) != 1 || s.Flooding[0].Device != flooder || s.Flooding[0].Capped != s.DeviceCapped ||
		s.Flooding[0].Open != s.MaxPerDevice {
		t.Fatalf("flooding %+v", s.Flooding)
	}
	recorded := 0
	for _, u := range h.drain(true) {
		if u.Record.MAC == client && !u.Record.Active && u.Record.Name == "good.test" {
			recorded++
		}
	}
	if recorded != other {
		t.Errorf("other device: %d flows recorded, want %d", recorded, other)
	}
	// When the flood's flows end, its share is free again.
	for i := range s.MaxPerDevice {
		h.feed(strings.Replace(flowEnd(100, 120, 10_000+i, "10.99.0.66", "203.0.113.1", 443, "tls", 1, 1), client, flooder, 1))
	}
	h.drain(true)
	if s := h.c.Stats(); len(s.Flooding) != 1 || s.Flooding[0].Open != 0 {
		t.Errorf("after the flood ended: %+v", s)
	}
	h.feed(strings.Replace(tlsEvent(200, 50_000, "10.99.0.66", "203.0.113.1", "again.test", ""), client, flooder, 1))
	if s := h.c.Stats(); s.DeviceCapped != uint64(1000-s.MaxPerDevice) {
		t.Errorf("a new flow after the flood was capped: %+v", s)
	}
}

// TestFloodingDevicesBounded: spoofed source MACs each reaching the limit
// do not grow the report past its bound; the most capped stay.
func TestFloodingDevicesBounded(t *testing.T) {
	h := newHarness(t, flow.Options{MaxOpen: 10_000, MaxOpenPerDevice: 1})
	for d := range 100 {
		m := fmt.Sprintf("02:00:00:00:01:%02x", d)
		for i := range 2 + d%5 {
			h.feed(strings.Replace(tlsEvent(100, d*10+i+1, "10.99.0.66", "203.0.113.1", "scan.test", ""), client, m, 1))
		}
	}
	s := h.c.Stats()
	if len(s.Flooding) == 0 || len(s.Flooding) > 16 {
		t.Fatalf("%d flooding devices reported", len(s.Flooding))
	}
	for _, f := range s.Flooding {
		if f.Capped < 3 {
			t.Errorf("kept a device capped only %d times: %+v", f.Capped, f)
		}
	}
}

// TestWallClockSetBack: the router's clock is set back (NTP's first sync
// on a device without a real-time clock) while a flow waits out its
// hold, with no further events. The flow is handed out at the next
// drain, not hours later.
func TestWallClockSetBack(t *testing.T) {
	h := newHarness(t, flow.Options{})
	h.feed(flowEnd(100, 110, 1, "10.99.0.10", "203.0.113.1", 443, "tls", 1, 1))
	if ups := h.drain(false); len(ups) != 0 {
		t.Fatalf("handed out before the hold: %+v", ups)
	}
	h.clk.t = h.clk.t.Add(-3 * time.Hour)
	if rec := onlyRecord(t, h.drain(false)); rec.FlowID != 1 {
		t.Fatalf("record %+v", rec)
	}
	// And forward: a flow queued after the jump waits its hold as usual.
	h.feed(flowEnd(120, 130, 2, "10.99.0.10", "203.0.113.1", 443, "tls", 1, 1))
	if ups := h.drain(false); len(ups) != 0 {
		t.Fatalf("handed out before the hold: %+v", ups)
	}
	h.clk.t = h.clk.t.Add(6 * time.Hour)
	if rec := onlyRecord(t, h.drain(false)); rec.FlowID != 2 {
		t.Fatalf("record %+v", rec)
	}
}

// TestDNSHistoryBoundWithoutSweeps: answers flood in faster than sweeps
// run (Expire is called once a minute of event time); the history stays
// within its bound plus a sixteenth all the same, evicting the oldest.
func TestDNSHistoryBoundWithoutSweeps(t *testing.T) {
	const max = 1600
	h := flow.NewDNSHistory(max, 0)
	for i := range 3 * max {
		d := &eve.DNS{Response: true, Answers: []eve.Answer{{Name: fmt.Sprintf("n%d.test", i), Type: "A", Data: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), TTL: 3600, HasTTL: true}}}
		h.Add("02:00:00:00:00:0a", eve.Timestamp(int64(i)*1000), d)
		if h.Len() > max+max/16 {
			t.Fatalf("after %d answers the history holds %d, bound %d", i+1, h.Len(), max+max/16)
		}
	}
	if h.Evicted < 2*max-max/16 {
		t.Errorf("evicted %d, want at least %d", h.Evicted, 2*max-max/16)
	}
	// The newest answer is kept, the oldest gone.
	last := 3*max - 1
	if n, ok := h.Lookup("02:00:00:00:00:0a", netip.MustParseAddr(fmt.Sprintf("10.%d.%d.%d", last>>16&255, last>>8&255, last&255)), eve.Timestamp(int64(last)*1000)); !ok || n != fmt.Sprintf("n%d.test", last) {
		t.Errorf("newest answer: %q %v", n, ok)
	}
	if _, ok := h.Lookup("02:00:00:00:00:0a", netip.MustParseAddr("10.0.0.0"), 0); ok {
		t.Error("oldest answer kept")
	}
}
