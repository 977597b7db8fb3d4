package ingest_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve/evetest"
	"github.com/pakon/pakon/src/ingest"
	"github.com/pakon/pakon/src/store"
)

// TestWriteWaitsOutALongLock: another connection holds the live
// database's write lock for longer than SQLite's busy timeout (5 s), as a
// long archive move can. The batches waiting meanwhile are written once
// the lock is gone, not dropped.
func TestWriteWaitsOutALongLock(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a lock for 9 s")
	}
	path := filepath.Join(t.TempDir(), "live.db")
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := sql.Open("sqlite3", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		// Longer than SQLite's 5 s busy timeout plus the pipeline's first
		// write (a second in): holding it 6 s let a write that started
		// late wait it out inside the timeout, with no retry to see.
		time.Sleep(9 * time.Second)
		tx.Rollback()
		close(released)
	}()

	p := ingest.New(db, ingest.Options{})
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	lines := evetest.New(5, 3, time.Unix(1_700_000_000, 0)).Lines(2000)
	for _, l := range lines {
		if err := p.Put(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
	p.CloseInput()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	<-released
	s := p.Stats()
	if s.WriteErrors != 0 || s.BusyRetries == 0 {
		t.Fatalf("write errors %d, busy retries %d: the lock was not waited out", s.WriteErrors, s.BusyRetries)
	}
	n, err := db.CountFlows(context.Background())
	if err != nil || uint64(n) < s.Flow.Records {
		t.Fatalf("%d rows for %d records (%v)", n, s.Flow.Records, err)
	}
}
