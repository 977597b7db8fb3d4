package store_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/store"
)

// match is one alert of rule sid by the test device on flow id at t.
func match(t time.Time, id uint64, sid uint32) flow.Alert {
	a := alertAt(t, "02:00:00:00:00:01", sid, "spy.example")
	a.FlowID = id
	return a
}

func mustWriteAlerts(t *testing.T, db *store.DB, alerts []flow.Alert) {
	t.Helper()
	if err := db.Write(ctx, &store.Batch{Alerts: alerts}); err != nil {
		t.Fatal(err)
	}
}

func mustCountAlerts(t *testing.T, db *store.DB) store.AlertStats {
	t.Helper()
	st, err := db.CountAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// counts maps each row's rule to its count (one device and host here).
func counts(t *testing.T, db *store.DB) map[int64]int64 {
	t.Helper()
	out := map[int64]int64{}
	for k, r := range readAlerts(t, db) {
		out[k] = r.count
	}
	return out
}

func TestAlertReplayCountsOnce(t *testing.T) {
	db := tiers(t, t.TempDir())
	t0 := base.Add(10 * time.Hour)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	batch := []flow.Alert{
		match(at(0), 1, 9000001), match(at(1), 1, 9000001), match(at(2), 1, 9000001), // one flow, per packet
		match(at(1), 2, 9000001), match(at(3), 2, 9000001), // another flow of the same row
		match(at(2), 1, 9000002),                           // the first flow, another rule
		match(at(5), 0, 9000001), match(at(6), 0, 9000001), // without flow_id
	}
	mustWriteAlerts(t, db, batch)
	want := counts(t, db)
	if k := store.AlertKey(&batch[0]); want[k] != 7 {
		t.Fatalf("first write counted %d matches of rule 9000001, want 7", want[k])
	}
	if _, err := db.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	before := readAlerts(t, db)

	// The whole batch again, then its second half within a new batch.
	mustWriteAlerts(t, db, batch)
	mustWriteAlerts(t, db, batch[4:])
	got := readAlerts(t, db)
	for k, r := range before {
		if got[k] != r {
			t.Errorf("row %d after replays: %+v, want %+v", k, got[k], r)
		}
	}
	if st, err := db.Commit(ctx); err != nil || st.Alerts != 0 {
		t.Errorf("replays made rows dirty: %+v %v", st, err)
	}
	if st := mustCountAlerts(t, db); st.Replayed != int64(len(batch)+len(batch)-4) || st.Matches != 8 {
		t.Errorf("CountAlerts = %+v, want %d replayed, 8 matches", st, 2*len(batch)-4)
	}

	// New matches: later packets of known flows, a new flow even though
	// it is older than what the row saw, a later flowless one; mixed
	// with replayed lines and a match at the same microsecond as its
	// flow's newest (taken for a replay).
	fresh := []flow.Alert{
		match(at(2), 2, 9000001),  // replay (flow 2 has a later one)
		match(at(4), 1, 9000001),  // new: flow 1 went on
		match(at(2), 3, 9000001),  // new flow, out of order across flows
		match(at(7), 0, 9000001),  // new without flow_id
		match(at(3), 2, 9000001),  // same microsecond as flow 2's newest
		match(at(4), 1, 9000002),  // new: the other rule on flow 1
		match(at(10), 3, 9000001), // new: flow 3 again
	}
	mustWriteAlerts(t, db, fresh)
	got = readAlerts(t, db)
	k1, k2 := store.AlertKey(&batch[0]), store.AlertKey(&batch[5])
	if got[k1].count != 7+4 || got[k2].count != 1+1 {
		t.Errorf("after new matches: rule 1 counts %d (want 11), rule 2 %d (want 2)", got[k1].count, got[k2].count)
	}
	if got[k1].last != float64(at(10).Unix()) || got[k1].first != float64(at(0).Unix()) {
		t.Errorf("span %v..%v", got[k1].first, got[k1].last)
	}
	if st, err := db.Commit(ctx); err != nil || st.Alerts != 2 {
		t.Errorf("commit after new matches: %+v %v, want 2 rows", st, err)
	}
	// And once more: nothing new.
	mustWriteAlerts(t, db, append(batch, fresh...))
	if c := counts(t, db); c[k1] != 11 || c[k2] != 2 {
		t.Errorf("after replaying everything: %v", c)
	}
}

func TestAlertReplayFloodBounded(t *testing.T) {
	db := tiers(t, t.TempDir())
	t0 := base.Add(10 * time.Hour)
	// A scan: one rule fires on 3 packets of each of 2000 flows, written
	// in batches of 500 matches like the pipeline does.
	const flows, per = 2000, 3
	// Two flows at a time interleave, each in packet order, so that
	// flow i+1's first packet comes before flow i's later, older ones.
	var all []flow.Alert
	for i := 0; i < flows; i += 2 {
		for p := range per {
			for _, f := range []int{i, i + 1} {
				all = append(all, match(t0.Add(time.Duration(f*per+p)*time.Millisecond), uint64(1000+f), 9000001))
			}
		}
	}
	write := func(alerts []flow.Alert) {
		for len(alerts) > 0 {
			n := min(500, len(alerts))
			mustWriteAlerts(t, db, alerts[:n])
			alerts = alerts[n:]
		}
	}
	write(all)
	k := store.AlertKey(&all[0])
	if c := counts(t, db); len(c) != 1 || c[k] != flows*per {
		t.Fatalf("flood counted %v, want one row of %d", c, flows*per)
	}
	st := mustCountAlerts(t, db)
	if st.SeenFlows > 64 || st.SeenFlows == 0 || st.FoldedFlows != flows-st.SeenFlows {
		t.Errorf("flood state %+v: want at most 64 flows remembered, the rest folded", st)
	}
	// Replayed whole, in other batch boundaries, it counts nothing.
	mustWriteAlerts(t, db, all[:333])
	write(all[333:])
	if c := counts(t, db); c[k] != flows*per {
		t.Errorf("after replaying the flood: %d, want %d", c[k], flows*per)
	}
	if st := mustCountAlerts(t, db); st.Replayed != flows*per {
		t.Errorf("replayed %d, want %d", st.Replayed, flows*per)
	}
	// A flow long folded goes on, and a new flow starts: both count.
	last := all[len(all)-1].Time
	a, b := match(t0, 1000, 9000001), match(t0, 99999, 9000001)
	a.Time, b.Time = last+1, last+2
	mustWriteAlerts(t, db, []flow.Alert{a, b})
	if c := counts(t, db); c[k] != flows*per+2 {
		t.Errorf("after the flood: %d, want %d", c[k], flows*per+2)
	}
	if st := mustCountAlerts(t, db); st.SeenFlows > 64 {
		t.Errorf("%d flows remembered, want at most 64", st.SeenFlows)
	}
}

func TestAlertReplayStateExpires(t *testing.T) {
	dir := t.TempDir()
	db := tiers(t, dir)
	var batch []flow.Alert
	for d := range 4 {
		for f := range 3 {
			batch = append(batch, match(base.Add(time.Duration(d)*24*time.Hour+time.Duration(f)*time.Minute), uint64(10*d+f+1), 9000001))
		}
	}
	mustWriteAlerts(t, db, batch)
	if _, err := db.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if st := mustCountAlerts(t, db); st.Rows != 4 || st.SeenFlows != 12 {
		t.Fatalf("before expiry: %+v, want 4 rows remembering 12 flows", st)
	}
	// Days 0 and 1 expire by age, and their flows with them.
	if _, err := db.Maintain(ctx, base.Add(3*24*time.Hour+time.Hour), store.Policy{AlertKeep: 36 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if st := mustCountAlerts(t, db); st.Rows != 2 || st.SeenFlows != 6 {
		t.Errorf("after expiry: %+v, want 2 rows remembering 6 flows", st)
	}
	// The cap deletes day 2; Clear the rest.
	if _, err := db.Maintain(ctx, base.Add(3*24*time.Hour+time.Hour), store.Policy{AlertMaxRows: 1}); err != nil {
		t.Fatal(err)
	}
	if st := mustCountAlerts(t, db); st.Rows != 1 || st.SeenFlows != 3 {
		t.Errorf("after the cap: %+v, want 1 row remembering 3 flows", st)
	}
	if _, err := db.Clear(ctx, store.ClearFilter{MAC: "02:00:00:00:00:01"}); err != nil {
		t.Fatal(err)
	}
	if st := mustCountAlerts(t, db); st.Rows != 0 || st.SeenFlows != 0 {
		t.Errorf("after clear: %+v, want nothing", st)
	}
}

func TestAlertReplayAfterReboot(t *testing.T) {
	dir := t.TempDir()
	db := tiers(t, dir)
	t0 := base.Add(10 * time.Hour)
	committed := []flow.Alert{match(t0, 1, 9000001), match(t0.Add(time.Second), 2, 9000001), match(t0.Add(2*time.Second), 1, 9000001)}
	mustWriteAlerts(t, db, committed)
	if _, err := db.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, s := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, "live.db") + s)
	}
	db = tiers(t, dir)
	if _, err := db.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	// The followed file is read again from before the last commit: the
	// committed lines are replays, the later ones count.
	later := []flow.Alert{match(t0.Add(3*time.Second), 2, 9000001), match(t0.Add(4*time.Second), 3, 9000001)}
	mustWriteAlerts(t, db, append(committed, later...))
	k := store.AlertKey(&committed[0])
	if c := counts(t, db); c[k] != 5 {
		t.Errorf("after reboot and replay: %d, want 5", c[k])
	}
	// A restart without reboot keeps the live state: Restore again and
	// replay again, nothing changes.
	if _, err := db.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	mustWriteAlerts(t, db, append(committed, later...))
	if c := counts(t, db); c[k] != 5 {
		t.Errorf("after restart and replay: %d, want 5", c[k])
	}
}

// TestAlertReplaySameBatchTwice: the copies of a line in one batch count
// once too.
func TestAlertReplaySameBatchTwice(t *testing.T) {
	db := MustOpenDB(t)
	a := match(base, 5, 9000001)
	b := a
	b.Time = eve.TimestampOf(base.Add(time.Second))
	// A file imported twice in one run: both copies in one batch.
	mustWriteAlerts(t, db, []flow.Alert{a, b, a, b})
	if c := counts(t, db)[store.AlertKey(&a)]; c != 2 {
		t.Errorf("counted %d, want 2", c)
	}
}

// BenchmarkWriteAlerts writes batches of 500 alerts of one rule and
// device: a scan (every match a new flow) and a per-packet flood (20
// flows). It reports the cost per match, replay check included.
func BenchmarkWriteAlerts(b *testing.B) {
	for _, bc := range []struct {
		name  string
		flows int
	}{{"scan", 0}, {"flood20", 20}} {
		b.Run(bc.name, func(b *testing.B) {
			db, err := store.Open(ctx, filepath.Join(b.TempDir(), "live.db"), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			t0 := base.Add(time.Hour)
			batch := make([]flow.Alert, 500)
			n := 0
			b.ResetTimer()
			for range b.N {
				for i := range batch {
					id := uint64(n)
					if bc.flows > 0 {
						id = uint64(n % bc.flows)
					}
					batch[i] = match(t0.Add(time.Duration(n)*time.Microsecond), id+1, 9000001)
					n++
				}
				if err := db.Write(ctx, &store.Batch{Alerts: batch}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/alert")
		})
	}
}
