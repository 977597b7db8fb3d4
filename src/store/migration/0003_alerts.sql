-- Alerts: Suricata rule matches, folded. One row per UTC day, rule
-- (gid, sid), device (mac, or src_ip when the MAC is unknown), host
-- (hostname, or dest_ip without one) and direction; count is how many
-- matches the row stands for. The latest match's flow, addresses and rule
-- text win. key is store.AlertKey of the fold columns (53 bits, so that
-- JavaScript reads it exactly). Times are UTC epoch seconds.
CREATE TABLE alerts (
	key         INTEGER PRIMARY KEY,
	day         INTEGER NOT NULL,
	first_seen  REAL    NOT NULL,
	last_seen   REAL    NOT NULL,
	count       INTEGER NOT NULL DEFAULT 1,
	flow_id     INTEGER,                      -- the latest match's Suricata flow_id
	mac         TEXT    NOT NULL DEFAULT '',  -- device MAC, '' when unknown
	src_ip      TEXT    NOT NULL DEFAULT '',  -- the device's address
	src_port    INTEGER NOT NULL DEFAULT 0,
	dest_ip     TEXT    NOT NULL DEFAULT '',  -- the other side
	dest_port   INTEGER NOT NULL DEFAULT 0,
	proto       TEXT    NOT NULL DEFAULT '',
	app_proto   TEXT    NOT NULL DEFAULT '',
	hostname    TEXT    NOT NULL DEFAULT '',  -- name the alert is about, '' if none
	name_source TEXT    NOT NULL DEFAULT '',
	inbound     INTEGER NOT NULL DEFAULT 0,   -- 1 when the remote side started the flow
	gid         INTEGER NOT NULL DEFAULT 1,
	sid         INTEGER NOT NULL,
	rev         INTEGER NOT NULL DEFAULT 0,
	signature   TEXT    NOT NULL DEFAULT '',
	category    TEXT    NOT NULL DEFAULT '',
	severity    INTEGER NOT NULL DEFAULT 3,   -- 1 high … 4 informational
	action      TEXT    NOT NULL DEFAULT '',
	metadata    TEXT    NOT NULL DEFAULT '',  -- the rule's metadata as a JSON object, '' if none
	engine      INTEGER NOT NULL DEFAULT 0,   -- 1 for Suricata's own anomaly rules
	dirty       INTEGER NOT NULL DEFAULT 1    -- changed since the last commit to flash
);
CREATE INDEX alerts_last_seen ON alerts (last_seen);
CREATE INDEX alerts_mac_last_seen ON alerts (mac, last_seen);
CREATE INDEX alerts_dirty ON alerts (key) WHERE dirty = 1;
