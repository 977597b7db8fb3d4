-- Alerts survive reboots here: Commit copies the live rows that changed
-- since the last commit (see migration/0003_alerts.sql for the columns),
-- Restore copies them back into the live database at start. Alerts are
-- folded per day, so this table stays small and is one table, not
-- partitions.
CREATE TABLE alerts (
	key         INTEGER PRIMARY KEY,
	day         INTEGER NOT NULL,
	first_seen  REAL    NOT NULL,
	last_seen   REAL    NOT NULL,
	count       INTEGER NOT NULL DEFAULT 1,
	flow_id     INTEGER,
	mac         TEXT    NOT NULL DEFAULT '',
	src_ip      TEXT    NOT NULL DEFAULT '',
	src_port    INTEGER NOT NULL DEFAULT 0,
	dest_ip     TEXT    NOT NULL DEFAULT '',
	dest_port   INTEGER NOT NULL DEFAULT 0,
	proto       TEXT    NOT NULL DEFAULT '',
	app_proto   TEXT    NOT NULL DEFAULT '',
	hostname    TEXT    NOT NULL DEFAULT '',
	name_source TEXT    NOT NULL DEFAULT '',
	inbound     INTEGER NOT NULL DEFAULT 0,
	gid         INTEGER NOT NULL DEFAULT 1,
	sid         INTEGER NOT NULL,
	rev         INTEGER NOT NULL DEFAULT 0,
	signature   TEXT    NOT NULL DEFAULT '',
	category    TEXT    NOT NULL DEFAULT '',
	severity    INTEGER NOT NULL DEFAULT 3,
	action      TEXT    NOT NULL DEFAULT '',
	metadata    TEXT    NOT NULL DEFAULT '',
	engine      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_last_seen ON alerts (last_seen);
