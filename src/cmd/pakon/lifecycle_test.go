package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/config"
	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/store"
)

// testLifecycle is a lifecycle on a live database and archive in dir.
func testLifecycle(t *testing.T, dir string) *lifecycle {
	t.Helper()
	cfg := &config.Config{ArchivePath: filepath.Join(dir, "archive.db")}
	db, err := store.Open(context.Background(), filepath.Join(dir, "live.db"), store.Options{ArchivePath: cfg.ArchivePath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &lifecycle{db: db, cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), status: &lifecycleStatus{},
		snapshot: filepath.Join(dir, "snapshot.msgpack")}
}

// completed are n completed flows, the first with flow_id from.
func completed(from, n int) *store.Batch {
	b := &store.Batch{}
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range n {
		id := from + i
		start := at.Add(time.Duration(id) * time.Second)
		b.Updates = append(b.Updates, flow.Update{Record: flow.Record{FlowID: uint64(id),
			Start: eve.Timestamp(start.UnixMicro()), End: eve.Timestamp(start.Add(2 * time.Second).UnixMicro()),
			MAC: "02:00:00:00:00:0a", SrcIP: netip.MustParseAddr("192.168.1.10"), SrcPort: uint16(1024 + id),
			DestIP: netip.MustParseAddr("198.51.100.1"), DestPort: 443, Proto: "TCP", BytesSent: 100, BytesReceived: 200}})
	}
	return b
}

// correlator holds open flows with flow_ids from, from+1, … (n of them).
func correlator(from, n int) *flow.Correlator {
	var s flow.State
	for i := range n {
		s.Open = append(s.Open, flow.OpenFlow{Record: flow.Record{FlowID: uint64(from + i), Proto: "TCP"}})
	}
	c := flow.New(flow.Options{})
	c.Import(s)
	return c
}

// TestCommitPinsThenJournalsThenSnapshots runs a commit whose pipeline
// goes on writing once the commit has taken its state: the journal holds
// the flows completed before that point and no later ones, and the
// snapshot the state taken at that point; a reboot restores exactly the
// journaled flows.
func TestCommitPinsThenJournalsThenSnapshots(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lc := testLifecycle(t, dir)
	if err := lc.db.Write(ctx, completed(1, 30)); err != nil {
		t.Fatal(err)
	}
	corr := correlator(1000, 3)
	err := lc.commit(ctx, func(take func(*flow.Correlator)) error {
		take(corr)
		// The pipeline resumes: flows completed now belong to the next
		// commit, as do the correlator's changes.
		if err := lc.db.Write(ctx, completed(31, 20)); err != nil {
			t.Fatal(err)
		}
		corr.Import(flow.State{Open: []flow.OpenFlow{{Record: flow.Record{FlowID: 2000, Proto: "TCP"}}}})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ingest.LoadSnapshot(lc.snapshot)
	if err != nil || len(s.Open) != 3 {
		t.Fatalf("snapshot holds %d open flows (%v), want the 3 taken at the pin", len(s.Open), err)
	}
	if lc.lastCommit().IsZero() {
		t.Error("commit time not recorded")
	}
	lc.db.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, "live.db") + suffix)
	}
	lc = testLifecycle(t, dir)
	st, err := lc.db.Restore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Flows != 30 {
		t.Errorf("reboot restored %d flows, want the 30 completed before the pin", st.Flows)
	}
}

// TestFailedJournalKeepsSnapshot makes the journal append fail: the
// commit fails and the previous snapshot stays, because the snapshot is
// written only once the journal is synced (a snapshot newer than the
// journal would drop the flows it no longer holds open).
func TestFailedJournalKeepsSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lc := testLifecycle(t, dir)
	take := func(c *flow.Correlator) func(func(*flow.Correlator)) error {
		return func(f func(*flow.Correlator)) error { f(c); return nil }
	}
	if err := lc.db.Write(ctx, completed(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := lc.commit(ctx, take(correlator(1000, 1))); err != nil {
		t.Fatal(err)
	}
	// A directory where the next journal file would be: appending fails.
	if err := os.Mkdir(filepath.Join(dir, "archive.db.journal", "99999999.log"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := lc.db.Write(ctx, completed(11, 10)); err != nil {
		t.Fatal(err)
	}
	if err := lc.commit(ctx, take(correlator(1000, 5))); err == nil {
		t.Fatal("commit succeeded with a broken journal")
	}
	s, err := ingest.LoadSnapshot(lc.snapshot)
	if err != nil || len(s.Open) != 1 {
		t.Errorf("snapshot holds %d open flows (%v) after a failed journal, want the previous commit's 1", len(s.Open), err)
	}
}
