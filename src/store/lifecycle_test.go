package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/store"
)

var ctx = context.Background()

// tiers opens a live database with an archive in dir.
func tiers(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(ctx, filepath.Join(dir, "live.db"), store.Options{ArchivePath: filepath.Join(dir, "archive.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// base is a Monday 00:00 UTC.
var base = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// genFlows makes n flows per device per day for days days from base:
// bursts to a few names, some tiny, some unnamed.
func genFlows(days, perDay int, macs ...string) []flow.Update {
	var out []flow.Update
	id := uint64(1)
	for d := range days {
		for _, mac := range macs {
			for i := range perDay {
				start := base.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*(24*time.Hour/time.Duration(perDay)) + time.Duration(i%7)*time.Second)
				r := flow.Record{
					FlowID: id, Start: eve.Timestamp(start.UnixMicro()), End: eve.Timestamp(start.Add(time.Duration(i%20) * time.Second).UnixMicro()),
					MAC: mac, SrcIP: netip.MustParseAddr("192.168.1.10"), SrcPort: uint16(30000 + id%30000),
					DestIP: netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 5)}), DestPort: 443, Proto: "TCP", AppProto: "tls",
					Name: fmt.Sprintf("host%d.test", i%4), Source: flow.SourceSNI,
					BytesSent: uint64(100 + i%3*1000), BytesReceived: uint64(200 + (i%11)*700), PktsSent: 3, PktsReceived: 4,
				}
				if i%9 == 0 {
					r.Name, r.Source = "", flow.SourceNone
				}
				out = append(out, flow.Update{Record: r})
				id++
			}
		}
	}
	return out
}

type sums struct{ flows, bytes int64 }

// allTotals sums all_flows plus the dropped tallies per device.
func allTotals(t *testing.T, db *store.DB) map[string]sums {
	t.Helper()
	out := map[string]sums{}
	rows, err := db.SQL().Query("SELECT mac, sum(flows), sum(bytes_sent + bytes_received) FROM all_flows GROUP BY mac")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var mac string
		var s sums
		if err := rows.Scan(&mac, &s.flows, &s.bytes); err != nil {
			t.Fatal(err)
		}
		out[mac] = s
	}
	rows.Close()
	rows, err = db.SQL().Query("SELECT mac, sum(flows), sum(bytes_sent + bytes_received) FROM archive.dropped GROUP BY mac")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var mac string
		var s sums
		if err := rows.Scan(&mac, &s.flows, &s.bytes); err != nil {
			t.Fatal(err)
		}
		o := out[mac]
		out[mac] = sums{o.flows + s.flows, o.bytes + s.bytes}
	}
	return out
}

func inputTotals(ups []flow.Update) map[string]sums {
	out := map[string]sums{}
	for _, u := range ups {
		s := out[u.Record.MAC]
		out[u.Record.MAC] = sums{s.flows + 1, s.bytes + int64(u.Record.BytesSent+u.Record.BytesReceived)}
	}
	return out
}

func count(t *testing.T, db *store.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.SQL().QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func rules() []store.Rule {
	return []store.Rule{
		{UpTo: 24 * time.Hour, Window: time.Minute, SizeThreshold: 4096},
		{UpTo: 72 * time.Hour, Window: 15 * time.Minute, SizeThreshold: 8192},
		{UpTo: 7 * 24 * time.Hour, Window: 30 * time.Minute},
		{UpTo: 14 * 24 * time.Hour, Window: time.Hour},
	}
}

func mustMaintain(t *testing.T, db *store.DB, now time.Time, p store.Policy) store.MaintainStats {
	t.Helper()
	st, err := db.Maintain(ctx, now, p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestLifecycleAggregatesAndKeepsTotals(t *testing.T) {
	db := tiers(t, t.TempDir())
	ups := genFlows(10, 300, "02:00:00:00:00:01", "02:00:00:00:00:02")
	want := inputTotals(ups)
	if err := db.Write(ctx, &store.Batch{Updates: ups}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	now := base.Add(10*24*time.Hour + time.Hour)
	p := store.Policy{Rules: rules()}
	st := mustMaintain(t, db, now, p)
	// Days 0..8 are due (day 9 ended an hour ago); day 9 stays live.
	if st.ArchivedFlows != 9*600 {
		t.Errorf("archived %d flows, want %d", st.ArchivedFlows, 9*600)
	}
	if n := count(t, db, "SELECT count(*) FROM main.flows"); n != 600 {
		t.Errorf("live keeps %d rows, want 600", n)
	}
	if st.DroppedFlows == 0 {
		t.Error("size thresholds dropped nothing")
	}
	got := allTotals(t, db)
	for mac, w := range want {
		if got[mac] != w {
			t.Errorf("%s: stored+dropped %+v, want %+v", mac, got[mac], w)
		}
	}
	rows := count(t, db, "SELECT count(*) FROM archive.flows")
	if rows >= 9*600/2 {
		t.Errorf("aggregation kept %d rows of %d", rows, 9*600)
	}
	// Older days are coarser.
	perDay := func(day int) int64 {
		from := float64(base.Add(time.Duration(day) * 24 * time.Hour).Unix())
		return count(t, db, fmt.Sprintf("SELECT count(*) FROM archive.flows WHERE end >= %f AND end < %f", from, from+86400))
	}
	if old, recent := perDay(0), perDay(8); old > recent {
		t.Errorf("day 0 has %d rows, day 8 %d: older days must not be finer", old, recent)
	}
	// Running again changes nothing.
	if st := mustMaintain(t, db, now, p); st.Aggregated != 0 || st.ArchivedFlows != 0 {
		t.Errorf("second run did work: %+v", st)
	}
	// A rule change re-cascades: one coarse rule merges everything per hour.
	before := count(t, db, "SELECT count(*) FROM archive.flows")
	coarse := store.Policy{Rules: []store.Rule{{UpTo: 24 * time.Hour, Window: 6 * time.Hour}}}
	if st := mustMaintain(t, db, now, coarse); st.Aggregated == 0 {
		t.Error("rule change did not re-aggregate")
	}
	if after := count(t, db, "SELECT count(*) FROM archive.flows"); after >= before {
		t.Errorf("re-cascade left %d rows of %d", after, before)
	}
	got = allTotals(t, db)
	for mac, w := range want {
		if got[mac] != w {
			t.Errorf("after re-cascade %s: %+v, want %+v", mac, got[mac], w)
		}
	}
}

func TestRetentionCapsAndKeepForever(t *testing.T) {
	ups := genFlows(30, 50, "02:00:00:00:00:01")
	// An unset clock: a flow of 1970.
	old := genFlows(1, 1, "02:00:00:00:00:09")[0]
	old.Record.Start, old.Record.End = 5e6, 6e6
	ups = append(ups, old)
	now := base.Add(30*24*time.Hour + time.Hour)

	t.Run("keep", func(t *testing.T) {
		db := tiers(t, t.TempDir())
		if err := db.Write(ctx, &store.Batch{Updates: ups}); err != nil {
			t.Fatal(err)
		}
		st := mustMaintain(t, db, now, store.Policy{Rules: rules(), Keep: 7 * 24 * time.Hour})
		// Days 0-22 ended at least keep ago.
		if st.ExpiredDays != 23 {
			t.Errorf("expired %d days, want 23", st.ExpiredDays)
		}
		if n := count(t, db, "SELECT count(*) FROM all_flows WHERE end < 100"); n != 1 {
			t.Errorf("the 1970 flow: %d rows, want it kept", n)
		}
		if n := count(t, db, fmt.Sprintf("SELECT count(*) FROM all_flows WHERE end >= 100 AND end < %d", now.Add(-8*24*time.Hour).Unix())); n != 0 {
			t.Errorf("%d rows older than keep", n)
		}
	})
	t.Run("keep 0", func(t *testing.T) {
		db := tiers(t, t.TempDir())
		if err := db.Write(ctx, &store.Batch{Updates: ups}); err != nil {
			t.Fatal(err)
		}
		later := now.Add(365 * 24 * time.Hour)
		if st := mustMaintain(t, db, later, store.Policy{Rules: rules()}); st.ExpiredDays != 0 {
			t.Errorf("keep 0 expired %d days", st.ExpiredDays)
		}
		if n := count(t, db, "SELECT sum(flows) FROM all_flows") + count(t, db, "SELECT coalesce(sum(flows), 0) FROM archive.dropped"); n != int64(len(ups)) {
			t.Errorf("keep 0 holds %d flows, want %d", n, len(ups))
		}
	})
	t.Run("caps", func(t *testing.T) {
		db := tiers(t, t.TempDir())
		big := append(genFlows(30, 400, "02:00:00:00:00:01", "02:00:00:00:00:02"), old)
		if err := db.Write(ctx, &store.Batch{Updates: big}); err != nil {
			t.Fatal(err)
		}
		mustMaintain(t, db, now, store.Policy{Rules: rules()})
		total := count(t, db, "SELECT count(*) FROM archive.flows")
		st := mustMaintain(t, db, now, store.Policy{Rules: rules(), ArchiveMaxRows: total / 2})
		if st.CappedDays == 0 {
			t.Fatal("row cap deleted nothing")
		}
		if n := count(t, db, "SELECT count(*) FROM archive.flows"); n > total/2 {
			t.Errorf("%d rows over the cap of %d", n, total/2)
		}
		// Oldest first: the unset-clock day and the first days went.
		if n := count(t, db, "SELECT count(*) FROM archive.flows WHERE end < 100"); n != 0 {
			t.Error("cap kept the oldest (1970) day")
		}
		if n := count(t, db, fmt.Sprintf("SELECT count(*) FROM archive.flows WHERE end >= %d", now.Add(-3*24*time.Hour).Unix())); n == 0 {
			t.Error("cap deleted the newest days")
		}
		used := func() int64 {
			return (count(t, db, "PRAGMA archive.page_count") - count(t, db, "PRAGMA archive.freelist_count")) * 4096
		}
		before := used()
		cap := before / 2
		if st := mustMaintain(t, db, now, store.Policy{Rules: rules(), ArchiveMaxBytes: cap}); st.CappedDays == 0 {
			t.Error("byte cap deleted nothing")
		}
		if after := used(); after > cap {
			t.Errorf("byte cap %d: %d bytes used", cap, after)
		}
	})
	t.Run("live cap", func(t *testing.T) {
		db := tiers(t, t.TempDir())
		if err := db.Write(ctx, &store.Batch{Updates: ups}); err != nil {
			t.Fatal(err)
		}
		// Nothing is due a day after the data, but live is over its cap.
		st := mustMaintain(t, db, base.Add(time.Hour), store.Policy{Rules: rules(), LiveMaxRows: 100})
		if st.ArchivedFlows == 0 {
			t.Fatal("live cap moved nothing")
		}
		if n := count(t, db, "SELECT count(*) FROM main.flows"); n > 100 {
			t.Errorf("live holds %d rows over its cap", n)
		}
		if n := count(t, db, "SELECT sum(flows) FROM all_flows"); n != int64(len(ups)) {
			t.Errorf("live cap lost flows: %d of %d", n, len(ups))
		}
	})
}

func TestJournalRestoreAndReimport(t *testing.T) {
	dir := t.TempDir()
	db := tiers(t, dir)
	ups := genFlows(3, 100, "02:00:00:00:00:01")
	want := inputTotals(ups)
	if err := db.Write(ctx, &store.Batch{Updates: ups}); err != nil {
		t.Fatal(err)
	}
	if st, err := db.Commit(ctx); err != nil || st.Flows != 300 {
		t.Fatalf("commit: %+v %v", st, err)
	}
	if st, err := db.Commit(ctx); err != nil || st.Flows != 0 {
		t.Fatalf("second commit appended again: %+v %v", st, err)
	}
	// Day 0 moves to the archive; days 1-2 stay live.
	now := base.Add(2*24*time.Hour + time.Hour)
	mustMaintain(t, db, now, store.Policy{Rules: rules()})
	db.Close()

	// A reboot empties the tmpfs: the live database is gone.
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, "live.db") + s)
	}
	db = tiers(t, dir)
	st, err := db.Restore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Flows != 200 || st.Skipped != 100 {
		t.Errorf("restore: %+v, want 200 flows back and 100 skipped", st)
	}
	if got := allTotals(t, db); got["02:00:00:00:00:01"] != want["02:00:00:00:00:01"] {
		t.Errorf("after restore %+v, want %+v", got, want)
	}
	// Importing the same flows again, even those aggregated away, counts
	// nothing twice.
	if err := db.Write(ctx, &store.Batch{Updates: ups}); err != nil {
		t.Fatal(err)
	}
	ms := mustMaintain(t, db, now.Add(48*time.Hour), store.Policy{Rules: rules()})
	if ms.Duplicates != 100 {
		t.Errorf("re-import: %d duplicates, want 100", ms.Duplicates)
	}
	if got := allTotals(t, db); got["02:00:00:00:00:01"] != want["02:00:00:00:00:01"] {
		t.Errorf("after re-import %+v, want %+v", got, want)
	}
	if ms.JournalFiles == 0 {
		t.Error("settled journal files were kept")
	}
}

// TestMoveCutShortThenNewFlows is a day move cut short after the archive
// took the day (its live rows not all deleted), followed by new flows of
// the same day: the next move must archive only the new ones. The rows
// already archived come after the new ones in the live table, so the
// lookup of their keys runs after new keys were added to the day's set.
func TestMoveCutShortThenNewFlows(t *testing.T) {
	db := tiers(t, t.TempDir())
	ups := genFlows(1, 200, "02:00:00:00:00:01")
	old, late := ups[:150], ups[150:]
	if err := db.Write(ctx, &store.Batch{Updates: old}); err != nil {
		t.Fatal(err)
	}
	now := base.Add(2 * 24 * time.Hour)
	mustMaintain(t, db, now, store.Policy{Rules: rules()})
	// The cut-short move: the archived rows are back in the live table,
	// after the late ones.
	if err := db.Write(ctx, &store.Batch{Updates: late}); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, &store.Batch{Updates: old}); err != nil {
		t.Fatal(err)
	}
	st := mustMaintain(t, db, now, store.Policy{Rules: rules()})
	if st.Duplicates != len(old) || st.ArchivedFlows != len(late) {
		t.Errorf("second move: %d duplicates, %d archived; want %d and %d", st.Duplicates, st.ArchivedFlows, len(old), len(late))
	}
	if got, want := allTotals(t, db), inputTotals(ups); got["02:00:00:00:00:01"] != want["02:00:00:00:00:01"] {
		t.Errorf("totals %+v, want %+v", got, want)
	}
}

func TestCheckArchiveQuarantines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "archive.db")
	db := tiers(t, dir)
	if err := db.Write(ctx, &store.Batch{Updates: genFlows(3, 20, "02:00:00:00:00:01")}); err != nil {
		t.Fatal(err)
	}
	mustMaintain(t, db, base.Add(4*24*time.Hour), store.Policy{Rules: rules()})
	db.Close()
	if moved, err := store.CheckArchive(ctx, path, base); moved != "" || err != nil {
		t.Fatalf("healthy archive: moved %q, %v", moved, err)
	}
	data, _ := os.ReadFile(path)
	for name, damage := range map[string][]byte{
		"truncated": data[:len(data)/3],
		"garbage":   append(append([]byte(nil), data[:100]...), make([]byte, len(data)-100)...),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, damage, 0o600); err != nil {
				t.Fatal(err)
			}
			moved, err := store.CheckArchive(ctx, path, base)
			if err == nil || moved == "" {
				t.Fatalf("damaged archive passed: moved %q, %v", moved, err)
			}
			if _, err := os.Stat(moved); err != nil {
				t.Errorf("quarantined file missing: %v", err)
			}
			db := tiers(t, dir) // a fresh archive opens
			if n := count(t, db, "SELECT count(*) FROM archive.flows"); n != 0 {
				t.Errorf("fresh archive has %d rows", n)
			}
			db.Close()
			os.Remove(moved)
		})
	}
}

func TestClear(t *testing.T) {
	const a, b = "02:00:00:00:00:01", "02:00:00:00:00:02"
	setup := func(t *testing.T) (*store.DB, string) {
		dir := t.TempDir()
		db := tiers(t, dir)
		if err := db.Write(ctx, &store.Batch{Updates: genFlows(4, 50, a, b)}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		mustMaintain(t, db, base.Add(3*24*time.Hour+time.Hour), store.Policy{Rules: rules()})
		return db, dir
	}
	restored := func(t *testing.T, db *store.DB, dir string) *store.DB {
		db.Close()
		for _, s := range []string{"", "-wal", "-shm"} {
			os.Remove(filepath.Join(dir, "live.db") + s)
		}
		db = tiers(t, dir)
		if _, err := db.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	t.Run("everything", func(t *testing.T) {
		db, dir := setup(t)
		if _, err := db.Clear(ctx, store.ClearFilter{}); err != nil {
			t.Fatal(err)
		}
		db = restored(t, db, dir)
		if n := count(t, db, "SELECT count(*) FROM all_flows") + count(t, db, "SELECT count(*) FROM archive.strings"); n != 0 {
			t.Errorf("%d rows and strings left", n)
		}
	})
	t.Run("one device", func(t *testing.T) {
		db, dir := setup(t)
		if _, err := db.Clear(ctx, store.ClearFilter{MAC: a}); err != nil {
			t.Fatal(err)
		}
		db = restored(t, db, dir)
		if n := count(t, db, "SELECT count(*) FROM all_flows WHERE mac = '"+a+"'"); n != 0 {
			t.Errorf("%d rows of the cleared device left", n)
		}
		if n := count(t, db, "SELECT count(*) FROM all_flows WHERE mac = '"+b+"'"); n == 0 {
			t.Error("the other device was cleared too")
		}
	})
	t.Run("before", func(t *testing.T) {
		db, dir := setup(t)
		cut := base.Add(36 * time.Hour)
		if _, err := db.Clear(ctx, store.ClearFilter{Before: cut}); err != nil {
			t.Fatal(err)
		}
		db = restored(t, db, dir)
		if n := count(t, db, fmt.Sprintf("SELECT count(*) FROM all_flows WHERE end < %d", cut.Unix())); n != 0 {
			t.Errorf("%d rows before the cut left", n)
		}
		if n := count(t, db, fmt.Sprintf("SELECT count(*) FROM all_flows WHERE end >= %d", cut.Unix())); n == 0 {
			t.Error("rows after the cut were cleared")
		}
	})
}

// TestDeviceSyncBatches checks that commits write devices to the archive
// only when one is new, renamed or a day stale, and then every device that
// changed in one go.
func TestDeviceSyncBatches(t *testing.T) {
	db := tiers(t, t.TempDir())
	seen := func(mac, name string, at time.Time) {
		t.Helper()
		err := db.Write(ctx, &store.Batch{Devices: []flow.DeviceSeen{{MAC: mac, Hostname: name,
			IP: netip.MustParseAddr("192.168.1.20"), At: eve.Timestamp(at.UnixMicro())}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	commit := func() int {
		t.Helper()
		st, err := db.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Devices
	}
	const a, b = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
	seen(a, "tablet", base)
	seen(b, "tv", base)
	if n := commit(); n != 2 {
		t.Fatalf("new devices: %d written, want 2", n)
	}
	seen(a, "tablet", base.Add(time.Hour))
	seen(b, "tv", base.Add(2*time.Hour))
	if n := commit(); n != 0 {
		t.Fatalf("last seen an hour later: %d written, want none", n)
	}
	seen(a, "tablet", base.Add(25*time.Hour))
	if n := commit(); n != 2 {
		t.Fatalf("a day stale: %d written, want both changed devices", n)
	}
	seen(b, "living-room-tv", base.Add(25*time.Hour))
	if n := commit(); n != 1 {
		t.Fatalf("renamed: %d written, want 1", n)
	}
	var last float64
	if err := db.SQL().QueryRow("SELECT last_seen FROM archive.devices WHERE mac = ?", b).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if want := float64(base.Add(25 * time.Hour).Unix()); last != want {
		t.Errorf("archived last_seen %v, want %v", last, want)
	}
}

// TestClearDropsEmptyMovingMarks: a clear that empties a moving day's
// rows drops its mark (new rows could be given the same ids again), and
// one that leaves some keeps it.
func TestClearDropsEmptyMovingMarks(t *testing.T) {
	const a, b = "02:00:00:00:00:01", "02:00:00:00:00:02"
	db := tiers(t, t.TempDir())
	if err := db.Write(ctx, &store.Batch{Updates: genFlows(1, 50, a, b)}); err != nil {
		t.Fatal(err)
	}
	day := base.Unix() / 86400
	if _, err := db.SQL().Exec("INSERT INTO main.moving (day, upto) SELECT ?, max(id) FROM main.flows", day); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Clear(ctx, store.ClearFilter{MAC: a}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "SELECT count(*) FROM main.moving"); n != 1 {
		t.Errorf("clear of one device: %d moving marks, want the day's kept", n)
	}
	if _, err := db.Clear(ctx, store.ClearFilter{}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "SELECT count(*) FROM main.moving"); n != 0 {
		t.Errorf("clear of everything: %d moving marks left", n)
	}
}
