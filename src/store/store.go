// Package store keeps pakon's flows, devices and alerts in SQLite.
//
// The schema lives in migration/NNNN_*.sql, embedded in the binary and
// applied in order; PRAGMA user_version holds the number of the last one
// applied. Writes come in batches, each one transaction: on a router's flash
// one transaction per event would be slow and wear the medium.
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

	"github.com/mattn/go-sqlite3"
)

//go:embed migration/*.sql
var migrations embed.FS

// ErrNoDatabase is returned by Open with ReadOnly when the file is missing.
var ErrNoDatabase = errors.New("no database")

// Options tune Open.
type Options struct {
	// ReadOnly opens an existing database for queries only (the CLI).
	ReadOnly bool
	// ArchivePath, when set, attaches the archive database (created and
	// migrated first unless ReadOnly) as schema "archive" on every
	// connection. Queries read the TEMP VIEW all_flows, which is the live
	// flows plus the archived ones; without an archive it is the live
	// flows alone. Unless ReadOnly, the DB also gets a connection of its
	// own to the archive for the lifecycle steps (Commit, Maintain, Clear).
	ArchivePath string
	// JournalDir is where Commit appends completed flows on flash (see
	// Journal); "" means ArchivePath + ".journal". Ignored when ReadOnly
	// or without ArchivePath.
	JournalDir string
}

// AllFlows is the view queries read: live and archived flows together.
const AllFlows = "all_flows"

// DB is an open pakon database.
type DB struct {
	sql      *sql.DB
	path     string
	w        *writer
	arch     *sql.DB  // lifecycle writes to the archive; nil without one
	journal  *Journal // nil without an archive
	attached bool     // connections attach an archive
}

// Open opens or creates the database at path (":memory:" for tests) and
// migrates it to the current schema.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if err := registerHandle(); err != nil {
		return nil, err
	}
	if path != ":memory:" {
		if opts.ReadOnly {
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("open database %s: %w", path, ErrNoDatabase)
			}
		} else if err := createPrivate(path); err != nil {
			return nil, err
		}
	}
	// database/sql hands a connection to one goroutine at a time, so
	// SQLite's lock around every call (18 binds a flow) buys nothing.
	dsn := "file:" + path + "?_busy_timeout=5000&_txlock=immediate&_mutex=no"
	if opts.ReadOnly {
		dsn += "&mode=ro"
	}
	if path == ":memory:" {
		// One shared in-memory database for all connections of the pool.
		dsn = "file::memory:?cache=shared&_busy_timeout=5000"
	}
	attach := ""
	var arch *sql.DB
	var journal *Journal
	var err error
	if opts.ArchivePath != "" {
		if !opts.ReadOnly {
			if arch, err = openArchive(ctx, opts.ArchivePath); err != nil {
				return nil, err
			}
			dir := opts.JournalDir
			if dir == "" {
				dir = opts.ArchivePath + ".journal"
			}
			if journal, err = OpenJournal(dir); err != nil {
				arch.Close()
				return nil, err
			}
		} else if _, err := os.Stat(opts.ArchivePath); err != nil {
			return nil, fmt.Errorf("open archive %s: %w", opts.ArchivePath, ErrNoDatabase)
		}
		// Read-only even for the daemon: the lifecycle writes the archive
		// through its own connection, and an attached writable archive
		// would be locked by every live batch (BEGIN IMMEDIATE locks all
		// attached databases), stalling commits and pakon clear.
		attach = "file:" + opts.ArchivePath + "?mode=ro"
	}
	sqldb := sql.OpenDB(&connector{dsn: dsn, attach: attach, driver: &sqlite3.SQLiteDriver{}})
	db := &DB{sql: sqldb, path: path, arch: arch, journal: journal, attached: attach != ""}
	if path == ":memory:" {
		sqldb.SetMaxOpenConns(1)
	}
	if !opts.ReadOnly {
		// WAL lets the CLI read while the daemon writes; NORMAL sync is
		// durable at every checkpoint and far cheaper on flash than FULL.
		for _, pragma := range []string{"PRAGMA main.journal_mode=WAL", "PRAGMA main.synchronous=NORMAL"} {
			if _, err := sqldb.ExecContext(ctx, pragma); err != nil {
				db.Close()
				return nil, fmt.Errorf("open database %s: %s: %w", path, pragma, err)
			}
		}
		if err := db.migrate(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("migrate database %s: %w", path, err)
		}
		// Connections opened before the first migration lack the view.
		sqldb.SetMaxIdleConns(0)
		sqldb.SetMaxIdleConns(2)
	} else if v, err := db.SchemaVersion(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	} else if v == 0 {
		sqldb.Close()
		return nil, fmt.Errorf("open database %s: %w (empty file)", path, ErrNoDatabase)
	} else if v < LatestSchemaVersion() {
		// Queries rely on the current schema's tables and indexes.
		sqldb.Close()
		return nil, fmt.Errorf("open database %s: schema version %d is older than this pakon's %d: run pakon daemon once to migrate it", path, v, LatestSchemaVersion())
	}
	return db, nil
}

// mmapSize is how much of each database file the query connections map:
// the archive of a busy home after four weeks and a couple of days of live
// flows fit, and 32-bit routers keep most of their address space.
const mmapSize = 128 << 20

// walSizeLimit is what the live database's WAL is truncated to when a
// checkpoint resets it (SQLite's default keeps it whatever its size).
const walSizeLimit = 16 << 20

// connector opens connections that see the archive (when there is one)
// and the all_flows view.
type connector struct {
	dsn, attach string
	driver      *sqlite3.SQLiteDriver
}

func (c *connector) Driver() driver.Driver { return c.driver }

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.driver.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	sc := conn.(*sqlite3.SQLiteConn)
	if err := sc.RegisterAggregator("pakon_segment", newSegmentAgg, true); err != nil {
		conn.Close()
		return nil, fmt.Errorf("register pakon_segment: %w", err)
	}
	// Columns are named: the archive's view yields the same ones in the
	// same order from its day partitions.
	view := "CREATE TEMP VIEW IF NOT EXISTS " + AllFlows + " AS SELECT " + viewColumns + " FROM main.flows"
	if c.attach != "" {
		if _, err := sc.Exec("ATTACH DATABASE ? AS archive", []driver.Value{c.attach}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("attach archive: %w", err)
		}
		view += " UNION ALL SELECT " + viewColumns + " FROM archive.flows"
	}
	// Queries read pages through a memory map instead of a read() call
	// each: an archived day is a blob of a hundred overflow pages.
	for _, schema := range []string{"main", "archive"} {
		if schema == "archive" && c.attach == "" {
			continue
		}
		if _, err := sc.Exec(fmt.Sprintf("PRAGMA %s.mmap_size = %d", schema, mmapSize), nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("map %s: %w", schema, err)
		}
	}
	// The WAL grows to the most written while a reader held an older
	// snapshot (97 MiB in the ten-minute load run) and, on a router, sits
	// in RAM: the checkpoint that resets it cuts it back to this size.
	if _, err := sc.Exec(fmt.Sprintf("PRAGMA main.journal_size_limit = %d", walSizeLimit), nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("limit WAL size: %w", err)
	}
	// On an empty file (read-only open before any migration) main.flows
	// does not exist yet; the view is created once it does.
	if _, err := sc.Exec(view, nil); err != nil && !strings.Contains(err.Error(), "no such table") {
		conn.Close()
		return nil, fmt.Errorf("create %s view: %w", AllFlows, err)
	}
	return conn, nil
}

// createPrivate makes sure the database file exists with mode 0600 before
// SQLite opens it: it holds browsing history, and SQLite gives its WAL and
// shared-memory files the database file's mode.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create database directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database %s: %w", path, err)
	}
	return f.Close()
}

// Close closes the database (and the archive connection).
func (db *DB) Close() error {
	if db.arch != nil {
		db.arch.Close()
	}
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}

// CloseStaleActive marks rows left active by an earlier run as ended: that
// run's in-progress state is gone, so nothing would ever complete them.
func (db *DB) CloseStaleActive(ctx context.Context) (int64, error) {
	res, err := db.sql.ExecContext(ctx, "UPDATE flows SET active = 0 WHERE active = 1")
	if err != nil {
		return 0, fmt.Errorf("close stale active flows: %w", err)
	}
	return res.RowsAffected()
}

// CountFlows returns the number of flow rows.
func (db *DB) CountFlows(ctx context.Context) (int64, error) {
	var n int64
	if err := db.sql.QueryRowContext(ctx, "SELECT count(*) FROM flows").Scan(&n); err != nil {
		return 0, fmt.Errorf("count flows: %w", err)
	}
	return n, nil
}

// Path returns the file the database lives in.
func (db *DB) Path() string { return db.path }

// SQL gives read access to the database for the query package.
func (db *DB) SQL() *sql.DB { return db.sql }

// SchemaVersion returns the number of the last migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// LatestSchemaVersion is the schema version this build writes.
func LatestSchemaVersion() int {
	names, _ := fs.Glob(migrations, "migration/*.sql")
	return len(names)
}

func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	current, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current > len(names) {
		return fmt.Errorf("schema version %d is newer than this pakon (%d)", current, len(names))
	}
	for i, name := range names {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil || n != i+1 {
			return fmt.Errorf("migration %s is out of sequence", name)
		}
		if n <= current {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.sql.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply %s: %w", name, err)
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
