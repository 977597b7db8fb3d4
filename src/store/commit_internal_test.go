package store

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
)

// flows are n records with flow_ids from, from+1, …; active ones are in
// progress.
func flows(from, n int, active bool) []flow.Update {
	var out []flow.Update
	for i := range n {
		id := from + i
		start := eve.Timestamp(1_772_445_600_000_000 + int64(id)*1_000_000)
		out = append(out, flow.Update{Record: flow.Record{FlowID: uint64(id), Start: start, End: start + 2_000_000,
			MAC: "02:00:00:00:00:0a", SrcIP: netip.MustParseAddr("192.168.1.10"), SrcPort: uint16(1024 + id),
			DestIP: netip.MustParseAddr("198.51.100.1"), DestPort: 443, Proto: "TCP", BytesSent: 1, Active: active}})
	}
	return out
}

// TestCommitScansFromMark checks the commits' scan mark (scanMark): a
// commit after another reads from the previous one's anchor and active
// rows and still finds every flow completed since, and when rows at the
// top of the table are deleted (maintenance moving a day, pakon clear) so
// that SQLite hands their ids out again, the next commit scans everything.
func TestCommitScansFromMark(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "live.db"), Options{ArchivePath: filepath.Join(dir, "archive.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	write := func(ups []flow.Update) {
		t.Helper()
		if err := db.Write(ctx, &Batch{Updates: ups}); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(want int, what string) {
		t.Helper()
		st, err := db.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Flows != want {
			t.Errorf("%s: %d flows journaled, want %d", what, st.Flows, want)
		}
	}
	// Two active rows, one below the anchor and one above it.
	write(flows(1, 1, true))
	write(flows(2, 10, false))
	write(flows(12, 1, true))
	commit(10, "first commit")
	m := db.journal.mark
	if m == nil || len(m.active) != 1 {
		t.Fatalf("mark after the first commit: %+v, want an anchor and one active row below it", m)
	}

	done := append(flows(1, 1, false), flows(12, 1, false)...)
	for i := range done {
		done[i].Written = true
	}
	write(done)
	write(flows(13, 5, false))
	commit(7, "commit from the mark")
	if db.journal.mark == nil || db.journal.mark.anchorID <= m.anchorID {
		t.Errorf("mark did not move on: %+v after %+v", db.journal.mark, m)
	}

	// The newest rows go, their ids are handed out again: the anchor row
	// is gone, then another row holds its id.
	drop := func(n int) {
		t.Helper()
		if _, err := db.sql.ExecContext(ctx, "DELETE FROM flows WHERE id IN (SELECT id FROM flows ORDER BY id DESC LIMIT ?)", n); err != nil {
			t.Fatal(err)
		}
	}
	drop(5)
	write(flows(100, 3, false))
	commit(3, "commit after the anchor was deleted")
	drop(2)
	write(flows(200, 3, false))
	commit(3, "commit after the anchor's id was given to another row")
	commit(0, "commit with nothing new")
}
