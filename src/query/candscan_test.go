package query_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/pakon/pakon/src/query"
)

// TestCandidateWorkers pages through the tiers without workers and with
// two, whose candidates (and counts) are merged: sort keys with many
// ties (flows, port, proto) must break them by start and id exactly as
// SQL does, whichever worker kept a row.
func TestCandidateWorkers(t *testing.T) {
	tieredDB, flatDB := tieredDBs(t)
	opts := query.Options{Lists: shippedLists(t), Now: func() time.Time { return tiersNow }}
	te, fe := query.New(tieredDB, opts), query.New(flatDB, opts)
	week := tiersNow.Add(-7 * 24 * time.Hour)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	filters := []query.Params{{}, {DestPorts: []int{443, 80}}, {Hostnames: []string{"203.0.113.3", "example.com"}},
		{Protos: []string{"tcp"}, End: tiersNow.Add(-40 * time.Hour)}}
	for _, procs := range []int{1, 3} { // workers need a core besides the connection's
		runtime.GOMAXPROCS(procs)
		for fi, fl := range filters {
			for _, key := range []string{query.SortBytes, query.SortFlows, query.SortPort, query.SortProto, query.SortStart} {
				for _, pg := range []struct{ limit, offset int }{{20, 0}, {15, 333}, {0, 3900}} {
					for _, desc := range []bool{false, true} {
						p := fl
						p.Start, p.Sort, p.Desc, p.Limit, p.Offset = week, key, desc, pg.limit, pg.offset
						n := fmt.Sprintf("procs %d/filter %d/%s/%v/%d+%d", procs, fi, key, desc, pg.offset, pg.limit)
						same(t, n, te, fe, func(e *query.Engine) (*query.Result, error) { return e.Flows(ctx, p) })
					}
				}
			}
		}
	}
}
