package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
)

func replayAlert(t time.Time, id uint64, host string) flow.Alert {
	return flow.Alert{
		Time: eve.TimestampOf(t), FlowID: id, MAC: "02:00:00:00:00:01",
		SrcIP: netip.MustParseAddr("10.99.0.10"), DestIP: netip.MustParseAddr("203.0.113.5"),
		Proto: "TCP", Hostname: host, GID: 1, SID: 9000001,
	}
}

func alertCount(t *testing.T, db *DB, a *flow.Alert) int64 {
	t.Helper()
	var n int64
	if err := db.sql.QueryRow("SELECT count FROM alerts WHERE key = ?", AlertKey(a)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCapSeen: past the global bound the least recently matched flows of
// all rows fold into their rows' floors; their replays still count
// nothing, their later matches count.
func TestCapSeen(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "live.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	// Ten rows (hosts) of ten flows each, row r's flows at r*10+f seconds.
	var batch []flow.Alert
	for r := range 10 {
		for f := range 10 {
			batch = append(batch, replayAlert(t0.Add(time.Duration(r*10+f)*time.Second), uint64(r*10+f+1), fmt.Sprintf("h%d.example", r)))
		}
	}
	if err := db.Write(ctx, &Batch{Alerts: batch}); err != nil {
		t.Fatal(err)
	}
	n, err := db.capSeen(ctx, 25)
	if err != nil || n != 75 {
		t.Fatalf("capSeen = %d, %v; want 75 folded", n, err)
	}
	st, err := db.CountAlerts(ctx)
	if err != nil || st.SeenFlows != 25 || st.FoldedFlows != 75 || st.Matches != 100 {
		t.Fatalf("CountAlerts = %+v, %v", st, err)
	}
	// Rows 0-6 remember no flow now, row 7 half of them.
	var floor int64
	if err := db.sql.QueryRow("SELECT seen_floor FROM alerts WHERE key = ?", AlertKey(&batch[0])).Scan(&floor); err != nil ||
		floor != int64(batch[9].Time) {
		t.Errorf("row 0 floor %d, %v; want its newest match %d", floor, err, batch[9].Time)
	}
	if err := db.Write(ctx, &Batch{Alerts: batch}); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.CountAlerts(ctx); st.Matches != 100 || st.Replayed != 100 {
		t.Errorf("after replay: %+v", st)
	}
	// A folded flow counts only past its row's floor (the documented
	// cost of the bound): its next match below the floor is taken for a
	// replay, one past it counts.
	below, past := batch[3], batch[3]
	below.Time++
	past.Time = batch[9].Time + 1
	if err := db.Write(ctx, &Batch{Alerts: []flow.Alert{below, past}}); err != nil {
		t.Fatal(err)
	}
	if n := alertCount(t, db, &past); n != 11 {
		t.Errorf("a folded flow's later matches: row counts %d, want 11", n)
	}
	// Maintain keeps the bound too (maxSeenFlows is far above 25).
	if n, err := db.capSeen(ctx, maxSeenFlows); err != nil || n != 0 {
		t.Errorf("capSeen under the bound folded %d, %v", n, err)
	}
}

// TestAlertReplayMigration: alert rows from before migration 0005 count
// as seen up to their last match.
func TestAlertReplayMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "live.db")
	old, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"0001_initial.sql", "0002_journaled.sql", "0003_alerts.sql", "0004_query_indexes.sql"} {
		body, err := migrations.ReadFile("migration/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 123456000, time.UTC)
	a := replayAlert(t0, 7, "spy.example")
	if _, err := old.Exec(`INSERT INTO alerts (key, day, first_seen, last_seen, count, flow_id, mac, src_ip, dest_ip, sid)
		VALUES (?, ?, ?, ?, 4, 7, ?, '10.99.0.10', '203.0.113.5', 9000001)`,
		AlertKey(&a), alertDay(a.Time.Seconds()), a.Time.Seconds()-60, a.Time.Seconds(), a.MAC); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec("PRAGMA user_version = 4"); err != nil {
		t.Fatal(err)
	}
	old.Close()

	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	earlier := a
	earlier.Time -= 1e6
	later := a
	later.Time += 1
	if err := db.Write(ctx, &Batch{Alerts: []flow.Alert{earlier, a}}); err != nil {
		t.Fatal(err)
	}
	if n := alertCount(t, db, &a); n != 4 {
		t.Errorf("replayed lines counted: %d, want 4", n)
	}
	if err := db.Write(ctx, &Batch{Alerts: []flow.Alert{later}}); err != nil {
		t.Fatal(err)
	}
	if n := alertCount(t, db, &a); n != 5 {
		t.Errorf("a later match: %d, want 5", n)
	}
}
