-- One index on (end, mac) in place of flows_end (end) and flows_mac_end
-- (mac, end): the live database holds about a day, so a device's rows in a
-- range are found by walking the range's end times and testing the MAC in
-- the index, without reading the table; and each flow written updates one
-- index fewer.
DROP INDEX flows_end;
DROP INDEX flows_mac_end;
CREATE INDEX flows_end_mac ON flows (end, mac);
