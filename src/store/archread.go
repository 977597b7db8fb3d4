package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"
)

// Querier runs read statements: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// Archive is a read view of the archived days that may hold flows
// overlapping a time range, for the query engine: it decodes their
// segments in Go, which is an order of magnitude faster than reading the
// rows through SQL. Read it inside the transaction that reads the live
// flows, so that both tiers come from one moment.
type Archive struct {
	q    Querier
	days []archDay
	strs []string // by id
	buf  []byte
}

type archDay struct {
	day, rows, seg      int64
	firstStart, lastEnd int64 // milliseconds
}

// HasArchive reports whether the database's connections attach an archive.
func (db *DB) HasArchive() bool { return db.attached }

// ReadArchive lists, through q (a connection of DB.SQL()), the archived
// days with a flow that may overlap [from, to] (UTC epoch seconds; a zero
// bound is open), and loads the strings their rows refer to. It returns
// an empty Archive when the database has none attached.
func (db *DB) ReadArchive(ctx context.Context, q Querier, from, to float64, openFrom, openTo bool) (*Archive, error) {
	a := &Archive{q: q}
	if !db.attached {
		return a, nil
	}
	// The same float expressions as the rows' start and end in all_flows,
	// so that a day is skipped exactly when none of its rows could match.
	cond, args := []string{"true"}, []any{}
	if !openFrom {
		cond, args = append(cond, "last_end / 1000.0 >= ?"), append(args, from)
	}
	if !openTo {
		cond, args = append(cond, "first_start / 1000.0 <= ?"), append(args, to)
	}
	rows, err := q.QueryContext(ctx, "SELECT day, rows, seg, first_start, last_end FROM archive.parts WHERE "+
		strings.Join(cond, " AND ")+" ORDER BY day", args...)
	if err != nil {
		return nil, fmt.Errorf("read archive catalog: %w", err)
	}
	for rows.Next() {
		var d archDay
		if err := rows.Scan(&d.day, &d.rows, &d.seg, &d.firstStart, &d.lastEnd); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read archive catalog: %w", err)
		}
		a.days = append(a.days, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read archive catalog: %w", err)
	}
	if len(a.days) == 0 {
		return a, nil
	}
	if a.strs, err = readStrings(ctx, q, "archive."); err != nil {
		return nil, err
	}
	return a, nil
}

// readStrings loads the strings table of schema (with its dot) as a slice
// by id. The rows come back as one value, built by SQLite: a few thousand
// strings cost a millisecond instead of one row each.
func readStrings(ctx context.Context, q Querier, schema string) ([]string, error) {
	var blob []byte
	var maxID sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT max(id), group_concat(id || ',' || length(CAST(s AS BLOB)) || ',' || s, '')
		FROM `+schema+`strings`).Scan(&maxID, &blob)
	if err != nil {
		return nil, fmt.Errorf("read strings: %w", err)
	}
	if !maxID.Valid {
		return nil, nil
	}
	if maxID.Int64 < 0 || maxID.Int64 > 1<<28 {
		return nil, fmt.Errorf("read strings: id %d out of range", maxID.Int64)
	}
	strs := make([]string, maxID.Int64+1)
	text := string(blob)
	for text != "" {
		var id, n int
		var ok bool
		if id, text, ok = cutInt(text); !ok || id < 0 || id >= len(strs) {
			return nil, fmt.Errorf("read strings: %w", errCorrupt)
		}
		if n, text, ok = cutInt(text); !ok || n < 0 || n > len(text) {
			return nil, fmt.Errorf("read strings: %w", errCorrupt)
		}
		strs[id], text = text[:n], text[n:]
	}
	return strs, nil
}

// cutInt reads a decimal number ended by a comma.
func cutInt(s string) (int, string, bool) {
	n, i := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<30 {
			return 0, s, false
		}
	}
	if i == 0 || i >= len(s) || s[i] != ',' {
		return 0, s, false
	}
	return n, s[i+1:], true
}

// Len returns the number of days in a.
func (a *Archive) Len() int { return len(a.days) }

// Day returns day i's UTC day number (end / 86400 of its rows).
func (a *Archive) Day(i int) int64 { return a.days[i].day }

// Rows returns the number of rows of day i.
func (a *Archive) Rows(i int) int { return int(a.days[i].rows) }

// Span returns the first start and last end of day i's rows, in
// milliseconds.
func (a *Archive) Span(i int) (firstStart, lastEnd int64) {
	return a.days[i].firstStart, a.days[i].lastEnd
}

// Segment reads day i's segment with the columns cols (and its head):
// the others stay on disk. It is valid until the next call: the days of a
// query are read one after the other into one buffer.
func (a *Archive) Segment(ctx context.Context, i int, cols ...Column) (*Segment, error) {
	d := a.days[i]
	if cols == nil {
		cols = []Column{}
	}
	seg, err := loadSegment(ctx, a.q, "archive.", d.day, d.seg, cols, &a.buf)
	if err != nil {
		return nil, fmt.Errorf("read archived day %d: %w", d.day, err)
	}
	return seg, nil
}

// Load is Segment with a buffer of its own: the segment stays valid after
// later calls, so that other goroutines can decode it.
func (a *Archive) Load(ctx context.Context, i int, cols ...Column) (*Segment, error) {
	return a.LoadInto(ctx, i, nil, cols...)
}

// LoadInto is Load reading into *buf (grown as needed; nil for a new
// one): the segment is valid until *buf is used again, so that goroutines
// decoding days can hand their buffers back.
func (a *Archive) LoadInto(ctx context.Context, i int, buf *[]byte, cols ...Column) (*Segment, error) {
	d := a.days[i]
	if cols == nil {
		cols = []Column{}
	}
	seg, err := loadSegment(ctx, a.q, "archive.", d.day, d.seg, cols, buf)
	if err != nil {
		return nil, fmt.Errorf("read archived day %d: %w", d.day, err)
	}
	return seg, nil
}

// Strings returns the text values of the segments' string ids, by id.
func (a *Archive) Strings() []string { return a.strs }

// ScanRaw runs the query q on conn and calls fn with each row's values as
// SQLite returns them (int64, float64, string, []byte or nil; the slice is
// reused), without database/sql's conversions and locking per row: the
// query engine reads tens of thousands of live rows for one answer.
func ScanRaw(ctx context.Context, conn *sql.Conn, q string, args []any, fn func(row []driver.Value) error) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("scan %q: driver cannot query", q)
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			v, err := driver.DefaultParameterConverter.ConvertValue(a)
			if err != nil {
				return fmt.Errorf("scan %q: argument %d: %w", q, i+1, err)
			}
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
		}
		rows, err := c.QueryContext(ctx, q, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		vals := make([]driver.Value, len(rows.Columns()))
		for {
			if err := rows.Next(vals); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if err := fn(vals); err != nil {
				return err
			}
		}
	})
}
