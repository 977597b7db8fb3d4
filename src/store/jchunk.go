package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/pakon/pakon/src/eve"
	"github.com/pakon/pakon/src/flow"
)

// A journal chunk's rows are stored in columns (format PKJ2): the chunk's
// distinct strings once, then each field as a column of frame-of-reference
// blocks (see bitpack.go), start times as differences in start order; the
// whole is deflated. Flow keys are left out where FlowKey recomputes them
// from the row, which is every row the pipeline wrote. BenchmarkFourWeeks
// journals 23.5 bytes a flow instead of 42.4 for deflated msgpack arrays
// (PKJ1, still read), and the journal is the largest share of the flash
// writes.

const journalMagicV2 = "PKJ2"

// jcols are a chunk's columns in stored order.
const (
	jcFlowID = iota
	jcStart
	jcDur
	jcMAC
	jcSrcIP
	jcSrcPort
	jcDestIP
	jcDestPort
	jcProto
	jcApp
	jcName
	jcSrc
	jcSent
	jcRcv
	jcPSent
	jcPRcv
	jcCount
)

// rowKey is the flow key FlowKey gives a journaled row.
func rowKey(r *jrow) (int64, bool) {
	src, err1 := netip.ParseAddr(r.SrcIP)
	dst, err2 := netip.ParseAddr(r.DestIP)
	if (err1 != nil && r.SrcIP != "") || (err2 != nil && r.DestIP != "") ||
		r.SrcPort < 0 || r.SrcPort > 65535 || r.DestPort < 0 || r.DestPort > 65535 {
		return 0, false
	}
	return FlowKey(&flow.Record{Start: eve.Timestamp(r.Start), SrcIP: src, DestIP: dst,
		SrcPort: uint16(r.SrcPort), DestPort: uint16(r.DestPort), Proto: r.Proto}), true
}

// encodeJournalRows encodes rows (reordered by start) as a PKJ2 payload,
// before deflate.
func encodeJournalRows(rows []jrow) []byte {
	slices.SortStableFunc(rows, func(a, b jrow) int { return cmp.Compare(a.Start, b.Start) })
	ids := map[string]int64{}
	var strs []string
	id := func(s string) int64 {
		if v, ok := ids[s]; ok {
			return v
		}
		ids[s] = int64(len(strs))
		strs = append(strs, s)
		return ids[s]
	}
	var cols [jcCount][]int64
	for c := range cols {
		cols[c] = make([]int64, len(rows))
	}
	type explicit struct {
		row int
		key int64
	}
	var keys []explicit
	for i := range rows {
		r := &rows[i]
		for _, v := range [...]struct {
			c int
			v int64
		}{{jcFlowID, r.FlowID}, {jcStart, r.Start}, {jcDur, r.End - r.Start}, {jcMAC, id(r.MAC)},
			{jcSrcIP, id(r.SrcIP)}, {jcSrcPort, r.SrcPort}, {jcDestIP, id(r.DestIP)}, {jcDestPort, r.DestPort},
			{jcProto, id(r.Proto)}, {jcApp, id(r.App)}, {jcName, id(r.Name)}, {jcSrc, id(r.Src)},
			{jcSent, r.Sent}, {jcRcv, r.Rcv}, {jcPSent, r.PSent}, {jcPRcv, r.PRcv}} {
			cols[v.c][i] = v.v
		}
		if k, ok := rowKey(r); !ok || k != r.Key {
			keys = append(keys, explicit{i, r.Key})
		}
	}
	b := binary.AppendUvarint(nil, uint64(len(rows)))
	b = binary.AppendUvarint(b, uint64(len(strs)))
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(k.row))
		b = binary.LittleEndian.AppendUint64(b, uint64(k.key))
	}
	for c := range cols {
		col := appendColumn(nil, cols[c], c == jcStart)
		b = binary.AppendUvarint(b, uint64(len(col)))
		b = append(b, col...)
	}
	return b
}

// decodeJournalRows decodes a PKJ2 payload (inflated).
func decodeJournalRows(b []byte) ([]jrow, error) {
	uv := func() (uint64, error) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, errCorrupt
		}
		b = b[k:]
		return v, nil
	}
	n, err := uv()
	if err != nil || n > journalMaxLen {
		return nil, fmt.Errorf("journal chunk: %w", errCorrupt)
	}
	ns, err := uv()
	if err != nil || ns > n*8+8 {
		return nil, fmt.Errorf("journal chunk: %w", errCorrupt)
	}
	strs := make([]string, ns)
	for i := range strs {
		l, err := uv()
		if err != nil || l > uint64(len(b)) {
			return nil, fmt.Errorf("journal chunk: %w", errCorrupt)
		}
		strs[i], b = string(b[:l]), b[l:]
	}
	nk, err := uv()
	if err != nil || nk > n {
		return nil, fmt.Errorf("journal chunk: %w", errCorrupt)
	}
	keys := make(map[int]int64, nk)
	for range nk {
		row, err := uv()
		if err != nil || row >= n || len(b) < 8 {
			return nil, fmt.Errorf("journal chunk: %w", errCorrupt)
		}
		keys[int(row)] = int64(binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	var cols [jcCount][]int64
	for c := range cols {
		l, err := uv()
		if err != nil || l > uint64(len(b)) {
			return nil, fmt.Errorf("journal chunk: %w", errCorrupt)
		}
		cols[c] = make([]int64, n)
		if n > 0 {
			if err := decodeColumn(b[:l], cols[c]); err != nil {
				return nil, fmt.Errorf("journal chunk: %w", err)
			}
		}
		b = b[l:]
	}
	str := func(c, i int) (string, error) {
		v := cols[c][i]
		if v < 0 || v >= int64(len(strs)) {
			return "", fmt.Errorf("journal chunk: %w", errCorrupt)
		}
		return strs[v], nil
	}
	rows := make([]jrow, n)
	for i := range rows {
		r := &rows[i]
		r.FlowID, r.Start, r.End = cols[jcFlowID][i], cols[jcStart][i], cols[jcStart][i]+cols[jcDur][i]
		r.SrcPort, r.DestPort = cols[jcSrcPort][i], cols[jcDestPort][i]
		r.Sent, r.Rcv, r.PSent, r.PRcv = cols[jcSent][i], cols[jcRcv][i], cols[jcPSent][i], cols[jcPRcv][i]
		for _, f := range [...]struct {
			c   int
			dst *string
		}{{jcMAC, &r.MAC}, {jcSrcIP, &r.SrcIP}, {jcDestIP, &r.DestIP}, {jcProto, &r.Proto}, {jcApp, &r.App},
			{jcName, &r.Name}, {jcSrc, &r.Src}} {
			if *f.dst, err = str(f.c, i); err != nil {
				return nil, err
			}
		}
		if k, ok := keys[i]; ok {
			r.Key = k
		} else if r.Key, ok = rowKey(r); !ok {
			return nil, fmt.Errorf("journal chunk: row %d has no key: %w", i, errCorrupt)
		}
	}
	return rows, nil
}

// isChunkMagic reports whether b starts a chunk of either format.
func isChunkMagic(b []byte) bool {
	return bytes.HasPrefix(b, []byte(journalMagic)) || bytes.HasPrefix(b, []byte(journalMagicV2))
}
