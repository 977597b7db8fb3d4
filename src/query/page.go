package query

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pakon/pakon/src/store"
)

// A page of flows over live and archived rows is put together like this:
// Go scans the archived days once, counting rows per observed name and
// keeping the first offset+limit candidates in sort order (a bounded heap,
// or all of them for deep pages); SQL returns the live rows' sort keys in
// order, and reading stops at the first one past the archived candidates;
// the rows at the page's ranks are selected from both and only they are
// read in full. The order is exactly SQL's ORDER BY key, start, id over
// all_flows.

// cand is a row competing for the page: its sort key (kf, or ki for
// integers and symbol ids of text), start and all_flows id, and where it
// lives (day is the archived day's index, -1 for a live row).
type cand struct {
	kf    float64
	ki    int64
	start float64
	id    int64
	day   int32
	row   int32
}

// keyKind is how a sort key compares.
type keyKind int

const (
	keyStart  keyKind = iota // start alone
	keyFloat                 // REAL
	keyInt                   // INTEGER
	keyText                  // TEXT, BINARY collation
	keyNoCase                // TEXT, NOCASE collation
)

func sortKind(sort string) keyKind {
	switch sort {
	case "", SortStart:
		return keyStart
	case SortEnd, SortDuration:
		return keyFloat
	case SortBytes, SortSent, SortReceived, SortFlows, SortPort:
		return keyInt
	case SortDevice:
		return keyNoCase
	}
	return keyText
}

// order compares candidates as the SQL ORDER BY does.
type order struct {
	kind keyKind
	desc bool
	sym  *symbols
}

func (o *order) cmp(a, b *cand) int {
	var c int
	switch o.kind {
	case keyFloat:
		c = cmp.Compare(a.kf, b.kf)
	case keyInt:
		c = cmp.Compare(a.ki, b.ki)
	case keyText:
		if a.ki != b.ki {
			c = strings.Compare(o.sym.strs[a.ki], o.sym.strs[b.ki])
		}
	case keyNoCase:
		if a.ki != b.ki {
			c = compareNoCase(o.sym.strs[a.ki], o.sym.strs[b.ki])
		}
	}
	if c == 0 {
		c = cmp.Compare(a.start, b.start)
	}
	if c == 0 {
		c = cmp.Compare(a.id, b.id)
	}
	if o.desc {
		return -c
	}
	return c
}

// compareNoCase is SQLite's NOCASE collation: ASCII letters folded, then
// bytes, then length.
func compareNoCase(a, b string) int {
	for i := range min(len(a), len(b)) {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return cmp.Compare(len(a), len(b))
}

// archived is the outcome of the pass over the archived days.
type archived struct {
	names []nameGroup // rows per observed name and destination hit
	total int         // rows passing the name filters
	days  []int       // of them, by archived day index
	cands []cand      // the first n of them in order (all when n < 0)
	ord   order
}

// heapMax is the largest page end kept in a bounded heap; deeper pages
// collect every candidate and select.
const heapMax = 4096

// archiveCandidates scans the archived days: it counts their rows per
// observed name and keeps the first n rows passing the name filters in
// the plan's order (every one when n < 0, none when n is 0). during, if
// not nil, is the live rows' work on the connection, run once the days
// are read (while workers may still decode them).
func (pl *plan) archiveCandidates(ctx context.Context, s *snapshot, n int, during func() error) (*archived, error) {
	y := s.sym
	ac := &archived{names: []nameGroup{}, ord: order{kind: sortKind(pl.p.Sort), desc: pl.p.Desc, sym: y}}
	if s.arch.Len() == 0 || s.filt.none {
		if during != nil {
			if err := during(); err != nil {
				return nil, err
			}
		}
		return ac, nil
	}
	pc := newPassCache(pl, y)
	need := colSet(store.ColName)
	if pc.any || pl.p.Sort == SortHostname {
		need |= colSet(store.ColDestIP) // hostname addresses; an unnamed row's label
	}
	switch pl.p.Sort {
	case SortBytes:
		need |= colSet(store.ColBytesSent, store.ColBytesRcv)
	case SortSent:
		need |= colSet(store.ColBytesSent)
	case SortReceived:
		need |= colSet(store.ColBytesRcv)
	case SortFlows:
		need |= colSet(store.ColFlows)
	case SortPort:
		need |= colSet(store.ColDestPort)
	case SortMAC:
		need |= colSet(store.ColMAC)
	case SortProto:
		need |= colSet(store.ColProto)
	case SortApp:
		need |= colSet(store.ColApp)
	case SortDevice:
		need |= colSet(store.ColMAC, store.ColSrcIP)
	}
	// Rows of a day are in start order: for a page in start order, walk
	// them (and the days) the way the page goes, so that once the heap is
	// full the rest is turned away by one comparison, and a whole day by
	// its catalog entry.
	byStart := ac.ord.kind == keyStart
	cs := &candScan{s: s, pc: pc, ord: &ac.ord, need: need, n: n, filter: pl.filtersNames(),
		needCounts: pl.filtersNames() || pl.p.Sort == SortHostname,
		timeOnly:   s.filt.timeOnly() && len(pl.hosts.ips) == 0,
		byStart:    byStart, reverse: byStart && pl.p.Desc, key: pl.candKey(y), days: make([]int, s.arch.Len()),
		needEnd: pl.p.Sort == SortEnd || pl.p.Sort == SortDuration}
	// Workers decode the days when every day gives candidates and the
	// sort key needs no new symbols (device and hostname labels do). A
	// day only counted decodes in less time than the connection takes
	// to read it: workers there cost CPU (about 10 ms a 4-week page) and
	// save no wait.
	cs.parallel = pl.p.Sort != SortDevice && pl.p.Sort != SortHostname &&
		n != 0 && (!byStart || n < 0 || n > heapMax)
	// A bounded page by bytes, most first, reads the days' block maxima
	// and decodes only the blocks that can reach it, on the connection.
	if b, ok := map[string]store.Bound{SortBytes: store.BoundBytes, SortSent: store.BoundSent,
		SortReceived: store.BoundRcv}[pl.p.Sort]; ok && pl.p.Desc && n > 0 && n <= heapMax {
		cs.bound, cs.byBound, cs.parallel = b, true, false
	}
	parts, err := cs.run(ctx, during)
	if err != nil {
		return nil, err
	}
	var counts []int32 // rows per name id*2 + destination hit
	for _, p := range parts {
		ac.total += p.total
		if len(p.counts) > len(counts) {
			counts = append(counts, make([]int32, len(p.counts)-len(counts))...)
		}
		for i, c := range p.counts {
			counts[i] += c
		}
		ac.cands = append(ac.cands, p.h.c...)
	}
	ac.days = cs.days
	for i, c := range counts {
		if c > 0 {
			ac.names = append(ac.names, nameGroup{observed: y.str(int64(i / 2)), ipHit: i%2 == 1, n: int(c)})
		}
	}
	return ac, nil
}

// candKey returns the function that sets an archived row's sort key.
func (pl *plan) candKey(y *symbols) func(b *batch, j int32) (kf float64, ki int64) {
	switch pl.p.Sort {
	case SortEnd:
		return func(b *batch, j int32) (float64, int64) { return b.end[j], 0 }
	case SortDuration:
		return func(b *batch, j int32) (float64, int64) { return b.end[j] - b.start[j], 0 }
	case SortBytes:
		return func(b *batch, j int32) (float64, int64) {
			return 0, b.col[store.ColBytesSent][j] + b.col[store.ColBytesRcv][j]
		}
	case SortSent, SortReceived, SortFlows, SortPort, SortMAC, SortProto, SortApp:
		col := map[string]store.Column{SortSent: store.ColBytesSent, SortReceived: store.ColBytesRcv,
			SortFlows: store.ColFlows, SortPort: store.ColDestPort, SortMAC: store.ColMAC, SortProto: store.ColProto,
			SortApp: store.ColApp}[pl.p.Sort]
		return func(b *batch, j int32) (float64, int64) { return 0, b.col[col][j] }
	case SortDevice:
		// coalesce(device name, CASE WHEN mac = '' THEN src_ip ELSE mac END)
		names := pl.devs.all()
		labels := map[[2]int64]int64{}
		return func(b *batch, j int32) (float64, int64) {
			mac, src := b.col[store.ColMAC][j], b.col[store.ColSrcIP][j]
			id, ok := labels[[2]int64{mac, src}]
			if !ok {
				label, named := names[y.str(mac)]
				if !named {
					label = y.str(mac)
					if mac == y.empty {
						label = y.str(src)
					}
				}
				id = y.intern(label)
				labels[[2]int64{mac, src}] = id
			}
			return 0, id
		}
	case SortHostname:
		// CASE WHEN observed_name = '' THEN dest_ip ELSE display END
		displays := map[int64]int64{}
		return func(b *batch, j int32) (float64, int64) {
			name := b.col[store.ColName][j]
			if name == y.empty {
				return 0, b.col[store.ColDestIP][j]
			}
			id, ok := displays[name]
			if !ok {
				id = y.intern(pl.infos.get(y.str(name)).display)
				displays[name] = id
			}
			return 0, id
		}
	}
	return func(*batch, int32) (float64, int64) { return 0, 0 }
}

// candHeap keeps the first max candidates in order (a max-heap with the
// last of them on top), or every candidate when max < 0.
type candHeap struct {
	ord *order
	max int
	c   []cand
}

// full reports whether a bounded heap holds its max.
func (h *candHeap) full() bool {
	return h.max >= 0 && h.max <= heapMax && len(h.c) == h.max && h.max > 0
}

func (h *candHeap) add(c cand) {
	if h.max < 0 || h.max > heapMax {
		h.c = append(h.c, c)
		return
	}
	if len(h.c) < h.max {
		h.c = append(h.c, c)
		for i := len(h.c) - 1; i > 0; {
			p := (i - 1) / 2
			if h.ord.cmp(&h.c[p], &h.c[i]) >= 0 {
				break
			}
			h.c[p], h.c[i] = h.c[i], h.c[p]
			i = p
		}
		return
	}
	if h.ord.cmp(&c, &h.c[0]) >= 0 {
		return
	}
	h.c[0] = c
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.c) && h.ord.cmp(&h.c[l], &h.c[m]) > 0 {
			m = l
		}
		if r < len(h.c) && h.ord.cmp(&h.c[r], &h.c[m]) > 0 {
			m = r
		}
		if m == i {
			break
		}
		h.c[m], h.c[i] = h.c[i], h.c[m]
		i = m
	}
}

// selectFirst reorders c so that c[:k] are its k first elements in order
// (not sorted among themselves): quickselect with random pivots, which
// stays linear on the nearly sorted input that archived days give.
func (o *order) selectFirst(c []cand, k int) {
	if k <= 0 || k >= len(c) {
		return
	}
	lo, hi := 0, len(c)-1 // inclusive
	seed := uint64(len(c))
	for hi-lo > 16 {
		seed = seed*6364136223846793005 + 1442695040888963407
		pi := lo + int((seed>>33)%uint64(hi-lo+1))
		c[lo], c[pi] = c[pi], c[lo]
		i, j := lo, hi+1
		for {
			for i++; i < hi && o.cmp(&c[i], &c[lo]) < 0; i++ {
			}
			for j--; o.cmp(&c[lo], &c[j]) < 0; j-- {
			}
			if i >= j {
				break
			}
			c[i], c[j] = c[j], c[i]
		}
		c[lo], c[j] = c[j], c[lo]
		switch {
		case j > k:
			hi = j - 1
		case j < k:
			lo = j + 1
		default:
			return
		}
	}
	part := c[lo : hi+1]
	slices.SortFunc(part, func(a, b cand) int { return o.cmp(&a, &b) })
}

// mergePage returns the page of rows from the archived candidates and the
// live rows; liveQuery selects the live rows' sort key, start and id in
// order.
func (pl *plan) mergePage(ctx context.Context, s *snapshot, ac *archived,
	live func(cond string, condArgs ...any) (string, []any)) ([]Row, error) {
	p, o := pl.p, &ac.ord
	n := p.Offset + p.Limit
	all := ac.cands
	var bound *cand // the last archived candidate a page can reach
	if p.Limit > 0 {
		if len(all) > n {
			o.selectFirst(all, n)
			all = all[:n]
		}
		if len(all) == n {
			bound = &all[0]
			for i := range all {
				if o.cmp(&all[i], bound) > 0 {
					bound = &all[i]
				}
			}
			b := *bound
			bound = &b
		}
	}
	// A live row past the bound cannot reach the page: for a numeric key,
	// SQLite leaves it out before sorting (with four weeks sorted by
	// bytes, all but a handful of the live day). Pages by start walk an
	// index and stop at the limit anyway.
	var liveQuery string
	var args []any
	switch {
	case bound != nil && (o.kind == keyInt || o.kind == keyFloat):
		op := " <= ?"
		if p.Desc {
			op = " >= ?"
		}
		var v any = bound.ki
		if o.kind == keyFloat {
			v = bound.kf
		}
		liveQuery, args = live(flowOrder(p.Sort)+op, v)
	default:
		liveQuery, args = live("")
	}
	if p.Limit > 0 {
		liveQuery += " LIMIT ?"
		args = append(args, n)
	}
	rows, err := s.conn.QueryContext(ctx, liveQuery, args...)
	if err != nil {
		return nil, fmt.Errorf("query flows: %w", err)
	}
	kind := o.kind
	for rows.Next() {
		c := cand{day: -1}
		var text string
		var err error
		switch kind {
		case keyStart, keyFloat:
			err = rows.Scan(&c.kf, &c.start, &c.id)
		case keyInt:
			err = rows.Scan(&c.ki, &c.start, &c.id)
		default:
			err = rows.Scan(&text, &c.start, &c.id)
			c.ki = s.sym.intern(text)
		}
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("query flows: %w", err)
		}
		if bound != nil && o.cmp(&c, bound) > 0 {
			break
		}
		all = append(all, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query flows: %w", err)
	}
	if p.Offset >= len(all) {
		return []Row{}, nil
	}
	end := len(all)
	if p.Limit > 0 {
		end = min(end, n)
		o.selectFirst(all, end)
	}
	o.selectFirst(all[:end], p.Offset)
	window := all[p.Offset:end]
	slices.SortFunc(window, func(a, b cand) int { return o.cmp(&a, &b) })
	return pl.materialize(ctx, s, window)
}

// rowColumns are the columns a Row shows.
var rowColumns = []store.Column{store.ColStart, store.ColDur, store.ColMAC, store.ColSrcIP, store.ColSrcPort,
	store.ColDestIP, store.ColDestPort, store.ColProto, store.ColApp, store.ColName, store.ColSource,
	store.ColBytesSent, store.ColBytesRcv, store.ColFlows}

// materialize reads the rows of the page's candidates in full.
func (pl *plan) materialize(ctx context.Context, s *snapshot, page []cand) ([]Row, error) {
	out := make([]Row, len(page))
	var liveIDs []int64
	liveAt := map[int64]int{}
	days := map[int32][]int{}
	for i, c := range page {
		if c.day < 0 {
			liveIDs = append(liveIDs, c.id)
			liveAt[c.id] = i
		} else {
			days[c.day] = append(days[c.day], i)
		}
	}
	if len(liveIDs) > 0 {
		rows, err := s.conn.QueryContext(ctx, "SELECT f.id, "+flowColumns+fromLive+
			" WHERE f.id IN "+jsonSet, jsonArray(liveIDs))
		if err != nil {
			return nil, fmt.Errorf("query flows: %w", err)
		}
		for rows.Next() {
			var id int64
			var r Row
			if err := rows.Scan(&id, &r.Start, &r.End, &r.MAC, &r.SrcIP, &r.SrcPort, &r.DestIP, &r.DestPort,
				&r.Proto, &r.AppProto, &r.ObservedName, &r.NameSource, &r.BytesSent, &r.BytesReceived,
				&r.Active, &r.Flows); err != nil {
				rows.Close()
				return nil, fmt.Errorf("query flows: %w", err)
			}
			out[liveAt[id]] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("query flows: %w", err)
		}
	}
	y := s.sym
	var rows []int32
	var vals [store.NumColumns][]int64
	for day, idx := range days {
		seg, err := s.arch.Segment(ctx, int(day), rowColumns...)
		if err != nil {
			return nil, fmt.Errorf("query flows: %w", err)
		}
		slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(page[a].row, page[b].row) })
		rows = rows[:0]
		for _, i := range idx {
			rows = append(rows, page[i].row)
		}
		for _, c := range rowColumns {
			if vals[c], err = seg.Gather(c, rows, vals[c]); err != nil {
				return nil, fmt.Errorf("query flows: %w", err)
			}
		}
		col := func(c store.Column, k int) int64 { return vals[c][k] }
		for k, i := range idx {
			start := col(store.ColStart, k)
			out[i] = Row{Start: float64(start) / 1000.0, End: float64(start+col(store.ColDur, k)) / 1000.0,
				MAC: y.str(col(store.ColMAC, k)), SrcIP: y.str(col(store.ColSrcIP, k)),
				SrcPort: int(col(store.ColSrcPort, k)), DestIP: y.str(col(store.ColDestIP, k)),
				DestPort: int(col(store.ColDestPort, k)), Proto: y.str(col(store.ColProto, k)),
				AppProto: y.str(col(store.ColApp, k)), ObservedName: y.str(col(store.ColName, k)),
				NameSource: y.str(col(store.ColSource, k)), BytesSent: col(store.ColBytesSent, k),
				BytesReceived: col(store.ColBytesRcv, k), Flows: int(col(store.ColFlows, k))}
		}
	}
	for i := range out {
		pl.finish(&out[i])
	}
	return out, nil
}
