-- One index on (end, mac) in place of flows_end (end) and flows_mac_end
-- (mac, end). Every flow written updated both, and (mac, end) took each
-- device's rows to a different place in the index; (end, mac) grows at
-- its end like the others. A device's rows in a range are found by
-- walking the range's end times and testing the MAC inside the index: the
-- live database holds a day or two, so that is a few milliseconds more
-- than going straight to the device's rows.
DROP INDEX flows_end;
DROP INDEX flows_mac_end;
CREATE INDEX flows_end_mac ON flows (end, mac);
