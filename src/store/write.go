package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/mattn/go-sqlite3"

	"github.com/pakon/pakon/src/flow"
)

const flowColumns = `flow_key, flow_id, start, end, mac, src_ip, src_port, dest_ip, dest_port, proto, app_proto,
	observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received, active`

// Statements of the write path, prepared once per connection pool.
const (
	sqlInsertFlow = `INSERT INTO flows (` + flowColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (start, flow_key) DO UPDATE SET
			end = excluded.end, mac = excluded.mac, app_proto = excluded.app_proto,
			observed_name = excluded.observed_name, name_source = excluded.name_source,
			bytes_sent = excluded.bytes_sent, bytes_received = excluded.bytes_received,
			pkts_sent = excluded.pkts_sent, pkts_received = excluded.pkts_received,
			active = excluded.active`
	// Completes the active row of a flow; the active row's start was its
	// first event, the flow event brings the real one.
	sqlCompleteFlow = `UPDATE flows SET flow_key = ?, start = ?, end = ?, mac = ?, src_ip = ?, src_port = ?,
			dest_ip = ?, dest_port = ?, proto = ?, app_proto = ?, observed_name = ?, name_source = ?,
			bytes_sent = ?, bytes_received = ?, pkts_sent = ?, pkts_received = ?, active = 0
		WHERE flow_id = ? AND active = 1`
	sqlDiscardActive = `DELETE FROM flows WHERE flow_id = ? AND active = 1`
	sqlUpsertDevice  = `INSERT INTO devices (mac, ip, first_seen, last_seen) VALUES (?, ?, ?, ?)
		ON CONFLICT (mac) DO UPDATE SET
			ip = CASE WHEN excluded.last_seen >= coalesce(last_seen, 0) THEN excluded.ip ELSE ip END,
			first_seen = min(coalesce(first_seen, excluded.first_seen), excluded.first_seen),
			last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen)`
	sqlDeviceName = `INSERT INTO devices (mac, dhcp_name, ip, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (mac) DO UPDATE SET dhcp_name = excluded.dhcp_name,
			ip = CASE WHEN excluded.ip != '' THEN excluded.ip ELSE ip END,
			last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen)`
)

// insertRunRows is how many new rows one statement of sqlInsertFlowRun
// inserts.
const insertRunRows = 16

// sqlInsertFlowRun inserts insertRunRows new rows in one statement. A
// statement of one row spends about as much on starting and ending
// (cursors on the table and each index opened and closed) as on the row;
// this one does it once for all. It ignores rows already stored instead
// of updating them (the writer then upserts that statement's rows one by
// one): an UPDATE inside a statement of many rows could fail half-way,
// and SQLite would keep a statement journal of every page changed to undo
// it, where OR IGNORE cannot fail half-way.
var sqlInsertFlowRun = `INSERT OR IGNORE INTO flows (` + flowColumns + `) VALUES ` +
	strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", insertRunRows-1) +
	"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

type writer struct {
	device, deviceName *sql.Stmt
	mu                 sync.Mutex
	ips                map[netip.Addr]string // flowWriter.ips, kept between batches
	rows               rowBuf                // flowWriter.rows, kept between batches
}

func (db *DB) prepare(ctx context.Context) (*writer, error) {
	if db.w != nil {
		return db.w, nil
	}
	w := &writer{ips: make(map[netip.Addr]string, 256)}
	for _, s := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&w.device, sqlUpsertDevice}, {&w.deviceName, sqlDeviceName},
	} {
		st, err := db.sql.PrepareContext(ctx, s.sql)
		if err != nil {
			return nil, fmt.Errorf("prepare write statements: %w", err)
		}
		*s.dst = st
	}
	db.w = w
	return w, nil
}

// Batch is one transaction's worth of changes.
type Batch struct {
	Updates []flow.Update
	Devices []flow.DeviceSeen
	// Alerts are folded into their rows (see AlertKey).
	Alerts []flow.Alert
}

// Len returns the number of changes in b.
func (b *Batch) Len() int { return len(b.Updates) + len(b.Devices) + len(b.Alerts) }

// Reset empties b, keeping its storage.
func (b *Batch) Reset() {
	b.Updates = b.Updates[:0]
	b.Devices = b.Devices[:0]
	b.Alerts = b.Alerts[:0]
}

// Write applies b in one transaction. Writing the same completed flows
// again (a repeated import) changes nothing: flows are keyed by Suricata's
// flow_id and start time.
func (db *DB) Write(ctx context.Context, b *Batch) error {
	if b.Len() == 0 {
		return nil
	}
	w, err := db.prepare(ctx)
	if err != nil {
		return err
	}
	// One connection for the whole batch: the flows go through its driver
	// statements directly (rows.go), the rest through database/sql.
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write batch: connection: %w", err)
	}
	defer conn.Close()
	// Pages read through the memory map stay resident, counted in the
	// daemon's RSS, for as long as the connection lives; a batch touches
	// pages of every index. Read them into the bounded page cache instead,
	// and map again for the queries that take this connection next.
	if _, err := conn.ExecContext(ctx, "PRAGMA main.mmap_size = 0"); err != nil {
		return fmt.Errorf("write batch: unmap: %w", err)
	}
	defer conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA main.mmap_size = %d", mmapSize))
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write batch: begin: %w", err)
	}
	defer tx.Rollback()
	if err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("driver connection is a %T", dc)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return writeFlows(sc, w.ips, &w.rows, b.Updates)
	}); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}

	type seen struct {
		ip          netip.Addr
		first, last float64
	}
	devices := make(map[string]*seen)
	for i := range b.Updates {
		u := &b.Updates[i]
		r := &u.Record
		if u.Op == flow.OpDiscard || r.MAC == "" {
			continue
		}
		d := devices[r.MAC]
		if d == nil {
			d = &seen{first: r.Start.Seconds()}
			devices[r.MAC] = d
		}
		d.first = min(d.first, r.Start.Seconds())
		if e := r.End.Seconds(); e >= d.last {
			d.last, d.ip = e, r.SrcIP
		}
	}
	device := tx.StmtContext(ctx, w.device)
	for mac, d := range devices {
		if _, err := device.ExecContext(ctx, mac, addrString(d.ip), d.first, d.last); err != nil {
			return fmt.Errorf("write batch: device %s: %w", mac, err)
		}
	}
	deviceName := tx.StmtContext(ctx, w.deviceName)
	for _, d := range b.Devices {
		at := d.At.Seconds()
		if _, err := deviceName.ExecContext(ctx, d.MAC, d.Hostname, addrString(d.IP), at, at); err != nil {
			return fmt.Errorf("write batch: device name %s: %w", d.MAC, err)
		}
	}
	if err := writeAlerts(ctx, tx, b.Alerts); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write batch: commit: %w", err)
	}
	return nil
}

// FlowKey identifies a flow by what Suricata cannot renumber: its 5-tuple
// and start time (FNV-1a, 64 bits).
func FlowKey(r *flow.Record) int64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	mix := func(b []byte) {
		for _, c := range b {
			h = (h ^ uint64(c)) * prime
		}
	}
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(r.Start))
	mix(buf[:])
	for _, a := range []netip.Addr{r.SrcIP, r.DestIP} {
		b := a.As16()
		mix(b[:])
	}
	binary.LittleEndian.PutUint16(buf[:2], r.SrcPort)
	binary.LittleEndian.PutUint16(buf[2:4], r.DestPort)
	mix(buf[:4])
	mix([]byte(r.Proto))
	return int64(h)
}

// flowID maps Suricata's flow_id to a column value; 0 means none.
func flowID(id uint64) any {
	if id == 0 {
		return nil
	}
	return int64(id)
}

// clamp keeps counters within SQLite's signed 64-bit integers.
func clamp(n uint64) int64 {
	if n > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(n)
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
