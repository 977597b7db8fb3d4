package store_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pakon/pakon/src/store"
)

// reboot empties the live database, as a power cut empties the tmpfs, and
// restores it from the journal.
func reboot(t *testing.T, db *store.DB, dir string) (*store.DB, store.RestoreStats) {
	t.Helper()
	db.Close()
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, "live.db") + s)
	}
	db = tiers(t, dir)
	st, err := db.Restore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return db, st
}

// TestPinnedCommitJournalsWhatPinSaw checks the daemon's commit order:
// Pin fixes the flows a commit journals while writes go on beside it
// (they do not wait for the commit), flows completed after the pin (new
// ones, and an active row completed in place) go to the next commit, and
// a reboot after each commit restores exactly what it journaled, once.
func TestPinnedCommitJournalsWhatPinSaw(t *testing.T) {
	dir := t.TempDir()
	db := tiers(t, dir)
	ups := genFlows(1, 300, "02:00:00:00:00:01")
	open := ups[299]
	open.Record.Active = true
	if err := db.Write(ctx, &store.Batch{Updates: append(ups[:100:100], open)}); err != nil {
		t.Fatal(err)
	}
	c, err := db.BeginCommit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Pin(ctx); err != nil {
		t.Fatal(err)
	}
	// Ingest goes on while the commit is pinned: a write that waited for
	// the commit would fail here with "database is locked" after the busy
	// timeout.
	done := open
	done.Record.Active, done.Written = false, true
	if err := db.Write(ctx, &store.Batch{Updates: append(ups[100:200:200], done)}); err != nil {
		t.Fatalf("write beside a pinned commit: %v", err)
	}
	st, err := c.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Flows != 100 {
		t.Errorf("pinned commit journaled %d flows, want the 100 completed before the pin", st.Flows)
	}
	db, rs := reboot(t, db, dir)
	if rs.Flows != 100 {
		t.Errorf("restored %d flows after the first commit, want 100", rs.Flows)
	}

	// The rows written after the pin were lost with the tmpfs: they come
	// back as a pipeline would write them again, and the next commit
	// takes them.
	if err := db.Write(ctx, &store.Batch{Updates: append(ups[100:200:200], done)}); err != nil {
		t.Fatal(err)
	}
	if st, err := db.Commit(ctx); err != nil || st.Flows != 101 {
		t.Fatalf("second commit: %+v %v, want the 101 flows completed after the pin", st, err)
	}
	db, rs = reboot(t, db, dir)
	if rs.Flows != 201 {
		t.Errorf("restored %d flows after the second commit, want 201", rs.Flows)
	}
	if n := count(t, db, "SELECT count(*) FROM flows"); n != 201 {
		t.Errorf("live database holds %d flows, want each of the 201 once", n)
	}
}

// TestAbandonedCommitLeavesNothing checks that a commit closed between Pin
// and Finish (the daemon stopping) journals and marks nothing, so the
// next commit takes its flows.
func TestAbandonedCommitLeavesNothing(t *testing.T) {
	db := tiers(t, t.TempDir())
	if err := db.Write(ctx, &store.Batch{Updates: genFlows(1, 50, "02:00:00:00:00:01")}); err != nil {
		t.Fatal(err)
	}
	c, err := db.BeginCommit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Pin(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Finish(ctx); err == nil {
		t.Error("Finish after Close succeeded")
	}
	if st, err := db.Commit(ctx); err != nil || st.Flows != 50 {
		t.Errorf("commit after an abandoned one: %+v %v, want 50 flows", st, err)
	}
}

// TestLargeCommitInChunks commits more flows than one journal chunk holds
// (store.commitSlice, 16,384): the commit writes them as several chunks,
// and a reboot restores every flow once.
func TestLargeCommitInChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40,000 flows")
	}
	dir := t.TempDir()
	db := tiers(t, dir)
	ups := genFlows(1, 40_000, "02:00:00:00:00:01")
	if err := db.Write(ctx, &store.Batch{Updates: ups}); err != nil {
		t.Fatal(err)
	}
	st, err := db.Commit(ctx)
	if err != nil || st.Flows != len(ups) {
		t.Fatalf("commit: %+v %v, want %d flows", st, err, len(ups))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "archive.db.journal", "*.log"))
	chunks := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		chunks += bytes.Count(b, []byte("PKJ2"))
	}
	if chunks < 3 {
		t.Errorf("%d flows journaled in %d chunks, want at least 3", len(ups), chunks)
	}
	db, rs := reboot(t, db, dir)
	if rs.Flows != len(ups) || rs.Damaged != 0 {
		t.Errorf("restore: %+v, want %d flows and no damage", rs, len(ups))
	}
	want := inputTotals(ups)
	if got := allTotals(t, db); got["02:00:00:00:00:01"] != want["02:00:00:00:00:01"] {
		t.Errorf("after restore %+v, want %+v", got, want)
	}
}
