package eve

import (
	"encoding/binary"
	"net/netip"
)

// stringCache is a direct-mapped cache of strings in front of a map: a hit
// costs a cheap hash and one comparison where the map costs a full hash
// and a probe. EVE repeats the same few dozen MACs and a few hundred names
// line after line. A slot holds the last string stored in it; collisions only
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

// addrCache is a direct-mapped cache of IPv4 addresses by their text (at
// most 15 bytes, held as two words).
type addrCache [addrSlots]addrEntry

type addrEntry struct {
	lo, hi uint64
	n      int
	a      netip.Addr
}

const addrSlots = 1024

// addrText returns b's bytes as two words, zero past its end, when b is
// short enough and has eight bytes of room after each word's start.
func addrText(b []byte) (lo, hi uint64, ok bool) {
	n := len(b)
	if n == 0 || n > 15 || cap(b) < 16 {
		return 0, 0, false
	}
	lo = binary.LittleEndian.Uint64(b[:8])
	hi = binary.LittleEndian.Uint64(b[8:16])
	if n < 8 {
		lo &= 1<<(8*n) - 1
		hi = 0
	} else {
		hi &= 1<<(8*(n-8)) - 1
	}
	return lo, hi, true
}

func addrSlot(lo, hi uint64) int {
	return int(((lo ^ hi*0x9e3779b97f4a7c15) * 0xff51afd7ed558ccd) >> 54) // 10 bits: addrSlots
}

func (c *addrCache) get(b []byte) (netip.Addr, bool) {
	lo, hi, ok := addrText(b)
	if !ok {
		return netip.Addr{}, false
	}
	e := &c[addrSlot(lo, hi)]
	if e.lo == lo && e.hi == hi && e.n == len(b) {
		return e.a, true
	}
	return netip.Addr{}, false
}

func (c *addrCache) put(b []byte, a netip.Addr) {
	if lo, hi, ok := addrText(b); ok {
		c[addrSlot(lo, hi)] = addrEntry{lo, hi, len(b), a}
	}
}
