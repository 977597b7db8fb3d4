package store

import (
	"context"
	"fmt"
)

// ActiveFlowIDs returns the Suricata flow_ids of the rows still marked
// active: a restarted daemon checks its restored open flows against them.
func (db *DB) ActiveFlowIDs(ctx context.Context) (map[uint64]bool, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT flow_id FROM flows WHERE active = 1 AND flow_id IS NOT NULL")
	if err != nil {
		return nil, fmt.Errorf("read active flows: %w", err)
	}
	defer rows.Close()
	out := make(map[uint64]bool)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read active flows: %w", err)
		}
		out[uint64(id)] = true
	}
	return out, rows.Err()
}

// CloseStaleActiveExcept is CloseStaleActive for all rows but those of the
// flows in keep, which a restored snapshot still tracks and will complete.
func (db *DB) CloseStaleActiveExcept(ctx context.Context, keep map[uint64]bool) (int64, error) {
	ids, err := db.ActiveFlowIDs(ctx)
	if err != nil {
		return 0, err
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("close stale active flows: %w", err)
	}
	defer tx.Rollback()
	var n int64
	for id := range ids {
		if keep[id] {
			continue
		}
		res, err := tx.ExecContext(ctx, "UPDATE flows SET active = 0 WHERE active = 1 AND flow_id = ?", int64(id))
		if err != nil {
			return 0, fmt.Errorf("close stale active flows: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	// Rows without a flow_id can never be completed.
	res, err := tx.ExecContext(ctx, "UPDATE flows SET active = 0 WHERE active = 1 AND flow_id IS NULL")
	if err != nil {
		return 0, fmt.Errorf("close stale active flows: %w", err)
	}
	k, _ := res.RowsAffected()
	return n + k, tx.Commit()
}
