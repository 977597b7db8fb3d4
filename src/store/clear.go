package store

import (
	"context"
	"fmt"
	"os"
	"time"
)

// ClearFilter selects what Clear deletes; the zero value is everything.
type ClearFilter struct {
	// MAC limits the deletion to one device (lower-case).
	MAC string
	// Before limits it to flows that ended before this time.
	Before time.Time
}

// ClearStats tell what Clear deleted.
type ClearStats struct {
	LiveFlows    int64 // live rows
	ArchivedRows int64 // archive rows (a merged row holds several flows)
	Alerts       int64 // folded alert rows (live; the archive's copies go too)
}

// Clear deletes flows from both tiers and from the journal, so that no
// restart or replay brings them back. It may run in another process while
// the daemon runs: the journal lock orders it against the daemon's commits,
// every archive step reads the catalog and string table afresh, and the
// daemon tolerates its rows disappearing (a flow still in progress is
// written again when it ends). Freed archive pages are zeroed
// (secure_delete) and given back to the file system: clearing is about
// privacy. Clearing everything also forgets devices; clearing one device
// forgets that device. Alerts of the device, or last seen before the
// time, go with the flows.
func (db *DB) Clear(ctx context.Context, f ClearFilter) (ClearStats, error) {
	var st ClearStats
	match := func(mac string, endSec float64) bool {
		return (f.MAC == "" || mac == f.MAC) && (f.Before.IsZero() || endSec < float64(f.Before.UnixMicro())/1e6)
	}
	if db.journal != nil {
		unlock, err := db.journal.lock()
		if err != nil {
			return st, err
		}
		defer unlock()
	}
	// Live tier.
	where, args := "WHERE true", []any{}
	if f.MAC != "" {
		where += " AND mac = ?"
		args = append(args, f.MAC)
	}
	if !f.Before.IsZero() {
		where += " AND end < ?"
		args = append(args, float64(f.Before.UnixMicro())/1e6)
	}
	res, err := db.sql.ExecContext(ctx, "DELETE FROM flows "+where, args...)
	if err != nil {
		return st, fmt.Errorf("clear live flows: %w", err)
	}
	st.LiveFlows, _ = res.RowsAffected()
	if st.Alerts, err = db.clearAlerts(ctx, f); err != nil {
		return st, err
	}
	if _, err := db.sql.ExecContext(ctx, "DELETE FROM journaled WHERE flow_key NOT IN (SELECT flow_key FROM flows WHERE flow_key IS NOT NULL)"); err != nil {
		return st, fmt.Errorf("clear live flows: %w", err)
	}
	// A moving mark whose rows are all gone would hide new rows that are
	// given their ids again (an emptied table numbers from 1).
	if _, err := db.sql.ExecContext(ctx, `DELETE FROM moving WHERE NOT EXISTS (SELECT 1 FROM flows f
		WHERE f.id <= moving.upto AND CAST(round(f.end * 1e6) AS INTEGER) / 1000 / ? = moving.day)`, msPerDay); err != nil {
		return st, fmt.Errorf("clear live flows: %w", err)
	}
	if f.Before.IsZero() {
		q, a := "DELETE FROM devices", []any{}
		if f.MAC != "" {
			q, a = q+" WHERE mac = ?", []any{f.MAC}
		}
		if _, err := db.sql.ExecContext(ctx, q, a...); err != nil {
			return st, fmt.Errorf("clear devices: %w", err)
		}
		if db.arch != nil {
			if _, err := db.arch.ExecContext(ctx, q, a...); err != nil {
				return st, fmt.Errorf("clear devices: %w", err)
			}
		}
	}
	// Journal.
	if db.journal != nil {
		if f.MAC == "" && f.Before.IsZero() {
			files, err := db.journal.files()
			if err != nil {
				return st, err
			}
			for _, p := range files {
				if err := os.Remove(p); err != nil {
					return st, fmt.Errorf("clear journal: %w", err)
				}
			}
		} else if err := db.journal.rewrite(func(r *jrow) bool { return !match(r.MAC, float64(r.End)/1e6) }); err != nil {
			return st, fmt.Errorf("clear journal: %w", err)
		}
	}
	if db.arch == nil {
		return st, nil
	}
	// Archive tier.
	if _, err := db.arch.ExecContext(ctx, "PRAGMA secure_delete = ON"); err != nil {
		return st, fmt.Errorf("clear archive: %w", err)
	}
	defer db.arch.ExecContext(context.Background(), "PRAGMA secure_delete = OFF")
	parts, err := loadParts(ctx, db.arch)
	if err != nil {
		return st, err
	}
	var scratch MaintainStats
	for _, p := range parts {
		whole := f.MAC == "" && (f.Before.IsZero() || (p.Day+1)*msPerDay <= f.Before.UnixMilli())
		if whole {
			tx, err := db.arch.BeginTx(ctx, nil)
			if err != nil {
				return st, fmt.Errorf("clear archive: %w", err)
			}
			if err := dropPart(ctx, tx, p); err == nil {
				err = rebuildView(ctx, tx)
				if err == nil {
					err = tx.Commit()
				}
			}
			if err != nil {
				tx.Rollback()
				return st, err
			}
			st.ArchivedRows += p.Rows
			continue
		}
		if !f.Before.IsZero() && p.Day*msPerDay >= f.Before.UnixMilli() {
			continue
		}
		n := 0
		drop := func(r *archRow) bool {
			if match(r.MAC, float64(r.End)/1000) {
				n++
				return true
			}
			return false
		}
		if err := db.rewriteDay(ctx, p.Day, nil, drop, nil, 0, &scratch); err != nil {
			return st, err
		}
		st.ArchivedRows += int64(n)
		if f.MAC != "" && f.Before.IsZero() {
			if _, err := db.arch.ExecContext(ctx, "DELETE FROM dropped WHERE mac = ? AND day = ?", f.MAC, p.Day); err != nil {
				return st, fmt.Errorf("clear archive: %w", err)
			}
		}
	}
	if f.MAC == "" && f.Before.IsZero() {
		for _, q := range []string{"DELETE FROM strings", "DELETE FROM partkeys", "DELETE FROM dropped"} {
			if _, err := db.arch.ExecContext(ctx, q); err != nil {
				return st, fmt.Errorf("clear archive: %w", err)
			}
		}
	} else if err := db.collectStrings(ctx); err != nil {
		return st, err
	}
	if _, err := db.arch.ExecContext(ctx, "PRAGMA incremental_vacuum"); err != nil {
		return st, fmt.Errorf("clear archive: vacuum: %w", err)
	}
	return st, nil
}
