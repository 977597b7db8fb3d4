package eve

import "encoding/binary"

// stringCache is a direct-mapped cache of strings in front of a map: a hit
// costs a cheap hash and one comparison where the map costs a full hash
// and a probe. EVE repeats the same few dozen words, MACs and names line
// after line. A slot holds the last string stored in it; collisions only
// cost the map lookup.
type stringCache [cacheSlots]string

const cacheSlots = 512

// slot hashes b's length and its first and last eight bytes, which tell
// apart the MACs of one vendor and the names of one domain.
func slot(b []byte) int {
	n := len(b)
	var h uint64
	switch {
	case n >= 8:
		h = binary.LittleEndian.Uint64(b) ^ binary.LittleEndian.Uint64(b[n-8:])*0x9e3779b97f4a7c15
	case cap(b) >= 8:
		// A short word read whole from the line it lies in, the bytes
		// past its end masked off: the same value as the loop's.
		h = binary.LittleEndian.Uint64(b[:8]) & (1<<(8*n) - 1)
	default:
		for i, c := range b {
			h |= uint64(c) << (8 * i)
		}
	}
	h = (h ^ uint64(n)) * 0xff51afd7ed558ccd
	return int(h >> 55) // 9 bits: cacheSlots
}

// get returns the cached string equal to b, if there is one.
func (c *stringCache) get(b []byte) (string, bool) {
	if v := c[slot(b)]; v == string(b) && len(b) > 0 {
		return v, true
	}
	return "", false
}

func (c *stringCache) put(v string) {
	if v != "" {
		c[slot([]byte(v))] = v
	}
}
