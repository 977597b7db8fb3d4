-- A day being moved into the archive: its rows up to id upto are in the
-- archive already while maintenance deletes them from the live database,
-- in paced slices (seconds at home rates, minutes under a flood). Queries
-- leave those rows out so that the day does not count twice meanwhile;
-- rows of the day with larger ids came later and are not archived yet.
-- The row is removed when the deletes are done; one left by a crash stays
-- true (those rows are archived) until the next move of the day.
CREATE TABLE moving (
	day  INTEGER PRIMARY KEY, -- UTC day of the rows' end, days since the epoch
	upto INTEGER NOT NULL     -- largest live id among the rows archived
);
