package query

// groupTable sums rows (or partial sums) into groups: an open-addressing
// hash table with linear probing over 16-byte packed keys (see packKey and
// hashKey), a few times faster than a Go map for the half million rows an
// aggregate over weeks sums.
//
// A group's key and sums sit together in one entry, so that a lookup
// touches its slot and one entry. Entries live in fixed chunks that never
// move: growing a slice of tens of thousands of entries copied them again
// and again, and the copies and the garbage they left took a quarter of a
// four-week aggregate's time.
type groupTable struct {
	slots  []int32 // entry index+1; 0 is empty
	mask   uint64
	n      int        // entries in use
	chunks [][]gentry // entries in insertion order, groupChunk each
	// rank orders symbol ids as their strings once every id is known
	// (see symbols.ranks); before, sym compares the strings.
	rank []int32
	sym  *symbols
}

// groupChunk is how many entries one chunk holds (a power of two).
const groupChunk = 1 << 11

// gentry is one group: its packed key and its sums, text values as
// symbol ids.
type gentry struct {
	key              [2]uint64
	app, appAny      int32
	srcMin, srcMax   int32
	destMin, destMax int32
	nsMin, nsMax     int32
	flows            int64
	sent, received   int64
	start, end       float64
	active           bool
}

func newGroupTable(capacity int, y *symbols) *groupTable {
	n := 64
	for n < 2*capacity {
		n *= 2
	}
	return &groupTable{slots: make([]int32, n), mask: uint64(n - 1), sym: y}
}

// at returns entry i.
func (t *groupTable) at(i int) *gentry { return &t.chunks[i/groupChunk][i%groupChunk] }

// len returns how many groups the table holds.
func (t *groupTable) len() int { return t.n }

// reset empties the table, keeping its memory.
func (t *groupTable) reset() {
	clear(t.slots)
	t.n = 0
}

// add sums x into the group of x.key.
func (t *groupTable) add(x *gentry) {
	h := hashKey(x.key) & t.mask
	for {
		s := t.slots[h]
		if s == 0 {
			break
		}
		if a := t.at(int(s - 1)); a.key == x.key {
			t.merge(a, x)
			return
		}
		h = (h + 1) & t.mask
	}
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
		t.add(x)
		return
	}
	if t.n == len(t.chunks)*groupChunk {
		t.chunks = append(t.chunks, make([]gentry, groupChunk))
	}
	*t.at(t.n) = *x
	t.n++
	t.slots[h] = int32(t.n)
}

// merge sums x into a, which has x's key.
func (t *groupTable) merge(a, x *gentry) {
	if r := t.rank; r != nil {
		if r[a.app] < r[x.app] {
			a.app = x.app
		}
		if r[a.appAny] < r[x.appAny] {
			a.appAny = x.appAny
		}
		if r[x.srcMin] < r[a.srcMin] {
			a.srcMin = x.srcMin
		}
		if r[a.srcMax] < r[x.srcMax] {
			a.srcMax = x.srcMax
		}
		if r[x.destMin] < r[a.destMin] {
			a.destMin = x.destMin
		}
		if r[a.destMax] < r[x.destMax] {
			a.destMax = x.destMax
		}
		if r[x.nsMin] < r[a.nsMin] {
			a.nsMin = x.nsMin
		}
		if r[a.nsMax] < r[x.nsMax] {
			a.nsMax = x.nsMax
		}
	} else {
		// Live rows, before every id is known.
		less := func(a, b int32) bool { return t.sym.less(int64(a), int64(b)) }
		if less(a.app, x.app) {
			a.app = x.app
		}
		if less(a.appAny, x.appAny) {
			a.appAny = x.appAny
		}
		if less(x.srcMin, a.srcMin) {
			a.srcMin = x.srcMin
		}
		if less(a.srcMax, x.srcMax) {
			a.srcMax = x.srcMax
		}
		if less(x.destMin, a.destMin) {
			a.destMin = x.destMin
		}
		if less(a.destMax, x.destMax) {
			a.destMax = x.destMax
		}
		if less(x.nsMin, a.nsMin) {
			a.nsMin = x.nsMin
		}
		if less(a.nsMax, x.nsMax) {
			a.nsMax = x.nsMax
		}
	}
	a.flows += x.flows
	a.sent += x.sent
	a.received += x.received
	a.start = min(a.start, x.start)
	a.end = max(a.end, x.end)
	a.active = a.active || x.active
}

// fold sums every group of src into t.
func (t *groupTable) fold(src *groupTable) {
	for i := range src.n {
		t.add(src.at(i))
	}
}

func (t *groupTable) grow() {
	t.slots = make([]int32, 2*len(t.slots))
	t.mask = uint64(len(t.slots) - 1)
	for i := range t.n {
		h := hashKey(t.at(i).key) & t.mask
		for t.slots[h] != 0 {
			h = (h + 1) & t.mask
		}
		t.slots[h] = int32(i + 1)
	}
}
