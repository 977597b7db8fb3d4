-- A flow's identity is unique by (start, flow_key) instead of flow_key
-- alone. flow_key is a hash, so its index took every insert to a random
-- page: each batch rewrote hundreds of that index's pages (and the WAL
-- took them all). Led by start, new entries land at the index's end, as
-- they do in the other indexes. flow_key is a hash of start and the
-- 5-tuple, so the pair identifies a flow as well as the key did.
DROP INDEX flows_flow_key;
CREATE UNIQUE INDEX flows_start_key ON flows (start, flow_key);
