package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// archRow is one archived flow, or a group of merged flows, in memory.
// Times are milliseconds since the epoch: the archive keeps milliseconds,
// which saves eight bytes per row over two REAL columns.
type archRow struct {
	Key                 int64 // flow key of a raw row; 0 once merged
	Start, End          int64
	MAC, SrcIP          string
	SrcPort             int64
	DestIP              string
	DestPort            int64
	Proto, AppProto     string
	Name, Source        string
	BytesSent, BytesRcv int64
	PktsSent, PktsRcv   int64
	Flows               int64
}

const msPerDay = 86_400_000

// dayOf is the partition of a flow: the UTC day its end falls in.
func dayOf(endMS int64) int64 {
	if endMS < 0 {
		return 0
	}
	return endMS / msPerDay
}

// viewColumns are main.flows' columns in order; the archive view produces
// the same so that all_flows can UNION ALL them.
const viewColumns = `id, flow_key, flow_id, start, end, mac, src_ip, src_port, dest_ip, dest_port, proto, app_proto,
	observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received, flows, active`

// partition is one row of the parts catalog.
type partition struct {
	Day, Level, Rows, Flows int64
	Table                   string
	Seg                     int64 // its segment's number (see segRow)
}

func loadParts(ctx context.Context, q querier) ([]partition, error) {
	rows, err := q.QueryContext(ctx, "SELECT day, tbl, level, rows, flows, seg FROM parts ORDER BY day")
	if err != nil {
		return nil, fmt.Errorf("read partitions: %w", err)
	}
	defer rows.Close()
	var out []partition
	for rows.Next() {
		var p partition
		if err := rows.Scan(&p.Day, &p.Table, &p.Level, &p.Rows, &p.Flows, &p.Seg); err != nil {
			return nil, fmt.Errorf("read partitions: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// archiveView is the archive's flows view: every archived row, decoded
// from the day segments by the pakon_segment function (registered on the
// connections of Open) for SQL that wants them, such as tests and a shell.
// The query engine decodes segments itself (see Archive). Archived rows
// have no flow_key or flow_id (merged rows cannot have one, and raw ones
// are identified by partkeys); ids are day<<32 + the row's index + 1, so
// they differ across days and from live ids.
const archiveView = `CREATE VIEW flows (` + viewColumns + `) AS
	SELECT (p.day << 32) + j.key + 1, NULL, NULL, (j.value ->> 0) / 1000.0, ((j.value ->> 0) + (j.value ->> 1)) / 1000.0,
		m.s, si.s, j.value ->> 4, di.s, j.value ->> 6, pr.s, ap.s, n.s, so.s,
		j.value ->> 11, j.value ->> 12, j.value ->> 13, j.value ->> 14, j.value ->> 15, 0
	FROM parts p, json_each((SELECT pakon_segment(s.id, s.data) FROM segments s
		WHERE s.id BETWEEN p.seg << 5 AND (p.seg << 5) | 31)) j
	JOIN strings m ON m.id = j.value ->> 2 JOIN strings si ON si.id = j.value ->> 3
	JOIN strings di ON di.id = j.value ->> 5 JOIN strings pr ON pr.id = j.value ->> 7
	JOIN strings ap ON ap.id = j.value ->> 8 JOIN strings n ON n.id = j.value ->> 9
	JOIN strings so ON so.id = j.value ->> 10`

// rebuildView makes sure the archive's flows view is archiveView. It
// writes the schema only when the view differs (after a migration).
func rebuildView(ctx context.Context, tx querier) error {
	var have string
	err := tx.QueryRowContext(ctx, "SELECT sql FROM sqlite_schema WHERE type = 'view' AND name = 'flows'").Scan(&have)
	if err == nil && have == archiveView {
		return nil
	}
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("rebuild archive view: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DROP VIEW IF EXISTS flows"); err != nil {
		return fmt.Errorf("rebuild archive view: %w", err)
	}
	if _, err := tx.ExecContext(ctx, archiveView); err != nil {
		return fmt.Errorf("rebuild archive view: %w", err)
	}
	return nil
}

// segmentAgg is the SQL aggregate pakon_segment(id, data) over the rows
// of one segment: its rows as a JSON array of arrays of its columns, in
// stored order.
type segmentAgg struct {
	parts map[int64][]byte
}

func newSegmentAgg() *segmentAgg { return &segmentAgg{parts: map[int64][]byte{}} }

func (a *segmentAgg) Step(id int64, data []byte) {
	a.parts[id&(1<<segShift-1)] = bytes.Clone(data)
}

func (a *segmentAgg) Done() (string, error) {
	if len(a.parts) == 0 {
		return "[]", nil
	}
	seg, err := parseHead(0, a.parts[segHead])
	if err != nil {
		return "", err
	}
	var cols [NumColumns][]int64
	for c := range cols {
		seg.setColumn(Column(c), a.parts[int64(c)])
		if cols[c], err = seg.Column(Column(c), nil); err != nil {
			return "", err
		}
	}
	b := make([]byte, 0, seg.Rows*64+2)
	b = append(b, '[')
	for i := range seg.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for c := range cols {
			if c > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, cols[c][i], 10)
		}
		b = append(b, ']')
	}
	return string(append(b, ']')), nil
}

// dict interns strings in the archive's strings table. It is loaded from
// the archive at the start of every lifecycle transaction, so another
// process (pakon clear) can never leave it stale.
type dict struct {
	ids  map[string]int64
	strs map[int64]string
	next int64
}

func loadDict(ctx context.Context, q querier) (*dict, error) {
	d := &dict{ids: make(map[string]int64), strs: make(map[int64]string), next: 1}
	rows, err := q.QueryContext(ctx, "SELECT id, s FROM strings")
	if err != nil {
		return nil, fmt.Errorf("read strings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			return nil, fmt.Errorf("read strings: %w", err)
		}
		if _, dup := d.ids[s]; !dup {
			d.ids[s] = id
		}
		d.strs[id] = s
		d.next = max(d.next, id+1)
	}
	return d, rows.Err()
}

func (d *dict) id(ctx context.Context, tx *sql.Tx, s string) (int64, error) {
	if id, ok := d.ids[s]; ok {
		return id, nil
	}
	id := d.next
	if _, err := tx.ExecContext(ctx, "INSERT INTO strings (id, s) VALUES (?, ?)", id, s); err != nil {
		return 0, fmt.Errorf("intern string: %w", err)
	}
	d.next++
	d.ids[s], d.strs[id] = id, s
	return id, nil
}

// readPart loads a partition's rows.
func readPart(ctx context.Context, q querier, d *dict, p partition) ([]archRow, error) {
	seg, err := loadSegment(ctx, q, "", p.Day, p.Seg, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("read partition %s: %w", p.Table, err)
	}
	return seg.rows(d.strs)
}

// loadSegment reads segment seg (of day) from the segments table of
// schema ("" or "archive."): its head and the columns cols, every column
// when cols is nil. buf is reused for the bytes; the segment refers to it.
func loadSegment(ctx context.Context, q interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}, schema string, day, seg int64, cols []Column, buf *[]byte) (*Segment, error) {
	where, args := "id BETWEEN ? AND ?", []any{segRow(seg, 0), segRow(seg, 1<<segShift-1)}
	if cols != nil {
		where = "id IN (?" + strings.Repeat(", ?", len(cols)) + ")"
		args = []any{segRow(seg, segHead)}
		for _, c := range cols {
			args = append(args, segRow(seg, int64(c)))
		}
	}
	rows, err := q.QueryContext(ctx, "SELECT id, data FROM "+schema+"segments WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read segment %d: %w", seg, err)
	}
	defer rows.Close()
	var own []byte
	if buf == nil {
		buf = &own
	}
	type span struct{ off, n int }
	var spans [1 << segShift]span
	var have [1 << segShift]bool
	b := (*buf)[:0]
	for rows.Next() {
		var id int64
		var raw sql.RawBytes
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("read segment %d: %w", seg, err)
		}
		part := id & (1<<segShift - 1)
		spans[part], have[part] = span{len(b), len(raw)}, true
		b = append(b, raw...)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read segment %d: %w", seg, err)
	}
	*buf = b
	if !have[segHead] {
		return nil, fmt.Errorf("read segment %d: no head: %w", seg, errCorrupt)
	}
	part := func(i int64) []byte { return b[spans[i].off : spans[i].off+spans[i].n : spans[i].off+spans[i].n] }
	s, err := parseHead(day, part(segHead))
	if err != nil {
		return nil, err
	}
	for c := range NumColumns {
		if have[c] {
			s.setColumn(c, part(int64(c)))
		} else if cols == nil || slices.Contains(cols, c) {
			return nil, fmt.Errorf("read segment %d: no column %d: %w", seg, c, errCorrupt)
		}
	}
	return s, nil
}

// storeSegment writes e as a new segment and returns its number.
func storeSegment(ctx context.Context, tx *sql.Tx, e *encoded) (int64, error) {
	var top int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM segments").Scan(&top); err != nil {
		return 0, fmt.Errorf("store segment: %w", err)
	}
	seg := top>>segShift + 1
	st, err := tx.PrepareContext(ctx, "INSERT INTO segments (id, data) VALUES (?, ?)")
	if err != nil {
		return 0, fmt.Errorf("store segment: %w", err)
	}
	defer st.Close()
	for c := range NumColumns {
		if _, err := st.ExecContext(ctx, segRow(seg, int64(c)), e.cols[c]); err != nil {
			return 0, fmt.Errorf("store segment: %w", err)
		}
	}
	if _, err := st.ExecContext(ctx, segRow(seg, segHead), e.head); err != nil {
		return 0, fmt.Errorf("store segment: %w", err)
	}
	return seg, nil
}

// dropSegment deletes segment seg's rows.
func dropSegment(ctx context.Context, tx *sql.Tx, seg int64) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM segments WHERE id BETWEEN ? AND ?", segRow(seg, 0), segRow(seg, 1<<segShift-1)); err != nil {
		return fmt.Errorf("drop segment %d: %w", seg, err)
	}
	return nil
}

// writePart replaces day's partition (if any) by a new segment holding
// rows; the catalog names it p<day>_<generation>. The new segment is
// written before the old one is deleted: it then takes pages freed by
// earlier transactions, which SQLite does not copy to the rollback journal,
// instead of the old segment's, which it would (BenchmarkFourWeeks: a
// rewrite costs 1.2 times its size in flash writes instead of 2).
func writePart(ctx context.Context, tx *sql.Tx, d *dict, day int64, old *partition, level int64, rows []archRow) error {
	gen := int64(1)
	if old != nil {
		var g int64
		if _, err := fmt.Sscanf(old.Table[strings.IndexByte(old.Table, '_')+1:], "%d", &g); err == nil {
			gen = g + 1
		}
	}
	dropOld := func() error {
		if old == nil {
			return nil
		}
		return dropSegment(ctx, tx, old.Seg)
	}
	if len(rows) == 0 {
		if _, err := tx.ExecContext(ctx, "DELETE FROM parts WHERE day = ?", day); err != nil {
			return fmt.Errorf("write partition %d: %w", day, err)
		}
		return dropOld()
	}
	table := fmt.Sprintf("p%d_%d", day, gen)
	enc, err := encodeSegment(rows, func(s string) (int64, error) { return d.id(ctx, tx, s) })
	if err != nil {
		return fmt.Errorf("write partition %s: %w", table, err)
	}
	var flows int64
	first, last := rows[0].Start, rows[0].End
	for i := range rows {
		flows += rows[i].Flows
		first, last = min(first, rows[i].Start), max(last, rows[i].End)
	}
	seg, err := storeSegment(ctx, tx, enc)
	if err != nil {
		return fmt.Errorf("write partition %s: %w", table, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO parts (day, tbl, level, rows, flows, seg, first_start, last_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (day) DO UPDATE SET tbl = excluded.tbl, level = excluded.level, rows = excluded.rows, flows = excluded.flows,
			seg = excluded.seg, first_start = excluded.first_start, last_end = excluded.last_end`,
		day, table, level, len(rows), flows, seg, first, last)
	if err != nil {
		return fmt.Errorf("write partition %d: %w", day, err)
	}
	return dropOld()
}

// dropPart removes a day from the archive: rows, keys and dropped tallies.
func dropPart(ctx context.Context, tx *sql.Tx, p partition) error {
	for _, q := range []string{"DELETE FROM parts WHERE day = ?", "DELETE FROM partkeys WHERE day = ?",
		"DELETE FROM dropped WHERE day = ?"} {
		if _, err := tx.ExecContext(ctx, q, p.Day); err != nil {
			return fmt.Errorf("drop partition %s: %w", p.Table, err)
		}
	}
	return dropSegment(ctx, tx, p.Seg)
}

// usedStrings adds the string ids day p's rows refer to.
func usedStrings(ctx context.Context, q querier, p partition, used map[int64]bool) error {
	seg, err := loadSegment(ctx, q, "", p.Day, p.Seg, []Column{ColMAC, ColSrcIP, ColDestIP, ColProto, ColApp, ColName, ColSource}, nil)
	if err != nil {
		return fmt.Errorf("read partition %s: %w", p.Table, err)
	}
	var col []int64
	for _, c := range []Column{ColMAC, ColSrcIP, ColDestIP, ColProto, ColApp, ColName, ColSource} {
		if col, err = seg.Column(c, col); err != nil {
			return err
		}
		for _, id := range col {
			used[id] = true
		}
	}
	return nil
}

// keySet is a day's sorted flow keys.
type keySet []int64

func loadKeys(ctx context.Context, q querier, day int64) (keySet, error) {
	var blob []byte
	err := q.QueryRowContext(ctx, "SELECT keys FROM partkeys WHERE day = ?", day).Scan(&blob)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read flow keys of day %d: %w", day, err)
	}
	ks := make(keySet, len(blob)/8)
	for i := range ks {
		ks[i] = int64(binary.LittleEndian.Uint64(blob[i*8:]))
	}
	return ks, nil
}

func (ks keySet) has(k int64) bool {
	i := sort.Search(len(ks), func(i int) bool { return ks[i] >= k })
	return i < len(ks) && ks[i] == k
}

func saveKeys(ctx context.Context, tx *sql.Tx, day int64, ks keySet) error {
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	blob := make([]byte, 8*len(ks))
	for i, k := range ks {
		binary.LittleEndian.PutUint64(blob[i*8:], uint64(k))
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO partkeys (day, keys) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET keys = excluded.keys", day, blob)
	if err != nil {
		return fmt.Errorf("write flow keys of day %d: %w", day, err)
	}
	return nil
}
