package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"sort"
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

// partCols is the stored form of a row: text values are ids into strings.
const partCols = `start, dur, mac, src_ip, src_port, dest_ip, dest_port, proto, app_proto, name, source,
	bytes_sent, bytes_received, pkts_sent, pkts_received, flows`

// viewColumns are main.flows' columns in order; the archive view produces
// the same so that all_flows can UNION ALL them.
const viewColumns = `id, flow_key, flow_id, start, end, mac, src_ip, src_port, dest_ip, dest_port, proto, app_proto,
	observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received, flows, active`

// partition is one row of the parts catalog.
type partition struct {
	Day, Level, Rows, Flows int64
	Table                   string
}

func loadParts(ctx context.Context, q querier) ([]partition, error) {
	rows, err := q.QueryContext(ctx, "SELECT day, tbl, level, rows, flows FROM parts ORDER BY day")
	if err != nil {
		return nil, fmt.Errorf("read partitions: %w", err)
	}
	defer rows.Close()
	var out []partition
	for rows.Next() {
		var p partition
		if err := rows.Scan(&p.Day, &p.Table, &p.Level, &p.Rows, &p.Flows); err != nil {
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

// rebuildView recreates the archive's flows view over the partitions in
// the catalog. Archived rows have no flow_key or flow_id (merged rows
// cannot have one, and raw ones are identified by partkeys); ids are
// day<<32 + rowid, so they differ across partitions and from live ids.
func rebuildView(ctx context.Context, tx querier) error {
	parts, err := loadParts(ctx, tx)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("CREATE VIEW flows (" + viewColumns + ") AS ")
	if len(parts) == 0 {
		b.WriteString(`SELECT NULL, NULL, NULL, 0.0, 0.0, '', '', 0, '', 0, '', '', '', '', 0, 0, 0, 0, 0, 0 WHERE 0`)
	}
	for i, p := range parts {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, `SELECT (%d << 32) + p.id, NULL, NULL, p.start / 1000.0, (p.start + p.dur) / 1000.0,
			m.s, si.s, p.src_port, di.s, p.dest_port, pr.s, ap.s, n.s, so.s,
			p.bytes_sent, p.bytes_received, p.pkts_sent, p.pkts_received, p.flows, 0
			FROM %s p JOIN strings m ON m.id = p.mac JOIN strings si ON si.id = p.src_ip
			JOIN strings di ON di.id = p.dest_ip JOIN strings pr ON pr.id = p.proto
			JOIN strings ap ON ap.id = p.app_proto JOIN strings n ON n.id = p.name
			JOIN strings so ON so.id = p.source`, p.Day, p.Table)
	}
	if _, err := tx.ExecContext(ctx, "DROP VIEW IF EXISTS flows"); err != nil {
		return fmt.Errorf("rebuild archive view: %w", err)
	}
	if _, err := tx.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("rebuild archive view: %w", err)
	}
	return nil
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
	rows, err := q.QueryContext(ctx, "SELECT "+partCols+" FROM "+p.Table)
	if err != nil {
		return nil, fmt.Errorf("read partition %s: %w", p.Table, err)
	}
	defer rows.Close()
	var out []archRow
	for rows.Next() {
		var r archRow
		var dur, mac, sip, dip, proto, app, name, src int64
		if err := rows.Scan(&r.Start, &dur, &mac, &sip, &r.SrcPort, &dip, &r.DestPort, &proto, &app, &name, &src,
			&r.BytesSent, &r.BytesRcv, &r.PktsSent, &r.PktsRcv, &r.Flows); err != nil {
			return nil, fmt.Errorf("read partition %s: %w", p.Table, err)
		}
		r.End = r.Start + dur
		r.MAC, r.SrcIP, r.DestIP = d.strs[mac], d.strs[sip], d.strs[dip]
		r.Proto, r.AppProto, r.Name, r.Source = d.strs[proto], d.strs[app], d.strs[name], d.strs[src]
		out = append(out, r)
	}
	return out, rows.Err()
}

// writePart replaces day's partition (if any) by a new table holding rows,
// sorted by end so that the table's rowid order is time order. The caller
// rebuilds the view before committing.
func writePart(ctx context.Context, tx *sql.Tx, d *dict, day int64, old *partition, level int64, rows []archRow) error {
	gen := int64(1)
	if old != nil {
		var g int64
		if _, err := fmt.Sscanf(old.Table[strings.IndexByte(old.Table, '_')+1:], "%d", &g); err == nil {
			gen = g + 1
		}
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+old.Table); err != nil {
			return fmt.Errorf("drop partition %s: %w", old.Table, err)
		}
	}
	if len(rows) == 0 {
		if _, err := tx.ExecContext(ctx, "DELETE FROM parts WHERE day = ?", day); err != nil {
			return fmt.Errorf("write partition %d: %w", day, err)
		}
		return nil
	}
	table := fmt.Sprintf("p%d_%d", day, gen)
	if _, err := tx.ExecContext(ctx, `CREATE TABLE `+table+` (id INTEGER PRIMARY KEY, start INTEGER NOT NULL, dur INTEGER NOT NULL,
		mac INTEGER NOT NULL, src_ip INTEGER NOT NULL, src_port INTEGER NOT NULL, dest_ip INTEGER NOT NULL,
		dest_port INTEGER NOT NULL, proto INTEGER NOT NULL, app_proto INTEGER NOT NULL, name INTEGER NOT NULL,
		source INTEGER NOT NULL, bytes_sent INTEGER NOT NULL, bytes_received INTEGER NOT NULL,
		pkts_sent INTEGER NOT NULL, pkts_received INTEGER NOT NULL, flows INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create partition %s: %w", table, err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].End < rows[j].End })
	st, err := tx.PrepareContext(ctx, "INSERT INTO "+table+" ("+partCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("write partition %s: %w", table, err)
	}
	defer st.Close()
	var flows int64
	for i := range rows {
		r := &rows[i]
		var ids [7]int64
		for k, s := range [7]string{r.MAC, r.SrcIP, r.DestIP, r.Proto, r.AppProto, r.Name, r.Source} {
			if ids[k], err = d.id(ctx, tx, s); err != nil {
				return err
			}
		}
		if _, err := st.ExecContext(ctx, r.Start, r.End-r.Start, ids[0], ids[1], r.SrcPort, ids[2], r.DestPort,
			ids[3], ids[4], ids[5], ids[6], r.BytesSent, r.BytesRcv, r.PktsSent, r.PktsRcv, r.Flows); err != nil {
			return fmt.Errorf("write partition %s: %w", table, err)
		}
		flows += r.Flows
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO parts (day, tbl, level, rows, flows) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (day) DO UPDATE SET tbl = excluded.tbl, level = excluded.level, rows = excluded.rows, flows = excluded.flows`,
		day, table, level, len(rows), flows)
	if err != nil {
		return fmt.Errorf("write partition %d: %w", day, err)
	}
	return nil
}

// dropPart removes a day from the archive: rows, keys and dropped tallies.
func dropPart(ctx context.Context, tx *sql.Tx, p partition) error {
	for _, q := range []string{"DROP TABLE IF EXISTS " + p.Table, "DELETE FROM parts WHERE day = ?",
		"DELETE FROM partkeys WHERE day = ?", "DELETE FROM dropped WHERE day = ?"} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{p.Day}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("drop partition %s: %w", p.Table, err)
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
