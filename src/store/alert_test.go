package store_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/store"
)

func alertAt(t time.Time, mac string, sid uint32, host string) flow.Alert {
	return flow.Alert{
		Time: eve.TimestampOf(t), FlowID: uint64(t.Unix()), MAC: mac,
		SrcIP: netip.MustParseAddr("10.99.0.10"), SrcPort: 40000, DestIP: netip.MustParseAddr("203.0.113.5"), DestPort: 443,
		Proto: "TCP", AppProto: "tls", Hostname: host, NameSource: flow.SourceSNI,
		GID: 1, SID: sid, Rev: 1, Signature: "PAKON TEST stalkerware", Category: "A Network Trojan was detected",
		Severity: 1, Action: "allowed", Metadata: map[string][]string{"tag": {"stalkerware"}},
	}
}

type alertRow struct {
	mac, host, sig string
	count          int64
	first, last    float64
	flowID         int64
}

func readAlerts(t *testing.T, db *store.DB) map[int64]alertRow {
	t.Helper()
	r, err := db.SQL().Query("SELECT key, mac, hostname, signature, count, first_seen, last_seen, coalesce(flow_id, 0) FROM alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[int64]alertRow{}
	for r.Next() {
		var k int64
		var a alertRow
		if err := r.Scan(&k, &a.mac, &a.host, &a.sig, &a.count, &a.first, &a.last, &a.flowID); err != nil {
			t.Fatal(err)
		}
		out[k] = a
	}
	return out
}

func TestAlertsFold(t *testing.T) {
	db := tiers(t, t.TempDir())
	t0 := base.Add(10 * time.Hour)
	mac, other := "02:00:00:00:00:01", "02:00:00:00:00:02"
	var batch []flow.Alert
	for i := range 5 {
		batch = append(batch, alertAt(t0.Add(time.Duration(i)*time.Minute), mac, 9000001, "spy.example"))
	}
	batch = append(batch,
		alertAt(t0, other, 9000001, "spy.example"),                 // other device
		alertAt(t0, mac, 9000002, "spy.example"),                   // other rule
		alertAt(t0, mac, 9000001, "other.example"),                 // other host
		alertAt(t0.Add(24*time.Hour), mac, 9000001, "spy.example"), // next day
		alertAt(t0.Add(-time.Minute), mac, 9000001, "spy.example")) // earlier, same row
	in := batch[len(batch)-1]
	in.Inbound = true
	batch = append(batch, in) // other direction
	if err := db.Write(ctx, &store.Batch{Alerts: batch}); err != nil {
		t.Fatal(err)
	}
	// A later batch with a newer match of the first row.
	late := alertAt(t0.Add(time.Hour), mac, 9000001, "spy.example")
	late.Signature, late.FlowID = "PAKON TEST stalkerware v2", 77
	if err := db.Write(ctx, &store.Batch{Alerts: []flow.Alert{late}}); err != nil {
		t.Fatal(err)
	}
	got := readAlerts(t, db)
	if len(got) != 6 {
		t.Fatalf("%d rows, want 6: %+v", len(got), got)
	}
	r, ok := got[store.AlertKey(&batch[0])]
	if !ok {
		t.Fatal("no row for the folded rule")
	}
	if r.count != 7 {
		t.Errorf("folded count %d, want 7 (5 + 1 earlier + 1 later)", r.count)
	}
	if r.first != float64(t0.Add(-time.Minute).Unix()) || r.last != float64(t0.Add(time.Hour).Unix()) {
		t.Errorf("span %v..%v", r.first, r.last)
	}
	if r.sig != "PAKON TEST stalkerware v2" || r.flowID != 77 {
		t.Errorf("latest match did not win: %+v", r)
	}
	// An out-of-order older match must not overwrite the latest one.
	old := alertAt(t0.Add(-2*time.Minute), mac, 9000001, "spy.example")
	old.Signature = "stale"
	if err := db.Write(ctx, &store.Batch{Alerts: []flow.Alert{old}}); err != nil {
		t.Fatal(err)
	}
	r = readAlerts(t, db)[store.AlertKey(&batch[0])]
	if r.sig != "PAKON TEST stalkerware v2" || r.count != 8 {
		t.Errorf("after an older match: %+v", r)
	}
	st, err := db.CountAlerts(ctx)
	if err != nil || st.Rows != 6 || st.Matches != 13 {
		t.Errorf("CountAlerts = %+v, %v; want 6 rows, 13 matches", st, err)
	}
}

func TestAlertKeyUnknownMAC(t *testing.T) {
	a := alertAt(base, "", 1, "")
	b := a
	b.SrcIP = netip.MustParseAddr("10.99.0.11")
	c := a
	c.DestIP = netip.MustParseAddr("203.0.113.6")
	if store.AlertKey(&a) == store.AlertKey(&b) {
		t.Error("two unknown devices share a row")
	}
	if store.AlertKey(&a) == store.AlertKey(&c) {
		t.Error("two unnamed hosts share a row")
	}
	if k := store.AlertKey(&a); k < 0 || k >= 1<<53 {
		t.Errorf("key %d does not fit 53 bits", k)
	}
}

func TestAlertsSurviveReboot(t *testing.T) {
	dir := t.TempDir()
	db := tiers(t, dir)
	t0 := base.Add(time.Hour)
	a := alertAt(t0, "02:00:00:00:00:01", 9000001, "spy.example")
	next := func() flow.Alert { a.Time += 1e6; return a } // the flow's next match
	first := a
	if err := db.Write(ctx, &store.Batch{Alerts: []flow.Alert{first, next()}}); err != nil {
		t.Fatal(err)
	}
	st, err := db.Commit(ctx)
	if err != nil || st.Alerts != 1 {
		t.Fatalf("commit: %+v %v, want 1 alert row", st, err)
	}
	if st, err := db.Commit(ctx); err != nil || st.Alerts != 0 {
		t.Fatalf("second commit wrote clean rows again: %+v %v", st, err)
	}
	// A match after the commit makes the row dirty again.
	if err := db.Write(ctx, &store.Batch{Alerts: []flow.Alert{next()}}); err != nil {
		t.Fatal(err)
	}
	if st, err := db.Commit(ctx); err != nil || st.Alerts != 1 {
		t.Fatalf("commit after a new match: %+v %v", st, err)
	}
	// Not committed: lost with the tmpfs.
	b := alertAt(t0, "02:00:00:00:00:01", 9000002, "spy.example")
	if err := db.Write(ctx, &store.Batch{Alerts: []flow.Alert{b}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, "live.db") + s)
	}
	db = tiers(t, dir)
	rs, err := db.Restore(ctx)
	if err != nil || rs.Alerts != 1 {
		t.Fatalf("restore: %+v %v, want 1 alert row", rs, err)
	}
	got := readAlerts(t, db)
	if r := got[store.AlertKey(&a)]; r.count != 3 || len(got) != 1 {
		t.Errorf("after reboot %+v, want one row counting 3", got)
	}
	// Restoring again (a restart without reboot) counts nothing twice.
	if _, err := db.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if r := readAlerts(t, db)[store.AlertKey(&a)]; r.count != 3 {
		t.Errorf("second restore: count %d", r.count)
	}
}

func TestAlertRetentionAndCap(t *testing.T) {
	dir := t.TempDir()
	db := tiers(t, dir)
	var batch []flow.Alert
	for d := range 10 {
		batch = append(batch, alertAt(base.Add(time.Duration(d)*24*time.Hour+time.Hour), "02:00:00:00:00:01", 9000001, "spy.example"))
	}
	unset := alertAt(time.Unix(3600, 0), "02:00:00:00:00:01", 9000001, "spy.example") // RTC not set
	batch = append(batch, unset)
	if err := db.Write(ctx, &store.Batch{Alerts: batch}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	now := base.Add(10 * 24 * time.Hour)
	st, err := db.Maintain(ctx, now, store.Policy{AlertKeep: 5 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Days 0-4 are last seen more than 5 days before now.
	if st.ExpiredAlerts != 5 {
		t.Errorf("expired %d rows, want 5", st.ExpiredAlerts)
	}
	if _, ok := readAlerts(t, db)[store.AlertKey(&unset)]; !ok {
		t.Error("an alert from an unset clock expired by age")
	}
	if n := count(t, db, "SELECT count(*) FROM alerts"); n != 6 {
		t.Errorf("%d live rows, want 6", n)
	}
	st, err = db.Maintain(ctx, now, store.Policy{AlertKeep: 5 * 24 * time.Hour, AlertMaxRows: 2})
	if err != nil || st.ExpiredAlerts != 4 {
		t.Fatalf("cap: %+v %v, want 4 rows deleted", st, err)
	}
	got := readAlerts(t, db)
	if _, ok := got[store.AlertKey(&batch[9])]; !ok || len(got) != 2 {
		t.Errorf("cap kept %+v, want the two most recent", got)
	}
	// Keep 0: nothing expires by age.
	if st, err := db.Maintain(ctx, now.Add(1000*24*time.Hour), store.Policy{}); err != nil || st.ExpiredAlerts != 0 {
		t.Errorf("keep forever: %+v %v", st, err)
	}
	// The archive lost the same rows: a reboot does not bring them back.
	db.Close()
	os.Remove(filepath.Join(dir, "live.db"))
	db = tiers(t, dir)
	if rs, err := db.Restore(ctx); err != nil || rs.Alerts != 2 {
		t.Errorf("restore after expiry: %+v %v, want 2 rows", rs, err)
	}
}

func TestClearAlerts(t *testing.T) {
	dir := t.TempDir()
	db := tiers(t, dir)
	a, b := "02:00:00:00:00:01", "02:00:00:00:00:02"
	batch := []flow.Alert{
		alertAt(base.Add(time.Hour), a, 1, "x.example"),
		alertAt(base.Add(48*time.Hour), a, 1, "x.example"),
		alertAt(base.Add(time.Hour), b, 1, "x.example"),
		alertAt(base.Add(48*time.Hour), b, 1, "x.example"),
	}
	if err := db.Write(ctx, &store.Batch{Alerts: batch}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := db.Clear(ctx, store.ClearFilter{MAC: a})
	if err != nil || st.Alerts != 2 {
		t.Fatalf("clear device: %+v %v", st, err)
	}
	st, err = db.Clear(ctx, store.ClearFilter{Before: base.Add(24 * time.Hour)})
	if err != nil || st.Alerts != 1 {
		t.Fatalf("clear before: %+v %v", st, err)
	}
	got := readAlerts(t, db)
	if _, ok := got[store.AlertKey(&batch[3])]; !ok || len(got) != 1 {
		t.Errorf("left %+v, want b's later alert", got)
	}
	// The archive copies are gone as well.
	db.Close()
	os.Remove(filepath.Join(dir, "live.db"))
	db = tiers(t, dir)
	if rs, err := db.Restore(ctx); err != nil || rs.Alerts != 1 {
		t.Errorf("restore after clear: %+v %v, want 1", rs, err)
	}
	if st, err := db.Clear(ctx, store.ClearFilter{}); err != nil || st.Alerts != 1 {
		t.Errorf("clear all: %+v %v", st, err)
	}
	if n := count(t, db, "SELECT count(*) FROM alerts"); n != 0 {
		t.Errorf("%d rows after clearing all", n)
	}
}
