package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/pakon/pakon/src/store"
)

// A page in start order deep into the rows (an offset of hundreds of
// thousands) would keep hundreds of thousands of candidates; instead the
// archived days, each already in start order, and the live rows are merged
// as sorted runs, and the ranks before the page are counted, not kept. A
// day is decoded when the merge reaches its first start (its last end,
// going backwards), so only the days whose rows overlap are open at once.

// run is one sorted run of the merge: an archived day, or the live rows
// when b is nil.
type run struct {
	b   *batch
	k   int // rows of b.sel taken
	cur cand
}

// deepStartPage returns the rows at ranks [offset, offset+limit) in start
// order; liveQuery selects the live rows' start (as the key), start and id
// in that order. ac holds the archived rows passing per day, so that the
// days wholly before the page are counted instead of decoded.
func (pl *plan) deepStartPage(ctx context.Context, s *snapshot, ac *archived, liveQuery string, args []any) ([]Row, error) {
	p := pl.p
	o := &order{kind: keyStart, desc: p.Desc, sym: s.sym}
	pc := newPassCache(pl, s.sym)
	filter := pl.filtersNames()
	need := colSet(store.ColName)
	if pc.any {
		need |= colSet(store.ColDestIP)
	}
	rows, err := s.conn.QueryContext(ctx, liveQuery+" LIMIT ?", append(args, p.Offset+p.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("query flows: %w", err)
	}
	defer rows.Close()
	nextLive := func(r *run) (bool, error) {
		if !rows.Next() {
			return false, rows.Err()
		}
		r.cur = cand{day: -1}
		if err := rows.Scan(&r.cur.kf, &r.cur.start, &r.cur.id); err != nil {
			return false, err
		}
		return true, nil
	}
	next := func(r *run) (bool, error) {
		if r.b == nil {
			return nextLive(r)
		}
		b := r.b
		names, dests := b.col[store.ColName], b.col[store.ColDestIP]
		for r.k < len(b.sel) {
			j := b.sel[r.k]
			if p.Desc {
				j = b.sel[len(b.sel)-1-r.k]
			}
			r.k++
			if filter && !pc.passes(names[j], pc.any && pc.hit(dests[j])) {
				continue
			}
			r.cur = cand{start: b.start[j], id: b.id(j), day: int32(b.day), row: j}
			return true, nil
		}
		return false, nil
	}
	// The first row a day can hold in walk order, by its catalog entry.
	edge := func(i int) cand {
		first, last := s.arch.Span(i)
		if p.Desc {
			return cand{start: float64(last) / 1000.0, id: store.ArchivedID(s.arch.Day(i), s.arch.Rows(i)-1)}
		}
		return cand{start: float64(first) / 1000.0, id: store.ArchivedID(s.arch.Day(i), 0)}
	}
	pending := make([]int, s.arch.Len())
	edges := make([]cand, s.arch.Len())
	for i := range pending {
		pending[i], edges[i] = i, edge(i)
	}
	slices.SortFunc(pending, func(a, b int) int { return cmp.Or(o.cmp(&edges[a], &edges[b]), cmp.Compare(a, b)) })
	if s.filt.none {
		pending = nil
	}

	var h []*run // a min-heap by cur
	less := func(a, b int) bool { return o.cmp(&h[a].cur, &h[b].cur) < 0 }
	push := func(r *run) {
		h = append(h, r)
		for i := len(h) - 1; i > 0; {
			up := (i - 1) / 2
			if !less(i, up) {
				break
			}
			h[i], h[up] = h[up], h[i]
			i = up
		}
	}
	pop := func() *run {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		for i := 0; ; {
			l, r, m := 2*i+1, 2*i+2, i
			if l < len(h) && less(l, m) {
				m = l
			}
			if r < len(h) && less(r, m) {
				m = r
			}
			if m == i {
				break
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
		return top
	}
	live := &run{}
	var liveFirst *cand
	if ok, err := nextLive(live); err != nil {
		return nil, fmt.Errorf("query flows: %w", err)
	} else if ok {
		push(live)
		liveFirst = &live.cur
	}
	skipped := 0
	if len(ac.days) == s.arch.Len() {
		bounds := make([]cand, s.arch.Len())
		for i := range bounds {
			bounds[i] = dayBound(s.arch, i, p.Desc)
		}
		pending, skipped = skipDays(o, pending, edges, bounds, ac.days, liveFirst, p.Offset)
	}
	var page []cand
	for rank := skipped; len(page) < p.Limit; rank++ {
		for len(pending) > 0 && (len(h) == 0 || o.cmp(&edges[pending[0]], &h[0].cur) <= 0) {
			i := pending[0]
			pending = pending[1:]
			seg, err := s.arch.Segment(ctx, i, s.read(need)...)
			if err != nil {
				return nil, fmt.Errorf("query flows: %w", err)
			}
			r := &run{b: &batch{}}
			if _, err := s.decodeDay(seg, i, need, r.b); err != nil {
				return nil, err
			}
			if ok, err := next(r); err != nil {
				return nil, err
			} else if ok {
				push(r)
			}
		}
		if len(h) == 0 {
			break
		}
		r := pop()
		// Days overlap little: take from r while it stays ahead of the
		// other runs and of the next day to open, without heap work.
		for {
			if rank >= p.Offset {
				page = append(page, r.cur)
				if len(page) == p.Limit {
					break
				}
			}
			ok, err := next(r)
			if err != nil {
				return nil, fmt.Errorf("query flows: %w", err)
			}
			if !ok {
				r = nil
				break
			}
			if (len(h) > 0 && o.cmp(&r.cur, &h[0].cur) > 0) ||
				(len(pending) > 0 && o.cmp(&edges[pending[0]], &r.cur) <= 0) {
				break
			}
			rank++
		}
		if r != nil && len(page) < p.Limit {
			push(r)
		}
	}
	rows.Close()
	return pl.materialize(ctx, s, page)
}

// dayBound is the last row archived day i can hold in walk order, by its
// catalog entry: a row starts at or before it ends, and the day's rows
// are in start order, so their ids grow with their starts.
func dayBound(a *store.Archive, i int, desc bool) cand {
	first, last := a.Span(i)
	if desc {
		return cand{start: float64(first) / 1000.0, id: store.ArchivedID(a.Day(i), 0)}
	}
	return cand{start: float64(last) / 1000.0, id: store.ArchivedID(a.Day(i), a.Rows(i)-1)}
}

// skipDays takes from pending (day indexes sorted by their first row in
// walk order, edges) the days whose every row ranks before offset, and
// returns the rest and how many rows the days taken hold. A day goes when
// the rows that can precede its last one (bounds) number at most offset:
// those of the days whose first row does not come after it (counts
// passing, by day), with no live row among them (liveFirst, the first
// live row, nil for none). Merging the other runs then gives every row
// from offset on its rank, counting the days taken as ranks before it.
func skipDays(o *order, pending []int, edges, bounds []cand, counts []int, liveFirst *cand, offset int) ([]int, int) {
	prefix := make([]int, len(pending)+1) // rows of pending[:k]
	for k, i := range pending {
		prefix[k+1] = prefix[k] + counts[i]
	}
	keep := make([]int, 0, len(pending))
	skipped := 0
	for _, i := range pending {
		b := &bounds[i]
		if liveFirst != nil && o.cmp(b, liveFirst) >= 0 {
			keep = append(keep, i)
			continue
		}
		m, _ := slices.BinarySearchFunc(pending, b, func(j int, b *cand) int {
			if o.cmp(&edges[j], b) <= 0 {
				return -1
			}
			return 1
		})
		if prefix[m] <= offset {
			skipped += counts[i]
			continue
		}
		keep = append(keep, i)
	}
	return keep, skipped
}
