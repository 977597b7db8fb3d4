package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/store"
)

// MustOpenDB opens a fresh database in a temp dir.
func MustOpenDB(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "pakon.db"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func rec(id uint64, start, end float64, active bool) flow.Record {
	return flow.Record{
		FlowID: id, Start: eve.Timestamp(start * 1e6), End: eve.Timestamp(end * 1e6),
		MAC: "02:00:00:00:00:0a", SrcIP: netip.MustParseAddr("10.99.0.10"), SrcPort: 5000,
		DestIP: netip.MustParseAddr("2001:db8::1"), DestPort: 443, Proto: "TCP", AppProto: "tls",
		Name: "a.test", Source: flow.SourceSNI, BytesSent: 10, BytesReceived: 20, Active: active,
	}
}

type row struct {
	start, end float64
	active     bool
	sent       int64
	name, ip   string
}

func rows(t *testing.T, db *store.DB) []row {
	t.Helper()
	r, err := db.SQL().Query("SELECT start, end, active, bytes_sent, observed_name, dest_ip FROM flows ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []row
	for r.Next() {
		var x row
		if err := r.Scan(&x.start, &x.end, &x.active, &x.sent, &x.name, &x.ip); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	return out
}

func write(t *testing.T, db *store.DB, ups ...flow.Update) {
	t.Helper()
	if err := db.Write(context.Background(), &store.Batch{Updates: ups}); err != nil {
		t.Fatal(err)
	}
}

func TestActiveRowCompletedInPlace(t *testing.T) {
	db := MustOpenDB(t)
	write(t, db, flow.Update{Record: rec(1, 100.5, 101, true)})
	got := rows(t, db)
	if len(got) != 1 || !got[0].active || got[0].ip != "2001:db8::1" {
		t.Fatalf("after active write: %+v", got)
	}
	final := rec(1, 100, 160, false)
	final.BytesSent = 999
	write(t, db, flow.Update{Record: final, Written: true})
	got = rows(t, db)
	if len(got) != 1 || got[0].active || got[0].start != 100 || got[0].end != 160 || got[0].sent != 999 {
		t.Fatalf("after completion: %+v", got)
	}
}

func TestReplayIsIdempotent(t *testing.T) {
	db := MustOpenDB(t)
	second := rec(2, 100, 110, false)
	second.SrcPort = 5001
	for range 2 {
		write(t, db, flow.Update{Record: rec(1, 100, 110, false)}, flow.Update{Record: second})
	}
	if got := rows(t, db); len(got) != 2 {
		t.Fatalf("replay doubled rows: %+v", got)
	}
	// The same capture analysed by another Suricata run has new flow_ids.
	again := rec(99, 100, 110, false)
	write(t, db, flow.Update{Record: again})
	if got := rows(t, db); len(got) != 2 {
		t.Fatalf("re-analysed capture doubled rows: %+v", got)
	}
	// A replayed stream also re-creates the active row first; completing it
	// must drop the duplicate rather than fail.
	write(t, db, flow.Update{Record: rec(1, 100.5, 101, true)})
	write(t, db, flow.Update{Record: rec(1, 100, 110, false), Written: true})
	if got := rows(t, db); len(got) != 2 {
		t.Fatalf("replayed active row kept: %+v", got)
	}
}

func TestDiscardAndDevices(t *testing.T) {
	db := MustOpenDB(t)
	write(t, db, flow.Update{Record: rec(1, 100, 101, true)}, flow.Update{Record: rec(2, 50, 300, false)})
	write(t, db, flow.Update{Op: flow.OpDiscard, Record: rec(1, 100, 101, false), Written: true})
	if got := rows(t, db); len(got) != 1 || got[0].start != 50 {
		t.Fatalf("discard: %+v", got)
	}
	err := db.Write(context.Background(), &store.Batch{Devices: []flow.DeviceSeen{{MAC: "02:00:00:00:00:0a", Hostname: "kids-tablet", At: 400e6}}})
	if err != nil {
		t.Fatal(err)
	}
	var name, ip string
	var first, last float64
	if err := db.SQL().QueryRow("SELECT dhcp_name, ip, first_seen, last_seen FROM devices").Scan(&name, &ip, &first, &last); err != nil {
		t.Fatal(err)
	}
	if name != "kids-tablet" || ip != "10.99.0.10" || first != 50 || last != 400 {
		t.Fatalf("device %q %q %v %v", name, ip, first, last)
	}
}

func TestFilesArePrivateAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "pakon.db")
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, flow.Update{Record: rec(1, 100, 101, false)})
	db.Close()
	for _, p := range []string{path, path + "-wal"} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", p, st.Mode())
		}
	}
	ro, err := store.Open(context.Background(), path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if v, _ := ro.SchemaVersion(context.Background()); v != store.LatestSchemaVersion() {
		t.Fatalf("schema version %d", v)
	}
	if _, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "none.db"), store.Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing file succeeded")
	}
}

// A read-only open (the CLI) of a database the daemon has not migrated yet
// says so instead of failing later on a missing table or index, and
// changes nothing.
func TestReadOnlyOpenOfOlderSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pakon.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	write(t, db, flow.Update{Record: rec(1, 100, 101, false)})
	setVersion := func(v int) {
		t.Helper()
		if _, err := db.SQL().ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
			t.Fatal(err)
		}
	}
	older := store.LatestSchemaVersion() - 1
	setVersion(older)
	_, err = store.Open(ctx, path, store.Options{ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d is older", older)) || !strings.Contains(err.Error(), path) {
		t.Fatalf("read-only open of schema %d: %v", older, err)
	}
	setVersion(store.LatestSchemaVersion())
	ro, err := store.Open(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got := rows(t, ro); len(got) != 1 {
		t.Fatalf("rows %+v", got)
	}
}

func TestAllFlowsSpansArchive(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	archivePath := filepath.Join(dir, "archive.db")
	db, err := store.Open(ctx, filepath.Join(dir, "live.db"), store.Options{ArchivePath: archivePath})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const now = 1_700_000_000
	old := rec(2, now-3*86400, now-3*86400+10, false)
	old.SrcPort = 6000
	write(t, db, flow.Update{Record: rec(1, now, now+10, false)}, flow.Update{Record: old})
	// The old flow's day is due: it moves to the archive.
	if st, err := db.Maintain(ctx, time.Unix(now+20, 0), store.Policy{}); err != nil || st.ArchivedFlows != 1 {
		t.Fatalf("maintain: %+v, %v", st, err)
	}

	count := func(db *store.DB) int {
		var n int
		if err := db.SQL().QueryRow("SELECT count(*) FROM " + store.AllFlows + " WHERE end >= 0").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(db); n != 2 {
		t.Fatalf("all_flows has %d rows, want 2", n)
	}
	ro, err := store.Open(ctx, filepath.Join(dir, "live.db"), store.Options{ReadOnly: true, ArchivePath: archivePath})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if n := count(ro); n != 2 {
		t.Fatalf("read-only all_flows has %d rows, want 2", n)
	}
}

// BenchmarkWrite measures batched flow inserts, the store's share of ingest.
func BenchmarkWrite(b *testing.B) {
	db := MustOpenDB(b)
	batch := &store.Batch{}
	b.ResetTimer()
	for i := range b.N {
		r := rec(uint64(i+1), float64(1_700_000_000+i), float64(1_700_000_000+i+5), false)
		r.SrcPort = uint16(i)
		r.MAC = fmt.Sprintf("02:00:00:00:00:%02x", i%30)
		batch.Updates = append(batch.Updates, flow.Update{Record: r})
		if len(batch.Updates) == 4096 || i == b.N-1 {
			if err := db.Write(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
}
