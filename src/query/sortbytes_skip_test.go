package query_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
	"github.com/pakon/pakon/src/query"
	"github.com/pakon/pakon/src/store"

	_ "github.com/mattn/go-sqlite3" // the archive opened to damage it
)

// skipNow is "now" of skipDBs: five archived days and a live one.
var skipNow = time.Date(2026, 6, 8, 0, 0, 0, 0, time.UTC)

// skipDBs archives five days of flows, the third of which holds only
// small ones (at most 999 bytes each way; the others' are 1,000 to
// 100,000 with many ties), and copies every row into a flat database
// without an archive. It returns the small day's UTC day number and the
// archive opened for writing, to damage it.
func skipDBs(t *testing.T) (tiered, flat *store.DB, smallDay int64, archive *sql.DB) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	tiered, err := store.Open(ctx, filepath.Join(dir, "live.db"), store.Options{ArchivePath: filepath.Join(dir, "archive.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tiered.Close() })
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"www.example.com", "example.com", "ad.doubleclick.net", "ocsp.digicert.com", "", "video.test"}
	begin := skipNow.Add(-6 * 24 * time.Hour)
	smallDay = begin.Add(2*24*time.Hour).Unix() / 86400
	var b store.Batch
	for i := range 9000 {
		t0 := begin.Add(time.Duration(r.Int64N(int64(6*24*time.Hour - time.Hour))))
		t1 := t0.Add(time.Duration(r.Int64N(int64(20 * time.Minute))))
		sent, rcv := 1000+r.Int64N(100)*1000, 1000+r.Int64N(1000)*99
		if t1.Unix()/86400 == smallDay {
			sent, rcv = r.Int64N(1000), r.Int64N(1000)
		}
		name := names[r.IntN(len(names))]
		src := flow.SourceSNI
		if name == "" {
			src = flow.SourceNone
		}
		b.Updates = append(b.Updates, flow.Update{Record: flow.Record{FlowID: uint64(i + 1),
			Start: eve.Timestamp(t0.UnixMicro()), End: eve.Timestamp(t1.UnixMicro()), MAC: "02:00:00:00:01:01",
			SrcIP: netip.AddrFrom4([4]byte{192, 168, 1, 10}), SrcPort: uint16(30000 + i%5000),
			DestIP: netip.AddrFrom4([4]byte{203, 0, 113, byte(r.IntN(4))}), DestPort: 443, Proto: "TCP", AppProto: "tls",
			Name: name, Source: src, BytesSent: uint64(sent), BytesReceived: uint64(rcv), PktsSent: 2, PktsReceived: 3}})
	}
	if err := tiered.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if _, err := tiered.Maintain(ctx, skipNow, store.Policy{}); err != nil {
		t.Fatal(err)
	}
	var days int
	if err := tiered.SQL().QueryRow("SELECT count(*) FROM archive.parts").Scan(&days); err != nil || days != 5 {
		t.Fatalf("want 5 archived days, have %d (%v)", days, err)
	}
	flat, err = store.Open(ctx, filepath.Join(dir, "flat.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { flat.Close() })
	const cols = `id, flow_key, flow_id, start, end, mac, src_ip, src_port, dest_ip, dest_port, proto, app_proto,
		observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received, flows, active`
	rows, err := tiered.SQL().Query("SELECT " + cols + " FROM all_flows")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	tx, err := flat.SQL().Begin()
	if err != nil {
		t.Fatal(err)
	}
	vals, ptrs := make([]any, 20), make([]any, 20)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO flows ("+cols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			vals...); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	archive, err = sql.Open("sqlite3", "file:"+filepath.Join(dir, "archive.db")+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { archive.Close() })
	return tiered, flat, smallDay, archive
}

// segmentOf returns the segment number of archived day day (db is the
// archive). A segment's
// rows are seg<<5 | part, the head being part store.NumColumns.
func segmentOf(t *testing.T, db *sql.DB, day int64) int64 {
	t.Helper()
	var seg int64
	if err := db.QueryRow("SELECT seg FROM parts WHERE day = ?", day).Scan(&seg); err != nil {
		t.Fatal(err)
	}
	return seg
}

// toPKS2 rewrites day's segment head as it was written before block
// maxima: magic PKS2, row count, name counts.
func toPKS2(t *testing.T, db *sql.DB, day int64) {
	t.Helper()
	id := segmentOf(t, db, day)<<5 | int64(store.NumColumns)
	var h []byte
	if err := db.QueryRow("SELECT data FROM segments WHERE id = ?", id).Scan(&h); err != nil {
		t.Fatal(err)
	}
	if string(h[:4]) != "PKS3" {
		t.Fatalf("day %d: head %q", day, h[:4])
	}
	h = h[4:]
	_, k := binary.Uvarint(h)
	n, k2 := binary.Uvarint(h[k:])
	old := append([]byte("PKS2"), h[:k]...)
	old = append(old, h[k+k2+int(n):]...)
	if _, err := db.Exec("UPDATE segments SET data = ? WHERE id = ?", old, id); err != nil {
		t.Fatal(err)
	}
}

// TestSortBytesSkipsDays pages by bytes, most first, over days one of
// which cannot reach the page: its columns are damaged, so the page
// must come from its head alone, and equal the flat database's. A day
// whose head was written without maxima (PKS2) is read in full.
func TestSortBytesSkipsDays(t *testing.T) {
	tiered, flat, small, db := skipDBs(t)
	ctx := context.Background()
	opts := query.Options{Lists: shippedLists(t), Now: func() time.Time { return skipNow }}
	te, fe := query.New(tiered, opts), query.New(flat, opts)
	start := skipNow.Add(-7 * 24 * time.Hour)
	filters := []query.Params{{}, {NoFilter: true}, {Hostnames: []string{"example.com"}}}
	pages := []struct{ limit, offset int }{{20, 0}, {100, 0}, {50, 400}, {1, 0}}
	check := func(stage string) {
		t.Helper()
		for fi, fl := range filters {
			for _, key := range []string{query.SortBytes, query.SortSent, query.SortReceived} {
				for _, pg := range pages {
					p := fl
					p.Start, p.Sort, p.Desc, p.Limit, p.Offset = start, key, true, pg.limit, pg.offset
					n := fmt.Sprintf("%s/filter %d/%s/%d+%d", stage, fi, key, pg.offset, pg.limit)
					same(t, n, te, fe, func(e *query.Engine) (*query.Result, error) { return e.Flows(ctx, p) })
				}
			}
		}
	}
	check("intact")

	if _, err := db.Exec("UPDATE segments SET data = x'ff' WHERE id >> 5 = ? AND id & 31 <> ?",
		segmentOf(t, db, small), int(store.NumColumns)); err != nil {
		t.Fatal(err)
	}
	// The damage shows wherever the day's rows are read.
	if _, err := te.Flows(ctx, query.Params{Start: start, Sort: query.SortBytes, Limit: 20}); err == nil {
		t.Fatal("a page by bytes, least first, read the damaged day without an error")
	}
	check("damaged")

	// Another day without maxima is read in full, with the same answers.
	toPKS2(t, db, small+1)
	check("PKS2")
	// The small day without them can no longer be skipped.
	toPKS2(t, db, small)
	if _, err := te.Flows(ctx, query.Params{Start: start, Sort: query.SortBytes, Desc: true, Limit: 20}); err == nil {
		t.Fatal("a day without maxima was skipped")
	}
}
