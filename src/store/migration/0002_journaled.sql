-- Flows already appended to the flash journal (see store.Journal): the
-- commit step appends only rows whose key is not here. Lives in RAM with
-- the live database; rows leave when their flow moves to the archive.
CREATE TABLE journaled (flow_key INTEGER PRIMARY KEY) WITHOUT ROWID;
