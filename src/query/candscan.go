package query

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/pakon/pakon/src/store"
)

// candScan is the pass over archived days that counts their rows per
// observed name and keeps the page's candidates (see archiveCandidates).
// With three cores or more, two workers decode the days, each counting
// into its own counts and keeping its own candidates, while the connection
// reads the next days and then the live rows' counts; the parts are added
// up at the end (the same rows, in any order: the page is selected by the
// full order, key, start and id).
type candScan struct {
	s                *snapshot
	pc               *passCache
	ord              *order
	need             cols
	n                int  // candidates kept (all when < 0, none when 0)
	filter           bool // name filters apply
	needCounts       bool // rows per name wanted
	timeOnly         bool // no row condition but the range
	byStart, reverse bool
	key              func(b *batch, j int32) (kf float64, ki int64)
	needEnd          bool  // the key reads the end
	days             []int // rows passing per archived day (each day written by one worker)
	readOnly         bool  // shared caches only read (workers)
	parallel         bool  // workers may decode the days
	// byBound: a bounded page by bound, most first, whose days wholly
	// in the range decode only the blocks that can reach it.
	byBound bool
	bound   store.Bound
}

// candPart is one worker's share of the pass.
type candPart struct {
	counts []int32 // rows per name id*2 + destination hit
	total  int
	h      candHeap
	b      batch
}

// wantCands reports whether day i can still hold candidates for p: in
// start order, a full heap turns away a day that starts after its last.
func (cs *candScan) wantCands(p *candPart, i int) bool {
	if cs.n == 0 {
		return false
	}
	if !cs.byStart || !p.h.full() {
		return true
	}
	a := cs.s.arch
	first, last := a.Span(i)
	edge := cand{start: float64(first) / 1000.0, id: store.ArchivedID(a.Day(i), 0)}
	if cs.reverse {
		edge = cand{start: float64(last) / 1000.0, id: store.ArchivedID(a.Day(i), a.Rows(i)-1)}
	}
	return cs.ord.cmp(&edge, &p.h.c[0]) < 0
}

// passes is the name filter, from the shared cache alone in workers.
func (cs *candScan) passes(name int64, hit bool) (bool, error) {
	if !cs.readOnly {
		return cs.pc.passes(name, hit), nil
	}
	ok, known := cs.pc.known(name, hit)
	if !known {
		return false, fmt.Errorf("query: name id %d not among its archived day's names", name)
	}
	return ok, nil
}

// day counts archived day i (seg, read with cs.columns) into p and keeps
// its candidates when cands. nc are the day's rows per name, when read.
// inRange tells a day every row of which is in the range, whole one where
// besides no row condition but the range applies.
func (cs *candScan) day(p *candPart, seg *store.Segment, i int, nc []store.NameCount, inRange, whole, cands bool) error {
	s, y := cs.s, cs.s.sym
	before := p.total
	defer func() { cs.days[i] = p.total - before }()
	if need := 2 * len(y.strs); len(p.counts) < need {
		p.counts = append(p.counts, make([]int32, need-len(p.counts))...)
	}
	if whole {
		if cs.needCounts {
			if nc == nil {
				var err error
				if nc, err = seg.NameCounts(); err != nil {
					return fmt.Errorf("query: %w", err)
				}
			}
			for _, c := range nc {
				if c.Name < 0 || c.Name >= int64(len(y.strs)) {
					return fmt.Errorf("query: day %d: name id %d out of range", s.arch.Day(i), c.Name)
				}
				p.counts[2*c.Name] += int32(c.Rows)
				if cs.filter {
					ok, err := cs.passes(c.Name, false)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
				}
				p.total += int(c.Rows)
			}
		} else {
			p.total += seg.Rows
		}
		if !cands {
			return nil
		}
	}
	var b *batch
	var err error
	if inRange {
		b, err = cs.decodeInRange(seg, i, cands, &p.b)
	} else {
		b, err = s.decodeDay(seg, i, cs.need, &p.b)
	}
	if err != nil {
		return err
	}
	names, dests := b.col[store.ColName], b.col[store.ColDestIP]
	countRows := !whole
	// An integer key worse than the last of a full heap is turned away
	// before its name is looked at (when the day's counts need no row).
	intKey := cs.ord.kind == keyInt && !countRows && cands
	for k := range b.sel {
		j := b.sel[k]
		if cs.reverse {
			j = b.sel[len(b.sel)-1-k]
		}
		name, hit := names[j], cs.pc.any && cs.pc.hit(dests[j])
		if name < 0 || name >= int64(len(y.strs)) {
			return fmt.Errorf("query: day %d: name id %d out of range", s.arch.Day(i), name)
		}
		if countRows {
			c := 2 * name
			if hit {
				c++
			}
			p.counts[c]++
		}
		if intKey && p.h.full() {
			_, ki := cs.key(b, j)
			if top := p.h.c[0].ki; (!cs.ord.desc && ki > top) || (cs.ord.desc && ki < top) {
				continue
			}
		}
		if cs.filter {
			ok, err := cs.passes(name, hit)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		if countRows {
			p.total++
		}
		if !cands {
			continue
		}
		c := cand{start: b.start[j], id: b.id(j), day: int32(b.day), row: j}
		c.kf, c.ki = cs.key(b, j)
		p.h.add(c)
	}
	return nil
}

// read returns the columns a day is read with: none but the head for a
// whole day without candidates; for a day in the range, start and
// duration only for candidates (and duration only for a key that needs
// the end).
func (cs *candScan) read(inRange, whole, cands bool) []store.Column {
	if whole && !cands {
		return nil
	}
	if !inRange {
		return cs.s.read(cs.need)
	}
	need := cs.need | cs.s.filt.cols()
	if cands {
		need |= colSet(store.ColStart)
		if cs.needEnd {
			need |= colSet(store.ColDur)
		}
	}
	var out []store.Column
	for c := range store.NumColumns {
		if need.has(c) {
			out = append(out, c)
		}
	}
	return out
}

// decodeInRange is decodeDay for a day every row of which is in the
// range: the row conditions but the range, and start and end only for
// candidates.
func (cs *candScan) decodeInRange(seg *store.Segment, i int, cands bool, b *batch) (*batch, error) {
	f := &cs.s.filt
	b.day, b.dayNum, b.n, b.ids, b.active, b.sel = i, seg.Day, seg.Rows, nil, nil, b.sel[:0]
	if f.none {
		return b, nil
	}
	var err error
	for c := range store.NumColumns {
		if c != store.ColStart && c != store.ColDur && (cs.need | f.cols()).has(c) {
			if b.col[c], err = seg.Column(c, b.col[c]); err != nil {
				return nil, fmt.Errorf("query: %w", err)
			}
		}
	}
	for j := range int32(b.n) {
		if f.rowPasses(b, j) {
			b.sel = append(b.sel, j)
		}
	}
	if !cands || len(b.sel) == 0 {
		return b, nil
	}
	if b.startMS, err = seg.Column(store.ColStart, b.startMS); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	b.start = slices.Grow(b.start[:0], b.n)[:b.n]
	for j, ms := range b.startMS {
		b.start[j] = float64(ms) / 1000.0
	}
	if cs.needEnd {
		if b.durMS, err = seg.Column(store.ColDur, b.durMS); err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		b.end = slices.Grow(b.end[:0], b.n)[:b.n]
		for j, ms := range b.startMS {
			// all_flows' expression: (p.start + p.dur) / 1000.0.
			b.end[j] = float64(ms+b.durMS[j]) / 1000.0
		}
	}
	return b, nil
}

// rowPasses applies the row conditions but the range (those of decodeDay)
// to row j of b.
func (f *archFilter) rowPasses(b *batch, j int32) bool {
	if f.device {
		if !f.macs[b.col[store.ColMAC][j]] && !f.ips[b.col[store.ColSrcIP][j]] {
			return false
		}
	}
	if f.apps != nil && !f.apps[b.col[store.ColApp][j]] {
		return false
	}
	if f.ports != nil && !f.ports[b.col[store.ColDestPort][j]] {
		return false
	}
	if f.protos != nil && !f.protoOK(b.col[store.ColProto][j]) {
		return false
	}
	return true
}

// run scans the archived days, one after the other or with workers, and
// calls during (the live rows' own work on the connection) once every day
// is read, while the workers may still decode. It returns the parts.
func (cs *candScan) run(ctx context.Context, during func() error) ([]*candPart, error) {
	s := cs.s
	days := s.arch.Len()
	// The connection keeps a core of its own: on two cores, workers cost
	// CPU time (Load's buffers, their collection) and waited as long.
	workers := min(runtime.GOMAXPROCS(0)-1, candWorkers, days)
	if !cs.parallel || workers <= 1 {
		p := &candPart{h: candHeap{ord: cs.ord, max: cs.n}}
		var later []boundDay // days whose candidates wait for boundedCands
		for k := range days {
			i := k
			if cs.reverse {
				i = days - 1 - k
			}
			inRange := s.whole(i)
			whole := cs.timeOnly && inRange
			cands := cs.wantCands(p, i)
			if cs.byBound && whole && cands {
				d, err := cs.countBounded(ctx, p, i)
				if err != nil {
					return nil, err
				}
				if d != nil {
					later = append(later, *d)
					continue
				}
			}
			if whole && !cs.needCounts && !cands {
				p.total += s.arch.Rows(i)
				cs.days[i] = s.arch.Rows(i)
				continue
			}
			seg, err := s.arch.Segment(ctx, i, cs.read(inRange, whole, cands)...)
			if err != nil {
				return nil, fmt.Errorf("query: %w", err)
			}
			if err := cs.day(p, seg, i, nil, inRange, whole, cands); err != nil {
				return nil, err
			}
		}
		if err := cs.boundedCands(ctx, p, later); err != nil {
			return nil, err
		}
		if during != nil {
			if err := during(); err != nil {
				return nil, err
			}
		}
		return []*candPart{p}, nil
	}
	// Workers only read what they share: the protocol condition for
	// every symbol, and the name filters for every name of a day before
	// the day is handed out.
	s.filt.decideAll()
	cs.pc.passes(s.sym.empty, false) // sizes the cache
	cs.readOnly = true
	type job struct {
		seg                  *store.Segment
		i                    int
		nc                   []store.NameCount
		inRange, whole, cand bool
	}
	// The connection reads every day ahead (a few MB) and is then free
	// for the live rows while the workers decode.
	jobs := make(chan job, days)
	parts := make([]*candPart, workers+1) // the last: days counted by the catalog alone
	errs := make([]error, workers)
	var wg sync.WaitGroup
	parts[workers] = &candPart{}
	for w := range workers {
		parts[w] = &candPart{h: candHeap{ord: cs.ord, max: cs.n}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if errs[w] != nil {
					continue // drain
				}
				cands := j.cand && cs.wantCands(parts[w], j.i)
				errs[w] = cs.day(parts[w], j.seg, j.i, j.nc, j.inRange, j.whole, cands)
			}
		}()
	}
	err := func() error {
		defer close(jobs)
		for k := range days {
			i := k
			if cs.reverse {
				i = days - 1 - k
			}
			inRange := s.whole(i)
			whole := cs.timeOnly && inRange
			cands := cs.n != 0
			if whole && !cs.needCounts && !cands {
				parts[workers].total += s.arch.Rows(i)
				cs.days[i] = s.arch.Rows(i)
				continue
			}
			seg, err := s.arch.Load(ctx, i, cs.read(inRange, whole, cands)...)
			if err != nil {
				return fmt.Errorf("query: %w", err)
			}
			var nc []store.NameCount
			if cs.filter {
				if nc, err = seg.NameCounts(); err != nil {
					return fmt.Errorf("query: %w", err)
				}
				for _, c := range nc {
					if c.Name < 0 || c.Name >= int64(len(s.sym.strs)) {
						return fmt.Errorf("query: day %d: name id %d out of range", s.arch.Day(i), c.Name)
					}
					cs.pc.passes(c.Name, false)
					if cs.pc.any {
						cs.pc.passes(c.Name, true)
					}
				}
			}
			select {
			case jobs <- job{seg: seg, i: i, nc: nc, inRange: inRange, whole: whole, cand: cands}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}()
	if err == nil && during != nil {
		err = during()
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	return parts, nil
}

// boundDay is an archived day, counted, whose candidates are kept by
// boundedCands.
type boundDay struct {
	i, rows int
	top     int64   // the day's largest value of the bound
	maxes   []int64 // by block of store.BlockRows rows
}

// countBounded counts archived day i (wholly in the range, no row
// condition) from its head and returns its block maxima, or nil (and
// counts nothing) for a day stored without them.
func (cs *candScan) countBounded(ctx context.Context, p *candPart, i int) (*boundDay, error) {
	seg, err := cs.s.arch.Segment(ctx, i)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	maxes, ok, err := seg.BlockMax(cs.bound, nil)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	if !ok {
		return nil, nil
	}
	if err := cs.day(p, seg, i, nil, true, true, false); err != nil {
		return nil, err
	}
	d := &boundDay{i: i, rows: seg.Rows, maxes: maxes, top: -1}
	if len(maxes) > 0 {
		d.top = slices.Max(maxes)
	}
	return d, nil
}

// boundedCands keeps the candidates of days (see countBounded): the day
// with the largest maximum first, and in it the block with the largest
// first. Once the heap is full, a block (and a day) whose maximum is below
// its last cannot enter it (the order is by the bound, most first, so an
// equal value still may), and its rows are not decoded. The name filters
// only remove rows, so a maximum over all of a block's rows bounds those
// that pass.
func (cs *candScan) boundedCands(ctx context.Context, p *candPart, days []boundDay) error {
	if len(days) == 0 {
		return nil
	}
	slices.SortFunc(days, func(a, b boundDay) int { return cmp.Compare(b.top, a.top) })
	var read []store.Column // the columns gathered for the blocks decoded
	for _, c := range cs.read(true, true, true) {
		if c != store.ColStart {
			read = append(read, c)
		}
	}
	below := func(v int64) bool { return p.h.full() && v < p.h.c[0].ki }
	var blocks []int
	var idx []int32
	b := &p.b
	for _, d := range days {
		if below(d.top) {
			break // and every day after it
		}
		blocks = blocks[:0]
		for k, m := range d.maxes {
			if !below(m) {
				blocks = append(blocks, k)
			}
		}
		slices.SortFunc(blocks, func(x, z int) int { return cmp.Compare(d.maxes[z], d.maxes[x]) })
		seg, err := cs.s.arch.Segment(ctx, d.i, append(read, store.ColStart)...)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if seg.Rows != d.rows {
			return fmt.Errorf("query: day %d: %d rows, head said %d", seg.Day, seg.Rows, d.rows)
		}
		// A delta column decodes from its start: the day's starts once.
		if b.startMS, err = seg.Column(store.ColStart, b.startMS); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		// Blocks are gathered in chunks, most first, doubling: a dictionary
		// column costs a pass over the column's block heads and its
		// dictionary for each gather, and the heap's last rises as it goes.
		for done, chunk := 0, 1; done < len(blocks); chunk *= 2 {
			next := blocks[done:min(done+chunk, len(blocks))]
			for len(next) > 0 && below(d.maxes[next[len(next)-1]]) {
				next = next[:len(next)-1]
			}
			if len(next) == 0 {
				break
			}
			done += len(next)
			idx = idx[:0]
			for _, k := range slices.Sorted(slices.Values(next)) {
				for j := k * store.BlockRows; j < min((k+1)*store.BlockRows, d.rows); j++ {
					idx = append(idx, int32(j))
				}
			}
			for _, c := range read {
				if b.col[c], err = seg.Gather(c, idx, b.col[c]); err != nil {
					return fmt.Errorf("query: %w", err)
				}
			}
			if err := cs.blockCands(p, b, d.i, seg.Day, idx); err != nil {
				return err
			}
		}
	}
	return nil
}

// blockCands offers rows idx of archived day i (dayNum), their columns
// gathered into b.col, to the heap.
func (cs *candScan) blockCands(p *candPart, b *batch, i int, dayNum int64, idx []int32) error {
	y := cs.s.sym
	names, dests := b.col[store.ColName], b.col[store.ColDestIP]
	sent, rcv := b.col[store.ColBytesSent], b.col[store.ColBytesRcv]
	for x, j := range idx {
		var ki int64
		switch cs.bound {
		case store.BoundBytes:
			ki = sent[x] + rcv[x]
		case store.BoundSent:
			ki = sent[x]
		case store.BoundRcv:
			ki = rcv[x]
		}
		if p.h.full() && ki < p.h.c[0].ki {
			continue
		}
		name := names[x]
		if name < 0 || name >= int64(len(y.strs)) {
			return fmt.Errorf("query: day %d: name id %d out of range", dayNum, name)
		}
		if cs.filter {
			ok, err := cs.passes(name, cs.pc.any && cs.pc.hit(dests[x]))
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
		}
		p.h.add(cand{ki: ki, start: float64(b.startMS[j]) / 1000.0, id: store.ArchivedID(dayNum, int(j)),
			day: int32(i), row: j})
	}
	return nil
}

// candWorkers is how many goroutines decode archived days for a page at
// most.
const candWorkers = 2

// known is passes for a decision already made, without making one (for
// workers sharing the cache); ok is false when it was not made.
func (pc *passCache) known(name int64, hit bool) (pass, ok bool) {
	if name < 0 || name >= int64(len(pc.state)) {
		return false, false
	}
	known, yes := uint8(1), uint8(4)
	if hit {
		known, yes = 2, 8
	}
	st := pc.state[name]
	return st&yes != 0, st&known != 0
}
