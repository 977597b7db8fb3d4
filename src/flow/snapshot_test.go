package flow_test

import (
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/pakon/pakon/src/flow"
)

// restart exports h's state through msgpack (as the daemon's snapshot
// does) into a fresh correlator.
func restart(t *testing.T, h *harness) *harness {
	t.Helper()
	b, err := msgpack.Marshal(h.c.Export())
	if err != nil {
		t.Fatal(err)
	}
	var s flow.State
	if err := msgpack.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	n := newHarness(t, flow.Options{})
	n.clk.t = h.clk.t
	n.c.Import(s)
	return n
}

func TestSnapshotKeepsDNSHistory(t *testing.T) {
	h := newHarness(t, flow.Options{})
	h.feed(dnsAnswer(1_700_000_000, 1, "10.99.0.10", "news.test", "news.test A 300 198.51.100.7"))
	h = restart(t, h)
	h.feed(flowEnd(1_700_000_010, 1_700_000_020, 2, "10.99.0.10", "198.51.100.7", 443, "tls", 100, 200))
	r := onlyRecord(t, h.drain(true))
	if r.Name != "news.test" || r.Source != flow.SourceDNS {
		t.Errorf("after restart: name %q from %v, want news.test from dns", r.Name, r.Source)
	}
}

func TestSnapshotKeepsOpenFlows(t *testing.T) {
	h := newHarness(t, flow.Options{})
	h.feed(tlsEvent(1_700_000_000, 7, "10.99.0.10", "198.51.100.8", "video.test", "CN=cdn.test"))
	h.clk.t = h.clk.t.Add(time.Minute)
	ups := h.drain(false)
	if len(ups) != 1 || !ups[0].Record.Active {
		t.Fatalf("want the active row first: %+v", ups)
	}
	h = restart(t, h)
	if st := h.c.Stats(); st.Open != 1 {
		t.Fatalf("restored %d open flows, want 1", st.Open)
	}
	h.feed(flowEnd(1_700_000_000, 1_700_000_300, 7, "10.99.0.10", "198.51.100.8", 443, "tls", 1000, 9000))
	u := h.drain(true)
	if len(u) != 1 {
		t.Fatalf("got %d updates: %+v", len(u), u)
	}
	if !u[0].Written || u[0].Record.Name != "video.test" || u[0].Record.Source != flow.SourceSNI {
		t.Errorf("completion after restart: written %v, name %q (%v)", u[0].Written, u[0].Record.Name, u[0].Record.Source)
	}
}
