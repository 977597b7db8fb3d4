package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pakon/pakon/src/flow"
)

// Alerts are folded as they are written: matches of one rule (gid, sid) on
// one device and host, in one direction, on one UTC day are one row whose
// count grows, so a rule firing on every packet of a flood costs one row a
// day, not one per packet. The live database holds every alert within
// retention (they are few after folding); Commit copies the rows changed
// since the previous commit to the archive on flash, Restore brings them
// back after a reboot, Maintain expires them and Clear deletes them.

// alertColumns are the columns of both alerts tables, in this order.
const alertColumns = `key, day, first_seen, last_seen, count, flow_id, mac, src_ip, src_port, dest_ip, dest_port,
	proto, app_proto, hostname, name_source, inbound, gid, sid, rev, signature, category, severity, action,
	metadata, engine`

// alertUpsert folds one row into an existing one: counts add up, the time
// span widens, and the later match's flow and rule text win.
const alertUpsert = ` ON CONFLICT (key) DO UPDATE SET
	count = count + excluded.count,
	first_seen = min(first_seen, excluded.first_seen),
	last_seen = max(last_seen, excluded.last_seen),
	flow_id = CASE WHEN excluded.last_seen >= last_seen THEN excluded.flow_id ELSE flow_id END,
	src_ip = CASE WHEN excluded.last_seen >= last_seen THEN excluded.src_ip ELSE src_ip END,
	src_port = CASE WHEN excluded.last_seen >= last_seen THEN excluded.src_port ELSE src_port END,
	dest_ip = CASE WHEN excluded.last_seen >= last_seen THEN excluded.dest_ip ELSE dest_ip END,
	dest_port = CASE WHEN excluded.last_seen >= last_seen THEN excluded.dest_port ELSE dest_port END,
	app_proto = CASE WHEN excluded.last_seen >= last_seen AND excluded.app_proto != '' THEN excluded.app_proto ELSE app_proto END,
	name_source = CASE WHEN excluded.last_seen >= last_seen THEN excluded.name_source ELSE name_source END,
	rev = CASE WHEN excluded.last_seen >= last_seen THEN excluded.rev ELSE rev END,
	signature = CASE WHEN excluded.last_seen >= last_seen THEN excluded.signature ELSE signature END,
	category = CASE WHEN excluded.last_seen >= last_seen THEN excluded.category ELSE category END,
	severity = CASE WHEN excluded.last_seen >= last_seen THEN excluded.severity ELSE severity END,
	action = CASE WHEN excluded.last_seen >= last_seen THEN excluded.action ELSE action END,
	metadata = CASE WHEN excluded.last_seen >= last_seen THEN excluded.metadata ELSE metadata END`

const sqlInsertAlert = `INSERT INTO alerts (` + alertColumns + `, dirty)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)` + alertUpsert + `, dirty = 1`

// AlertKey identifies the folded row an alert belongs to: its UTC day,
// rule, device (MAC, else source address), host (name, else destination
// address) and direction; FNV-1a cut to 53 bits, so that JavaScript
// numbers hold it exactly.
func AlertKey(a *flow.Alert) int64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	mix := func(b []byte) {
		for _, c := range b {
			h = (h ^ uint64(c)) * prime
		}
		h = (h ^ 0xff) * prime // separator: ("ab","c") ≠ ("a","bc")
	}
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(alertDay(a.Time.Seconds())))
	mix(buf[:])
	binary.LittleEndian.PutUint32(buf[:4], a.GID)
	binary.LittleEndian.PutUint32(buf[4:], a.SID)
	mix(buf[:])
	dev, host := a.MAC, a.Hostname
	if dev == "" {
		dev = addrString(a.SrcIP)
	}
	if host == "" {
		host = addrString(a.DestIP)
	}
	mix([]byte(dev))
	mix([]byte(host))
	if a.Inbound {
		mix([]byte{1})
	} else {
		mix([]byte{0})
	}
	return int64(h & (1<<53 - 1))
}

// alertDay is the UTC day number of a time in epoch seconds.
func alertDay(sec float64) int64 {
	if sec < 0 {
		return 0
	}
	return int64(sec) / 86400
}

// foldedAlert is one row's worth of a batch's alerts.
type foldedAlert struct {
	a           *flow.Alert // the latest match
	first, last float64
	count       int64
}

// writeAlerts folds a batch's alerts in memory first (a flood brings many
// matches of one rule per batch), then into their rows.
func writeAlerts(ctx context.Context, tx *sql.Tx, alerts []flow.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	folded := make(map[int64]*foldedAlert)
	var keys []int64
	for i := range alerts {
		a := &alerts[i]
		k, t := AlertKey(a), a.Time.Seconds()
		f := folded[k]
		if f == nil {
			f = &foldedAlert{a: a, first: t, last: t}
			folded[k] = f
			keys = append(keys, k)
		}
		f.count++
		f.first = min(f.first, t)
		if t >= f.last {
			f.last, f.a = t, a
		}
	}
	st, err := tx.PrepareContext(ctx, sqlInsertAlert)
	if err != nil {
		return fmt.Errorf("write alerts: %w", err)
	}
	defer st.Close()
	for _, k := range keys {
		f := folded[k]
		a := f.a
		meta := ""
		if len(a.Metadata) > 0 {
			b, err := json.Marshal(a.Metadata)
			if err != nil {
				return fmt.Errorf("write alert %d: metadata: %w", a.SID, err)
			}
			meta = string(b)
		}
		if _, err := st.ExecContext(ctx, k, alertDay(f.first), f.first, f.last, f.count, flowID(a.FlowID), a.MAC,
			addrString(a.SrcIP), a.SrcPort, addrString(a.DestIP), a.DestPort, a.Proto, a.AppProto, a.Hostname,
			a.NameSource.String(), a.Inbound, a.GID, a.SID, a.Rev, a.Signature, a.Category, a.Severity, a.Action,
			meta, a.Engine); err != nil {
			return fmt.Errorf("write alert %d: %w", a.SID, err)
		}
	}
	return nil
}

// alertRow is one stored alert row, as copied between the tiers.
type alertRow struct {
	vals  [25]any
	count int64
	last  float64
}

func scanAlerts(rows *sql.Rows) ([]alertRow, error) {
	defer rows.Close()
	var out []alertRow
	for rows.Next() {
		var r alertRow
		ptrs := make([]any, len(r.vals))
		for i := range r.vals {
			ptrs[i] = &r.vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r.count, _ = r.vals[4].(int64)
		r.last, _ = r.vals[3].(float64)
		out = append(out, r)
	}
	return out, rows.Err()
}

// syncAlerts copies the live alert rows changed since the last commit to
// the archive, as they are (the live row holds the whole count), and marks
// them clean unless a batch changed them meanwhile. Runs under the journal
// lock.
func (db *DB) syncAlerts(ctx context.Context) (int, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT "+alertColumns+" FROM alerts WHERE dirty = 1")
	if err != nil {
		return 0, fmt.Errorf("sync alerts: %w", err)
	}
	dirty, err := scanAlerts(rows)
	if err != nil {
		return 0, fmt.Errorf("sync alerts: %w", err)
	}
	if len(dirty) == 0 {
		return 0, nil
	}
	tx, err := db.arch.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sync alerts: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO alerts (`+alertColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, fmt.Errorf("sync alerts: %w", err)
	}
	for i := range dirty {
		if _, err := ins.ExecContext(ctx, dirty[i].vals[:]...); err != nil {
			return 0, fmt.Errorf("sync alerts: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sync alerts: %w", err)
	}
	ltx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sync alerts: mark clean: %w", err)
	}
	defer ltx.Rollback()
	for i := range dirty {
		if _, err := ltx.ExecContext(ctx, "UPDATE alerts SET dirty = 0 WHERE key = ? AND count = ? AND last_seen = ?",
			dirty[i].vals[0], dirty[i].count, dirty[i].last); err != nil {
			return 0, fmt.Errorf("sync alerts: mark clean: %w", err)
		}
	}
	return len(dirty), ltx.Commit()
}

// restoreAlerts copies the archive's alerts into the live database; rows
// the live database still has (a restart without reboot) keep the larger
// count.
func (db *DB) restoreAlerts(ctx context.Context) (int, error) {
	res, err := db.sql.ExecContext(ctx, `INSERT INTO main.alerts (`+alertColumns+`, dirty)
		SELECT `+alertColumns+`, 0 FROM archive.alerts WHERE true
		ON CONFLICT (key) DO UPDATE SET count = max(count, excluded.count),
			first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`)
	if err != nil {
		return 0, fmt.Errorf("restore alerts: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// expireAlerts deletes alerts last seen more than keep ago (keep 0: never)
// and, past maxRows (0: no cap), the least recently seen, from both tiers.
// Rows from before SaneEpoch (an unset clock) never expire by age.
func (db *DB) expireAlerts(ctx context.Context, now time.Time, keep time.Duration, maxRows int64) (int64, error) {
	var n int64
	tiers := []querier{db.sql}
	if db.arch != nil {
		tiers = append(tiers, db.arch)
	}
	for i, q := range tiers {
		var deleted int64
		if keep > 0 && now.Unix() >= SaneEpoch {
			cut := float64(now.Add(-keep).UnixMicro()) / 1e6
			res, err := q.ExecContext(ctx, "DELETE FROM alerts WHERE last_seen < ? AND last_seen >= ?", cut, float64(SaneEpoch))
			if err != nil {
				return n, fmt.Errorf("expire alerts: %w", err)
			}
			deleted, _ = res.RowsAffected()
		}
		if maxRows > 0 {
			res, err := q.ExecContext(ctx, `DELETE FROM alerts WHERE key IN (SELECT key FROM alerts ORDER BY last_seen, key
				LIMIT max(0, (SELECT count(*) FROM alerts) - ?))`, maxRows)
			if err != nil {
				return n, fmt.Errorf("cap alerts: %w", err)
			}
			k, _ := res.RowsAffected()
			deleted += k
		}
		if i == 0 {
			n = deleted
		}
	}
	return n, nil
}

// clearAlerts deletes the alerts f selects from both tiers: a device's
// (by MAC) and those last seen before f.Before.
func (db *DB) clearAlerts(ctx context.Context, f ClearFilter) (int64, error) {
	where, args := "WHERE true", []any{}
	if f.MAC != "" {
		where += " AND mac = ?"
		args = append(args, f.MAC)
	}
	if !f.Before.IsZero() {
		where += " AND last_seen < ?"
		args = append(args, float64(f.Before.UnixMicro())/1e6)
	}
	res, err := db.sql.ExecContext(ctx, "DELETE FROM alerts "+where, args...)
	if err != nil {
		return 0, fmt.Errorf("clear alerts: %w", err)
	}
	n, _ := res.RowsAffected()
	if db.arch != nil {
		if _, err := db.arch.ExecContext(ctx, "DELETE FROM alerts "+where, args...); err != nil {
			return n, fmt.Errorf("clear archived alerts: %w", err)
		}
	}
	return n, nil
}

// AlertStats count the stored alert rows and the matches they stand for.
type AlertStats struct {
	Rows    int64 // folded rows
	Matches int64 // rule matches (the sum of the counts)
	Dirty   int64 // rows changed since the last commit to flash
}

// CountAlerts returns the live database's alert totals.
func (db *DB) CountAlerts(ctx context.Context) (AlertStats, error) {
	var s AlertStats
	err := db.sql.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(count), 0), coalesce(sum(dirty), 0) FROM alerts").
		Scan(&s.Rows, &s.Matches, &s.Dirty)
	if err != nil {
		return s, fmt.Errorf("count alerts: %w", err)
	}
	return s, nil
}
