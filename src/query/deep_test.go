package query_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pakon/pakon/src/query"
)

// TestDeepStartPages pages in start order deep into the tiers, where the
// archived days wholly before a page are counted instead of merged: every
// page must equal SQL's over the same rows, also just before, across and
// after the border between the days counted and the days merged, and past
// the end.
func TestDeepStartPages(t *testing.T) {
	tieredDB, flatDB := tieredDBs(t)
	opts := query.Options{Lists: shippedLists(t), Now: func() time.Time { return tiersNow }}
	te, fe := query.New(tieredDB, opts), query.New(flatDB, opts)
	week := tiersNow.Add(-7 * 24 * time.Hour)
	all, err := fe.Flows(ctx, query.Params{Start: week, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if all.Total < 4000 {
		t.Fatalf("%d rows, want 4000 or more for deep pages", all.Total)
	}
	filters := []struct {
		name string
		p    query.Params
	}{
		{"none", query.Params{}},
		{"nofilter", query.Params{NoFilter: true}},
		{"host ip", query.Params{Hostnames: []string{"203.0.113.3", "youtube.com"}}},
		{"until", query.Params{End: tiersNow.Add(-30 * time.Hour)}},
	}
	for _, fl := range filters {
		for _, desc := range []bool{false, true} {
			for _, pg := range []struct{ limit, offset int }{{4100, 0}, {30, 4097}, {7, 4500}, {100, all.Total / 2},
				{300, all.Total - 150}, {50, all.Total - 1}, {10, all.Total}, {5000, 200}} {
				p := fl.p
				p.Start, p.Desc, p.Limit, p.Offset = week, desc, pg.limit, pg.offset
				n := fmt.Sprintf("%s/%v/%d+%d", fl.name, desc, pg.offset, pg.limit)
				same(t, n, te, fe, func(e *query.Engine) (*query.Result, error) { return e.Flows(ctx, p) })
			}
			// Offsets across every day, in steps; a page ending past 4096
			// rows is a deep one.
			for off := 0; off < all.Total+50; off += 233 {
				p := fl.p
				p.Start, p.Desc, p.Limit, p.Offset = week, desc, max(3, 4200-off), off
				same(t, fmt.Sprintf("%s/%v/%d+%d", fl.name, desc, off, p.Limit), te, fe, func(e *query.Engine) (*query.Result, error) {
					return e.Flows(ctx, p)
				})
			}
		}
	}
}
