package query

// keyMap maps 16-byte keys to dense indexes (0, 1, 2, … in insertion
// order): an open-addressing hash table with linear probing, a few times
// faster than a Go map for the half million rows an aggregate over weeks
// looks up.
type keyMap struct {
	keys  [][2]uint64
	slots []int32 // index+1; 0 is empty
	mask  uint64
}

func newKeyMap(capacity int) *keyMap {
	n := 64
	for n < 2*capacity {
		n *= 2
	}
	return &keyMap{slots: make([]int32, n), mask: uint64(n - 1)}
}

func hashKey(k [2]uint64) uint64 {
	h := k[0]*0x9E3779B97F4A7C15 ^ (k[1]+0x632BE59BD9B4E019)*0xC2B2AE3D27D4EB4F
	return h ^ h>>29
}

// index returns k's index, adding k when new (added true).
func (m *keyMap) index(k [2]uint64) (i int32, added bool) {
	for h := hashKey(k) & m.mask; ; h = (h + 1) & m.mask {
		s := m.slots[h]
		if s == 0 {
			if 2*(len(m.keys)+1) > len(m.slots) {
				m.grow()
				return m.index(k)
			}
			m.keys = append(m.keys, k)
			m.slots[h] = int32(len(m.keys))
			return int32(len(m.keys) - 1), true
		}
		if m.keys[s-1] == k {
			return s - 1, false
		}
	}
}

func (m *keyMap) grow() {
	m.slots = make([]int32, 2*len(m.slots))
	m.mask = uint64(len(m.slots) - 1)
	for i, k := range m.keys {
		h := hashKey(k) & m.mask
		for m.slots[h] != 0 {
			h = (h + 1) & m.mask
		}
		m.slots[h] = int32(i + 1)
	}
}
