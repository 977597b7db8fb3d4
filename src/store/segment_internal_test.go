package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestColumnRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func(n int, f func(i int) int64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name   string
		vals   []int64
		sorted bool
	}{
		{"empty", nil, false},
		{"one", []int64{42}, false},
		{"constant", gen(300, func(int) int64 { return 443 }), false},
		{"few distinct", gen(1000, func(i int) int64 { return []int64{80, 443, 5228}[r.IntN(3)] }), false},
		{"ports", gen(1000, func(int) int64 { return 32768 + r.Int64N(28000) }), false},
		{"lognormal", gen(777, func(int) int64 { return int64(math.Exp(r.NormFloat64()*2 + 9)) }), false},
		{"sorted times", func() []int64 {
			v := gen(5000, func(int) int64 { return 1_790_000_000_000 + r.Int64N(86_400_000) })
			slices.Sort(v)
			return v
		}(), true},
		{"wide", gen(200, func(i int) int64 { return int64(r.Uint64() >> (i % 4)) }), false},
		{"negative", gen(130, func(i int) int64 { return int64(i) - 65 }), false},
		{"extremes", []int64{0, math.MaxInt64, math.MinInt64, -1, 1}, false},
		{"block edge", gen(packBlock*2+1, func(i int) int64 { return int64(i * i) }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := appendColumn([]byte{0xAA}, tc.vals, tc.sorted)
			if b[0] != 0xAA {
				t.Fatal("appendColumn overwrote the prefix")
			}
			got := make([]int64, len(tc.vals))
			if err := decodeColumn(b[1:], got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.vals) && len(tc.vals) > 0 {
				t.Fatalf("round trip differs:\n got %v\nwant %v", head(got), head(tc.vals))
			}
			// Truncated input is an error, never a panic.
			for cut := 1; cut < len(b)-1 && len(tc.vals) > 0; cut += 1 + len(b)/17 {
				_ = decodeColumn(b[1:cut], make([]int64, len(tc.vals)))
			}
		})
	}
}

func head(v []int64) []int64 { return v[:min(len(v), 10)] }

func TestSegmentRoundTrip(t *testing.T) {
	d := &dict{ids: map[string]int64{}, strs: map[int64]string{}, next: 1}
	intern := func(s string) (int64, error) {
		if id, ok := d.ids[s]; ok {
			return id, nil
		}
		d.ids[s], d.strs[d.next] = d.next, s
		d.next++
		return d.next - 1, nil
	}
	var rows []archRow
	for i := range 1000 {
		rows = append(rows, archRow{Start: t0 + int64(i*7919%86_400_000), MAC: fmt.Sprintf("02:00:00:00:00:%02x", i%30),
			SrcIP: fmt.Sprintf("192.168.1.%d", i%30), SrcPort: int64(30000 + i), DestIP: fmt.Sprintf("203.0.113.%d", i%200),
			DestPort: 443, Proto: "TCP", AppProto: "tls", Name: fmt.Sprintf("h%d.test", i%97), Source: "sni",
			BytesSent: int64(i * 31), BytesRcv: int64(i * i), PktsSent: 3, PktsRcv: int64(i % 17), Flows: 1 + int64(i%3)})
		rows[i].End = rows[i].Start + int64(i%50)*1000
	}
	want := slices.Clone(rows)
	sortRows(want)
	enc, err := encodeSegment(rows, intern)
	if err != nil {
		t.Fatal(err)
	}
	seg, err := enc.parse(20000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := seg.rows(d.strs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("segment round trip differs: first got %+v want %+v", got[0], want[0])
	}
	nc, err := seg.NameCounts()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i, c := range nc {
		if i > 0 && c.Name <= nc[i-1].Name {
			t.Fatalf("name counts out of order: %v", nc[:i+1])
		}
		if d.strs[c.Name] == "h5.test" && c.Rows != 11 { // i%97 == 5 for 11 of 0..999
			t.Errorf("h5.test has %d rows, want 11", c.Rows)
		}
		sum += c.Rows
	}
	if len(nc) != 97 || sum != int64(len(rows)) {
		t.Errorf("%d names counting %d rows, want 97 names and %d rows", len(nc), sum, len(rows))
	}
	for c := range NumColumns {
		full, err := seg.Column(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, idx := range [][]int32{{0}, {999}, {1, 2, 3, 127, 128, 500, 998}, {}} {
			got, err := seg.Gather(c, idx, nil)
			if err != nil {
				t.Fatalf("column %d rows %v: %v", c, idx, err)
			}
			for k, i := range idx {
				if got[k] != full[i] {
					t.Fatalf("column %d row %d: gathered %d, decoded %d", c, i, got[k], full[i])
				}
			}
		}
	}
	if _, err := seg.Gather(ColMAC, []int32{5, 5}, nil); err == nil {
		t.Error("Gather accepted rows out of order")
	}
	if seg.ID(0) != 20000<<32+1 {
		t.Errorf("ID(0) = %d", seg.ID(0))
	}
	size := len(enc.head)
	for _, c := range enc.cols {
		size += len(c)
	}
	t.Logf("%d rows in %d bytes (%.1f B/row)", len(rows), size, float64(size)/float64(len(rows)))
	// Damaged heads and columns are errors, never panics.
	for cut := 0; cut < len(enc.head); cut++ {
		if s, err := parseHead(1, enc.head[:cut]); err == nil {
			for b := range numBounds {
				s.BlockMax(b, nil)
			}
		}
	}
	for c := range NumColumns {
		b := enc.cols[c]
		for cut := 0; cut < len(b); cut += 1 + len(b)/23 {
			s, _ := enc.parse(1)
			s.setColumn(c, b[:cut])
			s.Column(c, nil)
			s.Gather(c, []int32{0, 999}, nil)
		}
	}
	if _, err := parseHead(1, []byte("PKS1xxxx")); err == nil {
		t.Error("a head of another format parsed")
	}
}

// TestSegmentBlockMax checks the byte maxima a head keeps per block, and
// that a head written before them (PKS2) still reads, without them.
func TestSegmentBlockMax(t *testing.T) {
	ids := map[string]int64{}
	intern := func(s string) (int64, error) {
		if _, ok := ids[s]; !ok {
			ids[s] = int64(len(ids) + 1)
		}
		return ids[s], nil
	}
	for _, n := range []int{0, 1, BlockRows, BlockRows + 1, 1000} {
		var rows []archRow
		for i := range n {
			// Sent peaks where received does not, so the maxima differ.
			rows = append(rows, archRow{Start: t0 + int64(i)*1000, End: t0 + int64(i)*1000, Name: fmt.Sprintf("h%d", i%7),
				BytesSent: int64(i * 7919 % 1009), BytesRcv: int64(i * 104729 % 100003), Flows: 1})
		}
		enc, err := encodeSegment(rows, intern)
		if err != nil {
			t.Fatal(err)
		}
		seg, err := enc.parse(1)
		if err != nil {
			t.Fatal(err)
		}
		sent, _ := seg.Column(ColBytesSent, nil)
		rcv, _ := seg.Column(ColBytesRcv, nil)
		for b, val := range map[Bound]func(i int) int64{
			BoundBytes: func(i int) int64 { return sent[i] + rcv[i] },
			BoundSent:  func(i int) int64 { return sent[i] },
			BoundRcv:   func(i int) int64 { return rcv[i] },
		} {
			got, ok, err := seg.BlockMax(b, nil)
			if err != nil || !ok {
				t.Fatalf("%d rows, bound %d: ok %v, %v", n, b, ok, err)
			}
			var want []int64
			for i := range n {
				if i%BlockRows == 0 {
					want = append(want, 0)
				}
				want[len(want)-1] = max(want[len(want)-1], val(i))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%d rows, bound %d: maxima %v, want %v", n, b, head(got), head(want))
			}
		}
		if _, _, err := seg.BlockMax(numBounds, nil); err == nil {
			t.Error("BlockMax accepted an unknown bound")
		}
		// The same segment as PKS2 wrote it: magic, rows, name counts.
		h := enc.head[len(segmentMagic):]
		_, k := binary.Uvarint(h)
		ml, k2 := binary.Uvarint(h[k:])
		old := append([]byte(segmentMagicV2), h[:k]...)
		old = append(old, h[k+k2+int(ml):]...)
		v2 := &encoded{head: old, cols: enc.cols}
		oseg, err := v2.parse(1)
		if err != nil {
			t.Fatalf("%d rows: PKS2 head: %v", n, err)
		}
		if m, ok, err := oseg.BlockMax(BoundBytes, nil); ok || err != nil || len(m) != 0 {
			t.Errorf("%d rows: PKS2 head gave maxima %v, %v, %v", n, m, ok, err)
		}
		ncNew, err1 := seg.NameCounts()
		ncOld, err2 := oseg.NameCounts()
		if err1 != nil || err2 != nil || !slices.Equal(ncNew, ncOld) || oseg.Rows != n {
			t.Errorf("%d rows: PKS2 head reads %d rows, names %v (%v), want %v (%v)", n, oseg.Rows, ncOld, err2, ncNew, err1)
		}
		strs := map[int64]string{}
		for s, id := range ids {
			strs[id] = s
		}
		a, err1 := seg.rows(strs)
		b, err2 := oseg.rows(strs)
		if err1 != nil || err2 != nil || !slices.Equal(a, b) {
			t.Errorf("%d rows: PKS2 segment decodes differently (%v, %v)", n, err1, err2)
		}
	}
}

// TestConvertDayTables opens an archive written before segments (one
// table a day) and finds every row in the segments, with the same values.
func TestConvertDayTables(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "archive.db")
	old, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"migration/archive/0001_archive.sql", "migration/archive/0002_alerts.sql"} {
		body, err := archiveMigrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec(string(body)); err != nil {
			t.Fatal(err)
		}
	}
	const day = 20500
	start := int64(day) * msPerDay
	for _, q := range []string{
		`INSERT INTO strings (id, s) VALUES (1, '02:00:00:00:00:01'), (2, '192.168.1.2'), (3, '203.0.113.9'),
			(4, 'TCP'), (5, 'tls'), (6, 'x.test'), (7, 'sni'), (8, '')`,
		`CREATE TABLE p20500_3 (id INTEGER PRIMARY KEY, start INTEGER NOT NULL, dur INTEGER NOT NULL,
			mac INTEGER NOT NULL, src_ip INTEGER NOT NULL, src_port INTEGER NOT NULL, dest_ip INTEGER NOT NULL,
			dest_port INTEGER NOT NULL, proto INTEGER NOT NULL, app_proto INTEGER NOT NULL, name INTEGER NOT NULL,
			source INTEGER NOT NULL, bytes_sent INTEGER NOT NULL, bytes_received INTEGER NOT NULL,
			pkts_sent INTEGER NOT NULL, pkts_received INTEGER NOT NULL, flows INTEGER NOT NULL)`,
		fmt.Sprintf(`INSERT INTO p20500_3 (start, dur, mac, src_ip, src_port, dest_ip, dest_port, proto, app_proto, name,
			source, bytes_sent, bytes_received, pkts_sent, pkts_received, flows) VALUES
			(%d, 1500, 1, 2, 40000, 3, 443, 4, 5, 6, 7, 100, 2000, 3, 4, 1),
			(%d, 60000, 1, 2, 0, 3, 443, 4, 8, 8, 8, 700, 9000, 9, 12, 5)`, start+5000, start+1000),
		`INSERT INTO parts (day, tbl, level, rows, flows) VALUES (20500, 'p20500_3', 2, 2, 6)`,
		`INSERT INTO partkeys (day, keys) VALUES (20500, x'0100000000000000')`,
		`PRAGMA user_version = 2`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()

	db, err := Open(ctx, filepath.Join(t.TempDir(), "live.db"), Options{ArchivePath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got []string
	rows, err := db.SQL().Query(`SELECT id, start, end, mac, src_ip, src_port, dest_ip, dest_port, proto, app_proto,
		observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received, flows FROM archive.flows ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, sp, dp, bs, br, ps, pr, fl int64
		var s, e float64
		var mac, sip, dip, proto, app, name, src string
		if err := rows.Scan(&id, &s, &e, &mac, &sip, &sp, &dip, &dp, &proto, &app, &name, &src, &bs, &br, &ps, &pr, &fl); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %.3f %.3f %s %s %d %s %d %s %q %q %q %d %d %d %d %d",
			id-day<<32, s-float64(start)/1000, e-float64(start)/1000, mac, sip, sp, dip, dp, proto, app, name, src, bs, br, ps, pr, fl))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`1 1.000 61.000 02:00:00:00:00:01 192.168.1.2 0 203.0.113.9 443 TCP "" "" "" 700 9000 9 12 5`,
		`2 5.000 6.500 02:00:00:00:00:01 192.168.1.2 40000 203.0.113.9 443 TCP "tls" "x.test" "sni" 100 2000 3 4 1`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("converted rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var tbl string
	var level, first, last int64
	if err := db.arch.QueryRow("SELECT tbl, level, first_start, last_end FROM parts WHERE day = 20500").Scan(&tbl, &level, &first, &last); err != nil {
		t.Fatal(err)
	}
	if tbl != "p20500_3" || level != 2 || first != start+1000 || last != start+61000 {
		t.Errorf("catalog: %s level %d span %d..%d", tbl, level, first-start, last-start)
	}
	var tables int
	db.arch.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'p2%'").Scan(&tables)
	if tables != 0 {
		t.Errorf("%d day tables left", tables)
	}
	if ks, err := loadKeys(ctx, db.arch, day); err != nil || !ks.has(1) {
		t.Errorf("flow keys lost: %v %v", ks, err)
	}
}
