-- Flows: one row per flow of one device, or per group of flows merged by
-- aggregation (flows > 1, flow_id NULL). Times are UTC epoch seconds.
CREATE TABLE flows (
	id             INTEGER PRIMARY KEY,
	flow_key       INTEGER,                     -- hash of 5-tuple and start: the flow's identity
	flow_id        INTEGER,                     -- Suricata's flow_id; NULL for merged rows
	start          REAL    NOT NULL,
	end            REAL    NOT NULL,
	mac            TEXT    NOT NULL DEFAULT '', -- device MAC, '' when unknown
	src_ip         TEXT    NOT NULL,            -- the device's address
	src_port       INTEGER NOT NULL DEFAULT 0,
	dest_ip        TEXT    NOT NULL,
	dest_port      INTEGER NOT NULL DEFAULT 0,
	proto          TEXT    NOT NULL DEFAULT '',
	app_proto      TEXT    NOT NULL DEFAULT '',
	observed_name  TEXT    NOT NULL DEFAULT '', -- host name as seen, before lists apply
	name_source    TEXT    NOT NULL DEFAULT '', -- sni, http, quic, dns, cert or ''
	bytes_sent     INTEGER NOT NULL DEFAULT 0,  -- device → remote
	bytes_received INTEGER NOT NULL DEFAULT 0,  -- remote → device
	pkts_sent      INTEGER NOT NULL DEFAULT 0,
	pkts_received  INTEGER NOT NULL DEFAULT 0,
	flows          INTEGER NOT NULL DEFAULT 1,  -- flows merged into this row
	active         INTEGER NOT NULL DEFAULT 0   -- 1 while the flow is in progress
);
-- Makes re-imports idempotent, even of a capture Suricata analysed again
-- (flow_id differs between Suricata runs; 5-tuple and start do not).
CREATE UNIQUE INDEX flows_flow_key ON flows (flow_key);
-- Finds a flow's active row when its flow event arrives.
CREATE INDEX flows_active ON flows (flow_id) WHERE active = 1;
-- Time-range queries match on overlap (end >= from AND start <= to).
CREATE INDEX flows_end ON flows (end);
CREATE INDEX flows_mac_end ON flows (mac, end);

-- Devices seen, with the host name they announced over DHCP.
CREATE TABLE devices (
	mac        TEXT PRIMARY KEY,
	dhcp_name  TEXT NOT NULL DEFAULT '',
	ip         TEXT NOT NULL DEFAULT '', -- last address seen
	first_seen REAL,
	last_seen  REAL
) WITHOUT ROWID;
