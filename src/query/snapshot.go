package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"

	"github.com/pakon/pakon/src/store"
)

// snapshot is the read view of one query: a connection holding one read
// transaction over the live database and the archive attached to it, and
// the archived days whose rows may overlap the range.
//
// Live flows (the last day or two, raw) are read through SQL, where the
// live indexes help. Archived days are decoded from their segments and
// filtered in Go: SQLite returns rows to Go at a microsecond or more
// each, while a segment column decodes at a few nanoseconds a value.
// Both tiers then meet in Go, with exactly the semantics the all_flows
// view gives in SQL (the same float expressions for times, BINARY string
// order, ASCII lower()).
type snapshot struct {
	conn *sql.Conn
	arch *store.Archive
	sym  *symbols
	filt archFilter
	b    batch // reused for each archived day
	// The live rows' span of start times, for endsEarly.
	spanRead       bool
	spanLo, spanHi float64
}

// snapshot opens the read view for pl.
func (e *Engine) snapshot(ctx context.Context, pl *plan) (*snapshot, error) {
	conn, err := e.db.SQL().Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	s := &snapshot{conn: conn}
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("query: begin: %w", err)
	}
	// One statement starts the read transactions of both databases at
	// once, as the all_flows view would: the lifecycle moves a day into
	// the archive and then out of the live database.
	start := "SELECT (SELECT 1 FROM main.flows LIMIT 1)"
	if e.db.HasArchive() {
		start += ", (SELECT 1 FROM archive.parts LIMIT 1)"
	}
	if _, err := conn.ExecContext(ctx, start); err != nil {
		s.close()
		return nil, fmt.Errorf("query: %w", err)
	}
	// Live rows of a day being moved that the archive holds already are
	// left out, as they will be once deleted (see store.Moving).
	moving, err := store.MovingDays(ctx, conn)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("query: %w", err)
	}
	if !pl.movingRead {
		pl.movingRead = true
		for _, m := range moving {
			pl.add(m.LiveCondition())
		}
	}
	s.arch = &store.Archive{}
	if !pl.p.Active { // archived flows are never in progress
		if s.arch, err = e.db.ReadArchive(ctx, conn, pl.from, pl.to, pl.p.Start.IsZero(), pl.p.End.IsZero()); err != nil {
			s.close()
			return nil, err
		}
	}
	s.sym = newSymbols(s.arch.Strings())
	s.filt = pl.archFilter(s.sym)
	return s, nil
}

// close ends the read transaction and gives the connection back.
func (s *snapshot) close() {
	s.conn.ExecContext(context.Background(), "ROLLBACK")
	s.conn.Close()
}

// symbols holds the text values of one query: the archive's strings by
// their ids, then the live rows' values not among them.
type symbols struct {
	strs  []string
	ids   map[string]int64
	empty int64 // id of ""
}

func newSymbols(archived []string) *symbols {
	y := &symbols{strs: slices.Clip(archived), ids: make(map[string]int64, len(archived)+64)}
	if len(y.strs) == 0 {
		y.strs = []string{""} // id 0 is never a string's id in the archive
	}
	for id, s := range y.strs {
		if id > 0 {
			if _, dup := y.ids[s]; !dup {
				y.ids[s] = int64(id)
			}
		}
	}
	y.empty = y.intern("")
	return y
}

// intern returns the id of s, adding it if new.
func (y *symbols) intern(s string) int64 {
	if id, ok := y.ids[s]; ok {
		return id
	}
	id := int64(len(y.strs))
	y.strs = append(y.strs, s)
	y.ids[s] = id
	return id
}

// internBytes is intern for a value SQLite returned, copied only when new.
func (y *symbols) internBytes(b []byte) int64 {
	if id, ok := y.ids[string(b)]; ok {
		return id
	}
	return y.intern(string(b))
}

// less reports whether string a sorts before string b (BINARY).
func (y *symbols) less(a, b int64) bool { return a != b && y.strs[a] < y.strs[b] }

// ranks returns each id's position in string order: a < b as strings
// exactly when ranks[a] < ranks[b], equal strings equal ranks.
func (y *symbols) ranks() []int32 {
	ids := make([]int32, len(y.strs))
	for i := range ids {
		ids[i] = int32(i)
	}
	slices.SortFunc(ids, func(a, b int32) int { return strings.Compare(y.strs[a], y.strs[b]) })
	r := make([]int32, len(y.strs))
	for k, id := range ids {
		r[id] = int32(k)
		if k > 0 && y.strs[id] == y.strs[ids[k-1]] {
			r[id] = r[ids[k-1]]
		}
	}
	return r
}

// lookup returns the id of s, or -1 when no row holds it.
func (y *symbols) lookup(s string) int64 {
	if id, ok := y.ids[s]; ok {
		return id
	}
	return -1
}

// str returns the text of id; "" for an id no string has (a damaged
// archive), rather than a panic in the daemon.
func (y *symbols) str(id int64) string {
	if id < 0 || id >= int64(len(y.strs)) {
		return ""
	}
	return y.strs[id]
}

// archFilter is the plan's row conditions on archived rows.
type archFilter struct {
	none           bool // no archived row can match
	from, to       float64
	hasFrom, hasTo bool
	macs, ips      map[int64]bool // device condition, when either is set
	device         bool
	apps, ports    map[int64]bool // nil: any
	protos         map[int64]bool // by proto id: lower(proto) is wanted
	protoList      []string
	protoKnown     map[int64]bool
	sym            *symbols
}

// archFilter translates the row conditions to string ids.
func (pl *plan) archFilter(y *symbols) archFilter {
	f := archFilter{from: pl.from, to: pl.to, hasFrom: !pl.p.Start.IsZero(), hasTo: !pl.p.End.IsZero(), sym: y}
	ids := func(vals []string) map[int64]bool {
		m := make(map[int64]bool, len(vals))
		for _, v := range vals {
			if id := y.lookup(v); id >= 0 {
				m[id] = true
			}
		}
		return m
	}
	if len(pl.macs) > 0 || len(pl.ips) > 0 {
		f.device = true
		f.macs, f.ips = ids(pl.macs), ids(pl.ips)
		f.none = len(f.macs) == 0 && len(f.ips) == 0
	}
	if len(pl.apps) > 0 {
		f.apps = ids(pl.apps)
		f.none = f.none || len(f.apps) == 0
	}
	if len(pl.ports) > 0 {
		f.ports = make(map[int64]bool, len(pl.ports))
		for _, p := range pl.ports {
			f.ports[int64(p)] = true
		}
	}
	if len(pl.protos) > 0 {
		f.protoList, f.protos, f.protoKnown = pl.protos, map[int64]bool{}, map[int64]bool{}
	}
	return f
}

// protoOK reports whether lower(proto) is one of the wanted protocols.
func (f *archFilter) protoOK(id int64) bool {
	if f.protoKnown[id] {
		return f.protos[id]
	}
	ok := slices.Contains(f.protoList, asciiLower(f.sym.str(id)))
	f.protoKnown[id], f.protos[id] = true, ok
	return ok
}

// asciiLower is SQLite's lower() without ICU: ASCII letters only.
func asciiLower(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' }) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// cols is a set of segment columns.
type cols uint32

func colSet(cs ...store.Column) cols {
	var s cols
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

func (s cols) has(c store.Column) bool { return s&(1<<c) != 0 }

// read returns the columns a day is read with to decode need: need, the
// row conditions' and start and duration.
func (s *snapshot) read(need cols) []store.Column {
	need |= s.filt.cols() | colSet(store.ColStart, store.ColDur)
	var out []store.Column
	for c := range store.NumColumns {
		if need.has(c) {
			out = append(out, c)
		}
	}
	return out
}

// batch is rows in columns: an archived day's, decoded, or a chunk of live
// rows. Text columns hold symbol ids. sel lists the rows that pass the row
// conditions.
type batch struct {
	day        int   // index of the archived day; -1 for live rows
	dayNum     int64 // the archived day's UTC day number
	n          int
	start, end []float64
	col        [store.NumColumns][]int64
	ids        []int64 // live rows' ids
	active     []bool  // live rows only
	sel        []int32
	// An archived day's decoded start and duration.
	startMS, durMS []int64
}

// id returns the all_flows id of row i.
func (b *batch) id(i int32) int64 {
	if b.day >= 0 {
		return store.ArchivedID(b.dayNum, int(i))
	}
	return b.ids[i]
}

func (b *batch) isActive(i int32) bool { return b.active != nil && b.active[i] }

// eachDay decodes the archived days with the columns in need, and calls
// fn for each with the rows that pass the row conditions; reverse goes
// from the last day to the first.
func (s *snapshot) eachDay(ctx context.Context, need cols, reverse bool, fn func(b *batch) error) error {
	if s.filt.none {
		return nil
	}
	for k := range s.arch.Len() {
		i := k
		if reverse {
			i = s.arch.Len() - 1 - k
		}
		seg, err := s.arch.Segment(ctx, i, s.read(need)...)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		b, err := s.decodeDay(seg, i, need, &s.b)
		if err != nil {
			return err
		}
		if len(b.sel) == 0 {
			continue
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// filterCols are the columns the row conditions read.
func (f *archFilter) cols() cols {
	c := colSet()
	if f.device {
		c |= colSet(store.ColMAC, store.ColSrcIP)
	}
	if f.apps != nil {
		c |= colSet(store.ColApp)
	}
	if f.ports != nil {
		c |= colSet(store.ColDestPort)
	}
	if f.protos != nil {
		c |= colSet(store.ColProto)
	}
	return c
}

// timeOnly reports whether the row conditions are the range alone.
func (f *archFilter) timeOnly() bool { return f.cols() == 0 && !f.none }

// whole reports whether every row of archived day i lies in the range:
// they all end within the day and start before they end.
func (s *snapshot) whole(i int) bool {
	f := &s.filt
	day := s.arch.Day(i)
	_, lastEnd := s.arch.Span(i)
	return day > 0 && (!f.hasFrom || float64(day*86400) >= f.from) && (!f.hasTo || float64(lastEnd)/1000.0 <= f.to)
}

// decodeDay decodes seg (archived day i) into b: start and end, the
// columns in need, and in sel the rows that pass the row conditions.
func (s *snapshot) decodeDay(seg *store.Segment, i int, need cols, b *batch) (*batch, error) {
	f := &s.filt
	b.day, b.dayNum, b.n, b.ids, b.active, b.sel = i, seg.Day, seg.Rows, nil, nil, b.sel[:0]
	if f.none {
		return b, nil
	}
	var err error
	if b.startMS, err = seg.Column(store.ColStart, b.startMS); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	if b.durMS, err = seg.Column(store.ColDur, b.durMS); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	startMS, durMS := b.startMS, b.durMS
	// Rows are sorted by start: start <= to is a prefix.
	hi := b.n
	if f.hasTo {
		hi, _ = slices.BinarySearchFunc(startMS, f.to, func(ms int64, to float64) int {
			if float64(ms)/1000.0 <= to {
				return -1
			}
			return 1
		})
	}
	b.start = slices.Grow(b.start[:0], b.n)[:b.n]
	b.end = slices.Grow(b.end[:0], b.n)[:b.n]
	for j := range hi {
		// all_flows' expressions: p.start / 1000.0, (p.start + p.dur) / 1000.0.
		b.start[j] = float64(startMS[j]) / 1000.0
		b.end[j] = float64(startMS[j]+durMS[j]) / 1000.0
	}
	filterCols := f.cols()
	for c := range store.NumColumns {
		if filterCols.has(c) {
			if b.col[c], err = seg.Column(c, b.col[c]); err != nil {
				return nil, fmt.Errorf("query: %w", err)
			}
		}
	}
	for j := range hi {
		if f.hasFrom && b.end[j] < f.from {
			continue
		}
		if f.device {
			mac, ip := b.col[store.ColMAC][j], b.col[store.ColSrcIP][j]
			if !f.macs[mac] && !f.ips[ip] {
				continue
			}
		}
		if f.apps != nil && !f.apps[b.col[store.ColApp][j]] {
			continue
		}
		if f.ports != nil && !f.ports[b.col[store.ColDestPort][j]] {
			continue
		}
		if f.protos != nil && !f.protoOK(b.col[store.ColProto][j]) {
			continue
		}
		b.sel = append(b.sel, int32(j))
	}
	if len(b.sel) == 0 {
		return b, nil
	}
	for c := range store.NumColumns {
		if c != store.ColStart && c != store.ColDur && need.has(c) && !filterCols.has(c) {
			if b.col[c], err = seg.Column(c, b.col[c]); err != nil {
				return nil, fmt.Errorf("query: %w", err)
			}
		}
	}
	if need.has(store.ColStart) {
		b.col[store.ColStart] = startMS
	}
	return b, nil
}

// liveColumns are the live flows' columns by segment column, as SQL
// expressions; start and end come separately, as REAL.
var liveColumns = [store.NumColumns]string{
	store.ColMAC: "f.mac", store.ColSrcIP: "f.src_ip", store.ColSrcPort: "f.src_port", store.ColDestIP: "f.dest_ip",
	store.ColDestPort: "f.dest_port", store.ColProto: "f.proto", store.ColApp: "f.app_proto", store.ColName: "f.observed_name",
	store.ColSource: "f.name_source", store.ColBytesSent: "f.bytes_sent", store.ColBytesRcv: "f.bytes_received",
	store.ColPktsSent: "f.pkts_sent", store.ColPktsRcv: "f.pkts_received", store.ColFlows: "f.flows",
}

// isText tells the text columns, read as symbol ids.
func isText(c store.Column) bool {
	switch c {
	case store.ColMAC, store.ColSrcIP, store.ColDestIP, store.ColProto, store.ColApp, store.ColName, store.ColSource:
		return true
	}
	return false
}

// liveChunk is how many live rows one batch holds.
const liveChunk = 8192

// eachLive reads the live flows that pass the plan's row conditions, with
// the columns in need (start, end, id and active always), and calls fn
// for each chunk of them.
func (s *snapshot) eachLive(ctx context.Context, pl *plan, need cols, fn func(b *batch) error) error {
	var list []store.Column
	sel := []string{"f.id", "f.start", "f.end", "f.active"}
	for c := range store.NumColumns {
		if need.has(c) && liveColumns[c] != "" {
			list = append(list, c)
			sel = append(sel, liveColumns[c])
		}
	}
	b := &batch{day: -1}
	flush := func() error {
		if b.n == 0 {
			return nil
		}
		b.sel = b.sel[:0]
		for j := range b.n {
			b.sel = append(b.sel, int32(j))
		}
		err := fn(b)
		b.n, b.ids, b.start, b.end, b.active = 0, b.ids[:0], b.start[:0], b.end[:0], b.active[:0]
		for _, c := range list {
			b.col[c] = b.col[c][:0]
		}
		return err
	}
	q := "SELECT " + strings.Join(sel, ", ") + s.liveFrom(ctx, pl, liveRows) + pl.where()
	err := store.ScanRaw(ctx, s.conn, q, pl.args, func(row []driver.Value) error {
		id, _ := row[0].(int64)
		active, _ := row[3].(int64)
		b.ids, b.start, b.end = append(b.ids, id), append(b.start, asFloat(row[1])), append(b.end, asFloat(row[2]))
		b.active = append(b.active, active != 0)
		for k, c := range list {
			var v int64
			switch x := row[4+k].(type) {
			case int64:
				v = x
			case string:
				v = s.sym.intern(x)
			case []byte:
				v = s.sym.internBytes(x)
			case float64:
				v = int64(x)
			case nil:
				if isText(c) {
					v = s.sym.empty
				}
			}
			b.col[c] = append(b.col[c], v)
		}
		b.n++
		if b.n == liveChunk {
			return flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read live flows: %w", err)
	}
	return flush()
}

// asFloat is a REAL column's value (an INTEGER one converted, as SQLite
// compares them).
func asFloat(v driver.Value) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	return 0
}

// passCache decides the name filters once per observed name id and
// destination hit, in slices indexed by symbol id (symbols grow while live
// rows are read, so the slices grow with them).
type passCache struct {
	pl    *plan
	sym   *symbols
	state []uint8 // per name id: bit 0/1 decided without/with a hit, bit 2/3 the decisions
	hits  []bool  // dest_ip ids among the hostname addresses
	any   bool    // any hostname address
}

func newPassCache(pl *plan, y *symbols) *passCache {
	pc := &passCache{pl: pl, sym: y}
	for _, ip := range pl.hosts.ips {
		id := y.intern(ip) // interned: live rows may bring it later
		for int(id) >= len(pc.hits) {
			pc.hits = append(pc.hits, false)
		}
		pc.hits[id], pc.any = true, true
	}
	return pc
}

// hit reports whether a destination is one of the hostname addresses (the
// SQL ipHitExpr).
func (pc *passCache) hit(dest int64) bool {
	return pc.any && dest < int64(len(pc.hits)) && pc.hits[dest]
}

// passes is plan.passes by ids.
func (pc *passCache) passes(name int64, hit bool) bool {
	if name >= int64(len(pc.state)) {
		pc.state = append(pc.state, make([]uint8, len(pc.sym.strs)-len(pc.state))...)
	}
	known, yes := uint8(1), uint8(4)
	if hit {
		known, yes = 2, 8
	}
	st := pc.state[name]
	if st&known == 0 {
		st |= known
		if pc.pl.passes(pc.sym.str(name), hit) {
			st |= yes
		}
		pc.state[name] = st
	}
	return st&yes != 0
}

// Ways of reading live rows, for liveFrom.
const (
	liveRows      = iota // every matching row
	liveStartPage        // the first rows in start order
	liveNames            // counts per observed name
)

// liveFrom returns the FROM clause that reads live rows for pl: a
// device's rows in a range through flows_mac_end; a page in start order
// with no other condition by walking flows_start_key, stopping at the
// page's end; flows in progress by SQLite's choice (flows_active); a range
// that ends early through flows_start_key; else a plain table scan. The
// live database holds a day or two, in RAM: reading it in order costs a
// few milliseconds, looking each row up from an index several times that.
// Without statistics SQLite cannot tell which index leaves fewer rows, so
// the index is named.
func (s *snapshot) liveFrom(ctx context.Context, pl *plan, use int) string {
	other := len(pl.apps)+len(pl.ports)+len(pl.protos)+len(pl.ips) > 0
	switch {
	case pl.p.Active:
		return fromLive
	case len(pl.macs) > 0 && len(pl.ips) == 0:
		// Left to itself, SQLite would rather walk flows_start_key in the
		// order asked for than sort a device's rows.
		return fromLive + " INDEXED BY flows_mac_end"
	case use == liveStartPage && !other:
		// Ties of one start are sorted by id as they come; without the
		// hint SQLite would rather sort every row in the range.
		return fromLive + " INDEXED BY flows_start_key"
	case s.endsEarly(ctx, pl):
		return fromLive + " INDEXED BY flows_start_key"
	}
	return fromLive + " NOT INDEXED"
}

// endsEarly reports whether pl's range ends before the first third of the
// live rows' span of start times (read once, two index probes), so that
// the rows starting before its end are few.
func (s *snapshot) endsEarly(ctx context.Context, pl *plan) bool {
	if pl.p.End.IsZero() {
		return false
	}
	if !s.spanRead {
		s.spanRead = true
		var lo, hi sql.NullFloat64
		if err := s.conn.QueryRowContext(ctx, "SELECT (SELECT min(start) FROM main.flows), (SELECT max(start) FROM main.flows)").Scan(&lo, &hi); err == nil && lo.Valid {
			s.spanLo, s.spanHi = lo.Float64, hi.Float64
		}
	}
	span := s.spanHi - s.spanLo
	return span > 0 && (pl.to-s.spanLo)*3 < span
}

// decideAll decides the protocol condition for every symbol, so that
// goroutines can share f afterwards (protoOK then only reads).
func (f *archFilter) decideAll() {
	if f.protos == nil {
		return
	}
	for id := range f.sym.strs {
		f.protoOK(int64(id))
	}
}

// decideAll decides the name filters for every symbol, so that goroutines
// can share pc afterwards (passes then only reads).
func (pc *passCache) decideAll() {
	for id := range pc.sym.strs {
		pc.passes(int64(id), false)
		if pc.any {
			pc.passes(int64(id), true)
		}
	}
}
