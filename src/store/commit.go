package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
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
// the previous commit durable: it appends them to the journal on flash in
// one synced chunk and copies changed devices to the archive. Flows stay
// in the live database (and queries see them there) until Maintain moves
// them, aggregated, into the archive. A power cut loses at most what
// arrived since the last Commit.
func (db *DB) Commit(ctx context.Context) (CommitStats, error) {
	var st CommitStats
	if db.journal == nil || db.arch == nil {
		return st, ErrNoArchive
	}
	unlock, err := db.journal.lock()
	if err != nil {
		return st, err
	}
	defer unlock()
	rows, err := db.sql.QueryContext(ctx, `SELECT flow_key, coalesce(flow_id, 0), start, end, mac, src_ip, src_port, dest_ip,
		dest_port, proto, app_proto, observed_name, name_source, bytes_sent, bytes_received, pkts_sent, pkts_received
		FROM flows f WHERE active = 0 AND flow_key IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM journaled j WHERE j.flow_key = f.flow_key)`)
	if err != nil {
		return st, fmt.Errorf("commit: read completed flows: %w", err)
	}
	var batch []jrow
	for rows.Next() {
		var r jrow
		var start, end float64
		if err := rows.Scan(&r.Key, &r.FlowID, &start, &end, &r.MAC, &r.SrcIP, &r.SrcPort, &r.DestIP, &r.DestPort,
			&r.Proto, &r.App, &r.Name, &r.Src, &r.Sent, &r.Rcv, &r.PSent, &r.PRcv); err != nil {
			rows.Close()
			return st, fmt.Errorf("commit: read completed flows: %w", err)
		}
		r.Start, r.End = micros(start), micros(end)
		batch = append(batch, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("commit: read completed flows: %w", err)
	}
	if err := db.journal.append(batch); err != nil {
		return st, fmt.Errorf("commit: %w", err)
	}
	if err := db.markJournaled(ctx, batch); err != nil {
		return st, fmt.Errorf("commit: %w", err)
	}
	st.Flows = len(batch)
	if st.Devices, err = db.syncDevices(ctx); err != nil {
		return st, err
	}
	st.Alerts, err = db.syncAlerts(ctx)
	return st, err
}

func micros(sec float64) int64 { return int64(math.Round(sec * 1e6)) }

func (db *DB) markJournaled(ctx context.Context, rows []jrow) error {
	if len(rows) == 0 {
		return nil
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mark journaled: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO journaled (flow_key) VALUES (?)")
	if err != nil {
		return fmt.Errorf("mark journaled: %w", err)
	}
	for i := range rows {
		if _, err := st.ExecContext(ctx, rows[i].Key); err != nil {
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
			ON CONFLICT (flow_key) DO NOTHING`)
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
