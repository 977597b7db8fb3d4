package query

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/pakon/pakon/src/store"
)

// Aggregate groups the flows matching p by device, display hostname,
// destination port and transport protocol, sorted and paged; Total counts
// the groups.
//
// SQL sums per device and observed name, so the rows read into Go number
// the distinct (device, name, port) combinations, not the flows; Go then
// applies the lists and merges the names that share a display name.
func (e *Engine) Aggregate(ctx context.Context, p Params) (*Result, error) {
	pl, err := e.plan(ctx, p)
	if err != nil {
		return nil, err
	}
	// Groups are found by ids: the device's and the port and protocol's
	// from the group's packed key, and one id per display hostname.
	var hosts hostIDs
	index := newKeyMap(1 << 12)
	// Groups live in slabs, not one allocation each: a four-week
	// aggregate has tens of thousands, and collecting garbage took about
	// a quarter of its time.
	var slab []aggRow
	var aggs []*aggRow
	err = pl.groups(ctx, e, true, func(g *groupRow) {
		h := hosts.id(pl, g)
		i, added := index.index([2]uint64{g.pk[0]&^0xffffffff | uint64(h), g.pk[1] &^ 1})
		if added {
			if len(slab) == cap(slab) {
				slab = make([]aggRow, 0, 1024)
			}
			slab = append(slab, aggRow{host: hosts.names[h]})
			aggs = append(aggs, &slab[len(slab)-1])
		}
		aggs[i].add(g)
	})
	if err != nil {
		return nil, err
	}
	// Each group's row is completed in place and sorted by pointer (a Row
	// is a few hundred bytes); only the page's rows get their decoded
	// name.
	order := make([]*Row, len(aggs))
	for i, a := range aggs {
		a.complete()
		pl.finishDevice(&a.r)
		// The group's name, also when its observed names differ.
		a.r.Hostname = a.host
		order[i] = &a.r
	}
	total := len(order)
	sortRows(order, p.Sort, p.Desc)
	order = page(order, p.Limit, p.Offset)
	rows := make([]Row, len(order))
	for i, r := range order {
		rows[i] = *r
		rows[i].HostnameUnicode = unicodeOf(r.Hostname)
	}
	return &Result{Rows: rows, Total: total}, nil
}

// hostIDs numbers the display hostnames of groups (see plan.hostKey),
// decided once per name or address id rather than once per group.
type hostIDs struct {
	named, unnamed []int32 // by canonical symbol id: the display's id+1
	ids            map[string]uint32
	names          []string // by display id
}

// id returns the id of g's display hostname.
func (h *hostIDs) id(pl *plan, g *groupRow) uint32 {
	host := uint32(g.pk[0])
	cache, sym := &h.named, host
	if host&(1<<31) != 0 {
		cache, sym = &h.unnamed, host&^(1<<31)
	}
	if int(sym) >= len(*cache) {
		*cache = append(*cache, make([]int32, max(int(sym)+1, 2*len(*cache))-len(*cache))...)
	}
	if d := (*cache)[sym]; d != 0 {
		return uint32(d - 1)
	}
	name := pl.hostKey(g.observed, g.hostIP)
	d, ok := h.ids[name]
	if !ok {
		if h.ids == nil {
			h.ids = map[string]uint32{}
		}
		d = uint32(len(h.names))
		h.ids[name] = d
		h.names = append(h.names, name)
	}
	(*cache)[sym] = int32(d + 1)
	return d
}

// groupRow is one SQL group: the flows of one device to one observed
// name (and destination address when unnamed), port and protocol.
type groupRow struct {
	// pk is the group's key packed (see packKey) from canonical symbol
	// ids: groups whose keys are equal as text have equal pk.
	pk                           [2]uint64
	mac, devIP, observed, hostIP string
	ipHit                        bool
	port                         int
	proto                        string
	app, appAny                  string
	srcMin, srcMax               string
	destMin, destMax             string
	srcNameMin, srcNameMax       string
	flows                        int
	sent, received               int64
	start, end                   float64
	active                       bool
}

// deviceKey identifies the device: its MAC, or its address when the MAC
// is unknown.
func (g *groupRow) deviceKey() string {
	if g.mac == "" {
		return "ip:" + g.devIP
	}
	return g.mac
}

// groups sums the matching flows per device and observed name (and per
// destination port and protocol when byPort), and calls fn for each
// group that passes the name filters. The groups are those of a GROUP BY
// over all_flows: live and archived rows of one group are summed
// together.
func (pl *plan) groups(ctx context.Context, e *Engine, byPort bool, fn func(*groupRow)) error {
	s, err := e.snapshot(ctx, pl)
	if err != nil {
		return err
	}
	defer s.close()
	return pl.groupsIn(ctx, s, byPort, fn)
}

// gkey is a group's key as symbol ids.
type gkey struct {
	mac, devIP, name, hostIP int64
	port, proto              int64
	hit                      bool
}

func (pl *plan) groupsIn(ctx context.Context, s *snapshot, byPort bool, fn func(*groupRow)) error {
	y := s.sym
	pc := newPassCache(pl, y)
	failed, empty := int32(y.intern("failed")), int32(y.empty)
	filter := pl.filtersNames()
	global := newGroupTable(1<<12, y)
	add := func(t *groupTable, pc *passCache) func(b *batch) error {
		return func(b *batch) error {
			c := &b.col
			var x gentry
			for _, j := range b.sel {
				k := gkey{mac: c[store.ColMAC][j], devIP: y.empty, name: c[store.ColName][j], hostIP: y.empty, proto: y.empty}
				dest := c[store.ColDestIP][j]
				k.hit = pc.hit(dest)
				if filter && !pc.passes(k.name, k.hit) {
					continue // the group would be left out whole
				}
				if k.mac == y.empty {
					k.devIP = c[store.ColSrcIP][j]
				}
				if k.name == y.empty {
					k.hostIP = dest
				}
				if byPort {
					k.port, k.proto = c[store.ColDestPort][j], c[store.ColProto][j]
				}
				app := int32(c[store.ColApp][j])
				appNF := app
				if app == failed {
					appNF = empty
				}
				src, ns := int32(c[store.ColSrcIP][j]), int32(c[store.ColSource][j])
				x = gentry{key: packKey(k, y.empty), app: appNF, appAny: app, srcMin: src, srcMax: src,
					destMin: int32(dest), destMax: int32(dest), nsMin: ns, nsMax: ns, flows: c[store.ColFlows][j],
					sent: c[store.ColBytesSent][j], received: c[store.ColBytesRcv][j], start: b.start[j], end: b.end[j],
					active: b.isActive(j)}
				t.add(&x)
			}
			return nil
		}
	}
	need := colSet(store.ColMAC, store.ColSrcIP, store.ColName, store.ColDestIP, store.ColApp, store.ColSource,
		store.ColFlows, store.ColBytesSent, store.ColBytesRcv)
	if byPort {
		need |= colSet(store.ColDestPort, store.ColProto)
	}
	if err := s.eachLive(ctx, pl, need, add(global, pc)); err != nil {
		return err
	}
	// Text min and max compared strings while live rows could still
	// bring new ones; from here on, ranks in string order.
	global.rank = y.ranks()
	all, err := pl.groupDays(ctx, s, need, global, pc, add)
	if err != nil {
		return err
	}
	str := func(id int32) string { return y.str(int64(id)) }
	// An archive could hold a string under two ids: canonical ids are
	// those symbols.intern gives.
	canon := make([]int32, len(y.strs)) // id+1
	cid := func(id int64) int64 {
		if id < 0 || id >= int64(len(canon)) {
			return y.empty // y.str gives ""
		}
		if c := canon[id]; c != 0 {
			return int64(c - 1)
		}
		c, ok := y.ids[y.strs[id]]
		if !ok {
			c = id
		}
		canon[id] = int32(c + 1)
		return c
	}
	var g groupRow
	for i := range all.len() {
		a := all.at(i)
		k := unpackKey(a.key, y.empty)
		ck := gkey{mac: cid(k.mac), devIP: cid(k.devIP), name: cid(k.name), hostIP: cid(k.hostIP), port: k.port,
			proto: cid(k.proto), hit: k.hit}
		g = groupRow{pk: packKey(ck, y.empty), mac: y.str(k.mac), devIP: y.str(k.devIP), observed: y.str(k.name), hostIP: y.str(k.hostIP),
			ipHit: k.hit, port: int(k.port), proto: y.str(k.proto), app: str(a.app), appAny: str(a.appAny),
			srcMin: str(a.srcMin), srcMax: str(a.srcMax), destMin: str(a.destMin), destMax: str(a.destMax),
			srcNameMin: str(a.nsMin), srcNameMax: str(a.nsMax), flows: int(a.flows), sent: a.sent,
			received: a.received, start: a.start, end: a.end, active: a.active}
		fn(&g)
	}
	return nil
}

// packKey packs a group's key into 16 bytes: device (the MAC's id, or the
// source address's with bit 31 set when the MAC is unknown) and host (the
// name's, or the destination's with bit 31 set when unnamed), then
// protocol, port and destination hit.
func packKey(k gkey, empty int64) [2]uint64 {
	dev, host := uint64(k.mac), uint64(k.name)
	if k.mac == empty {
		dev = uint64(k.devIP) | 1<<31
	}
	if k.name == empty {
		host = uint64(k.hostIP) | 1<<31
	}
	pk := [2]uint64{dev<<32 | host, uint64(k.proto)<<33 | uint64(uint32(k.port))<<1}
	if k.hit {
		pk[1] |= 1
	}
	return pk
}

// unpackKey is packKey reversed.
func unpackKey(pk [2]uint64, empty int64) gkey {
	k := gkey{mac: empty, devIP: empty, name: empty, hostIP: empty, hit: pk[1]&1 != 0,
		port: int64(int32(uint32(pk[1] >> 1))), proto: int64(pk[1] >> 33)}
	if dev := int64(pk[0] >> 32); dev&(1<<31) != 0 {
		k.devIP = dev &^ (1 << 31)
	} else {
		k.mac = dev
	}
	if host := int64(pk[0] & 0xffffffff); host&(1<<31) != 0 {
		k.hostIP = host &^ (1 << 31)
	} else {
		k.name = host
	}
	return k
}

// groupDays sums the archived days and the groups of global (the live
// rows') into one table, which it returns. An archived day is summed in a
// table of its own, small enough to stay in the CPU's cache, and then into
// the whole range's. With two cores or more, two workers sum the days the
// snapshot's connection reads, each into a table of its own, merged at
// the end into the largest: the same CPU time, half the wait.
func (pl *plan) groupDays(ctx context.Context, s *snapshot, need cols, global *groupTable, pc *passCache,
	add func(*groupTable, *passCache) func(*batch) error) (*groupTable, error) {
	y := s.sym
	newTable := func(capacity int) *groupTable {
		t := newGroupTable(capacity, y)
		t.rank = global.rank
		return t
	}
	workers := min(runtime.GOMAXPROCS(0), groupWorkers, s.arch.Len())
	if workers <= 1 || s.filt.none {
		day := newTable(1 << 14)
		toDay := add(day, pc)
		return global, s.eachDay(ctx, need, false, func(b *batch) error {
			day.reset()
			if err := toDay(b); err != nil {
				return err
			}
			global.fold(day)
			return nil
		})
	}
	// Workers only read what they share: every name's filter decision and
	// every protocol's are made here first.
	s.filt.decideAll()
	pc.decideAll()
	type job struct {
		seg *store.Segment
		i   int
		buf *[]byte
	}
	jobs := make(chan job, workers)
	// Segments are read into buffers the workers hand back.
	bufs := make(chan *[]byte, workers+2)
	for range cap(bufs) {
		bufs <- new([]byte)
	}
	parts := make([]*groupTable, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		parts[w] = newTable(1 << 12)
		wg.Add(1)
		go func() {
			defer wg.Done()
			day, b := newTable(1<<14), &batch{}
			toDay := add(day, pc)
			sumDay := func(seg *store.Segment, i int) error {
				if _, err := s.decodeDay(seg, i, need, b); err != nil || len(b.sel) == 0 {
					return err
				}
				day.reset()
				if err := toDay(b); err != nil {
					return err
				}
				parts[w].fold(day)
				return nil
			}
			for j := range jobs {
				if errs[w] == nil {
					errs[w] = sumDay(j.seg, j.i)
				}
				bufs <- j.buf
			}
		}()
	}
	var err error
	for i := range s.arch.Len() {
		buf := <-bufs
		var seg *store.Segment
		if seg, err = s.arch.LoadInto(ctx, i, buf, s.read(need)...); err != nil {
			err = fmt.Errorf("query: %w", err)
			break
		}
		jobs <- job{seg, i, buf}
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	for w := range workers {
		if errs[w] != nil {
			return nil, errs[w]
		}
	}
	// Group order is not part of the answer (the days went to whichever
	// worker was free): the smaller tables fold into the largest.
	tables := append(parts, global)
	all := slices.MaxFunc(tables, func(a, b *groupTable) int { return cmp.Compare(a.len(), b.len()) })
	for _, t := range tables {
		if t != all {
			all.fold(t)
		}
	}
	return all, nil
}

// groupWorkers is how many goroutines sum archived days at most.
const groupWorkers = 2

// aggRow accumulates groups into one aggregate row.
type aggRow struct {
	host                      string
	n                         int
	r                         Row
	src, dest, observed, nsrc field
	app                       field
	appFallback               string
}

// field keeps a value while all parts agree, and "" once they differ.
type field struct {
	v     string
	mixed bool
	set   bool
}

func (f *field) add(min, max string) {
	if min != max {
		f.mixed = true
	}
	if !f.set {
		f.v, f.set = min, true
	} else if f.v != min {
		f.mixed = true
	}
}

func (f *field) value() string {
	if f.mixed {
		return ""
	}
	return f.v
}

func (a *aggRow) add(g *groupRow) {
	r := &a.r
	if a.n == 0 {
		r.MAC, r.DestPort, r.Proto = g.mac, g.port, g.proto
		r.Start, r.End = g.start, g.end
	}
	a.n++
	r.Start = min(r.Start, g.start)
	r.End = max(r.End, g.end)
	r.BytesSent += g.sent
	r.BytesReceived += g.received
	r.Flows += g.flows
	r.Active = r.Active || g.active
	a.src.add(g.srcMin, g.srcMax)
	a.dest.add(g.destMin, g.destMax)
	a.observed.add(g.observed, g.observed)
	a.nsrc.add(g.srcNameMin, g.srcNameMax)
	if g.app != "" {
		a.app.add(g.app, g.app)
	} else if a.appFallback == "" {
		a.appFallback = g.appAny
	}
}

// complete fills the row's fields that sum up text values.
func (a *aggRow) complete() {
	r := &a.r
	r.SrcIP, r.DestIP = a.src.value(), a.dest.value()
	r.ObservedName, r.NameSource = a.observed.value(), a.nsrc.value()
	r.AppProto = a.appFallback
	if a.app.set {
		r.AppProto = a.app.value()
	}
}

// page cuts one page from rows.
func page[T any](rows []T, limit, offset int) []T {
	if offset >= len(rows) {
		return rows[:0]
	}
	rows = rows[offset:]
	if limit > 0 && limit < len(rows) {
		rows = rows[:limit]
	}
	return rows
}

// sortRows orders aggregate rows by key (start by default), ties broken
// by start, device, hostname and port so that pages are stable.
func sortRows(rows []*Row, key string, desc bool) {
	slices.SortFunc(rows, func(a, b *Row) int {
		c := compareRows(a, b, key)
		if c == 0 && key != SortStart {
			c = cmp.Compare(a.Start, b.Start)
		}
		if c == 0 {
			c = cmp.Or(strings.Compare(a.MAC, b.MAC), strings.Compare(a.SrcIP, b.SrcIP),
				strings.Compare(a.Hostname, b.Hostname), cmp.Compare(a.DestPort, b.DestPort),
				strings.Compare(a.Proto, b.Proto))
		}
		if desc {
			return -c
		}
		return c
	})
}

func compareRows(a, b *Row, key string) int {
	switch key {
	case SortEnd:
		return cmp.Compare(a.End, b.End)
	case SortDuration:
		return cmp.Compare(a.Duration, b.Duration)
	case SortBytes:
		return cmp.Compare(a.BytesSent+a.BytesReceived, b.BytesSent+b.BytesReceived)
	case SortSent:
		return cmp.Compare(a.BytesSent, b.BytesSent)
	case SortReceived:
		return cmp.Compare(a.BytesReceived, b.BytesReceived)
	case SortFlows:
		return cmp.Compare(a.Flows, b.Flows)
	case SortMAC:
		return strings.Compare(a.MAC, b.MAC)
	case SortDevice:
		return cmp.Compare(strings.ToLower(deviceLabel(a)), strings.ToLower(deviceLabel(b)))
	case SortHostname:
		return strings.Compare(a.Hostname, b.Hostname)
	case SortPort:
		return cmp.Compare(a.DestPort, b.DestPort)
	case SortProto:
		return strings.Compare(a.Proto, b.Proto)
	case SortApp:
		return strings.Compare(a.AppProto, b.AppProto)
	}
	return cmp.Compare(a.Start, b.Start)
}

// deviceLabel is what names a row's device: its name, else its MAC, else
// its source address.
func deviceLabel(r *Row) string {
	switch {
	case r.Device != nil:
		return *r.Device
	case r.MAC != "":
		return r.MAC
	}
	return r.SrcIP
}
