package query_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"
)

// TestMovingDayCountsOnce reads a day caught between the archive, which
// holds it, and the live database, which still has its rows while
// maintenance deletes them in paced slices (or after a crash cut that
// short): every query counts the day once, and a flow of that day that
// arrived later (not archived yet) still counts.
func TestMovingDayCountsOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "live.db"), store.Options{ArchivePath: filepath.Join(dir, "archive.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	mk := func(from, n int) []flow.Update {
		var out []flow.Update
		for i := from; i < from+n; i++ {
			start := day.Add(time.Duration(i) * time.Minute)
			out = append(out, flow.Update{Record: flow.Record{FlowID: uint64(i + 1),
				Start: eve.Timestamp(start.UnixMicro()), End: eve.Timestamp(start.Add(time.Second).UnixMicro()),
				MAC: "02:00:00:00:00:01", SrcIP: netip.MustParseAddr("192.168.1.10"), SrcPort: uint16(40000 + i),
				DestIP: netip.MustParseAddr("203.0.113.1"), DestPort: 443, Proto: "TCP", AppProto: "tls",
				Name: fmt.Sprintf("h%d.test", i%3), Source: flow.SourceSNI, BytesSent: 1 << 20, BytesReceived: 1 << 20}})
		}
		return out
	}
	archived, late := mk(0, 40), mk(40, 5)
	if err := db.Write(ctx, &store.Batch{Updates: archived}); err != nil {
		t.Fatal(err)
	}
	// No rules: the day is archived raw, row for row.
	if _, err := db.Maintain(ctx, day.Add(3*24*time.Hour), store.Policy{}); err != nil {
		t.Fatal(err)
	}
	// The move cut short: the archived rows are live again, a later flow
	// of the day after them.
	if err := db.Write(ctx, &store.Batch{Updates: archived}); err != nil {
		t.Fatal(err)
	}
	var upto int64
	if err := db.SQL().QueryRow("SELECT max(id) FROM main.flows").Scan(&upto); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, &store.Batch{Updates: late}); err != nil {
		t.Fatal(err)
	}
	e := query.New(db, query.Options{Now: func() time.Time { return day.Add(3 * 24 * time.Hour) }})
	p := query.Params{Start: day, End: day.Add(24 * time.Hour), NoFilter: true}
	count := func() (flows, agg, rows int) {
		t.Helper()
		r, err := e.Flows(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		a, err := e.Aggregate(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range a.Rows {
			agg += row.Flows
		}
		return r.Total, agg, len(r.Rows)
	}
	if f, a, _ := count(); f != 85 || a != 85 {
		t.Fatalf("before the day is marked moving: %d rows, %d flows aggregated; want the double count (85) the mark prevents", f, a)
	}
	if _, err := db.SQL().Exec("INSERT INTO main.moving (day, upto) VALUES (?, ?)", day.Unix()/86400, upto); err != nil {
		t.Fatal(err)
	}
	if f, a, n := count(); f != 45 || a != 45 || n != 45 {
		t.Errorf("moving day: total %d, %d flows aggregated, %d rows listed; want 45 each", f, a, n)
	}
	// The next move takes the late flow, deletes the rest and the mark.
	st, err := db.Maintain(ctx, day.Add(3*24*time.Hour), store.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if st.ArchivedFlows != 5 || st.Duplicates != 40 {
		t.Errorf("second move: %+v, want 5 archived and 40 duplicates", st)
	}
	var left int
	db.SQL().QueryRow("SELECT (SELECT count(*) FROM main.moving) + (SELECT count(*) FROM main.flows)").Scan(&left)
	if left != 0 {
		t.Errorf("%d live rows or moving marks left after the move", left)
	}
	if f, a, _ := count(); f != 45 || a != 45 {
		t.Errorf("after the move: %d rows, %d flows aggregated; want 45", f, a)
	}
}
