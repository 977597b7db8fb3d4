package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
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

// Replays. The same EVE lines can come again: a file imported twice, a
// followed file read again from an older offset after a restart, lines a
// sender repeats after it reconnects. Flows are keyed by what they are,
// so a replay overwrites them; a folded alert row only has a count, so the
// store remembers, per row and Suricata flow_id, the time of the newest
// match it counted (alert_seen), and counts a match only when it is
// strictly newer. Suricata writes one flow's alerts in packet order, so a
// genuinely new match of a flow is newer than the ones before it, and a
// replayed one is not. The choices at the edges:
//   - Equal times: a match at the same microsecond as the newest one
//     counted for its flow and row is taken for a replay; two packets of
//     one flow matching one rule in the same microsecond count once.
//   - Alerts without flow_id (packets Suricata keeps no flow for) are
//     remembered under flow 0 of their row, as one flow: one arriving
//     out of order behind a newer one of its row counts nothing.
//   - Bounds: a row remembers at most maxSeenPerRow flows and the live
//     database maxSeenFlows in all; past them the least recently matched
//     flows are folded into the row's seen_floor, and a flow the row does
//     not remember counts only matches newer than the floor. So a flood
//     of many flows keeps its row's state small; what it costs is that a
//     match of another flow that arrives later than maxSeenPerRow newer
//     flows of its row but is older than them is taken for a replay. The
//     folded flows are counted (AlertStats.FoldedFlows).
//   - Expiry: the state goes with its row (retention, cap, Clear); a row
//     expired or cleared and then replayed is counted again.
//   - A reboot loses the live database and so the state; Restore sets
//     every row it brings back to seen up to its last match, so lines
//     read again after the reboot count only where they are newer than
//     the archived row. Matches the archive never saw (after the last
//     commit) are lost with the reboot anyway.
//   - The state is per folded row: a replay whose match is attributed to
//     another device or host than the first time (a daemon that lost the
//     DNS answer that named it) lands in another row and counts there.

// maxSeenPerRow bounds the flows one alert row remembers (a flood of
// flows matching one rule is one row); maxSeenFlows bounds them all,
// enforced by Maintain (about 40 bytes each in the live database).
const (
	maxSeenPerRow = 64
	maxSeenFlows  = 50_000
)

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

const sqlInsertAlert = `INSERT INTO alerts (` + alertColumns + `, seen_floor, dirty)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)` + alertUpsert + `,
	seen_floor = max(seen_floor, excluded.seen_floor), dirty = 1`

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
	floor       int64 // seen_floor raised by the batch (µs)
}

// seenFlow is what the replay check knows of one flow of a row.
type seenFlow struct {
	flow    int64 // Suricata flow_id, 0 for none
	ts      int64 // newest counted match (µs)
	stored  bool  // alert_seen has it
	changed bool
}

// seenRow is a row's replay state: its floor and remembered flows.
type seenRow struct {
	floor int64
	flows map[int64]*seenFlow
}

// loadSeen reads a row's replay state; a row remembers few flows, so
// all of them at once (the floor is the row without a flow).
func loadSeen(ctx context.Context, get *sql.Stmt, key int64) (*seenRow, error) {
	r := &seenRow{flows: make(map[int64]*seenFlow)}
	rows, err := get.QueryContext(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("write alerts: seen flows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id sql.NullInt64
		var ts int64
		if err := rows.Scan(&id, &ts); err != nil {
			return nil, fmt.Errorf("write alerts: seen flows: %w", err)
		}
		if !id.Valid {
			r.floor = ts
			continue
		}
		r.flows[id.Int64] = &seenFlow{flow: id.Int64, ts: ts, stored: true}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("write alerts: seen flows: %w", err)
	}
	return r, nil
}

// capRow keeps the newest maxSeenPerRow of a row's flows after a batch
// and folds the others into its floor: it returns the new floor (0: no
// change), whether stored flows must go and how many flows it folded.
func (r *seenRow) capRow() (floor int64, drop bool, n int64) {
	var live []*seenFlow
	for _, sf := range r.flows {
		if sf.stored || sf.changed {
			live = append(live, sf)
		}
	}
	if len(live) <= maxSeenPerRow {
		return 0, false, 0
	}
	slices.SortFunc(live, func(x, y *seenFlow) int { return cmp.Compare(y.ts, x.ts) })
	floor = live[maxSeenPerRow].ts
	for _, sf := range live {
		if sf.ts > floor {
			continue
		}
		drop = drop || sf.stored
		sf.changed = false
		n++
	}
	return floor, drop, n
}

// writeAlerts counts the batch's alerts that are no replays (see
// Replays), folds them in memory first (a flood brings many matches of
// one rule per batch), then into their rows, and remembers the newest
// counted match of every flow.
func writeAlerts(ctx context.Context, tx *sql.Tx, alerts []flow.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	getSeen, err := tx.PrepareContext(ctx, `SELECT flow_id, ts FROM alert_seen WHERE key = ?1
		UNION ALL SELECT NULL, seen_floor FROM alerts WHERE key = ?1`)
	if err != nil {
		return fmt.Errorf("write alerts: %w", err)
	}
	defer getSeen.Close()

	var replayed int64
	seen := make(map[int64]*seenRow)
	folded := make(map[int64]*foldedAlert)
	var order []int64
	for i := range alerts {
		a := &alerts[i]
		k := AlertKey(a)
		r := seen[k]
		if r == nil {
			if r, err = loadSeen(ctx, getSeen, k); err != nil {
				return err
			}
			seen[k] = r
		}
		id := int64(a.FlowID)
		sf := r.flows[id]
		if sf == nil {
			sf = &seenFlow{flow: id, ts: r.floor}
			r.flows[id] = sf
		}
		if int64(a.Time) <= sf.ts {
			replayed++
			continue
		}
		sf.ts, sf.changed = int64(a.Time), true
		t := a.Time.Seconds()
		f := folded[k]
		if f == nil {
			f = &foldedAlert{a: a, first: t, last: t}
			folded[k] = f
			order = append(order, k)
		}
		f.count++
		f.first = min(f.first, t)
		if t >= f.last {
			f.last, f.a = t, a
		}
	}

	// A row remembers at most maxSeenPerRow flows, the most recently
	// matched; the others fold into its floor (see Replays).
	var foldedFlows int64
	putSeen, err := tx.PrepareContext(ctx, `INSERT INTO alert_seen (key, flow_id, ts) VALUES (?, ?, ?)
		ON CONFLICT (key, flow_id) DO UPDATE SET ts = max(ts, excluded.ts)`)
	if err != nil {
		return fmt.Errorf("write alerts: %w", err)
	}
	defer putSeen.Close()
	for _, k := range order {
		r := seen[k]
		floor, drop, n := r.capRow()
		folded[k].floor, foldedFlows = floor, foldedFlows+n
		if drop {
			if _, err := tx.ExecContext(ctx, "DELETE FROM alert_seen WHERE key = ? AND ts <= ?", k, floor); err != nil {
				return fmt.Errorf("write alerts: cap seen flows: %w", err)
			}
		}
		for _, sf := range r.flows {
			if !sf.changed {
				continue
			}
			if _, err := putSeen.ExecContext(ctx, k, sf.flow, sf.ts); err != nil {
				return fmt.Errorf("write alerts: seen flows: %w", err)
			}
		}
	}

	st, err := tx.PrepareContext(ctx, sqlInsertAlert)
	if err != nil {
		return fmt.Errorf("write alerts: %w", err)
	}
	defer st.Close()
	for _, k := range order {
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
			meta, a.Engine, f.floor); err != nil {
			return fmt.Errorf("write alert %d: %w", a.SID, err)
		}
	}
	return countReplays(ctx, tx, replayed, foldedFlows)
}

// countReplays adds to the replay counters.
func countReplays(ctx context.Context, q querier, replayed, folded int64) error {
	if replayed == 0 && folded == 0 {
		return nil
	}
	if _, err := q.ExecContext(ctx, "UPDATE alert_replays SET replayed = replayed + ?, folded = folded + ?",
		replayed, folded); err != nil {
		return fmt.Errorf("count alert replays: %w", err)
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
// count. A row brought back counts as seen up to its last match, as the
// flows it remembered are not in the archive (see Replays).
func (db *DB) restoreAlerts(ctx context.Context) (int, error) {
	res, err := db.sql.ExecContext(ctx, `INSERT INTO main.alerts (`+alertColumns+`, dirty, seen_floor)
		SELECT `+alertColumns+`, 0, CAST(round(last_seen * 1e6) AS INTEGER) FROM archive.alerts WHERE true
		ON CONFLICT (key) DO UPDATE SET count = max(count, excluded.count),
			first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen),
			seen_floor = CASE WHEN excluded.count > count THEN max(seen_floor, excluded.seen_floor) ELSE seen_floor END`)
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
	if err := db.dropSeen(ctx); err != nil {
		return n, err
	}
	if _, err := db.capSeen(ctx, maxSeenFlows); err != nil {
		return n, err
	}
	return n, nil
}

// dropSeen forgets the remembered flows of rows that are gone.
func (db *DB) dropSeen(ctx context.Context) error {
	if _, err := db.sql.ExecContext(ctx, "DELETE FROM alert_seen WHERE key NOT IN (SELECT key FROM alerts)"); err != nil {
		return fmt.Errorf("expire seen alert flows: %w", err)
	}
	return nil
}

// capSeen folds the least recently matched remembered flows past limit, of
// all rows, into their rows' seen_floor, and returns how many it folded.
func (db *DB) capSeen(ctx context.Context, limit int64) (int64, error) {
	var cut int64
	err := db.sql.QueryRowContext(ctx, "SELECT ts FROM alert_seen ORDER BY ts DESC LIMIT 1 OFFSET ?", limit).Scan(&cut)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cap seen alert flows: %w", err)
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("cap seen alert flows: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE alerts SET seen_floor = max(seen_floor,
			(SELECT max(s.ts) FROM alert_seen s WHERE s.key = alerts.key AND s.ts <= ?1))
		WHERE key IN (SELECT key FROM alert_seen WHERE ts <= ?1)`, cut); err != nil {
		return 0, fmt.Errorf("cap seen alert flows: %w", err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM alert_seen WHERE ts <= ?", cut)
	if err != nil {
		return 0, fmt.Errorf("cap seen alert flows: %w", err)
	}
	n, _ := res.RowsAffected()
	if err := countReplays(ctx, tx, 0, n); err != nil {
		return 0, err
	}
	return n, tx.Commit()
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
	if err := db.dropSeen(ctx); err != nil {
		return n, err
	}
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
	// SeenFlows are the flows the rows remember against replays (bounded
	// by maxSeenFlows at every Maintain); Replayed counts the matches
	// taken for replays and FoldedFlows the remembered flows the bounds
	// folded into their rows' floors, both since the live database was
	// created.
	SeenFlows   int64
	Replayed    int64
	FoldedFlows int64
}

// CountAlerts returns the live database's alert totals.
func (db *DB) CountAlerts(ctx context.Context) (AlertStats, error) {
	var s AlertStats
	err := db.sql.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(count), 0), coalesce(sum(dirty), 0),
			(SELECT count(*) FROM alert_seen), (SELECT replayed FROM alert_replays), (SELECT folded FROM alert_replays)
		FROM alerts`).
		Scan(&s.Rows, &s.Matches, &s.Dirty, &s.SeenFlows, &s.Replayed, &s.FoldedFlows)
	if err != nil {
		return s, fmt.Errorf("count alerts: %w", err)
	}
	return s, nil
}
