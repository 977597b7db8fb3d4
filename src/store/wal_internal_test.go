package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestWALSizeLimited checks that every connection of the live database
// truncates the WAL when a checkpoint resets it.
func TestWALSizeLimited(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "live.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Two connections at once: both come from the connector.
	c1, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for _, c := range []*sql.Conn{c1, c2} {
		var n int64
		if err := c.QueryRowContext(ctx, "PRAGMA main.journal_size_limit").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != walSizeLimit {
			t.Errorf("journal_size_limit %d, want %d", n, walSizeLimit)
		}
	}
}
