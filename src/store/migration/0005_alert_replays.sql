-- Replayed alerts count once (see store/alert.go, "Replays"). The same
-- EVE lines come again when a file is imported twice or a followed file is
-- read again from an older offset; alerts are folded into counted rows, so
-- the store remembers, per folded row and Suricata flow_id, the newest
-- alert time it counted, and counts a match only when it is newer
-- (Suricata writes one flow's alerts in packet order).
--
-- alert_seen holds that per flow (flow_id 0: alerts without one); ts is
-- UTC epoch microseconds, as in EVE. Live database only: a reboot loses
-- it, and Restore sets seen_floor instead.
CREATE TABLE alert_seen (
	key     INTEGER NOT NULL,   -- alerts.key of the folded row
	flow_id INTEGER NOT NULL,   -- Suricata flow_id, 0 for none
	ts      INTEGER NOT NULL,   -- newest counted match, epoch microseconds
	PRIMARY KEY (key, flow_id)
) WITHOUT ROWID;
-- seen_floor bounds alert_seen: flows the row no longer remembers (capped,
-- restored from the archive) count only matches newer than it. Rows that
-- exist already count as seen up to their last match.
ALTER TABLE alerts ADD COLUMN seen_floor INTEGER NOT NULL DEFAULT 0;
UPDATE alerts SET seen_floor = CAST(round(last_seen * 1e6) AS INTEGER);
-- How many matches were taken for replays, and how many remembered flows
-- the caps folded into seen_floor; one row.
CREATE TABLE alert_replays (
	id       INTEGER PRIMARY KEY CHECK (id = 0),
	replayed INTEGER NOT NULL DEFAULT 0,
	folded   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO alert_replays (id) VALUES (0);
