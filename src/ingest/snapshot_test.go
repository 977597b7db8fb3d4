package ingest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/store"
)

func TestSyncSeesWrittenFlowsAndSnapshotRoundTrips(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "live.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := ingest.New(db, ingest.Options{FlushInterval: time.Hour})
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	lines := []string{
		`{"timestamp":"2026-03-02T10:00:00.000000+0000","flow_id":9,"event_type":"dns","src_ip":"10.99.0.10","src_port":40000,"dest_ip":"10.99.0.1","dest_port":53,"proto":"UDP","ether":{"src_mac":"02:00:00:00:00:0a","dest_mac":"02:00:00:00:00:01"},"dns":{"version":2,"type":"answer","id":1,"rrname":"a.test","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"a.test","rrtype":"A","ttl":300,"rdata":"198.51.100.1"}]}}`,
		`{"timestamp":"2026-03-02T10:01:00.000000+0000","flow_id":10,"event_type":"flow","src_ip":"10.99.0.10","src_port":50000,"dest_ip":"198.51.100.1","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"pkts_toserver":3,"pkts_toclient":4,"bytes_toserver":100,"bytes_toclient":200,"start":"2026-03-02T10:00:01.000000+0000","end":"2026-03-02T10:00:30.000000+0000"},"ether":{"src_macs":["02:00:00:00:00:0a"],"dest_macs":["02:00:00:00:00:01"]}}`,
		// Pushes event time past the hold so the flow is handed out.
		`{"timestamp":"2026-03-02T10:05:00.000000+0000","flow_id":11,"event_type":"dns","src_ip":"10.99.0.10","src_port":40001,"dest_ip":"10.99.0.1","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"answer","id":2,"rrname":"b.test","rrtype":"A","rcode":"NOERROR","answers":[]}}`,
	}
	for _, l := range lines {
		if err := p.Put(ctx, []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	var state flow.State
	var stored int64
	// The flush interval is an hour: only Sync makes the flow reach the store.
	for i := 0; i < 50 && stored == 0; i++ {
		if err := p.Sync(ctx, func(c *flow.Correlator) {
			state = c.Export()
			stored, _ = db.CountFlows(ctx)
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if stored != 1 {
		t.Fatalf("store holds %d flows inside Sync, want 1", stored)
	}
	if len(state.DNS) == 0 {
		t.Fatal("exported state has no DNS answers")
	}
	path := filepath.Join(t.TempDir(), "state", "snapshot.msgpack")
	if err := ingest.SaveSnapshot(path, state); err != nil {
		t.Fatal(err)
	}
	got, err := ingest.LoadSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.DNS) != len(state.DNS) || got.DNS[0].Name != state.DNS[0].Name || got.DNS[0].IP != state.DNS[0].IP {
		t.Errorf("snapshot round trip: %+v, want %+v", got.DNS, state.DNS)
	}
	if s, err := ingest.LoadSnapshot(filepath.Join(t.TempDir(), "none")); err != nil || len(s.DNS) != 0 {
		t.Errorf("missing snapshot: %+v, %v", s, err)
	}
	p.CloseInput()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
