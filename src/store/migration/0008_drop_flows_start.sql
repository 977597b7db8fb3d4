-- flows_start_key (start, flow_key) serves every walk in start order that
-- flows_start (start) did: pages still order by (start, id), SQLite sorts
-- only the ties of one start and stops at the page's end. One index fewer
-- to update for every flow written.
DROP INDEX flows_start;
