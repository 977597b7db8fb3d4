package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// The archive lives on flash (or a USB disk) and is written only by the
// lifecycle steps (Commit, Maintain, Clear), through its own connection:
//
//   - journal_mode=TRUNCATE, not WAL: appending new pages needs no journal
//     copy in rollback mode, while WAL writes every page twice (log, then
//     checkpoint). Measured in docs/bench/storage.md.
//   - synchronous=FULL: the archive is written a few times an hour, so the
//     extra fsync costs nothing measurable and a power cut cannot corrupt it.
//   - auto_vacuum=INCREMENTAL, set before the first table exists (it cannot
//     be switched on later without VACUUM rewriting the whole file), so that
//     space freed by retention is given back a little at a time.
const archiveDSNOptions = "?_busy_timeout=5000&_txlock=immediate&_journal_mode=TRUNCATE&_synchronous=FULL"

// archiveSpillPages is how many changed pages an archive transaction
// keeps in memory before it writes them to the file mid-transaction
// (32 MiB at 4 KiB pages; SQLite's default is its 2 MiB cache). Writing
// early takes the archive's exclusive lock for the rest of the
// transaction, and every live connection attaches the archive: the
// pipeline's writer then waits for the whole rewrite of a day, not just
// for its commit (a 20 MiB transaction held it past the 5 s busy timeout).
const archiveSpillPages = 8192

// archiveConnector opens the lifecycle's archive connection.
type archiveConnector struct{ dsn string }

var archiveDriver = &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
	if _, err := c.Exec(fmt.Sprintf("PRAGMA cache_spill = %d", archiveSpillPages), nil); err != nil {
		return fmt.Errorf("archive cache_spill: %w", err)
	}
	return nil
}}

func (c archiveConnector) Connect(context.Context) (driver.Conn, error) {
	return archiveDriver.Open(c.dsn)
}

func (c archiveConnector) Driver() driver.Driver { return archiveDriver }

//go:embed migration/archive/*.sql
var archiveMigrations embed.FS

// openArchive creates the archive at path if needed, migrates it and
// returns a single-connection handle for lifecycle writes.
func openArchive(ctx context.Context, path string) (*sql.DB, error) {
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	db := sql.OpenDB(archiveConnector{dsn: "file:" + path + archiveDSNOptions})
	// One writer; concurrent lifecycle steps queue here instead of failing.
	db.SetMaxOpenConns(1)
	if err := migrateArchive(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate archive %s: %w", path, err)
	}
	return db, nil
}

func migrateArchive(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v == 0 {
		// Only takes effect on a file without tables: that is the point.
		if _, err := db.ExecContext(ctx, "PRAGMA auto_vacuum=INCREMENTAL"); err != nil {
			return err
		}
	}
	names, err := fs.Glob(archiveMigrations, "migration/archive/*.sql")
	if err != nil || len(names) == 0 {
		return fmt.Errorf("no archive migrations embedded: %v", err)
	}
	sort.Strings(names)
	if v > len(names) {
		return fmt.Errorf("archive schema version %d is newer than this pakon (%d)", v, len(names))
	}
	for i, name := range names {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil || n != i+1 {
			return fmt.Errorf("migration %s is out of sequence", name)
		}
		if n <= v {
			continue
		}
		body, err := archiveMigrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply %s: %w", name, err)
		}
		if n == segmentsMigration {
			if err := convertDayTables(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("apply %s: %w", name, err)
			}
			if err := rebuildView(ctx, tx); err != nil {
				tx.Rollback()
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", n)); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("apply %s: %w", name, err)
		}
	}
	return nil
}

// CheckArchive runs SQLite's quick_check on the archive at path. A file
// that fails it (or is no database at all) is renamed aside to
// path.corrupt-YYYYMMDDTHHMMSSZ, kept for inspection, so that the caller
// starts on a fresh archive instead of failing again on every start.
// It returns the name the file was moved to ("" when it was fine or
// missing) and the problem found.
func CheckArchive(ctx context.Context, path string, now time.Time) (moved string, problem error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && st.Size() == 0) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("check archive %s: %w", path, err)
	}
	problem = quickCheck(ctx, path)
	if problem == nil {
		return "", nil
	}
	moved = path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, moved); err != nil {
		return "", fmt.Errorf("quarantine archive %s (%v): %w", path, problem, err)
	}
	// A rollback journal belongs to the file it was written for.
	for _, suffix := range []string{"-journal", "-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); err == nil {
			os.Rename(path+suffix, moved+suffix)
		}
	}
	return moved, problem
}

func quickCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("quick_check: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		if len(msgs) > 3 {
			msgs = append(msgs[:3], "…")
		}
		return fmt.Errorf("quick_check: %s", strings.Join(msgs, "; "))
	}
	// quick_check passes on a file that is not a database if it never
	// needed to read a page; the schema read does.
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name = 'parts'").Scan(&n); err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	if n != 1 {
		return errors.New("not a pakon archive (no parts table)")
	}
	return nil
}

// segmentsMigration is the archive migration that replaced day tables by
// segments.
const segmentsMigration = 3

// convertDayTables rewrites the day tables of an archive written before
// segments (p<day>_<gen>, one row per flow, text as string ids) into
// segments, keeping every value and string id.
func convertDayTables(ctx context.Context, tx *sql.Tx) error {
	parts, err := loadParts(ctx, tx)
	if err != nil {
		return err
	}
	d, err := loadDict(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DROP VIEW IF EXISTS flows"); err != nil {
		return fmt.Errorf("convert day tables: %w", err)
	}
	for _, p := range parts {
		rows, err := tx.QueryContext(ctx, `SELECT start, dur, mac, src_ip, src_port, dest_ip, dest_port, proto, app_proto,
			name, source, bytes_sent, bytes_received, pkts_sent, pkts_received, flows FROM `+p.Table)
		if err != nil {
			return fmt.Errorf("convert %s: %w", p.Table, err)
		}
		var out []archRow
		for rows.Next() {
			var r archRow
			var dur, mac, sip, dip, proto, app, name, src int64
			if err := rows.Scan(&r.Start, &dur, &mac, &sip, &r.SrcPort, &dip, &r.DestPort, &proto, &app, &name, &src,
				&r.BytesSent, &r.BytesRcv, &r.PktsSent, &r.PktsRcv, &r.Flows); err != nil {
				rows.Close()
				return fmt.Errorf("convert %s: %w", p.Table, err)
			}
			r.End = r.Start + dur
			r.MAC, r.SrcIP, r.DestIP = d.strs[mac], d.strs[sip], d.strs[dip]
			r.Proto, r.AppProto, r.Name, r.Source = d.strs[proto], d.strs[app], d.strs[name], d.strs[src]
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("convert %s: %w", p.Table, err)
		}
		old := p
		old.Table, old.Seg = fmt.Sprintf("p%d_0", p.Day), 0 // the segment keeps the generation
		if err := writePart(ctx, tx, d, p.Day, &old, p.Level, out); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE parts SET tbl = ? WHERE day = ?", p.Table, p.Day); err != nil {
			return fmt.Errorf("convert %s: %w", p.Table, err)
		}
		if _, err := tx.ExecContext(ctx, "DROP TABLE "+p.Table); err != nil {
			return fmt.Errorf("convert %s: %w", p.Table, err)
		}
	}
	return nil
}
