-- The archive: aggregated flows on persistent storage, one table per UTC day
-- (p<day>_<generation>, created by the store, listed in parts). Whole-table
-- writes and drops keep flash writes to new data: aggregating or expiring a
-- day never rewrites pages of other days.

-- Settings the archive was last maintained with (applied archive rules).
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

-- Every text value of the partitions (MACs, addresses, names, protocols),
-- appended only: the writer keeps the id map in memory, so a new string
-- costs one appended row and no random index page.
CREATE TABLE strings (
	id INTEGER PRIMARY KEY,
	s  TEXT NOT NULL
);

-- One row per day partition. day is the UTC day number (end / 86400) of the
-- flows it holds; level is how many archive rules have been applied.
CREATE TABLE parts (
	day   INTEGER PRIMARY KEY,
	tbl   TEXT    NOT NULL,
	level INTEGER NOT NULL DEFAULT 0,
	rows  INTEGER NOT NULL DEFAULT 0,
	flows INTEGER NOT NULL DEFAULT 0
);

-- The flow keys (store.FlowKey, sorted, 8 bytes each, little-endian) of
-- every flow merged into a day: re-imports and journal replays never count
-- a flow twice, even after it was aggregated away.
CREATE TABLE partkeys (
	day  INTEGER PRIMARY KEY,
	keys BLOB NOT NULL
);

-- What size_threshold dropped, per day and device, so totals stay
-- explainable: stored bytes + dropped bytes = bytes seen.
CREATE TABLE dropped (
	day            INTEGER NOT NULL,
	mac            TEXT    NOT NULL,
	flows          INTEGER NOT NULL DEFAULT 0,
	bytes_sent     INTEGER NOT NULL DEFAULT 0,
	bytes_received INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (day, mac)
) WITHOUT ROWID;

-- Devices survive reboots here; the live database gets a copy at start.
CREATE TABLE devices (
	mac        TEXT PRIMARY KEY,
	dhcp_name  TEXT NOT NULL DEFAULT '',
	ip         TEXT NOT NULL DEFAULT '',
	first_seen REAL,
	last_seen  REAL
) WITHOUT ROWID;
