package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pakon/pakon/src/flow"
)

// TestLargeArchiveTransactionLeavesWritesAlone holds an archive
// transaction that changed 12 MiB (a day's rewrite in the load run) and
// writes a live batch meanwhile: every live connection attaches the
// archive, so had the transaction spilled its pages early it would hold
// the archive's exclusive lock and the batch would fail with "database is
// locked" after the busy timeout.
func TestLargeArchiveTransactionLeavesWritesAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "live.db"), Options{ArchivePath: filepath.Join(dir, "archive.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.arch.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	blob := make([]byte, 1<<20)
	for i := range 12 {
		blob[0] = byte(i)
		if _, err := tx.ExecContext(ctx, "INSERT INTO segments (id, data) VALUES (?, ?)", 1<<20+i, blob); err != nil {
			t.Fatal(err)
		}
	}
	r := flow.Record{FlowID: 1, Start: 1_772_000_000_000_000, End: 1_772_000_005_000_000, Proto: "TCP"}
	if err := db.Write(ctx, &Batch{Updates: []flow.Update{{Record: r}}}); err != nil {
		t.Fatalf("live write during an archive transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
