-- Days are stored as columnar segments (store.Segment, one blob a day)
-- instead of one table a day: a fifth of the size, so a fifth of the flash
-- writes, and the query engine decodes them in Go an order of magnitude
-- faster than SQLite returns rows. The store converts the day tables of an
-- older archive in the same transaction. parts stays the catalog;
-- first_start and last_end (milliseconds) let queries skip days outside
-- their range without reading them.
CREATE TABLE segments (
	day  INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);
ALTER TABLE parts ADD COLUMN first_start INTEGER NOT NULL DEFAULT 0;
ALTER TABLE parts ADD COLUMN last_end INTEGER NOT NULL DEFAULT 0;
