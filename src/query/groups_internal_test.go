package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/lists"
	"github.com/pakon/pakon/src/store"
)

// sqlGroups is the GROUP BY the engine ran on all_flows before it summed
// rows in Go: the reference for groupsIn.
func sqlGroups(ctx context.Context, e *Engine, pl *plan, byPort bool) ([]groupRow, error) {
	hit, hitArgs := pl.ipHitExpr()
	portCols, groupBy := "0, ''", " GROUP BY 1, 2, 3, 4, 5"
	if byPort {
		portCols, groupBy = "f.dest_port, f.proto", " GROUP BY 1, 2, 3, 4, 5, 6, 7"
	}
	q := "SELECT f.mac, CASE WHEN f.mac = '' THEN f.src_ip ELSE '' END," +
		" f.observed_name, CASE WHEN f.observed_name = '' THEN f.dest_ip ELSE '' END, " + hit + ", " + portCols + "," +
		" max(CASE WHEN f.app_proto IN ('', 'failed') THEN '' ELSE f.app_proto END), max(f.app_proto)," +
		" min(f.src_ip), max(f.src_ip), min(f.dest_ip), max(f.dest_ip), min(f.name_source), max(f.name_source)," +
		" sum(f.flows), sum(f.bytes_sent), sum(f.bytes_received), min(f.start), max(f.end), max(f.active)" +
		fromFlows + pl.where() + groupBy
	rows, err := e.db.SQL().QueryContext(ctx, q, append(hitArgs, pl.args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []groupRow
	for rows.Next() {
		var g groupRow
		if err := rows.Scan(&g.mac, &g.devIP, &g.observed, &g.hostIP, &g.ipHit, &g.port, &g.proto,
			&g.app, &g.appAny, &g.srcMin, &g.srcMax, &g.destMin, &g.destMax, &g.srcNameMin, &g.srcNameMax,
			&g.flows, &g.sent, &g.received, &g.start, &g.end, &g.active); err != nil {
			return nil, err
		}
		if pl.filtersNames() && !pl.passes(g.observed, g.ipHit) {
			continue
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// TestGroupsMatchSQL checks that summing rows in Go gives the groups of
// SQL's GROUP BY, min and max of text included, on live rows of every
// kind (unknown devices, unnamed flows, failed and empty protocols,
// active rows) and under every filter.
func TestGroupsMatchSQL(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "live.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"a.example", "b.example", "", "ad.doubleclick.net", "203.0.113.5", "Up.Example"}
	apps := []string{"tls", "http", "failed", "", "dns", "quic"}
	srcs := []flow.Source{flow.SourceSNI, flow.SourceDNS, flow.SourceHTTP, flow.SourceNone}
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var b store.Batch
	for i := range 3000 {
		t0 := base.Add(time.Duration(r.Int64N(int64(48 * time.Hour))))
		rec := flow.Record{FlowID: uint64(i + 1), Start: eve.Timestamp(t0.UnixMicro()),
			End:   eve.Timestamp(t0.Add(time.Duration(r.IntN(600)) * time.Second).UnixMicro()),
			MAC:   []string{"02:00:00:00:00:01", "02:00:00:00:00:02", ""}[r.IntN(3)],
			SrcIP: netip.AddrFrom4([4]byte{192, 168, 1, byte(r.IntN(3))}), SrcPort: uint16(r.IntN(65536)),
			DestIP: netip.AddrFrom4([4]byte{203, 0, 113, byte(r.IntN(8))}), DestPort: []uint16{443, 80, 53}[r.IntN(3)],
			Proto: []string{"TCP", "UDP"}[r.IntN(2)], AppProto: apps[r.IntN(len(apps))], Name: names[r.IntN(len(names))],
			Source: srcs[r.IntN(len(srcs))], BytesSent: uint64(r.IntN(5000)), BytesReceived: uint64(r.IntN(90000)),
			Active: r.IntN(10) == 0}
		b.Updates = append(b.Updates, flow.Update{Record: rec})
	}
	if err := db.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	l, _, err := lists.Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := New(db, Options{Lists: l})
	for _, p := range []Params{
		{}, {Start: base.Add(20 * time.Hour), End: base.Add(30 * time.Hour)}, {Devices: []string{"02:00:00:00:00:02"}},
		{Devices: []string{"192.168.1.2"}}, {Hostnames: []string{"example"}}, {Hostnames: []string{"203.0.113.5"}},
		{Hostnames: []string{"203.0.113.2", "=a.example"}}, {AppProtos: []string{"failed", "DNS"}}, {Protos: []string{"udp"}},
		{DestPorts: []int{53}}, {Active: true},
	} {
		for _, byPort := range []bool{false, true} {
			pl, err := e.plan(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			want, err := sqlGroups(ctx, e, pl, byPort)
			if err != nil {
				t.Fatal(err)
			}
			var got []groupRow
			pks := map[[2]uint64]bool{}
			if err := pl.groups(ctx, e, byPort, func(g *groupRow) {
				if pks[g.pk] {
					t.Errorf("%+v: packed key %x twice", p, g.pk)
				}
				pks[g.pk] = true
				c := *g
				c.pk = [2]uint64{} // the reference has none
				got = append(got, c)
			}); err != nil {
				t.Fatal(err)
			}
			key := func(g groupRow) string {
				return fmt.Sprintf("%s|%s|%s|%s|%v|%d|%s", g.mac, g.devIP, g.observed, g.hostIP, g.ipHit, g.port, g.proto)
			}
			sortGroups := func(gs []groupRow) {
				slices.SortFunc(gs, func(a, b groupRow) int {
					switch ka, kb := key(a), key(b); {
					case ka < kb:
						return -1
					case ka > kb:
						return 1
					}
					return 0
				})
			}
			sortGroups(want)
			sortGroups(got)
			if len(want) == 0 {
				t.Fatalf("%+v: no groups to compare", p)
			}
			if !slices.Equal(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("%+v byPort %v: group %d\n got %+v\nwant %+v", p, byPort, i, got[i], want[i])
					}
				}
				t.Fatalf("%+v byPort %v: %d groups, want %d", p, byPort, len(got), len(want))
			}
		}
	}
}

// TestPackKey: a group's packed key gives its key back.
func TestPackKey(t *testing.T) {
	const empty = 7
	for _, k := range []gkey{
		{mac: 1, devIP: empty, name: 2, hostIP: empty, port: 443, proto: 3},
		{mac: empty, devIP: 5, name: 2, hostIP: empty, port: 0, proto: 4, hit: true},
		{mac: 9, devIP: empty, name: empty, hostIP: 11, port: 65535, proto: empty},
		{mac: empty, devIP: 1<<31 - 1, name: empty, hostIP: 1<<31 - 1, port: 53, proto: 1<<31 - 1, hit: true},
	} {
		if got := unpackKey(packKey(k, empty), empty); got != k {
			t.Errorf("unpackKey(packKey(%+v)) = %+v", k, got)
		}
	}
}

// TestGroupTable: groups summed through day tables folded into larger
// ones, growing past their chunks, are those a Go map sums, with text
// min and max by strings before ranks are set and by ranks after.
func TestGroupTable(t *testing.T) {
	y := newSymbols(nil)
	for _, s := range []string{"b", "a", "d", "c", "b", "e"} {
		y.strs = append(y.strs, s) // "b" twice: equal strings, two ids
	}
	r := rand.New(rand.NewPCG(3, 4))
	id := func() int32 { return int32(r.IntN(len(y.strs))) }
	less := func(a, b int32) bool { return y.less(int64(a), int64(b)) }
	want := map[[2]uint64]gentry{}
	sum := func(x gentry) {
		a, ok := want[x.key]
		if !ok {
			want[x.key] = x
			return
		}
		for _, f := range []struct {
			a       *int32
			x       int32
			keepMin bool
		}{{&a.app, x.app, false}, {&a.appAny, x.appAny, false}, {&a.srcMin, x.srcMin, true}, {&a.srcMax, x.srcMax, false},
			{&a.destMin, x.destMin, true}, {&a.destMax, x.destMax, false}, {&a.nsMin, x.nsMin, true}, {&a.nsMax, x.nsMax, false}} {
			if f.keepMin && less(f.x, *f.a) || !f.keepMin && less(*f.a, f.x) {
				*f.a = f.x
			}
		}
		a.flows += x.flows
		a.sent += x.sent
		a.received += x.received
		a.start, a.end, a.active = min(a.start, x.start), max(a.end, x.end), a.active || x.active
		want[x.key] = a
	}
	row := func() gentry {
		s := float64(r.IntN(1000))
		return gentry{key: [2]uint64{uint64(r.IntN(3000)), uint64(r.IntN(3)) << 33}, app: id(), appAny: id(),
			srcMin: id(), srcMax: id(), destMin: id(), destMax: id(), nsMin: id(), nsMax: id(),
			flows: int64(r.IntN(5)), sent: int64(r.IntN(1e6)), received: int64(r.IntN(1e6)),
			start: s, end: s + float64(r.IntN(100)), active: r.IntN(9) == 0}
	}
	global := newGroupTable(0, y)
	for range 5000 { // live rows: strings compared
		x := row()
		sum(x)
		global.add(&x)
	}
	global.rank = y.ranks()
	day := newGroupTable(16, y)
	day.rank = global.rank
	for range 20 {
		day.reset()
		for range 1000 {
			x := row()
			sum(x)
			day.add(&x)
		}
		global.fold(day)
	}
	if global.len() != len(want) || global.len() <= groupChunk {
		t.Fatalf("%d groups, want %d (more than a chunk)", global.len(), len(want))
	}
	for i := range global.len() {
		g := global.at(i)
		if w := want[g.key]; *g != w {
			t.Fatalf("group %v:\n got %+v\nwant %+v", g.key, *g, w)
		}
	}
}
