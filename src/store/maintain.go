package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Policy is what Maintain enforces.
type Policy struct {
	// Rules are the aggregation levels, fine to coarse (ascending UpTo).
	// Flows stay raw in the live database until the first rule applies to
	// their day; without rules, for one day.
	Rules []Rule
	// Keep deletes archived days whose flows all ended more than Keep
	// ago; 0 keeps them forever.
	Keep time.Duration
	// LiveMaxRows caps completed flows in the live database (RAM): past
	// it, the oldest days move to the archive early. 0 means no cap.
	LiveMaxRows int64
	// ArchiveMaxRows and ArchiveMaxBytes cap the archive: past them, the
	// oldest days are deleted. 0 means no cap.
	ArchiveMaxRows  int64
	ArchiveMaxBytes int64
	// AlertKeep deletes alerts last seen more than AlertKeep ago; 0 keeps
	// them forever. Alerts are folded per day and few, so they can be kept
	// longer than flows.
	AlertKeep time.Duration
	// AlertMaxRows caps the folded alert rows (each tier); past it, the
	// least recently seen go first. 0 means no cap.
	AlertMaxRows int64
}

// MaintainStats tell what one Maintain did.
type MaintainStats struct {
	ArchivedFlows int   // flows moved from the live database to the archive
	Duplicates    int   // live flows found already archived (replays, re-imports)
	Aggregated    int   // days (re)aggregated
	DroppedFlows  int64 // flows dropped by size thresholds
	ExpiredDays   int   // days deleted by Keep
	CappedDays    int   // days deleted by the caps
	VacuumedPages int64 // pages given back to the file system
	JournalFiles  int   // journal files deleted
	ExpiredAlerts int64 // live alert rows deleted by AlertKeep and AlertMaxRows
}

// Maintain runs the archive's lifecycle at wall time now: it moves the
// live flows whose day is due into the archive, aggregated by the rules,
// applies rules that became due to archived days (all of them again after
// the rules changed), enforces Keep and the caps, gives freed space back a
// little at a time and deletes settled journal files. Each day is one
// archive transaction; a crash between steps is repaired by the next run,
// which finds moved flows by their keys.
func (db *DB) Maintain(ctx context.Context, now time.Time, p Policy) (MaintainStats, error) {
	var st MaintainStats
	if db.arch == nil {
		return st, ErrNoArchive
	}
	if err := db.checkRules(ctx, p.Rules); err != nil {
		return st, err
	}
	if err := db.archiveDue(ctx, now, p, &st); err != nil {
		return st, err
	}
	parts, err := loadParts(ctx, db.arch)
	if err != nil {
		return st, err
	}
	for _, part := range parts {
		n := dueRules(p.Rules, part.Day, now)
		if int64(n) <= part.Level {
			continue
		}
		if err := db.rewriteDay(ctx, part.Day, nil, nil, p.Rules, n, &st); err != nil {
			return st, err
		}
	}
	if err := db.expire(ctx, now, p, &st); err != nil {
		return st, err
	}
	if st.ExpiredAlerts, err = db.expireAlerts(ctx, now, p.AlertKeep, p.AlertMaxRows); err != nil {
		return st, err
	}
	if err := db.vacuum(ctx, &st); err != nil {
		return st, err
	}
	if db.journal != nil {
		n, err := db.pruneJournal(ctx)
		if err != nil {
			return st, err
		}
		st.JournalFiles = n
	}
	return st, nil
}

// checkRules starts a re-cascade when the rules differ from the ones the
// archive was aggregated with: every day is aggregated again from the
// first rule. Merging is idempotent, so rows merged by the old rules are
// merged further, never twice.
func (db *DB) checkRules(ctx context.Context, rules []Rule) error {
	want := rulesKey(rules)
	var have string
	err := db.arch.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'rules'").Scan(&have)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("read archive rules: %w", err)
	}
	if err == nil && have == want {
		return nil
	}
	tx, err := db.arch.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store archive rules: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE parts SET level = 0 WHERE level > 0"); err != nil {
		return fmt.Errorf("store archive rules: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('rules', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", want); err != nil {
		return fmt.Errorf("store archive rules: %w", err)
	}
	return tx.Commit()
}

// archiveDue moves due days from the live database into the archive.
func (db *DB) archiveDue(ctx context.Context, now time.Time, p Policy, st *MaintainStats) error {
	type dayCount struct{ day, n int64 }
	var days []dayCount
	var total int64
	err := db.readLive(ctx, func(q querier) error {
		rows, err := q.QueryContext(ctx, `SELECT CAST(round(end * 1e6) AS INTEGER) / 1000 / ? AS day, count(*) FROM flows
			WHERE active = 0 GROUP BY day ORDER BY day`, msPerDay)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d dayCount
			if err := rows.Scan(&d.day, &d.n); err != nil {
				return err
			}
			days = append(days, d)
			total += d.n
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("archive: list live days: %w", err)
	}
	hold := Rule{UpTo: 24 * time.Hour}
	if len(p.Rules) > 0 {
		hold = p.Rules[0]
	}
	sane := now.Unix() >= SaneEpoch
	for _, d := range days {
		due := dueRules([]Rule{hold}, d.day, now) > 0 ||
			(sane && d.day*msPerDay < saneMS) || // unset-clock days move once the clock is set
			(p.LiveMaxRows > 0 && total > p.LiveMaxRows)
		if !due {
			continue
		}
		live, refs, err := db.liveDay(ctx, d.day)
		if err != nil {
			return err
		}
		var upto int64
		for _, r := range refs {
			upto = max(upto, r.id)
		}
		if err := db.rewriteDay(ctx, d.day, live, nil, p.Rules, dueRules(p.Rules, d.day, now), st); err != nil {
			return err
		}
		if err := db.setMoving(ctx, d.day, upto); err != nil {
			return err
		}
		if err := db.deleteLive(ctx, refs); err != nil {
			return err
		}
		if _, err := db.sql.ExecContext(ctx, "DELETE FROM moving WHERE day = ? AND upto <= ?", d.day, upto); err != nil {
			return fmt.Errorf("archive day %d: %w", d.day, err)
		}
		total -= d.n
	}
	return nil
}

// liveRef names a live row read for a move: its id and its flow key.
type liveRef struct{ id, key int64 }

// liveDay reads the completed live flows of day, and which rows they are.
func (db *DB) liveDay(ctx context.Context, day int64) (out []archRow, refs []liveRef, err error) {
	err = db.readLive(ctx, func(q querier) error {
		out, refs, err = readLiveDay(ctx, q, day)
		return err
	})
	return out, refs, err
}

func readLiveDay(ctx context.Context, q querier, day int64) ([]archRow, []liveRef, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, flow_key, start, end, mac, src_ip, src_port, dest_ip, dest_port, proto,
		app_proto, observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received, flows
		FROM flows WHERE active = 0 AND CAST(round(end * 1e6) AS INTEGER) / 1000 / ? = ?`, msPerDay, day)
	if err != nil {
		return nil, nil, fmt.Errorf("archive: read live day %d: %w", day, err)
	}
	defer rows.Close()
	var out []archRow
	var refs []liveRef
	for rows.Next() {
		var r archRow
		var id int64
		var key sql.NullInt64
		var start, end float64
		if err := rows.Scan(&id, &key, &start, &end, &r.MAC, &r.SrcIP, &r.SrcPort, &r.DestIP, &r.DestPort, &r.Proto,
			&r.AppProto, &r.Name, &r.Source, &r.BytesSent, &r.BytesRcv, &r.PktsSent, &r.PktsRcv, &r.Flows); err != nil {
			return nil, nil, fmt.Errorf("archive: read live day %d: %w", day, err)
		}
		refs = append(refs, liveRef{id, key.Int64})
		r.Key = key.Int64
		r.Start, r.End = micros(start)/1000, micros(end)/1000
		out = append(out, r)
	}
	return out, refs, rows.Err()
}

// setMoving records that day's live rows up to id upto are archived, so
// that queries leave them out until deleteLive has removed them (see
// migration 0006).
func (db *DB) setMoving(ctx context.Context, day, upto int64) error {
	_, err := db.sql.ExecContext(ctx, `INSERT INTO moving (day, upto) VALUES (?, ?)
		ON CONFLICT (day) DO UPDATE SET upto = max(upto, excluded.upto)`, day, upto)
	if err != nil {
		return fmt.Errorf("archive day %d: mark moving: %w", day, err)
	}
	return nil
}

// Moving is a day whose live rows up to id UpTo are archived already and
// being deleted from the live database: queries of both tiers leave
// those live rows out.
type Moving struct{ Day, UpTo int64 }

// MovingDays returns the days being moved, read through q (a query's
// transaction, so that they agree with the rows it reads).
func MovingDays(ctx context.Context, q *sql.Conn) ([]Moving, error) {
	rows, err := q.QueryContext(ctx, "SELECT day, upto FROM main.moving")
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil, nil // a database not migrated yet, opened read-only
		}
		return nil, fmt.Errorf("read moving days: %w", err)
	}
	defer rows.Close()
	var out []Moving
	for rows.Next() {
		var m Moving
		if err := rows.Scan(&m.Day, &m.UpTo); err != nil {
			return nil, fmt.Errorf("read moving days: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// LiveCondition is the SQL condition (on main.flows aliased f) that
// leaves out the live rows of m already archived.
func (m Moving) LiveCondition() string {
	return fmt.Sprintf("NOT (f.id <= %d AND CAST(round(f.end * 1e6) AS INTEGER) / 1000 / %d = %d)", m.UpTo, msPerDay, m.Day)
}

// liveDeleteSlice is how many moved flows one transaction deletes from
// the live database. The pipeline's writer waits for the lock meanwhile,
// so a whole day (200,000 rows in the load run) in one transaction held
// it for seconds and made ingest drop lines; slices of 2,048, each row in
// five indexes, still took about 0.66 s each at load 5.5 (a move of
// 294,863 rows, 191 s with pauses as long). A crash between slices leaves
// flows both archived and live; the next Maintain finds them archived by
// their keys and deletes them.
const liveDeleteSlice = 1024

// deleteLive removes moved flows (and their journal marks) from the live
// database, liveDeleteSlice to a transaction, paced (see paced).
func (db *DB) deleteLive(ctx context.Context, refs []liveRef) error {
	// In id order, each slice touches the table's pages once (and a day's
	// rows are mostly neighbours there, having ended in turn).
	slices.SortFunc(refs, func(a, b liveRef) int { return cmp.Compare(a.id, b.id) })
	return paced(ctx, len(refs), liveDeleteSlice, func(i, j int) error { return db.deleteLiveSlice(ctx, refs[i:j]) })
}

func (db *DB) deleteLiveSlice(ctx context.Context, refs []liveRef) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("archive: delete moved flows: %w", err)
	}
	defer tx.Rollback()
	// By id, checked against the key: the row read is the row deleted.
	for _, q := range []string{"DELETE FROM flows WHERE id = ?1 AND flow_key IS ?2 AND active = 0",
		"DELETE FROM journaled WHERE flow_key = ?2"} {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("archive: delete moved flows: %w", err)
		}
		for _, r := range refs {
			if _, err := st.ExecContext(ctx, r.id, r.key); err != nil {
				st.Close()
				return fmt.Errorf("archive: delete moved flows: %w", err)
			}
		}
		st.Close()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("archive: delete moved flows: %w", err)
	}
	return nil
}

// rewriteDay writes day's partition anew in one archive transaction: its
// current rows plus add (raw flows whose keys the day does not hold yet),
// minus rows drop rejects, aggregated by the first n rules.
func (db *DB) rewriteDay(ctx context.Context, day int64, add []archRow, drop func(*archRow) bool,
	rules []Rule, n int, st *MaintainStats) error {
	tx, err := db.arch.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("archive day %d: %w", day, err)
	}
	defer tx.Rollback()
	d, err := loadDict(ctx, tx)
	if err != nil {
		return err
	}
	var old *partition
	var p partition
	err = tx.QueryRowContext(ctx, "SELECT day, tbl, level, rows, flows, seg FROM parts WHERE day = ?", day).
		Scan(&p.Day, &p.Table, &p.Level, &p.Rows, &p.Flows, &p.Seg)
	switch {
	case err == nil:
		old = &p
	case err != sql.ErrNoRows:
		return fmt.Errorf("archive day %d: %w", day, err)
	}
	var rows []archRow
	if old != nil {
		if rows, err = readPart(ctx, tx, d, *old); err != nil {
			return err
		}
	}
	if drop != nil {
		kept := rows[:0]
		for i := range rows {
			if !drop(&rows[i]) {
				kept = append(kept, rows[i])
			}
		}
		rows = kept
	}
	if len(add) > 0 {
		keys, err := loadKeys(ctx, tx, day)
		if err != nil {
			return err
		}
		// New keys are collected apart and merged after the loop: keys
		// must stay sorted for has, and a flow already archived that
		// follows a new one in add (a move cut short, then new flows of
		// the same day) would otherwise be missed and archived twice.
		var freshKeys keySet
		fresh := 0
		for _, r := range add {
			if r.Key != 0 && keys.has(r.Key) {
				st.Duplicates++
				continue
			}
			rows = append(rows, r)
			if r.Key != 0 {
				freshKeys = append(freshKeys, r.Key)
			}
			fresh++
		}
		st.ArchivedFlows += fresh
		if fresh > 0 {
			if err := saveKeys(ctx, tx, day, append(keys, freshKeys...)); err != nil {
				return err
			}
		}
		if fresh == 0 && old != nil && drop == nil && int64(n) <= old.Level {
			return nil
		}
	}
	dropped := map[string]*tally{}
	for _, r := range rules[:n] {
		rows = applyRule(rows, r, dropped)
	}
	for mac, t := range dropped {
		st.DroppedFlows += t.flows
		if _, err := tx.ExecContext(ctx, `INSERT INTO dropped (day, mac, flows, bytes_sent, bytes_received) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (day, mac) DO UPDATE SET flows = flows + excluded.flows,
				bytes_sent = bytes_sent + excluded.bytes_sent, bytes_received = bytes_received + excluded.bytes_received`,
			day, mac, t.flows, t.sent, t.rcv); err != nil {
			return fmt.Errorf("archive day %d: count dropped: %w", day, err)
		}
	}
	level := int64(n)
	if drop != nil && old != nil {
		level = old.Level // a clear removes rows; the rest stays as aggregated as it was
	}
	if err := writePart(ctx, tx, d, day, old, level, rows); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("archive day %d: %w", day, err)
	}
	st.Aggregated++
	return nil
}

// expire enforces Keep and the caps, oldest days first.
func (db *DB) expire(ctx context.Context, now time.Time, p Policy, st *MaintainStats) error {
	parts, err := loadParts(ctx, db.arch)
	if err != nil {
		return err
	}
	var rows int64
	for _, part := range parts {
		rows += part.Rows
	}
	bytes, err := db.archiveBytes(ctx)
	if err != nil {
		return err
	}
	for _, part := range parts {
		age := now.UnixMilli() - (part.Day+1)*msPerDay
		expired := p.Keep > 0 && part.Day*msPerDay >= saneMS && now.Unix() >= SaneEpoch && age >= p.Keep.Milliseconds()
		capped := (p.ArchiveMaxRows > 0 && rows > p.ArchiveMaxRows) || (p.ArchiveMaxBytes > 0 && bytes > p.ArchiveMaxBytes)
		if !expired && !capped {
			continue
		}
		tx, err := db.arch.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("expire day %d: %w", part.Day, err)
		}
		if err := dropPart(ctx, tx, part); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("expire day %d: %w", part.Day, err)
		}
		if expired {
			st.ExpiredDays++
		} else {
			st.CappedDays++
		}
		rows -= part.Rows
		if bytes, err = db.archiveBytes(ctx); err != nil {
			return err
		}
	}
	if st.ExpiredDays+st.CappedDays > 0 {
		return db.collectStrings(ctx)
	}
	return nil
}

// archiveBytes is the space the archive's data takes: its pages less the
// free ones.
func (db *DB) archiveBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	err := db.arch.QueryRowContext(ctx, "SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count), (SELECT page_size FROM pragma_page_size)").
		Scan(&pages, &free, &size)
	if err != nil {
		return 0, fmt.Errorf("archive size: %w", err)
	}
	return (pages - free) * size, nil
}

// collectStrings deletes strings no partition refers to any more (the
// names and addresses of expired or cleared days).
func (db *DB) collectStrings(ctx context.Context) error {
	tx, err := db.arch.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("collect strings: %w", err)
	}
	defer tx.Rollback()
	parts, err := loadParts(ctx, tx)
	if err != nil {
		return err
	}
	used := map[int64]bool{}
	for _, p := range parts {
		if err := usedStrings(ctx, tx, p, used); err != nil {
			return fmt.Errorf("collect strings: %w", err)
		}
	}
	ids := make([]int64, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	b, _ := json.Marshal(ids)
	if _, err := tx.ExecContext(ctx, "DELETE FROM strings WHERE id NOT IN (SELECT value FROM json_each(?))", string(b)); err != nil {
		return fmt.Errorf("collect strings: %w", err)
	}
	return tx.Commit()
}

// vacuum gives free pages back once they are more than a quarter of the
// file, keeping an eighth for the next days to reuse: space is reclaimed
// in steps, never by rewriting the whole file.
func (db *DB) vacuum(ctx context.Context, st *MaintainStats) error {
	var pages, free int64
	if err := db.arch.QueryRowContext(ctx, "SELECT (SELECT page_count FROM pragma_page_count), (SELECT freelist_count FROM pragma_freelist_count)").
		Scan(&pages, &free); err != nil {
		return fmt.Errorf("vacuum archive: %w", err)
	}
	if free*4 <= pages {
		return nil
	}
	n := free - pages/8
	if _, err := db.arch.ExecContext(ctx, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", n)); err != nil {
		return fmt.Errorf("vacuum archive: %w", err)
	}
	st.VacuumedPages = n
	return nil
}

// pruneJournal deletes journal files none of whose flows still waits in
// the live database.
func (db *DB) pruneJournal(ctx context.Context) (int, error) {
	unlock, err := db.journal.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	files, err := db.journal.files()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, path := range files {
		rows, _, err := readJournalFile(path)
		if err != nil {
			return n, err
		}
		settled := true
		err = db.readLive(ctx, func(q querier) error {
			for i := range rows {
				var one int
				err := q.QueryRowContext(ctx, "SELECT 1 FROM journaled WHERE flow_key = ?", rows[i].Key).Scan(&one)
				if err == nil {
					settled = false
					return nil
				}
				if err != sql.ErrNoRows {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("prune journal: %w", err)
		}
		if settled {
			if err := os.Remove(path); err != nil {
				return n, fmt.Errorf("prune journal: %w", err)
			}
			n++
		}
	}
	return n, nil
}
