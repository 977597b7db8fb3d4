-- flows_end (end) goes: each flow written updated it. A device's rows in
-- a range still come from flows_mac_end (mac, end); other ranges read the
-- live database (a day or two, in RAM) in order, or walk flows_start_key
-- when the range ends early.
DROP INDEX flows_end;
