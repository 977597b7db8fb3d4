-- Pages of live flows in start order (the default) walk flows_start and
-- stop once the page is full, instead of sorting the day. Starts arrive
-- nearly in order, so the index grows at its end and costs ingest next to
-- nothing (BenchmarkPipeline); an index on observed_name, which the
-- per-name counts of filtered pages would use, cost a fifth of ingest's
-- throughput and is left out (see docs/bench/query.md).
CREATE INDEX flows_start ON flows (start);
