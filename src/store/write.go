package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mattn/go-sqlite3"

	"github.com/pakon/pakon/src/flow"
)

const flowColumns = `flow_key, flow_id, start, end, mac, src_ip, src_port, dest_ip, dest_port, proto, app_proto,
	observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received, active`

// Statements of the write path, prepared once per connection pool.
const (
	sqlInsertFlow = `INSERT INTO flows (` + flowColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (flow_key) DO UPDATE SET
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

type writer struct {
	insert, complete, discard, device, deviceName *sql.Stmt
}

func (db *DB) prepare(ctx context.Context) (*writer, error) {
	if db.w != nil {
		return db.w, nil
	}
	w := &writer{}
	for _, s := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&w.insert, sqlInsertFlow}, {&w.complete, sqlCompleteFlow}, {&w.discard, sqlDiscardActive},
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
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write batch: begin: %w", err)
	}
	defer tx.Rollback()
	insert, complete, discard := tx.StmtContext(ctx, w.insert), tx.StmtContext(ctx, w.complete), tx.StmtContext(ctx, w.discard)

	type seen struct {
		ip          string
		first, last float64
	}
	devices := make(map[string]*seen)
	for i := range b.Updates {
		u := &b.Updates[i]
		r := &u.Record
		if u.Op == flow.OpDiscard {
			if _, err := discard.ExecContext(ctx, flowID(r.FlowID)); err != nil {
				return fmt.Errorf("write batch: discard flow %d: %w", r.FlowID, err)
			}
			continue
		}
		if err := writeFlow(ctx, tx, insert, complete, discard, u); err != nil {
			return fmt.Errorf("write batch: flow %d: %w", r.FlowID, err)
		}
		if r.MAC != "" {
			d := devices[r.MAC]
			if d == nil {
				d = &seen{first: r.Start.Seconds()}
				devices[r.MAC] = d
			}
			d.first = min(d.first, r.Start.Seconds())
			if e := r.End.Seconds(); e >= d.last {
				d.last, d.ip = e, addrString(r.SrcIP)
			}
		}
	}
	device := tx.StmtContext(ctx, w.device)
	for mac, d := range devices {
		if _, err := device.ExecContext(ctx, mac, d.ip, d.first, d.last); err != nil {
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

func writeFlow(ctx context.Context, tx *sql.Tx, insert, complete, discard *sql.Stmt, u *flow.Update) error {
	r := &u.Record
	if u.Written && !r.Active {
		res, err := complete.ExecContext(ctx, FlowKey(r), r.Start.Seconds(), r.End.Seconds(), r.MAC,
			addrString(r.SrcIP), r.SrcPort, addrString(r.DestIP), r.DestPort, r.Proto, r.AppProto,
			r.Name, r.Source.String(), clamp(r.BytesSent), clamp(r.BytesReceived),
			clamp(r.PktsSent), clamp(r.PktsReceived), flowID(r.FlowID))
		var se sqlite3.Error
		if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
			// The completed flow is stored already (replayed input): the
			// active row is a duplicate.
			_, err = discard.ExecContext(ctx, flowID(r.FlowID))
			return err
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
	}
	_, err := insert.ExecContext(ctx, FlowKey(r), flowID(r.FlowID), r.Start.Seconds(), r.End.Seconds(), r.MAC,
		addrString(r.SrcIP), r.SrcPort, addrString(r.DestIP), r.DestPort, r.Proto, r.AppProto,
		r.Name, r.Source.String(), clamp(r.BytesSent), clamp(r.BytesReceived),
		clamp(r.PktsSent), clamp(r.PktsReceived), r.Active)
	return err
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
