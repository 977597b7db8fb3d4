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

// TestBackHalfPages reads pages in the back half of the rows, which the
// engine reads from the other end when every row is live (the flat
// database always): every sort key both ways must give SQL's pages.
func TestBackHalfPages(t *testing.T) {
	tieredDB, flatDB := tieredDBs(t)
	opts := query.Options{Lists: shippedLists(t), Now: func() time.Time { return tiersNow }}
	te, fe := query.New(tieredDB, opts), query.New(flatDB, opts)
	week := tiersNow.Add(-7 * 24 * time.Hour)
	for _, fl := range []query.Params{{}, {NoFilter: true}, {DestPorts: []int{443}}} {
		fl.Start = week
		all, err := fe.Flows(ctx, fl)
		if err != nil {
			t.Fatal(err)
		}
		for i, key := range append(query.SortKeys(), "") {
			// Under qemu (-short) every other sort key; native runs all.
			if testing.Short() && i%2 == 1 {
				continue
			}
			for _, desc := range []bool{false, true} {
				for _, pg := range []struct{ limit, offset int }{{25, all.Total/2 + 1}, {25, all.Total - 25}, {25, all.Total - 3},
					{1, all.Total - 1}, {7, all.Total * 3 / 4}} {
					p := fl
					p.Sort, p.Desc, p.Limit, p.Offset = key, desc, pg.limit, pg.offset
					n := fmt.Sprintf("%v/%s/%v/%d+%d", fl.DestPorts, key, desc, pg.offset, pg.limit)
					same(t, n, te, fe, func(e *query.Engine) (*query.Result, error) { return e.Flows(ctx, p) })
					res, err := fe.Flows(ctx, p)
					if err != nil {
						t.Fatal(err)
					}
					if want := min(pg.limit, all.Total-pg.offset); len(res.Rows) != want {
						t.Errorf("%s: %d rows, want %d", n, len(res.Rows), want)
					}
				}
			}
		}
	}
}
