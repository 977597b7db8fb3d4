package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/store"
)

// storedRows returns every column of every flow row, in id order, with
// SQLite's type of each value, so that a NULL, an empty text and a zero
// tell apart.
func storedRows(t *testing.T, db *store.DB) [][]string {
	t.Helper()
	r, err := db.SQL().Query(`SELECT flow_key, flow_id, start, end, mac, src_ip, src_port, dest_ip, dest_port, proto,
		app_proto, observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received, flows, active
		FROM flows ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cols, _ := r.Columns()
	var out [][]string
	for r.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			row[i] = fmt.Sprintf("%s=%T:%v", cols[i], v, v)
		}
		out = append(out, row)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// edgeRecords are records whose values the columns must keep exactly:
// no flow_id, empty texts, counters beyond SQLite's integers, IPv6,
// fractions of a second.
func edgeRecords() []flow.Record {
	a := rec(7, 100.000001, 101.5, false)
	b := rec(0, 200, 200, false)
	b.MAC, b.Proto, b.AppProto, b.Name, b.Source = "", "", "", "", flow.SourceNone
	b.SrcPort, b.DestPort = 0, 0
	c := rec(9, 300.25, 400.75, true)
	c.SrcIP, c.DestIP = netip.MustParseAddr("fd00::1:2"), netip.MustParseAddr("192.0.2.7")
	c.BytesSent, c.BytesReceived, c.PktsSent, c.PktsReceived = math.MaxUint64, 1<<63, 1<<63-1, 3
	c.Name, c.Source = "ünïcode.test", flow.SourceDNS
	return []flow.Record{a, b, c}
}

// New rows go to SQLite a run at a time, around the driver; an update of
// an active row that is not there goes through the driver's insert. Both
// must store the same values.
func TestRunInsertStoresWhatDriverStores(t *testing.T) {
	run, driver := MustOpenDB(t), MustOpenDB(t)
	// Each record twice: the second (another flow_id, same flow) updates
	// the first.
	var batch []flow.Update
	for i := range 40 {
		for _, r := range edgeRecords() {
			r.SrcPort += uint16(i % 20)
			r.FlowID += uint64(i) * 10 // flow_ids apart: a completion looks a row up by its flow_id
			batch = append(batch, flow.Update{Record: r})
			if r.Active {
				// The driver path takes an active record only as a new row.
				write(t, driver, flow.Update{Record: r})
				continue
			}
			write(t, driver, flow.Update{Record: r, Written: true})
		}
	}
	write(t, run, batch...)
	got, want := storedRows(t, run), storedRows(t, driver)
	if len(got) != 60 || len(want) != 60 {
		t.Fatalf("%d and %d rows, want 60", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("row %d: run insert stored\n%v\nthe driver stored\n%v", i, got[i], want[i])
		}
	}
	for _, c := range []struct {
		row  int
		want string
	}{
		{0, "start=float64:100.000001"}, {0, "flow_id=int64:7"},
		{1, "flow_id=<nil>:<nil>"}, {1, "mac=string:"}, {1, "observed_name=string:"}, {1, "name_source=string:"},
		{2, "src_ip=string:fd00::1:2"}, {2, "bytes_sent=int64:9223372036854775807"}, {2, "active=int64:1"},
		{2, "observed_name=string:ünïcode.test"}, {2, "name_source=string:dns"},
	} {
		if !slices.Contains(got[c.row], c.want) {
			t.Errorf("row %d has no %s: %v", c.row, c.want, got[c.row])
		}
	}
}

// Updates of one batch apply in order, even where a run of new rows is
// interrupted by an update of an active row: the discard of a flow whose
// active row came earlier in the same batch finds the row.
func TestBatchAppliesInOrder(t *testing.T) {
	db := MustOpenDB(t)
	active := rec(1, 100, 101, true)
	other := rec(2, 50, 300, false)
	other.SrcPort = 6000
	later := rec(3, 60, 70, false)
	later.SrcPort = 6001
	write(t, db,
		flow.Update{Record: active},
		flow.Update{Record: other},
		flow.Update{Op: flow.OpDiscard, Record: active, Written: true},
		flow.Update{Record: later},
	)
	got := rows(t, db)
	if len(got) != 2 || got[0].start != 50 || got[1].start != 60 {
		t.Fatalf("rows %+v, want the flows starting at 50 and 60", got)
	}
	// An active row written and completed in one batch is one row.
	done := rec(4, 80, 90, false)
	write(t, db, flow.Update{Record: rec(4, 80.5, 81, true)}, flow.Update{Record: done, Written: true})
	if got := rows(t, db); len(got) != 3 || got[2].start != 80 || got[2].active {
		t.Fatalf("rows %+v, want the completed flow 4 last", got)
	}
}

// A row SQLite refuses fails the batch with the driver's error type (its
// code is what IsBusy and the constraint checks read), names the flow,
// and leaves nothing of the batch behind.
func TestRunInsertErrorRollsBack(t *testing.T) {
	db := MustOpenDB(t)
	if _, err := db.SQL().Exec(`CREATE TRIGGER refuse BEFORE INSERT ON flows WHEN new.flow_id = 13
		BEGIN SELECT RAISE(ABORT, 'flow 13 refused'); END`); err != nil {
		t.Fatal(err)
	}
	var ups []flow.Update
	// Flows 13, 113 and 233 refused in turn: early, in the middle, late
	// in a run.
	for i := range 250 {
		r := rec(uint64(i+1), float64(100+i), float64(110+i), false)
		ups = append(ups, flow.Update{Record: r})
	}
	err := db.Write(context.Background(), &store.Batch{Updates: ups})
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrConstraint {
		t.Fatalf("error %v, want a constraint error", err)
	}
	if !strings.Contains(err.Error(), "flow 13:") || !strings.Contains(err.Error(), "flow 13 refused") {
		t.Fatalf("error %q names neither the flow nor the reason", err)
	}
	if store.IsBusy(err) {
		t.Fatalf("IsBusy(%v)", err)
	}
	if n, err := db.CountFlows(context.Background()); err != nil || n != 0 {
		t.Fatalf("%d rows after a failed batch (%v)", n, err)
	}
	// The connection is usable after the error; later rows fail too.
	for _, c := range []struct {
		refuse uint64
		want   int64
	}{{113, 112}, {233, 232}, {0, 250}} {
		if _, err := db.SQL().Exec("DROP TRIGGER refuse"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().Exec(fmt.Sprintf(`CREATE TRIGGER refuse BEFORE INSERT ON flows WHEN new.flow_id = %d
			BEGIN SELECT RAISE(ABORT, 'refused'); END`, c.refuse)); err != nil {
			t.Fatal(err)
		}
		err := db.Write(context.Background(), &store.Batch{Updates: ups[:c.want]})
		if err == nil {
			err = db.Write(context.Background(), &store.Batch{Updates: ups})
		}
		if c.refuse == 0 && err != nil {
			t.Fatal(err)
		}
		if c.refuse != 0 && !strings.Contains(fmt.Sprint(err), fmt.Sprintf("flow %d:", c.refuse)) {
			t.Fatalf("error %v, want flow %d refused", err, c.refuse)
		}
		if n, _ := db.CountFlows(context.Background()); n != c.want {
			t.Fatalf("%d rows, want %d", n, c.want)
		}
	}
}
