package store

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
)

// Columns of archived days are stored as frame-of-reference blocks: each
// run of packBlock values is its minimum (uvarint), a bit width, and every
// value minus the minimum in that many bits, little-endian. Such blocks
// decode at a few nanoseconds a value, which lets the query engine scan
// weeks of flows in Go, and they are nearly as small as deflate on this
// data (what deflate gains lies in columns of few distinct values, which
// get a dictionary instead).
const packBlock = 128

// errCorrupt is returned for a segment or column that does not decode.
var errCorrupt = errors.New("corrupt archive segment")

// Column encodings.
const (
	encBlocks = 0 // values in frame-of-reference blocks
	encDict   = 1 // sorted distinct values (delta uvarints), then their indexes in blocks
	encDelta  = 2 // a non-decreasing column: base (uvarint), then differences in blocks
)

// dictMax is the most distinct values a dictionary column may have.
const dictMax = 4096

// appendColumn appends the encoding of vals (all >= 0) that is smallest:
// plain blocks, or a dictionary when few values repeat. sorted marks a
// non-decreasing column, stored as differences.
func appendColumn(b []byte, vals []int64, sorted bool) []byte {
	if sorted {
		b = append(b, encDelta)
		base := int64(0)
		if len(vals) > 0 {
			base = vals[0]
		}
		b = binary.AppendUvarint(b, uint64(base))
		d := make([]uint64, len(vals))
		prev := base
		for i, v := range vals {
			d[i] = uint64(v - prev)
			prev = v
		}
		return appendBlocks(b, d)
	}
	u := make([]uint64, len(vals))
	for i, v := range vals {
		u[i] = uint64(v)
	}
	plain := appendBlocks(nil, u)
	if dict := dictionary(u); dict != nil {
		var d []byte
		d = binary.AppendUvarint(d, uint64(len(dict)))
		prev := uint64(0)
		for _, v := range dict {
			d = binary.AppendUvarint(d, v-prev)
			prev = v
		}
		idx := make([]uint64, len(u))
		for i, v := range u {
			j, _ := slices.BinarySearch(dict, v)
			idx[i] = uint64(j)
		}
		d = appendBlocks(d, idx)
		if len(d) < len(plain) {
			b = append(b, encDict)
			return append(b, d...)
		}
	}
	b = append(b, encBlocks)
	return append(b, plain...)
}

// dictionary returns the sorted distinct values of u, or nil when there
// are more than dictMax of them.
func dictionary(u []uint64) []uint64 {
	seen := make(map[uint64]struct{})
	for _, v := range u {
		if _, ok := seen[v]; !ok {
			if len(seen) == dictMax {
				return nil
			}
			seen[v] = struct{}{}
		}
	}
	out := make([]uint64, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// appendBlocks packs u in frame-of-reference blocks.
func appendBlocks(b []byte, u []uint64) []byte {
	for len(u) > 0 {
		blk := u[:min(packBlock, len(u))]
		u = u[len(blk):]
		lo, hi := blk[0], blk[0]
		for _, v := range blk {
			lo, hi = min(lo, v), max(hi, v)
		}
		w := bits.Len64(hi - lo)
		b = binary.AppendUvarint(b, lo)
		b = append(b, byte(w))
		if w == 0 {
			continue
		}
		var acc uint64 // bits not yet written, low first
		n := 0
		for _, v := range blk {
			v -= lo
			acc |= v << n
			if n+w >= 64 {
				b = binary.LittleEndian.AppendUint64(b, acc)
				spill := n + w - 64
				if spill > 0 {
					acc = v >> (w - spill)
				} else {
					acc = 0
				}
				n = spill
				continue
			}
			n += w
		}
		for ; n > 0; n -= 8 {
			b = append(b, byte(acc))
			acc >>= 8
		}
	}
	return b
}

// decodeColumn decodes one column of n values into dst (len n).
func decodeColumn(src []byte, dst []int64) error {
	if len(src) == 0 {
		return errCorrupt
	}
	kind, src := src[0], src[1:]
	switch kind {
	case encBlocks:
		return decodeBlocks(src, dst, nil)
	case encDelta:
		base, k := binary.Uvarint(src)
		if k <= 0 {
			return errCorrupt
		}
		if err := decodeBlocks(src[k:], dst, nil); err != nil {
			return err
		}
		acc := int64(base)
		for i, d := range dst {
			acc += d
			dst[i] = acc
		}
		return nil
	case encDict:
		nd, k := binary.Uvarint(src)
		if k <= 0 || nd > dictMax {
			return errCorrupt
		}
		src = src[k:]
		dict := make([]int64, nd)
		prev := uint64(0)
		for i := range dict {
			d, k := binary.Uvarint(src)
			if k <= 0 {
				return errCorrupt
			}
			src = src[k:]
			prev += d
			dict[i] = int64(prev)
		}
		return decodeBlocks(src, dst, dict)
	}
	return errCorrupt
}

// decodeBlocks unpacks len(dst) values; with dict, the values are indexes
// into it.
func decodeBlocks(src []byte, dst []int64, dict []int64) error {
	for i := 0; i < len(dst); i += packBlock {
		blk := dst[i:min(i+packBlock, len(dst))]
		lo, k := binary.Uvarint(src)
		if k <= 0 || k >= len(src) {
			return errCorrupt
		}
		w := int(src[k])
		src = src[k+1:]
		if w > 64 {
			return errCorrupt
		}
		nb := (len(blk)*w + 7) / 8
		if nb > len(src) {
			return errCorrupt
		}
		unpack(src[:nb], blk, w, lo)
		src = src[nb:]
		if dict != nil {
			for j, v := range blk {
				if uint64(v) >= uint64(len(dict)) {
					return errCorrupt
				}
				blk[j] = dict[v]
			}
		}
	}
	return nil
}

// unpack reads len(dst) values of w bits from p, adding lo to each.
func unpack(p []byte, dst []int64, w int, lo uint64) {
	if w == 0 {
		for j := range dst {
			dst[j] = int64(lo)
		}
		return
	}
	mask := uint64(1)<<w - 1
	if w == 64 {
		mask = ^uint64(0)
	}
	if w <= 56 {
		// One unaligned 8-byte load per value; the last few values, whose
		// load would run past p, go through a padded copy.
		safe := len(dst)
		for safe > 0 && (safe-1)*w>>3+8 > len(p) {
			safe--
		}
		for j := range dst[:safe] {
			bit := j * w
			dst[j] = int64(binary.LittleEndian.Uint64(p[bit>>3:])>>(bit&7)&mask + lo)
		}
		var tail [16]byte
		for j := safe; j < len(dst); j++ {
			bit := j * w
			copy(tail[:], p[bit>>3:])
			dst[j] = int64(binary.LittleEndian.Uint64(tail[:])>>(bit&7)&mask + lo)
		}
		return
	}
	for j := range dst {
		var v uint64
		for k := 0; k < w; k++ {
			bit := j*w + k
			v |= uint64(p[bit>>3]>>(bit&7)&1) << k
		}
		dst[j] = int64(v + lo)
	}
}

// gatherColumn decodes the values at the ascending indexes idx of a column
// of n values into dst (len(idx)), unpacking only the blocks that hold
// them. A delta column has to be summed from its start, so it is decoded
// whole into tmp (which it returns for reuse).
func gatherColumn(src []byte, n int, idx []int32, dst, tmp []int64) ([]int64, error) {
	if len(src) == 0 {
		return tmp, errCorrupt
	}
	kind, body := src[0], src[1:]
	var dict []int64
	switch kind {
	case encDelta:
		tmp = slices.Grow(tmp[:0], n)[:n]
		if err := decodeColumn(src, tmp); err != nil {
			return tmp, err
		}
		for k, i := range idx {
			dst[k] = tmp[i]
		}
		return tmp, nil
	case encDict:
		nd, k := binary.Uvarint(body)
		if k <= 0 || nd > dictMax {
			return tmp, errCorrupt
		}
		body = body[k:]
		dict = make([]int64, nd)
		prev := uint64(0)
		for i := range dict {
			d, k := binary.Uvarint(body)
			if k <= 0 {
				return tmp, errCorrupt
			}
			body = body[k:]
			prev += d
			dict[i] = int64(prev)
		}
	case encBlocks:
	default:
		return tmp, errCorrupt
	}
	var blk [packBlock]int64
	k := 0
	for start := 0; start < n && k < len(idx); start += packBlock {
		cnt := min(packBlock, n-start)
		lo, m := binary.Uvarint(body)
		if m <= 0 || m >= len(body) {
			return tmp, errCorrupt
		}
		w := int(body[m])
		body = body[m+1:]
		if w > 64 {
			return tmp, errCorrupt
		}
		nb := (cnt*w + 7) / 8
		if nb > len(body) {
			return tmp, errCorrupt
		}
		if int(idx[k]) < start+cnt {
			unpack(body[:nb], blk[:cnt], w, lo)
			for ; k < len(idx) && int(idx[k]) < start+cnt; k++ {
				v := blk[int(idx[k])-start]
				if dict != nil {
					if uint64(v) >= uint64(len(dict)) {
						return tmp, errCorrupt
					}
					v = dict[v]
				}
				dst[k] = v
			}
		}
		body = body[nb:]
	}
	if k < len(idx) {
		return tmp, errCorrupt
	}
	return tmp, nil
}
