package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ErrNoArchive is returned by lifecycle steps of a database opened without
// Options.ArchivePath or JournalDir.
var ErrNoArchive = errors.New("no archive configured")

// CommitStats tell what one Commit wrote to flash.
type CommitStats struct {
	Flows   int // flows appended to the journal
	Devices int // device rows written to the archive
	Alerts  int // alert rows written to the archive
}

// Commit makes the completed flows that reached the live database since
// the previous commit durable: it appends them to the journal on flash and
// copies changed devices and alerts to the archive. Flows stay in the live
// database (and queries see them there) until Maintain moves them,
// aggregated, into the archive. A power cut loses at most what arrived
// since the last Commit. Commit is BeginCommit, Pin and Finish in one go;
// the daemon takes the steps apart (see PendingCommit).
func (db *DB) Commit(ctx context.Context) (CommitStats, error) {
	c, err := db.BeginCommit(ctx)
	if err != nil {
		return CommitStats{}, err
	}
	defer c.Close()
	if err := c.Pin(ctx); err != nil {
		return CommitStats{}, err
	}
	return c.Finish(ctx)
}

// PendingCommit is a Commit taken in steps, so that a writer that must
// pause while the commit's contents are decided (the daemon's pipeline,
// whose correlator snapshot must agree with the journal) pauses only for
// Pin, not for reading, deflating and syncing the flows:
//
//	c, err := db.BeginCommit(ctx) // the journal lock and a connection
//	defer c.Close()
//	// writer paused: take its state, then
//	err = c.Pin(ctx)              // fixes which flows this commit holds
//	// writer running again:
//	st, err := c.Finish(ctx)      // journal, marks, devices, alerts
//
// Pin opens a read transaction on the live database: in WAL mode it sees
// the database as it was at that moment, however much is written after,
// and writers do not wait for it. Finish journals exactly the completed
// flows that read sees and that are not journaled yet; flows completed
// after Pin go to the next commit. A crash anywhere loses nothing that
// Finish had synced, and a flow journaled twice (a crash before its mark)
// is restored once.
type PendingCommit struct {
	db     *DB
	unlock func()
	conn   *sql.Conn // holds the read transaction from Pin to Finish
	inTx   bool
	rows   []jrow // read at Pin when the database cannot keep a read open (:memory:)
	next   *scanMark
	pinned bool
	done   bool
}

// commitSlice is how many flows Finish reads, encodes and appends as one
// journal chunk: it bounds the memory a commit takes (a few MiB) however
// many flows it holds, and costs the deflate ratio next to nothing.
const commitSlice = 16384

// markSlice is how many flows one transaction marks journaled (a few
// milliseconds of the live database's write lock).
const markSlice = 2048

// BeginCommit starts a commit: it takes the journal's lock (waiting for a
// pakon clear in progress) and a connection for Pin's read.
func (db *DB) BeginCommit(ctx context.Context) (*PendingCommit, error) {
	if db.journal == nil || db.arch == nil {
		return nil, ErrNoArchive
	}
	unlock, err := db.journal.lock()
	if err != nil {
		return nil, err
	}
	c := &PendingCommit{db: db, unlock: unlock}
	if db.path == ":memory:" {
		return c, nil // one connection in all: Pin reads through it
	}
	if c.conn, err = db.unmappedConn(ctx); err != nil {
		unlock()
		return nil, fmt.Errorf("commit: %w", err)
	}
	return c, nil
}

// unmappedConn takes a connection of the live database that reads through
// read() into SQLite's page cache (bounded, 2 MiB) instead of the memory
// map the query connections use: the lifecycle's reads visit every
// completed flow (the commit's scan, maintenance's day counts), and every
// page they touched through the map would stay resident in the daemon
// (RssFile grew with the live database in the load run). Give it back
// with releaseConn.
func (db *DB) unmappedConn(ctx context.Context) (*sql.Conn, error) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA main.mmap_size = 0"); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// releaseConn gives a connection of unmappedConn back to the pool as the
// pool made it, or closes it when that fails or ok is false (a
// transaction that could not be ended).
func releaseConn(conn *sql.Conn, ok bool) {
	if ok {
		_, err := conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA main.mmap_size = %d", mmapSize))
		ok = err == nil
	}
	if !ok {
		conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	conn.Close()
}

// readLive runs fn on a connection of unmappedConn (the pool itself for
// an in-memory database, which has one connection in all).
func (db *DB) readLive(ctx context.Context, fn func(querier) error) error {
	if db.path == ":memory:" {
		return fn(db.sql)
	}
	conn, err := db.unmappedConn(ctx)
	if err != nil {
		return err
	}
	defer releaseConn(conn, true)
	return fn(conn)
}

// sqlCompleted reads the completed flows not journaled yet.
const sqlCompleted = `SELECT flow_key, coalesce(flow_id, 0), start, end, mac, src_ip, src_port, dest_ip,
	dest_port, proto, app_proto, observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received
	FROM flows f WHERE active = 0 AND flow_key IS NOT NULL
	AND NOT EXISTS (SELECT 1 FROM journaled j WHERE j.flow_key = f.flow_key)`

// Pin fixes the commit's contents: the completed flows in the live
// database now. It is quick (a read transaction begins), so a writer may
// pause around it.
func (c *PendingCommit) Pin(ctx context.Context) error {
	if c.pinned || c.done {
		return errors.New("commit: pinned twice")
	}
	if c.conn == nil {
		err := scanCompleted(ctx, c.db.sql, 0, func(rows []jrow) error {
			c.rows = append(c.rows, rows...)
			return nil
		}, "")
		if err != nil {
			return err
		}
		c.pinned = true
		return nil
	}
	if _, err := c.conn.ExecContext(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("commit: pin: %w", err)
	}
	c.inTx = true
	// A deferred transaction takes its snapshot at its first read.
	var one int
	if err := c.conn.QueryRowContext(ctx, "SELECT 1 FROM main.journaled LIMIT 1").Scan(&one); err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("commit: pin: %w", err)
	}
	c.pinned = true
	return nil
}

// Finish journals the flows Pin fixed (synced before it returns), marks
// them journaled and copies changed devices and alerts to the archive.
// Writers may run meanwhile. It releases the commit.
func (c *PendingCommit) Finish(ctx context.Context) (CommitStats, error) {
	var st CommitStats
	if !c.pinned || c.done {
		return st, errors.New("commit: finish without pin")
	}
	defer c.Close()
	jw := c.db.journal.writer()
	defer jw.abort()
	var keys []int64
	add := func(rows []jrow) error {
		for i := range rows {
			keys = append(keys, rows[i].Key)
		}
		return jw.write(rows)
	}
	var err error
	if c.conn == nil {
		for i := 0; i < len(c.rows) && err == nil; i += commitSlice {
			err = add(c.rows[i:min(i+commitSlice, len(c.rows))])
		}
		c.rows = nil
	} else {
		err = c.scan(ctx, add)
		c.release()
	}
	if err == nil {
		err = jw.sync()
	}
	if err != nil {
		return st, fmt.Errorf("commit: %w", err)
	}
	if err := c.db.markJournaled(ctx, keys); err != nil {
		return st, fmt.Errorf("commit: %w", err)
	}
	c.db.journal.mark = c.next
	st.Flows = len(keys)
	if st.Devices, err = c.db.syncDevices(ctx); err != nil {
		return st, err
	}
	st.Alerts, err = c.db.syncAlerts(ctx)
	return st, err
}

// release ends Pin's read transaction and gives the connection back.
func (c *PendingCommit) release() {
	if c.conn == nil {
		return
	}
	ok := true
	if c.inTx {
		_, err := c.conn.ExecContext(context.Background(), "ROLLBACK")
		ok = err == nil
		c.inTx = false
	}
	releaseConn(c.conn, ok)
	c.conn = nil
}

// Close gives up the commit if Finish did not run, and releases its lock
// and connection; it may be called again.
func (c *PendingCommit) Close() {
	if c.done {
		return
	}
	c.done = true
	c.release()
	c.rows = nil
	c.unlock()
}

// scanMark tells the next commit where in the live database its scan may
// start: at the completed row with the largest id at this commit's pin
// (the anchor), plus the rows below it that were still active then. Every
// completed row at the pin is journaled once the commit has finished, and
// SQLite gives a new row an id one past the largest in the table: as long
// as the anchor row is still there, every row inserted since has a larger
// id, and every row completed since was either inserted since or active
// at the pin. A commit thus reads the flows of one interval, not the
// whole live database (800,000 rows after ten minutes of the load run).
// When the anchor is gone (maintenance moved its day, pakon clear), the
// next commit scans everything, as does the first one after a start.
type scanMark struct {
	anchorID, anchorKey int64
	active              []int64 // ids below the anchor of rows active at the pin
}

// takeMark reads the mark of the pinned snapshot; nil without a completed row.
func takeMark(ctx context.Context, q querier) (*scanMark, error) {
	m := &scanMark{}
	err := q.QueryRowContext(ctx, `SELECT id, flow_key FROM flows NOT INDEXED
		WHERE active = 0 AND flow_key IS NOT NULL ORDER BY id DESC LIMIT 1`).Scan(&m.anchorID, &m.anchorKey)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read commit mark: %w", err)
	}
	// "+id": the active rows' partial index, not the whole table below the anchor.
	rows, err := q.QueryContext(ctx, "SELECT id FROM flows WHERE active = 1 AND +id < ?", m.anchorID)
	if err != nil {
		return nil, fmt.Errorf("read commit mark: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read commit mark: %w", err)
		}
		m.active = append(m.active, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read commit mark: %w", err)
	}
	return m, nil
}

// holds tells whether the anchor row is still the one m saw.
func (m *scanMark) holds(ctx context.Context, q querier) (bool, error) {
	var key sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT flow_key FROM flows WHERE id = ?", m.anchorID).Scan(&key)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read commit mark: %w", err)
	}
	return key.Valid && key.Int64 == m.anchorKey, nil
}

// scan hands the pinned snapshot's completed flows that are not journaled
// to add: from the previous commit's mark when it holds, else all of them.
// It takes the mark for the next commit.
func (c *PendingCommit) scan(ctx context.Context, add func([]jrow) error) error {
	prev := c.db.journal.mark
	c.db.journal.mark = nil // until this commit has finished
	next, err := takeMark(ctx, c.conn)
	if err != nil {
		return err
	}
	ok := false
	if prev != nil {
		if ok, err = prev.holds(ctx, c.conn); err != nil {
			return err
		}
	}
	if !ok {
		err = scanCompleted(ctx, c.conn, commitSlice, add, "")
	} else if err = scanCompleted(ctx, c.conn, commitSlice, add, " AND f.id > ?", prev.anchorID); err == nil && len(prev.active) > 0 {
		ids, _ := json.Marshal(prev.active)
		err = scanCompleted(ctx, c.conn, commitSlice, add, " AND f.id IN (SELECT value FROM json_each(?))", string(ids))
	}
	if err != nil {
		return err
	}
	c.next = next
	return nil
}

// scanCompleted reads the completed flows not journaled yet (and meeting
// the condition and args appended to sqlCompleted) and hands them to fn in
// slices of up to n rows (all at once for 0). fn must not keep the slice.
func scanCompleted(ctx context.Context, q interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}, n int, fn func([]jrow) error, cond string, args ...any) error {
	rows, err := q.QueryContext(ctx, sqlCompleted+cond, args...)
	if err != nil {
		return fmt.Errorf("read completed flows: %w", err)
	}
	defer rows.Close()
	var batch []jrow
	for rows.Next() {
		var r jrow
		var start, end float64
		if err := rows.Scan(&r.Key, &r.FlowID, &start, &end, &r.MAC, &r.SrcIP, &r.SrcPort, &r.DestIP, &r.DestPort,
			&r.Proto, &r.App, &r.Name, &r.Src, &r.Sent, &r.Rcv, &r.PSent, &r.PRcv); err != nil {
			return fmt.Errorf("read completed flows: %w", err)
		}
		r.Start, r.End = micros(start), micros(end)
		batch = append(batch, r)
		if n > 0 && len(batch) == n {
			if err := fn(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read completed flows: %w", err)
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

func micros(sec float64) int64 { return int64(math.Round(sec * 1e6)) }

// markJournaled records keys as journaled, markSlice to a transaction
// (see paced). A crash in between leaves some unmarked: the next commit
// journals them again, and Restore puts each back once. The keys are
// sorted first: inserted in order, they touch each page of the index
// once (80,000 marks took 5 to 10 s in the load run in random order).
func (db *DB) markJournaled(ctx context.Context, keys []int64) error {
	slices.Sort(keys)
	return paced(ctx, len(keys), markSlice, func(i, j int) error { return db.markSlice(ctx, keys[i:j]) })
}

// paced runs step over [0, n) in slices of up to size, each its own
// transaction on the live database, and pauses between slices. SQLite's
// busy handler makes a waiting writer sleep in growing steps (1 ms at
// first, 100 ms at most); without the pause, back-to-back transactions
// would take the lock again each time before the pipeline's writer wakes,
// and ingest would wait for all of them. The pause is as long as the
// slice took, between pacedGap and pacedMaxGap: no longer than the step
// the writer can have reached.
func paced(ctx context.Context, n, size int, step func(i, j int) error) error {
	for i := 0; i < n; i += size {
		start := time.Now()
		if err := step(i, min(i+size, n)); err != nil {
			return err
		}
		if i+size >= n {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(max(time.Since(start), pacedGap), pacedMaxGap)):
		}
	}
	return nil
}

// pacedGap and pacedMaxGap bound paced's pause: a little more than the
// busy handler's sleep in its first 100 ms (25 ms), and its longest.
const (
	pacedGap    = 30 * time.Millisecond
	pacedMaxGap = 100 * time.Millisecond
)

func (db *DB) markSlice(ctx context.Context, keys []int64) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mark journaled: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO journaled (flow_key) VALUES (?)")
	if err != nil {
		return fmt.Errorf("mark journaled: %w", err)
	}
	defer st.Close()
	for _, k := range keys {
		if _, err := st.ExecContext(ctx, k); err != nil {
			return fmt.Errorf("mark journaled: %w", err)
		}
	}
	return tx.Commit()
}

// deviceRefresh is how stale the archive's last_seen of a device may get:
// a date that needs no precision after a reboot (the live copy, which
// queries prefer, is exact) is not worth an archive transaction an hour,
// its rollback journal and syncs included (0.55 MiB a day for 30 devices
// in BenchmarkFourWeeks). When one device is new, renamed or this stale,
// all devices that changed are written in that one transaction.
const deviceRefresh = 24 * 3600.0

// syncDevices copies new or changed devices to the archive, where they
// survive reboots.
func (db *DB) syncDevices(ctx context.Context) (int, error) {
	type dev struct {
		name, ip    string
		first, last sql.NullFloat64
	}
	read := func(q querier) (map[string]dev, error) {
		rows, err := q.QueryContext(ctx, "SELECT mac, dhcp_name, ip, first_seen, last_seen FROM devices")
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := make(map[string]dev)
		for rows.Next() {
			var mac string
			var d dev
			if err := rows.Scan(&mac, &d.name, &d.ip, &d.first, &d.last); err != nil {
				return nil, err
			}
			out[mac] = d
		}
		return out, rows.Err()
	}
	live, err := read(db.sql)
	if err != nil {
		return 0, fmt.Errorf("sync devices: %w", err)
	}
	arch, err := read(db.arch)
	if err != nil {
		return 0, fmt.Errorf("sync devices: %w", err)
	}
	due := false
	for mac, d := range live {
		a, ok := arch[mac]
		if !ok || a.name != d.name || a.ip != d.ip || a.first.Float64 > d.first.Float64 ||
			a.last.Float64+deviceRefresh <= d.last.Float64 {
			due = true
			break
		}
	}
	if !due {
		return 0, nil
	}
	tx, err := db.arch.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sync devices: %w", err)
	}
	defer tx.Rollback()
	n := 0
	for mac, d := range live {
		a, ok := arch[mac]
		if ok && a.name == d.name && a.ip == d.ip && a.first.Float64 <= d.first.Float64 && a.last.Float64 >= d.last.Float64 {
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO devices (mac, dhcp_name, ip, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (mac) DO UPDATE SET dhcp_name = excluded.dhcp_name, ip = excluded.ip,
				first_seen = min(coalesce(first_seen, excluded.first_seen), excluded.first_seen),
				last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen)`,
			mac, d.name, d.ip, d.first, d.last)
		if err != nil {
			return 0, fmt.Errorf("sync devices: %w", err)
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	return n, tx.Commit()
}

// RestoreStats tell what Restore brought back.
type RestoreStats struct {
	Flows   int // journaled flows put back into the live database
	Skipped int // journaled flows already in the archive
	Damaged int // damaged journal chunks skipped
	Devices int // devices copied from the archive
	Alerts  int // alert rows copied from the archive
}

// Restore brings the live database back to the last commit after a reboot
// emptied it: journaled flows that are not archived yet are re-inserted
// (flows already there are left alone) and the archive's devices are
// copied in. Run it at start, before ingesting.
func (db *DB) Restore(ctx context.Context) (RestoreStats, error) {
	var st RestoreStats
	if db.journal == nil || db.arch == nil {
		return st, ErrNoArchive
	}
	unlock, err := db.journal.lock()
	if err != nil {
		return st, err
	}
	defer unlock()
	res, err := db.sql.ExecContext(ctx, `INSERT INTO main.devices (mac, dhcp_name, ip, first_seen, last_seen)
		SELECT mac, dhcp_name, ip, first_seen, last_seen FROM archive.devices WHERE true
		ON CONFLICT (mac) DO UPDATE SET
			dhcp_name = CASE WHEN dhcp_name = '' THEN excluded.dhcp_name ELSE dhcp_name END,
			first_seen = min(coalesce(first_seen, excluded.first_seen), excluded.first_seen),
			last_seen = max(coalesce(last_seen, excluded.last_seen), excluded.last_seen)`)
	if err != nil {
		return st, fmt.Errorf("restore devices: %w", err)
	}
	n, _ := res.RowsAffected()
	st.Devices = int(n)
	if st.Alerts, err = db.restoreAlerts(ctx); err != nil {
		return st, err
	}

	files, err := db.journal.files()
	if err != nil {
		return st, err
	}
	keys := map[int64]keySet{}
	for _, path := range files {
		rows, damaged, err := readJournalFile(path)
		if err != nil {
			return st, err
		}
		st.Damaged += damaged
		tx, err := db.sql.BeginTx(ctx, nil)
		if err != nil {
			return st, fmt.Errorf("restore journal: %w", err)
		}
		ins, err := tx.PrepareContext(ctx, "INSERT INTO flows ("+flowColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)
			ON CONFLICT DO NOTHING`)
		if err != nil {
			tx.Rollback()
			return st, fmt.Errorf("restore journal: %w", err)
		}
		for i := range rows {
			r := &rows[i]
			day := dayOf(r.End / 1000)
			ks, ok := keys[day]
			if !ok {
				if ks, err = loadKeys(ctx, db.arch, day); err != nil {
					tx.Rollback()
					return st, err
				}
				keys[day] = ks
			}
			if ks.has(r.Key) {
				st.Skipped++
				continue
			}
			var fid any
			if r.FlowID != 0 {
				fid = r.FlowID
			}
			if _, err := ins.ExecContext(ctx, r.Key, fid, float64(r.Start)/1e6, float64(r.End)/1e6, r.MAC, r.SrcIP, r.SrcPort,
				r.DestIP, r.DestPort, r.Proto, r.App, r.Name, r.Src, r.Sent, r.Rcv, r.PSent, r.PRcv); err != nil {
				tx.Rollback()
				return st, fmt.Errorf("restore journal: %w", err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO journaled (flow_key) VALUES (?)", r.Key); err != nil {
				tx.Rollback()
				return st, fmt.Errorf("restore journal: %w", err)
			}
			st.Flows++
		}
		if err := tx.Commit(); err != nil {
			return st, fmt.Errorf("restore journal: %w", err)
		}
	}
	return st, nil
}
